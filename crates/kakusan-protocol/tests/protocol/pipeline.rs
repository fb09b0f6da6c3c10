//! The verification pipeline end to end: every kind round-trips, every check rejects with its
//! own reason, and a rejected envelope leaves no trace.

use crate::support::{TestRng, alpha, beta, beta_peers, gamma, now};
use chrono::{DateTime, TimeDelta, Utc};
use kakusan_protocol::{
    Body, DisplayName, Envelope, EnvelopeId, Hello, LogLine, MemberForget, MemoryReplayGuard,
    Nonce, Ping, Registration, ReplayError, ReplayGuard, SealedSecret, Sender, ServerName,
    Snowflake, SyncChunk, TimesWithdraw, Ttl, VerifiedEnvelope, Verifier, VerifyError, VerifyKey,
    WebhookPolicy, WebhookUrl,
};
use std::future::Future;

async fn verify_as_beta(
    wire: &str,
    guard: &MemoryReplayGuard,
) -> Result<VerifiedEnvelope, VerifyError> {
    let b = beta();
    let keys = b.keys();
    let peers = beta_peers();
    Verifier::new(&b.name, keys.sealing(), &peers, guard)
        .verify(wire, now())
        .await
}

fn label(result: Result<VerifiedEnvelope, VerifyError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(VerifyError::Rejected(rejection)) => rejection.as_str(),
        Err(VerifyError::ReplayGuard(_)) => "guard_failed",
    }
}

fn from_alpha(body: Body, rng: &mut TestRng) -> Envelope {
    Envelope::new(alpha().name, beta().name, body, now(), rng)
}

#[tokio::test]
async fn every_kind_round_trips_and_sealed_parts_open_only_for_the_receiver() {
    let rng = &mut TestRng::new("round trip");
    let (a, b) = (alpha(), beta());
    let policy = WebhookPolicy::discord();
    let hook =
        WebhookUrl::parse("https://discord.com/api/webhooks/77/secret-token", &policy).unwrap();
    let registration = Registration {
        member: Snowflake::new(5).unwrap(),
        name: DisplayName::parse("kai").unwrap(),
        channel: Snowflake::new(6).unwrap(),
        thread: None,
        hook: SealedSecret::seal_webhook(&b.keys().sealing_key(), &hook, rng).unwrap(),
    };
    let ping = Ping::new(rng, now());
    let forget = MemberForget {
        member: Snowflake::new(5).unwrap(),
        request: Nonce::generate(rng),
    };
    let bodies = vec![
        Body::PeerHello(Hello::seal(&a.card(), &b.keys().sealing_key(), rng).unwrap()),
        Body::PeerBye,
        Body::TimesAnnounce(registration.clone()),
        Body::TimesWithdraw(TimesWithdraw {
            member: Snowflake::new(5).unwrap(),
        }),
        Body::TimesSync(
            SyncChunk::new(Nonce::generate(rng), 0, 1, vec![registration.clone()]).unwrap(),
        ),
        Body::Ping(ping),
        Body::Pong(ping.answer(now() + TimeDelta::milliseconds(40))),
        Body::Log(LogLine::parse("alpha relayed 3 posts").unwrap()),
        Body::MemberForget(forget),
        Body::MemberForgotten(forget.answer(2)),
    ];
    let guard = MemoryReplayGuard::default();
    for body in bodies {
        let envelope = from_alpha(body, rng);
        let wire = envelope.sign(a.keys().signing()).unwrap();
        assert!(wire.len() <= 2000);
        assert!(wire.as_str().is_ascii());
        assert!(
            !wire.as_str().contains("secret-token"),
            "the webhook token must never be visible"
        );
        let verified = verify_as_beta(wire.as_str(), &guard).await.unwrap();
        assert_eq!(verified.envelope(), &envelope);
        assert_eq!(verified.sender(), &Sender::Peer);
    }
    // Only beta's sealing secret opens what was sealed to beta.
    let opened = registration
        .hook
        .open_webhook(b.keys().sealing(), &policy)
        .unwrap();
    assert_eq!(opened, hook);
    assert!(
        registration
            .hook
            .open_webhook(a.keys().sealing(), &policy)
            .is_err()
    );
}

#[tokio::test]
async fn each_failed_check_has_its_own_reason_and_records_nothing() {
    let rng = &mut TestRng::new("reasons");
    let (a, b, g) = (alpha(), beta(), gamma());
    let signing = a.keys();
    let ping = |rng: &mut TestRng| Body::Ping(Ping::new(rng, now()));

    let cases: Vec<(String, &str)> = vec![
        ("{".repeat(1_000_000), "too_large"),
        ("not an envelope".to_owned(), "malformed"),
        (
            Envelope::new(a.name.clone(), g.name.clone(), ping(rng), now(), rng)
                .sign(signing.signing())
                .unwrap()
                .into_string(),
            "wrong_dst",
        ),
        (
            Envelope::new(
                a.name.clone(),
                b.name.clone(),
                ping(rng),
                now() - TimeDelta::seconds(301),
                rng,
            )
            .sign(signing.signing())
            .unwrap()
            .into_string(),
            "stale",
        ),
        (
            Envelope::new(
                a.name.clone(),
                b.name.clone(),
                ping(rng),
                now() + TimeDelta::seconds(301),
                rng,
            )
            .sign(signing.signing())
            .unwrap()
            .into_string(),
            "stale",
        ),
        (
            from_alpha(ping(rng), rng)
                .sign(g.keys().signing())
                .unwrap()
                .into_string(),
            "bad_signature",
        ),
        (
            Envelope::new(g.name.clone(), b.name.clone(), ping(rng), now(), rng)
                .sign(g.keys().signing())
                .unwrap()
                .into_string(),
            "unknown_src",
        ),
    ];
    for (wire, expected) in cases {
        let guard = MemoryReplayGuard::default();
        assert_eq!(label(verify_as_beta(&wire, &guard).await), expected);
        assert!(
            guard.is_empty(),
            "a {expected} rejection must not record the id"
        );
    }

    // Replay: the same text twice.
    let guard = MemoryReplayGuard::default();
    let wire = from_alpha(ping(rng), rng).sign(signing.signing()).unwrap();
    assert_eq!(label(verify_as_beta(wire.as_str(), &guard).await), "ok");
    assert_eq!(
        label(verify_as_beta(wire.as_str(), &guard).await),
        "replayed"
    );

    // TTL zero is dropped even though everything else is fine.
    let spent = from_alpha(ping(rng), rng).with_ttl(Ttl::new(0));
    let wire = spent.sign(signing.signing()).unwrap();
    assert_eq!(
        label(verify_as_beta(wire.as_str(), &guard).await),
        "ttl_expired"
    );
}

#[tokio::test]
async fn replies_count_the_ttl_down() {
    let rng = &mut TestRng::new("ttl");
    let guard = MemoryReplayGuard::default();
    let signing = alpha().keys();
    let fresh = from_alpha(Body::PeerBye, rng);
    let verified = verify_as_beta(fresh.sign(signing.signing()).unwrap().as_str(), &guard)
        .await
        .unwrap();
    assert_eq!(verified.envelope().ttl(), Ttl::new(4));
    assert_eq!(verified.reply_ttl(), Some(Ttl::new(3)));
    let reply = verified.reply(Body::PeerBye, now(), rng).unwrap();
    assert_eq!((reply.src(), reply.dst()), (&beta().name, &alpha().name));
    assert_eq!(reply.ttl(), Ttl::new(3));
    let last = from_alpha(Body::PeerBye, rng).with_ttl(Ttl::new(1));
    let verified = verify_as_beta(last.sign(signing.signing()).unwrap().as_str(), &guard)
        .await
        .unwrap();
    assert_eq!(
        verified.reply_ttl(),
        None,
        "a reply would arrive with ttl 0 and be dropped"
    );
}

#[tokio::test]
async fn an_unregistered_sender_is_accepted_only_with_a_hello() {
    let rng = &mut TestRng::new("hello");
    let (b, g) = (beta(), gamma());
    let guard = MemoryReplayGuard::default();
    let hello = Hello::seal(&g.card(), &b.keys().sealing_key(), rng).unwrap();
    let envelope = Envelope::new(
        g.name.clone(),
        b.name.clone(),
        Body::PeerHello(hello),
        now(),
        rng,
    );
    let verified = verify_as_beta(envelope.sign(g.keys().signing()).unwrap().as_str(), &guard)
        .await
        .unwrap();
    match verified.sender() {
        Sender::Unregistered(card) => assert_eq!(**card, g.card()),
        Sender::Peer => panic!("gamma is not a registered peer of beta"),
    }
    let log = Envelope::new(g.name.clone(), b.name.clone(), Body::PeerBye, now(), rng);
    let wire = log.sign(g.keys().signing()).unwrap();
    assert_eq!(
        label(verify_as_beta(wire.as_str(), &guard).await),
        "unknown_src"
    );
}

/// A guard whose storage is down.
struct BrokenGuard;

impl ReplayGuard for BrokenGuard {
    fn first_sighting(
        &self,
        _receiver: &ServerName,
        _id: &EnvelopeId,
        _sent_at: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, ReplayError>> + Send {
        std::future::ready(Err(ReplayError::new("database is down")))
    }
}

#[tokio::test]
async fn a_failing_replay_guard_is_an_error_not_a_rejection() {
    let rng = &mut TestRng::new("broken guard");
    let b = beta();
    let keys = b.keys();
    // Peers may also come from a closure, for example over a cached peer list.
    let alpha_key = alpha().verify_key();
    let peers = move |name: &ServerName| -> Option<VerifyKey> {
        (name.as_str() == "alpha").then_some(alpha_key)
    };
    let wire = from_alpha(Body::PeerBye, rng)
        .sign(alpha().keys().signing())
        .unwrap();
    let result = Verifier::new(&b.name, keys.sealing(), &peers, &BrokenGuard)
        .verify(wire.as_str(), now())
        .await;
    match result {
        Err(VerifyError::ReplayGuard(error)) => {
            assert_eq!(
                std::error::Error::source(&error).unwrap().to_string(),
                "database is down"
            );
        }
        other => panic!("expected a guard error, got {other:?}"),
    }
}

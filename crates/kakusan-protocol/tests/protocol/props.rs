//! Property tests: any single-byte change to a signed envelope, or any changed field under the
//! original signature, fails verification; and arbitrary valid envelopes round-trip.

use crate::support::{TestRng, alpha, beta, gamma, now};
use chrono::TimeDelta;
use kakusan_protocol::{
    Body, Envelope, EnvelopeId, LogLine, MemberForget, MemoryReplayGuard, Nonce, Ping, ServerName,
    Snowflake, TimesWithdraw, Ttl, Verifier, VerifyError, VerifyKey,
};
use proptest::prelude::*;
use std::collections::HashMap;

/// Beta's view, with gamma registered too, so that a changed `src` reaches the signature check.
fn verify(wire: &str) -> Result<Envelope, VerifyError> {
    let b = beta();
    let keys = b.keys();
    let peers: HashMap<ServerName, VerifyKey> = HashMap::from([
        (alpha().name, alpha().verify_key()),
        (gamma().name, gamma().verify_key()),
    ]);
    let guard = MemoryReplayGuard::default();
    let verifier = Verifier::new(&b.name, keys.sealing(), &peers, &guard);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime
        .block_on(verifier.verify(wire, now()))
        .map(|verified| verified.into_parts().0)
}

fn body_strategy() -> impl Strategy<Value = Body> {
    prop_oneof![
        Just(Body::PeerBye),
        (1u64.., any::<i64>()).prop_map(|(member, _)| Body::TimesWithdraw(TimesWithdraw {
            member: Snowflake::new(member).unwrap()
        })),
        (any::<[u8; 16]>(), -1_000_000i64..1_000_000).prop_map(|(nonce, offset)| Body::Ping(
            Ping {
                nonce: Nonce::from_bytes(nonce),
                sent_ms: 1_800_000_000_000 + offset,
            }
        )),
        "[^\\p{Cc}]{1,200}".prop_map(|line| Body::Log(LogLine::parse(&line).unwrap())),
        (1u64.., any::<[u8; 16]>(), any::<u32>()).prop_map(|(member, request, copies)| {
            let forget = MemberForget {
                member: Snowflake::new(member).unwrap(),
                request: Nonce::from_bytes(request),
            };
            if copies % 2 == 0 {
                Body::MemberForget(forget)
            } else {
                Body::MemberForgotten(forget.answer(copies))
            }
        }),
    ]
}

fn envelope_strategy() -> impl Strategy<Value = Envelope> {
    (body_strategy(), any::<[u8; 16]>(), 1u8.., -300i64..=300).prop_map(|(body, id, ttl, skew)| {
        let rng = &mut TestRng::new("props");
        Envelope::new(
            alpha().name,
            beta().name,
            body,
            now() + TimeDelta::seconds(skew),
            rng,
        )
        .with_id(EnvelopeId::from_bytes(id))
        .with_ttl(Ttl::new(ttl))
    })
}

fn signed(envelope: &Envelope) -> String {
    envelope
        .sign(alpha().keys().signing())
        .unwrap()
        .into_string()
}

/// One field of an envelope, changed.
#[derive(Debug, Clone)]
enum Change {
    Id([u8; 16]),
    Src,
    Dst,
    Ttl(u8),
    Ts(i64),
    Body(Body),
}

fn change_strategy() -> impl Strategy<Value = Change> {
    prop_oneof![
        any::<[u8; 16]>().prop_map(Change::Id),
        Just(Change::Src),
        Just(Change::Dst),
        any::<u8>().prop_map(Change::Ttl),
        (-300i64..=300).prop_map(Change::Ts),
        body_strategy().prop_map(Change::Body),
    ]
}

fn apply(envelope: &Envelope, change: &Change) -> Envelope {
    let rng = &mut TestRng::new("change");
    let mut rebuild = |src: ServerName, dst: ServerName, body: Body, skew: i64| {
        Envelope::new(src, dst, body, now() + TimeDelta::seconds(skew), rng)
            .with_id(envelope.id())
            .with_ttl(envelope.ttl())
    };
    let skew = envelope.timestamp() - now().timestamp();
    let (src, dst, body) = (
        envelope.src().clone(),
        envelope.dst().clone(),
        envelope.body().clone(),
    );
    match change {
        Change::Id(id) => envelope.clone().with_id(EnvelopeId::from_bytes(*id)),
        Change::Src => rebuild(gamma().name, dst, body, skew),
        Change::Dst => rebuild(src, gamma().name, body, skew),
        Change::Ttl(ttl) => envelope.clone().with_ttl(Ttl::new(*ttl)),
        Change::Ts(new_skew) => rebuild(src, dst, body, *new_skew),
        Change::Body(new_body) => rebuild(src, dst, new_body.clone(), skew),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn valid_envelopes_round_trip(envelope in envelope_strategy()) {
        let wire = signed(&envelope);
        prop_assert!(wire.len() <= 2000 && wire.is_ascii());
        prop_assert_eq!(verify(&wire).unwrap(), envelope);
    }

    #[test]
    fn changing_any_single_byte_fails_verification(
        envelope in envelope_strategy(),
        position in any::<prop::sample::Index>(),
        replacement in 0u8..128,
    ) {
        let wire = signed(&envelope);
        let mut bytes = wire.into_bytes();
        let index = position.index(bytes.len());
        prop_assume!(bytes[index] != replacement);
        bytes[index] = replacement;
        // The wire text is ASCII and the replacement is ASCII, so the result is still text.
        let tampered = String::from_utf8(bytes).unwrap();
        prop_assert!(matches!(verify(&tampered), Err(VerifyError::Rejected(_))));
    }

    #[test]
    fn changing_any_field_under_the_old_signature_fails_verification(
        envelope in envelope_strategy(),
        change in change_strategy(),
    ) {
        let changed = apply(&envelope, &change);
        prop_assume!(changed != envelope);
        let wire = signed(&envelope);
        let signature = wire.split_once('\n').unwrap().1;
        let forged = format!("{}\n{signature}", changed.payload().unwrap());
        prop_assert!(matches!(verify(&forged), Err(VerifyError::Rejected(_))), "{:?} was accepted", change);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_single_character_change_to_a_card_is_detected(
        position in any::<prop::sample::Index>(),
        replacement in 0u8..128,
    ) {
        let text = alpha().card().encode();
        let mut bytes = text.clone().into_bytes();
        let index = position.index(bytes.len());
        prop_assume!(bytes[index] != replacement);
        bytes[index] = replacement;
        let changed = String::from_utf8(bytes).unwrap();
        prop_assert!(
            kakusan_protocol::Card::parse(&changed, &kakusan_protocol::WebhookPolicy::discord()).is_err(),
            "{:?} was accepted",
            changed
        );
    }
}

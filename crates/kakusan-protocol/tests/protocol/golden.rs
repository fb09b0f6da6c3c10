//! Golden vectors: `docs/vectors/*.json` are generated here from fixed keys and a deterministic
//! random number generator, and checked in two ways. The generator must reproduce the files
//! byte for byte (so the encoder cannot drift), and every case in the files must verify to its
//! recorded result (so the decoder agrees with them).
//!
//! Run with `KAKUSAN_BLESS=1` to rewrite the files after an intended format change.

use crate::support::{NOW, Server, TestRng, alpha, beta, beta_peers, gamma, now};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{TimeDelta, TimeZone as _, Utc};
use kakusan_protocol::{
    Body, Card, CardError, DisplayName, Envelope, EnvelopeId, Hello, LogLine, MemberForget,
    MemoryReplayGuard, Nonce, Ping, Registration, ReplayGuard, SealedSecret, Sender, ServerName,
    Snowflake, SyncChunk, TimesWithdraw, Ttl, Verifier, VerifyError, WebhookPolicy, WebhookUrl,
    WebhookUrlError, sign_raw_payload,
};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use std::path::PathBuf;

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/vectors")
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn times_hook(member: u64) -> String {
    format!(
        "https://discord.com/api/webhooks/{}/times-token-{member}",
        1_300_000_000_000_000_000 + member
    )
}

fn registration(to: &Server, member: u64, name: &str, rng: &mut TestRng) -> Registration {
    let url = WebhookUrl::parse(&times_hook(member), &WebhookPolicy::discord()).unwrap();
    Registration {
        member: Snowflake::new(member).unwrap(),
        name: DisplayName::parse(name).unwrap(),
        channel: Snowflake::new(member + 5_000).unwrap(),
        thread: None,
        hook: SealedSecret::seal_webhook(&to.keys().sealing_key(), &url, rng).unwrap(),
    }
}

/// One envelope case: what the wire text is and what verifying it at `NOW` as `beta` gives.
struct Case {
    name: &'static str,
    description: &'static str,
    wire: String,
    seen_before: Vec<String>,
    expect: Value,
}

fn ok(envelope: &Envelope, sender: &str, opened: Value) -> Value {
    json!({
        "result": "ok",
        "sender": sender,
        "id": envelope.id().to_string(),
        "src": envelope.src().as_str(),
        "dst": envelope.dst().as_str(),
        "kind": envelope.kind().as_str(),
        "ttl": envelope.ttl().get(),
        "ts": envelope.timestamp(),
        "body": serde_json::to_value(envelope.body()).unwrap(),
        "opened": opened,
    })
}

fn rejected(label: &str) -> Value {
    json!({ "result": "rejected", "reason": label })
}

fn envelope(from: &Server, to: &ServerName, body: Body, at: i64, rng: &mut TestRng) -> Envelope {
    Envelope::new(
        from.name.clone(),
        to.clone(),
        body,
        Utc.timestamp_opt(at, 0).unwrap(),
        rng,
    )
}

fn sign(envelope: &Envelope, from: &Server) -> String {
    envelope.sign(from.keys().signing()).unwrap().into_string()
}

fn envelope_cases() -> Vec<Case> {
    let (a, b, g) = (alpha(), beta(), gamma());
    let mut cases = Vec::new();
    let mut push = |name, description, wire: String, seen_before: Vec<String>, expect| {
        cases.push(Case {
            name,
            description,
            wire,
            seen_before,
            expect,
        });
    };

    let rng = &mut TestRng::new("ping_ok");
    let ping = envelope(&a, &b.name, Body::Ping(Ping::new(rng, now())), NOW, rng);
    let ping_wire = sign(&ping, &a);
    push(
        "ping_ok",
        "A ping from the registered peer alpha.",
        ping_wire.clone(),
        vec![],
        ok(&ping, "peer", json!({})),
    );

    let rng = &mut TestRng::new("pong_ok");
    let asked = Ping::new(rng, now() - TimeDelta::seconds(2));
    let pong =
        envelope(&a, &b.name, Body::Pong(asked.answer(now())), NOW, rng).with_ttl(Ttl::new(3));
    push(
        "pong_ok",
        "A pong that answers a ping which arrived with ttl 4, so it carries ttl 3.",
        sign(&pong, &a),
        vec![],
        ok(&pong, "peer", json!({})),
    );

    let rng = &mut TestRng::new("announce_ok");
    let reg = registration(&b, 400_000_000_000_000_001, "みどり 🌱", rng);
    let announce = envelope(&a, &b.name, Body::TimesAnnounce(reg), NOW, rng);
    push(
        "announce_ok",
        "A times.announce whose webhook URL is sealed to beta; the display name shows the \\u escaping of non-ASCII text.",
        sign(&announce, &a),
        vec![],
        ok(
            &announce,
            "peer",
            json!({ "hook": times_hook(400_000_000_000_000_001) }),
        ),
    );

    let rng = &mut TestRng::new("announce_thread_ok");
    let reg = Registration {
        thread: Some(Snowflake::new(400_000_000_000_006_002).unwrap()),
        ..registration(&b, 400_000_000_000_000_002, "Taro", rng)
    };
    let announce = envelope(&a, &b.name, Body::TimesAnnounce(reg), NOW, rng);
    push(
        "announce_thread_ok",
        "A times.announce of a times that is a thread or forum post: `channel` holds the webhook and `thread` names the thread every call carries as thread_id.",
        sign(&announce, &a),
        vec![],
        ok(
            &announce,
            "peer",
            json!({ "hook": times_hook(400_000_000_000_000_002) }),
        ),
    );

    let rng = &mut TestRng::new("withdraw_ok");
    let withdraw = envelope(
        &a,
        &b.name,
        Body::TimesWithdraw(TimesWithdraw {
            member: Snowflake::new(400_000_000_000_000_001).unwrap(),
        }),
        NOW,
        rng,
    );
    push(
        "withdraw_ok",
        "A times.withdraw.",
        sign(&withdraw, &a),
        vec![],
        ok(&withdraw, "peer", json!({})),
    );

    let rng = &mut TestRng::new("sync_ok");
    let regs = vec![
        registration(&b, 400_000_000_000_000_001, "midori", rng),
        registration(&b, 400_000_000_000_000_002, "kai", rng),
    ];
    let chunk = SyncChunk::new(Nonce::generate(rng), 0, 1, regs).unwrap();
    let sync = envelope(&a, &b.name, Body::TimesSync(chunk), NOW, rng);
    push(
        "sync_ok",
        "A times.sync that fits in one chunk (index 0 of 1) with two registrations.",
        sign(&sync, &a),
        vec![],
        ok(
            &sync,
            "peer",
            json!({ "hooks": [times_hook(400_000_000_000_000_001), times_hook(400_000_000_000_000_002)] }),
        ),
    );

    let rng = &mut TestRng::new("sync_empty_ok");
    let chunk = SyncChunk::new(Nonce::generate(rng), 0, 1, vec![]).unwrap();
    let sync = envelope(&a, &b.name, Body::TimesSync(chunk), NOW, rng);
    push(
        "sync_empty_ok",
        "A times.sync of an empty list: one chunk, no registrations.",
        sign(&sync, &a),
        vec![],
        ok(&sync, "peer", json!({})),
    );

    let rng = &mut TestRng::new("log_ok");
    let log = envelope(
        &a,
        &b.name,
        Body::Log(LogLine::parse("beta は alpha の peer になりました \"ok\"").unwrap()),
        NOW,
        rng,
    );
    push(
        "log_ok",
        "A log line with non-ASCII text and quotes.",
        sign(&log, &a),
        vec![],
        ok(&log, "peer", json!({})),
    );

    let rng = &mut TestRng::new("bye_ok");
    let bye = envelope(&a, &b.name, Body::PeerBye, NOW, rng);
    push(
        "bye_ok",
        "A peer.bye; its body is exactly {}.",
        sign(&bye, &a),
        vec![],
        ok(&bye, "peer", json!({})),
    );

    let rng = &mut TestRng::new("member_forget_ok");
    let forget = MemberForget {
        member: Snowflake::new(400_000_000_000_000_001).unwrap(),
        request: Nonce::generate(rng),
    };
    let forget_envelope = envelope(&a, &b.name, Body::MemberForget(forget), NOW, rng);
    push(
        "member_forget_ok",
        "A member.forget: member 400000000000000001 left alpha with /forget-me, and alpha asks beta to delete the copies beta relayed into alpha's channels and to forget the times alpha announced for the member.",
        sign(&forget_envelope, &a),
        vec![],
        ok(&forget_envelope, "peer", json!({})),
    );

    let rng = &mut TestRng::new("member_forgotten_ok");
    let forgotten = envelope(
        &a,
        &b.name,
        Body::MemberForgotten(forget.answer(3)),
        NOW,
        rng,
    )
    .with_ttl(Ttl::new(3));
    push(
        "member_forgotten_ok",
        "A member.forgotten answering a member.forget that arrived with ttl 4: it repeats the member and the request id and says how many copies are being deleted.",
        sign(&forgotten, &a),
        vec![],
        ok(&forgotten, "peer", json!({})),
    );

    let rng = &mut TestRng::new("hello_known_ok");
    let hello = Hello::seal(&a.card(), &b.keys().sealing_key(), rng).unwrap();
    let hello = envelope(&a, &b.name, Body::PeerHello(hello), NOW, rng);
    push(
        "hello_known_ok",
        "A peer.hello from a registered peer: verified with the stored key; the body is alpha's card sealed to beta.",
        sign(&hello, &a),
        vec![],
        ok(&hello, "peer", json!({ "card": a.card().encode() })),
    );

    let rng = &mut TestRng::new("hello_unregistered_ok");
    let hello = Hello::seal(&g.card(), &b.keys().sealing_key(), rng).unwrap();
    let hello = envelope(&g, &b.name, Body::PeerHello(hello), NOW, rng);
    push(
        "hello_unregistered_ok",
        "A peer.hello from gamma, which beta has not registered: the key comes from the sealed card, and the sender is reported as unregistered.",
        sign(&hello, &g),
        vec![],
        ok(&hello, "unregistered", json!({ "card": g.card().encode() })),
    );

    // A key rotation (docs/protocol.md, section 8.1): alpha's card with new keys, in a hello
    // signed with the key beta has for alpha. On the wire it is an ordinary hello from a
    // registered peer; what makes it a rotation is that the card's keys differ from the stored
    // ones, and only the stored key's signature lets beta accept them.
    let rotated = Server {
        signing_seed: [0x41; 32],
        sealing_secret: [0x51; 32],
        ..alpha()
    };
    let rng = &mut TestRng::new("hello_rotation_ok");
    let hello = Hello::seal(&rotated.card(), &b.keys().sealing_key(), rng).unwrap();
    let hello = envelope(&a, &b.name, Body::PeerHello(hello), NOW, rng);
    push(
        "hello_rotation_ok",
        "A key rotation: a peer.hello from registered alpha whose card carries new keys, signed with the key beta has for alpha. It verifies as a registered peer's hello; beta then stores the card's keys.",
        sign(&hello, &a),
        vec![],
        ok(&hello, "peer", json!({ "card": rotated.card().encode() })),
    );

    let rng = &mut TestRng::new("hello_rotation_self_signed");
    let hello = Hello::seal(&rotated.card(), &b.keys().sealing_key(), rng).unwrap();
    let hello = envelope(&a, &b.name, Body::PeerHello(hello), NOW, rng);
    push(
        "rotation_signed_with_the_new_key",
        "The same rotation signed with the new key instead of the registered one: a registered sender is verified with the stored key only, so a card cannot vouch for its own new key.",
        sign(&hello, &rotated),
        vec![],
        rejected("bad_signature"),
    );

    let rng = &mut TestRng::new("hello_sealed_to_someone_else");
    let hello = Hello::seal(&g.card(), &a.keys().sealing_key(), rng).unwrap();
    let hello = envelope(&g, &b.name, Body::PeerHello(hello), NOW, rng);
    push(
        "bad_card",
        "A peer.hello from unregistered gamma whose card is sealed to alpha, so beta cannot open it.",
        sign(&hello, &g),
        vec![],
        rejected("bad_card"),
    );

    let rng = &mut TestRng::new("hello_wrong_name");
    let hello = Hello::seal(&a.card(), &b.keys().sealing_key(), rng).unwrap();
    let hello = envelope(&g, &b.name, Body::PeerHello(hello), NOW, rng);
    push(
        "bad_card_wrong_name",
        "A peer.hello from unregistered gamma that carries alpha's card.",
        sign(&hello, &g),
        vec![],
        rejected("bad_card"),
    );

    let rng = &mut TestRng::new("unknown_src");
    let stranger = envelope(&g, &b.name, Body::Ping(Ping::new(rng, now())), NOW, rng);
    push(
        "unknown_src",
        "A ping from gamma, which beta has not registered.",
        sign(&stranger, &g),
        vec![],
        rejected("unknown_src"),
    );

    let tampered = ping_wire.replacen("\"ttl\":4", "\"ttl\":5", 1);
    assert_ne!(tampered, ping_wire);
    push(
        "tampered_payload",
        "ping_ok with ttl changed from 4 to 5 after signing.",
        tampered,
        vec![],
        rejected("bad_signature"),
    );

    let (payload, signature) = ping_wire.split_once('\n').unwrap();
    let first = if signature.starts_with('A') { 'B' } else { 'A' };
    let tampered = format!("{payload}\n{first}{}", &signature[1..]);
    push(
        "tampered_signature",
        "ping_ok with the first signature character changed.",
        tampered,
        vec![],
        rejected("bad_signature"),
    );

    let rng = &mut TestRng::new("forged");
    let forged = envelope(&a, &b.name, Body::Ping(Ping::new(rng, now())), NOW, rng);
    push(
        "forged",
        "A ping that claims to be from alpha but is signed with gamma's key.",
        sign(&forged, &g),
        vec![],
        rejected("bad_signature"),
    );

    let rng = &mut TestRng::new("wrong_dst");
    let misaddressed = envelope(&a, &g.name, Body::Ping(Ping::new(rng, now())), NOW, rng);
    push(
        "wrong_dst",
        "A correctly signed ping from alpha addressed to gamma, delivered to beta.",
        sign(&misaddressed, &a),
        vec![],
        rejected("wrong_dst"),
    );

    let rng = &mut TestRng::new("stale_past");
    let old = envelope(
        &a,
        &b.name,
        Body::Ping(Ping::new(rng, now())),
        NOW - 301,
        rng,
    );
    push(
        "stale_past",
        "A ping sent 301 seconds before the receiver's now.",
        sign(&old, &a),
        vec![],
        rejected("stale"),
    );

    let rng = &mut TestRng::new("stale_future");
    let early = envelope(
        &a,
        &b.name,
        Body::Ping(Ping::new(rng, now())),
        NOW + 301,
        rng,
    );
    push(
        "stale_future",
        "A ping sent 301 seconds after the receiver's now.",
        sign(&early, &a),
        vec![],
        rejected("stale"),
    );

    let rng = &mut TestRng::new("window_edge_ok");
    let edge = envelope(
        &a,
        &b.name,
        Body::Ping(Ping::new(rng, now())),
        NOW - 300,
        rng,
    );
    push(
        "window_edge_ok",
        "A ping sent exactly 300 seconds before now: still accepted.",
        sign(&edge, &a),
        vec![],
        ok(&edge, "peer", json!({})),
    );

    push(
        "replayed",
        "ping_ok again, after beta has already recorded its id.",
        ping_wire.clone(),
        vec![ping.id().to_string()],
        rejected("replayed"),
    );

    let rng = &mut TestRng::new("ttl_zero");
    let spent =
        envelope(&a, &b.name, Body::Ping(Ping::new(rng, now())), NOW, rng).with_ttl(Ttl::new(0));
    push(
        "ttl_zero",
        "A correctly signed ping with ttl 0: dropped.",
        sign(&spent, &a),
        vec![],
        rejected("ttl_expired"),
    );

    let rng = &mut TestRng::new("own_message");
    let own = envelope(&b, &b.name, Body::Ping(Ping::new(rng, now())), NOW, rng);
    push(
        "own_message",
        "An envelope from beta to itself.",
        sign(&own, &b),
        vec![],
        rejected("own_message"),
    );

    push(
        "too_large",
        "2,001 bytes: refused before parsing.",
        "x".repeat(2001),
        vec![],
        rejected("too_large"),
    );

    push(
        "no_signature",
        "A payload without the line feed and signature.",
        payload.to_owned(),
        vec![],
        rejected("malformed"),
    );

    let key = a.keys();
    let raw = |payload: &str| sign_raw_payload(payload, key.signing());
    let id = EnvelopeId::from_bytes([0xab; 16]);
    push(
        "unknown_kind",
        "A signed envelope with kind times.delete, which v1 does not have.",
        raw(&format!(
            r#"{{"v":1,"id":"{id}","src":"alpha","dst":"beta","kind":"times.delete","ttl":4,"ts":{NOW},"body":{{}}}}"#
        )),
        vec![],
        rejected("malformed"),
    );
    push(
        "unsupported_version",
        "A signed envelope with v 2.",
        raw(&format!(
            r#"{{"v":2,"id":"{id}","src":"alpha","dst":"beta","kind":"peer.bye","ttl":4,"ts":{NOW},"body":{{}}}}"#
        )),
        vec![],
        rejected("malformed"),
    );
    push(
        "duplicate_field",
        "A signed envelope with the ttl field twice.",
        raw(&format!(
            r#"{{"v":1,"id":"{id}","src":"alpha","dst":"beta","kind":"peer.bye","ttl":4,"ttl":9,"ts":{NOW},"body":{{}}}}"#
        )),
        vec![],
        rejected("malformed"),
    );
    push(
        "unknown_field",
        "A signed envelope with a top-level field v1 does not define.",
        raw(&format!(
            r#"{{"v":1,"id":"{id}","src":"alpha","dst":"beta","kind":"peer.bye","ttl":4,"ts":{NOW},"body":{{}},"x":1}}"#
        )),
        vec![],
        rejected("malformed"),
    );
    push(
        "bad_body",
        "A correctly signed ping whose body lacks sent_ms: refused after the signature check.",
        raw(&format!(
            r#"{{"v":1,"id":"{id}","src":"alpha","dst":"beta","kind":"ping","ttl":4,"ts":{NOW},"body":{{"nonce":"{id}"}}}}"#
        )),
        vec![],
        rejected("malformed"),
    );
    push(
        "upper_case_id",
        "A correctly signed envelope whose id is upper-case hex.",
        raw(&format!(
            r#"{{"v":1,"id":"{}","src":"alpha","dst":"beta","kind":"peer.bye","ttl":4,"ts":{NOW},"body":{{}}}}"#,
            id.to_string().to_uppercase()
        )),
        vec![],
        rejected("malformed"),
    );
    push(
        "any_field_order_ok",
        "A correctly signed peer.bye whose fields are in another order: accepted, because only the exact signed bytes matter.",
        raw(&format!(
            r#"{{"body":{{}},"ts":{NOW},"ttl":2,"kind":"peer.bye","dst":"beta","src":"alpha","id":"{id}","v":1}}"#
        )),
        vec![],
        json!({ "result": "ok", "sender": "peer", "id": id.to_string(), "src": "alpha", "dst": "beta", "kind": "peer.bye", "ttl": 2, "ts": NOW, "body": {}, "opened": {} }),
    );
    cases
}

fn server_json(server: &Server) -> Value {
    let keys = server.keys();
    json!({
        "name": server.name.as_str(),
        "guild_id": server.guild.to_string(),
        "signing_seed": b64(&server.signing_seed),
        "verify_key": keys.verify_key().to_base64(),
        "sealing_secret": b64(&server.sealing_secret),
        "sealing_key": keys.sealing_key().to_base64(),
        "webhook_url": server.webhook,
        "card": server.card().encode(),
    })
}

fn checksum(covered: &str) -> String {
    b64(&Sha256::digest(covered.as_bytes())[..6])
}

/// Builds a card text from raw fields with a correct checksum.
fn raw_card(fields: [&str; 5]) -> String {
    let covered = format!("kakusan1.{}", fields.join("."));
    let sum = checksum(&covered);
    format!("{covered}.{sum}")
}

/// The little-endian bytes of 2^255 − 19 + 3: a second spelling of the coordinate 3, which both
/// key types refuse.
fn p_plus_3() -> [u8; 32] {
    let mut bytes = [0xff; 32];
    bytes[0] = 0xf0;
    bytes[31] = 0x7f;
    bytes
}

/// An invalid card case; `webhook_error` says which part of the URL is wrong for `webhook` ones.
fn invalid_card(name: &str, card: String, error: &str, webhook_error: Option<&str>) -> Value {
    let mut case = json!({ "name": name, "card": card, "error": error });
    if let Some(detail) = webhook_error {
        case["webhook_error"] = json!(detail);
    }
    case
}

/// A valid card case whose card is `server`'s fields with the given webhook URL.
fn valid_card(
    name: &str,
    card: &str,
    server: &str,
    guild: &str,
    keys: [&str; 2],
    url: &str,
) -> Value {
    let fields = json!({
        "name": server,
        "guild_id": guild,
        "verify_key": keys[0],
        "sealing_key": keys[1],
        "webhook_url": url,
    });
    json!({ "name": name, "card": card, "fields": fields })
}

fn cards_json() -> Value {
    let a = alpha();
    let card = a.card().encode();
    let vk = a.verify_key().to_base64();
    let sk = a.keys().sealing_key().to_base64();
    let hook = b64(a.webhook.as_bytes());
    let canonical_hook = WebhookUrl::discord(Snowflake::new(42).unwrap(), "proxied-token").unwrap();
    let canonical_card = raw_card([
        "proxied",
        "7",
        &vk,
        &sk,
        &b64(canonical_hook.expose().as_bytes()),
    ]);
    let canary_hook = "https://canary.discordapp.com/api/v10/webhooks/42/canary-token";
    let canary_card = raw_card(["canary", "7", &vk, &sk, &b64(canary_hook.as_bytes())]);
    let sim_hook = "http://127.0.0.1:8080/api/v10/webhooks/42/sim-token";
    let sim_card = raw_card(["sim-server", "7", &vk, &sk, &b64(sim_hook.as_bytes())]);
    // Whitespace around the token takes the text past 1,024 bytes; the token itself is short.
    let padded = format!("{}{card}\n\n", " ".repeat(1024));
    let too_long = format!("{card}.{}", "A".repeat(1024 - card.len()));
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut sealing_top_bit = a.keys().sealing_key().to_bytes();
    sealing_top_bit[31] |= 0x80;
    let fields = |name, card: String, error| invalid_card(name, card, error, None);
    let invalid = vec![
        fields("too_long", too_long, "too_long"),
        fields(
            "wrong_prefix",
            card.replacen("kakusan1.", "kakusan2.", 1),
            "wrong_prefix",
        ),
        fields("whitespace", card.replacen('.', ". ", 1), "whitespace"),
        fields(
            "truncated_webhook",
            format!("{}{}", &card[..card.len() - 12], &card[card.len() - 9..]),
            "checksum",
        ),
        fields(
            "truncated",
            card[..card.len() - 10].to_owned(),
            "field_count",
        ),
        fields(
            "altered_name",
            card.replacen("alpha", "alphb", 1),
            "checksum",
        ),
        fields("field_count", "kakusan1.alpha.1".to_owned(), "field_count"),
        fields(
            "bad_name",
            raw_card(["Alpha", "1", &vk, &sk, &hook]),
            "name",
        ),
        fields(
            "zero_guild",
            raw_card(["alpha", "0", &vk, &sk, &hook]),
            "guild_id",
        ),
        fields(
            "verify_key_not_base64",
            raw_card(["alpha", "1", "not+base64", &sk, &hook]),
            "base64",
        ),
        fields(
            "small_order_verify_key_beside_bad_webhook_base64",
            raw_card(["alpha", "1", &b64(&identity), &sk, "a=="]),
            "base64",
        ),
        fields(
            "verify_key_small_order",
            raw_card(["alpha", "1", &b64(&identity), &sk, &hook]),
            "verify_key",
        ),
        fields(
            "verify_key_short",
            raw_card(["alpha", "1", &b64(&[7; 31]), &sk, &hook]),
            "verify_key",
        ),
        fields(
            "verify_key_non_canonical",
            raw_card(["alpha", "1", &b64(&p_plus_3()), &sk, &hook]),
            "verify_key",
        ),
        fields(
            "sealing_key_zero",
            raw_card(["alpha", "1", &vk, &b64(&[0; 32]), &hook]),
            "sealing_key",
        ),
        fields(
            "sealing_key_non_canonical",
            raw_card(["alpha", "1", &vk, &b64(&p_plus_3()), &hook]),
            "sealing_key",
        ),
        fields(
            "sealing_key_top_bit",
            raw_card(["alpha", "1", &vk, &b64(&sealing_top_bit), &hook]),
            "sealing_key",
        ),
        fields(
            "webhook_not_base64",
            raw_card(["alpha", "1", &vk, &sk, "a=="]),
            "base64",
        ),
        fields(
            "webhook_not_text",
            raw_card(["alpha", "1", &vk, &sk, &b64(&[0xff, 0xfe])]),
            "webhook_not_text",
        ),
        invalid_card(
            "webhook_not_discord",
            raw_card([
                "alpha",
                "1",
                &vk,
                &sk,
                &b64(b"https://example.com/api/webhooks/1/t"),
            ]),
            "webhook",
            Some("wrong_base"),
        ),
        invalid_card(
            "webhook_local_api_base",
            sim_card,
            "webhook",
            Some("wrong_base"),
        ),
    ];
    let guild = a.guild.to_string();
    let keys = [vk.as_str(), sk.as_str()];
    let valid = vec![
        valid_card("alpha", &card, "alpha", &guild, keys, &a.webhook),
        valid_card(
            "padded_past_the_limit",
            &padded,
            "alpha",
            &guild,
            keys,
            &a.webhook,
        ),
        valid_card(
            "canonical_webhook",
            &canonical_card,
            "proxied",
            "7",
            keys,
            canonical_hook.expose(),
        ),
        valid_card(
            "other_discord_host",
            &canary_card,
            "canary",
            "7",
            keys,
            canary_hook,
        ),
    ];
    json!({
        "discord_bases": WebhookPolicy::discord().bases(),
        "valid": valid,
        "invalid": invalid,
    })
}

fn sealed_json() -> Value {
    let b = beta();
    let rng = &mut TestRng::new("sealed");
    let plaintext = times_hook(400_000_000_000_000_009);
    let sealed = SealedSecret::seal(&b.keys().sealing_key(), plaintext.as_bytes(), rng).unwrap();
    json!({
        "construction": "libsodium crypto_box_seal: epk || crypto_box(m, nonce = BLAKE2b-192(epk || recipient_pk), recipient_pk, esk)",
        "cases": [{
            "recipient_secret": b64(&b.sealing_secret),
            "recipient_key": b.keys().sealing_key().to_base64(),
            "plaintext": plaintext,
            "sealed": sealed.to_base64(),
        }],
    })
}

fn envelopes_json() -> Value {
    json!({
        "receiver": "beta",
        "receiver_peers": ["alpha"],
        "now": NOW,
        "max_clock_skew_secs": 300,
        "webhook_bases": WebhookPolicy::discord().bases(),
        "cases": envelope_cases().into_iter().map(|case| json!({
            "name": case.name,
            "description": case.description,
            "wire": case.wire,
            "seen_before": case.seen_before,
            "expect": case.expect,
        })).collect::<Vec<_>>(),
    })
}

fn generated_files() -> Vec<(&'static str, String)> {
    let keys = json!({
        "note": "Test keys only. Seeds and secrets are unpadded base64url of 32 bytes.",
        "servers": [server_json(&alpha()), server_json(&beta()), server_json(&gamma())],
    });
    [
        ("keys.json", keys),
        ("envelopes.json", envelopes_json()),
        ("cards.json", cards_json()),
        ("sealed.json", sealed_json()),
    ]
    .into_iter()
    .map(|(name, value)| (name, serde_json::to_string_pretty(&value).unwrap() + "\n"))
    .collect()
}

#[test]
fn the_generator_reproduces_the_vector_files_byte_for_byte() {
    let bless = std::env::var_os("KAKUSAN_BLESS").is_some();
    for (name, text) in generated_files() {
        let path = vectors_dir().join(name);
        if bless {
            std::fs::write(&path, &text).unwrap();
        }
        let stored = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}; run with KAKUSAN_BLESS=1", path.display()));
        assert!(
            stored == text,
            "{name} differs from what the encoder produces now; if the change is intended, run with KAKUSAN_BLESS=1 and review the diff"
        );
    }
}

fn load(name: &str) -> Value {
    let text = std::fs::read_to_string(vectors_dir().join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn string(value: &Value) -> &str {
    value.as_str().unwrap()
}

/// The vector label of a webhook URL defect.
fn webhook_error_label(error: &WebhookUrlError) -> &'static str {
    match error {
        WebhookUrlError::TooLong(_) => "too_long",
        WebhookUrlError::WrongBase => "wrong_base",
        WebhookUrlError::NotAWebhookPath => "not_a_webhook_path",
        WebhookUrlError::BadId => "bad_id",
        WebhookUrlError::BadToken => "bad_token",
    }
}

#[tokio::test]
async fn every_envelope_vector_verifies_to_its_recorded_result() {
    let file = load("envelopes.json");
    let b = beta();
    let keys = b.keys();
    let peers = beta_peers();
    let now = Utc.timestamp_opt(file["now"].as_i64().unwrap(), 0).unwrap();
    let cases = file["cases"].as_array().unwrap();
    assert!(cases.len() >= 25);
    for case in cases {
        let name = string(&case["name"]);
        let guard = MemoryReplayGuard::default();
        for id in case["seen_before"].as_array().unwrap() {
            let id = EnvelopeId::parse(string(id)).unwrap();
            assert!(guard.first_sighting(&b.name, &id, now).await.unwrap());
        }
        let verifier = Verifier::new(&b.name, keys.sealing(), &peers, &guard);
        let result = verifier.verify(string(&case["wire"]), now).await;
        let expect = &case["expect"];
        match (string(&expect["result"]), result) {
            ("ok", Ok(verified)) => {
                let envelope = verified.envelope();
                assert_eq!(envelope.id().to_string(), string(&expect["id"]), "{name}");
                assert_eq!(envelope.src().as_str(), string(&expect["src"]), "{name}");
                assert_eq!(envelope.dst().as_str(), string(&expect["dst"]), "{name}");
                assert_eq!(envelope.kind().as_str(), string(&expect["kind"]), "{name}");
                assert_eq!(
                    u64::from(envelope.ttl().get()),
                    expect["ttl"].as_u64().unwrap(),
                    "{name}"
                );
                assert_eq!(
                    envelope.timestamp(),
                    expect["ts"].as_i64().unwrap(),
                    "{name}"
                );
                assert_eq!(
                    serde_json::to_value(envelope.body()).unwrap(),
                    expect["body"],
                    "{name}"
                );
                let sender = match verified.sender() {
                    Sender::Peer => "peer",
                    Sender::Unregistered(_) => "unregistered",
                };
                assert_eq!(sender, string(&expect["sender"]), "{name}");
                check_opened(name, envelope.body(), &expect["opened"], &b);
            }
            ("rejected", Err(VerifyError::Rejected(rejection))) => {
                assert_eq!(
                    rejection.as_str(),
                    string(&expect["reason"]),
                    "{name}: {rejection}"
                );
                assert!(!rejection.to_string().contains('\n'));
            }
            (wanted, got) => panic!("{name}: expected {wanted}, got {got:?}"),
        }
    }
}

/// Opens the sealed parts of an accepted body and compares them with the recorded plaintext.
fn check_opened(name: &str, body: &Body, opened: &Value, receiver: &Server) {
    let keys = receiver.keys();
    let policy = WebhookPolicy::discord();
    match body {
        Body::TimesAnnounce(reg) => {
            let url = reg.hook.open_webhook(keys.sealing(), &policy).unwrap();
            assert_eq!(url.expose(), string(&opened["hook"]), "{name}");
        }
        Body::TimesSync(chunk) => {
            let urls: Vec<String> = chunk
                .registrations()
                .iter()
                .map(|reg| {
                    reg.hook
                        .open_webhook(keys.sealing(), &policy)
                        .unwrap()
                        .expose()
                        .to_owned()
                })
                .collect();
            let expected: Vec<String> = opened.get("hooks").map_or_else(Vec::new, |hooks| {
                hooks
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| string(h).to_owned())
                    .collect()
            });
            assert_eq!(urls, expected, "{name}");
        }
        Body::PeerHello(hello) => {
            let card = hello.open(keys.sealing(), &policy).unwrap();
            assert_eq!(card.encode(), string(&opened["card"]), "{name}");
        }
        _ => assert_eq!(opened, &json!({}), "{name}"),
    }
}

#[test]
fn every_card_vector_parses_to_its_recorded_result() {
    let file = load("cards.json");
    let policy = WebhookPolicy::discord();
    assert_eq!(file["discord_bases"], json!(policy.bases()));
    for case in file["valid"].as_array().unwrap() {
        let name = &case["name"];
        let text = string(&case["card"]);
        let card = Card::parse(text, &policy).unwrap_or_else(|e| panic!("{name}: {e}"));
        let fields = &case["fields"];
        assert_eq!(card.name().as_str(), string(&fields["name"]), "{name}");
        assert_eq!(card.guild_id().to_string(), string(&fields["guild_id"]));
        assert_eq!(card.verify_key().to_base64(), string(&fields["verify_key"]));
        assert_eq!(
            card.sealing_key().to_base64(),
            string(&fields["sealing_key"])
        );
        assert_eq!(card.webhook().expose(), string(&fields["webhook_url"]));
        assert_eq!(card.encode(), text.trim(), "{name}");
    }
    for case in file["invalid"].as_array().unwrap() {
        let name = &case["name"];
        let error = Card::parse(string(&case["card"]), &policy).unwrap_err();
        assert_eq!(error.as_str(), string(&case["error"]), "{name}: {error}");
        let detail = match &error {
            CardError::Webhook(inner) => Some(webhook_error_label(inner)),
            _ => None,
        };
        assert_eq!(
            detail,
            case.get("webhook_error").map(string),
            "{name}: {error}"
        );
    }
}

#[test]
fn every_sealed_vector_opens_to_its_plaintext() {
    let file = load("sealed.json");
    for case in file["cases"].as_array().unwrap() {
        let secret =
            kakusan_protocol::SealingSecret::parse(string(&case["recipient_secret"])).unwrap();
        assert_eq!(
            secret.sealing_key().to_base64(),
            string(&case["recipient_key"])
        );
        let sealed = SealedSecret::parse(string(&case["sealed"])).unwrap();
        assert_eq!(
            sealed.open(&secret).unwrap().as_slice(),
            string(&case["plaintext"]).as_bytes()
        );
        let stranger = kakusan_protocol::SealingSecret::from_bytes([0x99; 32]);
        assert!(sealed.open(&stranger).is_err());
    }
}

#[test]
fn the_key_vectors_match_their_seeds() {
    let file = load("keys.json");
    for server in file["servers"].as_array().unwrap() {
        let signing =
            kakusan_protocol::SigningSecret::parse(string(&server["signing_seed"])).unwrap();
        assert_eq!(
            signing.verify_key().to_base64(),
            string(&server["verify_key"])
        );
        let card = Card::parse(string(&server["card"]), &WebhookPolicy::discord()).unwrap();
        assert_eq!(card.verify_key(), signing.verify_key());
        assert_eq!(card.name().as_str(), string(&server["name"]));
    }
}

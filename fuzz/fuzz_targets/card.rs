//! Fuzzes the card parser: it must never panic, and every accepted card must encode to a text
//! that parses back to the same card. Each input is also tried with its checksum recomputed, so
//! that the fuzzer reaches the field checks behind the SHA-256 checksum, which it cannot guess.

#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kakusan_protocol::{Card, WebhookPolicy};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest as _, Sha256};

/// Replaces the text after the last dot with the correct checksum of what precedes it.
fn with_fixed_checksum(text: &str) -> Option<String> {
    let (covered, _) = text.trim().rsplit_once('.')?;
    let sum = URL_SAFE_NO_PAD.encode(&Sha256::digest(covered.as_bytes())[..6]);
    Some(format!("{covered}.{sum}"))
}

fn check(text: &str, policy: &WebhookPolicy) {
    match Card::parse(text, policy) {
        Ok(card) => {
            let again = Card::parse(&card.encode(), policy).expect("an encoded card parses");
            assert_eq!(again, card);
        }
        Err(error) => assert!(!error.to_string().is_empty()),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let discord = WebhookPolicy::discord();
    let sim = WebhookPolicy::with_bases(["http://127.0.0.1:8080"]);
    let fixed = with_fixed_checksum(text);
    for policy in [&discord, &sim] {
        check(text, policy);
        if let Some(fixed) = &fixed {
            check(fixed, policy);
        }
    }
});

//! Fuzzes the card parser: it must never panic, and every accepted card must encode to a text
//! that parses back to the same card.

#![no_main]

use kakusan_relay::{Card, WebhookPolicy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let discord = WebhookPolicy::discord();
    let sim = WebhookPolicy::with_bases(["http://127.0.0.1:8080"]);
    for policy in [&discord, &sim] {
        match Card::parse(text, policy) {
            Ok(card) => {
                let again = Card::parse(&card.encode(), policy).expect("an encoded card parses");
                assert_eq!(again, card);
            }
            Err(error) => assert!(!error.to_string().is_empty()),
        }
    }
});

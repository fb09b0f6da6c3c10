//! Fuzzes the envelope verifier twice per input: as received wire text, and as a payload that
//! the fuzzer signs with a known peer's key, so that the code after the signature check (body
//! decoding, dst, time, replay, ttl) is reached too.

#![no_main]

use chrono::{TimeZone as _, Utc};
use kakusan_protocol::{
    MAX_WIRE_BYTES, MemoryReplayGuard, SealingSecret, ServerKeys, ServerName, SigningSecret,
    Verifier, VerifyError, sign_raw_payload,
};
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// The in-memory replay guard answers at once, so one poll always completes the future.
fn run_now<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the verifier waited although nothing can be pending"),
    }
}

fn check(result: &Result<kakusan_protocol::VerifiedEnvelope, VerifyError>, content: &str) {
    match result {
        Ok(verified) => {
            // Anything accepted must have been small enough and must round-trip its header.
            assert!(content.len() <= MAX_WIRE_BYTES);
            assert!(verified.envelope().ttl().get() > 0);
        }
        Err(VerifyError::Rejected(rejection)) => {
            let line = rejection.to_string();
            assert!(!line.contains('\n'), "log line has a line break: {line:?}");
            assert!(kakusan_protocol::Rejection::LABELS.contains(&rejection.as_str()));
        }
        Err(VerifyError::ReplayGuard(_)) => panic!("the memory guard cannot fail"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let local = ServerName::parse("beta").unwrap();
    let peer = ServerName::parse("alpha").unwrap();
    let peer_keys = ServerKeys::new(
        SigningSecret::from_seed([1; 32]),
        SealingSecret::from_bytes([2; 32]),
    );
    let local_sealing = SealingSecret::from_bytes([4; 32]);
    let peers = HashMap::from([(peer, peer_keys.verify_key())]);
    let replay = MemoryReplayGuard::default();
    let verifier = Verifier::new(&local, &local_sealing, &peers, &replay);
    let now = Utc.timestamp_opt(1_800_000_000, 0).unwrap();

    let as_received = run_now(verifier.verify(text, now));
    check(&as_received, text);

    if !text.contains('\n') {
        let signed = sign_raw_payload(text, peer_keys.signing());
        let result = run_now(verifier.verify(&signed, now));
        check(&result, &signed);
        if let Ok(verified) = result {
            // An accepted envelope re-signed from its typed form must verify again (with a
            // fresh replay guard, since the id is the same).
            let fresh = MemoryReplayGuard::default();
            let again = Verifier::new(&local, &local_sealing, &peers, &fresh);
            let resigned = verified.envelope().sign(peer_keys.signing());
            if let Ok(resigned) = resigned {
                let second = run_now(again.verify(resigned.as_str(), now))
                    .expect("re-signed envelope verifies");
                assert_eq!(second.envelope(), verified.envelope());
            }
        }
    }
});

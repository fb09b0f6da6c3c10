//! Chunked `times.sync`: 0, 1 and 500 registrations survive splitting, transport and
//! reassembly, and every chunk fits one Discord message.

use crate::support::{TestRng, alpha, beta, beta_peers, now};
use kakusan_protocol::{
    Body, DisplayName, MemoryReplayGuard, Nonce, Registration, SealedSecret, Snowflake,
    SyncAssembler, SyncChunk, SyncError, Verifier, WebhookPolicy, WebhookUrl, reassemble_sync,
    split_sync,
};

fn registrations(count: u64, rng: &mut TestRng) -> Vec<Registration> {
    let recipient = beta().keys().sealing_key();
    (1..=count)
        .map(|i| {
            let url = format!(
                "https://canary.discord.com/api/v10/webhooks/{}/{}",
                1_300_000_000_000_000_000 + i,
                "T".repeat(68)
            );
            let url = WebhookUrl::parse(&url, &WebhookPolicy::discord()).unwrap();
            Registration {
                member: Snowflake::new(400_000_000_000_000_000 + i).unwrap(),
                // Long, non-ASCII names make each registration as large as it gets in practice.
                name: DisplayName::parse(&format!("メンバー{i}🌱").repeat(3)).unwrap(),
                channel: Snowflake::new(900_000_000_000_000_000 + i).unwrap(),
                thread: None,
                hook: SealedSecret::seal_webhook(&recipient, &url, rng).unwrap(),
            }
        })
        .collect()
}

/// Splits, verifies every chunk as beta would, and returns the chunks in arrival order.
async fn send(regs: &[Registration], rng: &mut TestRng) -> Vec<SyncChunk> {
    let (a, b) = (alpha(), beta());
    let wires = split_sync(&a.name, &b.name, regs, now(), a.keys().signing(), rng).unwrap();
    let keys = b.keys();
    let peers = beta_peers();
    let guard = MemoryReplayGuard::default();
    let verifier = Verifier::new(&b.name, keys.sealing(), &peers, &guard);
    let mut chunks = Vec::new();
    for wire in wires {
        assert!(
            wire.len() <= 2000,
            "a chunk of {} bytes does not fit a message",
            wire.len()
        );
        let verified = verifier.verify(wire.as_str(), now()).await.unwrap();
        match verified.into_parts().0.into_body() {
            Body::TimesSync(chunk) => chunks.push(chunk),
            other => panic!("expected a sync chunk, got {other:?}"),
        }
    }
    chunks
}

#[tokio::test]
async fn an_empty_list_is_one_empty_chunk() {
    let rng = &mut TestRng::new("sync 0");
    let chunks = send(&[], rng).await;
    assert_eq!(chunks.len(), 1);
    assert_eq!((chunks[0].index(), chunks[0].count()), (0, 1));
    assert_eq!(reassemble_sync(chunks).unwrap(), vec![]);
}

#[tokio::test]
async fn one_registration_is_one_chunk() {
    let rng = &mut TestRng::new("sync 1");
    let regs = registrations(1, rng);
    let chunks = send(&regs, rng).await;
    assert_eq!(chunks.len(), 1);
    assert_eq!(reassemble_sync(chunks).unwrap(), regs);
}

#[tokio::test]
async fn five_hundred_registrations_survive_in_any_arrival_order() {
    let rng = &mut TestRng::new("sync 500");
    let regs = registrations(500, rng);
    let chunks = send(&regs, rng).await;
    assert!(chunks.len() > 1);
    let count = u32::try_from(chunks.len()).unwrap();
    assert!(
        chunks
            .iter()
            .all(|c| c.count() == count && c.sync_id() == chunks[0].sync_id())
    );
    assert!(chunks.iter().all(|c| !c.registrations().is_empty()));
    assert_eq!(reassemble_sync(chunks.clone()).unwrap(), regs);

    // Delivered back to front, chunk by chunk, the assembler only answers at the last one.
    let src = alpha().name;
    let mut assembler = SyncAssembler::default();
    let mut reversed = chunks.into_iter().rev().peekable();
    while let Some(chunk) = reversed.next() {
        let result = assembler.accept(&src, chunk).unwrap();
        if reversed.peek().is_some() {
            assert!(result.is_none());
        } else {
            assert_eq!(result.unwrap(), regs);
        }
    }
}

#[test]
fn reassembly_refuses_gaps_duplicates_and_mixtures() {
    let rng = &mut TestRng::new("sync errors");
    let sync = Nonce::generate(rng);
    let other = Nonce::generate(rng);
    let chunk = |sync, index, count| SyncChunk::new(sync, index, count, vec![]).unwrap();

    assert!(matches!(reassemble_sync(vec![]), Err(SyncError::Empty)));
    assert!(matches!(
        reassemble_sync(vec![chunk(sync, 0, 3), chunk(sync, 2, 3)]),
        Err(SyncError::Incomplete {
            missing: 1,
            count: 3
        })
    ));
    assert!(matches!(
        reassemble_sync(vec![chunk(sync, 0, 2), chunk(sync, 0, 2)]),
        Err(SyncError::DuplicateChunk(0))
    ));
    assert!(matches!(
        reassemble_sync(vec![chunk(sync, 0, 2), chunk(other, 1, 2)]),
        Err(SyncError::Mixed)
    ));
    assert!(matches!(
        reassemble_sync(vec![chunk(sync, 0, 2), chunk(sync, 1, 3)]),
        Err(SyncError::Mixed)
    ));

    // A newer sync from the same sender replaces an unfinished older one.
    let src = alpha().name;
    let mut assembler = SyncAssembler::default();
    assert!(assembler.accept(&src, chunk(sync, 0, 2)).unwrap().is_none());
    assert!(
        assembler
            .accept(&src, chunk(other, 0, 1))
            .unwrap()
            .is_some()
    );
    assert!(
        assembler.accept(&src, chunk(sync, 1, 2)).unwrap().is_none(),
        "the old sync was discarded"
    );
}

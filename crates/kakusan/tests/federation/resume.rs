//! A restart resumes the gateway session: what members did while kakusan was stopped reaches
//! the copies through Discord's replay, and a refused session falls back to a new one.

use discord_sim::{Handshake, Message};
use kakusan_testkit::federation::{Deployment, Federation};
use kakusan_testkit::{PATIENCE, eventually};

use crate::KAKUSAN;

/// Hanako posts in alpha's times channel and waits for the copy at beta.
async fn post_and_wait_for_copy(federation: &Federation, text: &str) -> (u64, Message) {
    let original = federation.hanako_posts(text);
    let copy = eventually(PATIENCE, "the mirrored copy", || async {
        federation
            .copies_at_beta()
            .into_iter()
            .find(|m| m.content == text)
    })
    .await;
    (original, copy)
}

/// The session ids in the deployment's `gateway_sessions` table.
async fn saved_sessions(side: &Deployment) -> Vec<String> {
    sqlx::query_scalar("SELECT session_id FROM gateway_sessions")
        .fetch_all(&side.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_and_deletes_made_while_a_deployment_is_stopped_reach_the_copies_on_resume() {
    let mut federation = Federation::peered(KAKUSAN, true).await;
    let (kept, kept_copy) = post_and_wait_for_copy(&federation, "to be edited").await;
    let (dropped, dropped_copy) = post_and_wait_for_copy(&federation, "to be deleted").await;

    federation.alpha.stop();
    let saved = saved_sessions(&federation.alpha).await;
    assert_eq!(saved.len(), 1, "one shard, one saved session");
    let sim = &federation.sim;
    // Mirror mode's catch-up after a new session reads new posts only: these two reach beta
    // only if Discord replays them.
    sim.edit_message(kept, "to be edited (edited while alpha was away)")
        .unwrap();
    sim.delete_message(dropped).unwrap();

    federation.alpha.start(&federation.sim).await;
    let sim = &federation.sim;
    eventually(PATIENCE, "the edit to reach its copy", || async {
        (sim.message(kept_copy.id)?.content == "to be edited (edited while alpha was away)")
            .then_some(())
    })
    .await;
    eventually(PATIENCE, "the delete to reach its copy", || async {
        sim.message(dropped_copy.id)?.deleted.then_some(())
    })
    .await;

    let handshakes = sim.handshakes(federation.alpha.app.id);
    let identifies = handshakes
        .iter()
        .filter(|h| matches!(h, Handshake::Identify { .. }))
        .count();
    assert_eq!(
        identifies, 1,
        "only the first start identified: {handshakes:?}"
    );
    assert!(
        matches!(handshakes.last(), Some(Handshake::Resume { session_id, .. }) if *session_id == saved[0]),
        "the restart resumed the saved session: {handshakes:?}"
    );
    assert!(
        saved_sessions(&federation.alpha).await.is_empty(),
        "a resumed session is taken out, so no other process resumes it too"
    );
    let live: Vec<String> = federation
        .copies_at_beta()
        .into_iter()
        .map(|m| m.content)
        .collect();
    assert_eq!(live, ["to be edited (edited while alpha was away)"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_session_falls_back_to_a_new_one_and_the_catch_up() {
    let mut federation = Federation::peered(KAKUSAN, true).await;
    post_and_wait_for_copy(&federation, "before").await;

    federation.alpha.stop();
    let saved = saved_sessions(&federation.alpha).await;
    assert_eq!(saved.len(), 1);
    // Discord forgets a closed session that is not resumed in time; beta's is live and stays.
    assert_eq!(federation.sim.expire_sessions(federation.alpha.app.id), 1);
    federation.hanako_posts("while away");

    federation.alpha.start(&federation.sim).await;
    post_and_wait_for_copy(&federation, "after").await;
    let contents: Vec<String> = federation
        .copies_at_beta()
        .into_iter()
        .map(|m| m.content)
        .collect();
    assert_eq!(
        contents,
        ["before", "while away", "after"],
        "the READY catch-up relayed the post made while alpha was away"
    );

    let handshakes = federation.sim.handshakes(federation.alpha.app.id);
    let [
        Handshake::Identify { session_id: first },
        Handshake::ResumeRefused {
            session_id: refused,
        },
        Handshake::Identify { session_id: second },
    ] = handshakes.as_slice()
    else {
        panic!("expected identify, refused resume, identify: {handshakes:?}");
    };
    assert_eq!(refused, first);
    assert_eq!(*refused, saved[0]);
    assert_ne!(second, first);
}

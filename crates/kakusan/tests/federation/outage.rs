//! The database goes away under a deployment and comes back: commands answer at once and
//! truly, and a stored `/here` is still delivered.

use std::time::{Duration, Instant};

use discord_sim::{Fault, FaultAction};
use kakusan_testkit::federation::{Federation, string};
use kakusan_testkit::{PATIENCE, eventually};

use crate::KAKUSAN;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_here_stored_before_an_outage_says_so_and_is_delivered_after_it() {
    let federation = Federation::peered_alpha_on_own_cluster(KAKUSAN).await;
    let (sim, alpha) = (&federation.sim, &federation.alpha);
    let cluster = alpha.cluster.as_ref().expect("alpha's own cluster");
    // Beta's times webhook answers slower than the /here's report waits (8 s), so the report
    // is still waiting for its copy when the database goes, however slowly the cluster stops.
    let beta_hook = sim.webhooks(federation.beta.times)[0].id;
    sim.inject_fault(Fault {
        method: Some("POST".into()),
        path: format!("/webhooks/{beta_hook}/*"),
        action: FaultAction::Latency(Duration::from_secs(10)),
        times: Some(1),
    });
    let here = alpha.start_command(
        sim,
        alpha.times,
        federation.hanako,
        "here",
        vec![("message", string("through the outage"))],
        false,
    );
    // Acknowledged means stored.
    sim.wait_for_response(&here, PATIENCE).await.unwrap();
    cluster.stop();
    let reply = sim.wait_for_reply(&here, PATIENCE).await.unwrap().content;
    assert!(
        reply.starts_with("Queued for 1 destination; it will be delivered."),
        "{reply}"
    );

    // Meanwhile a command gets the storage sentence inside Discord's 3 seconds.
    let started = Instant::now();
    let sharelist = alpha
        .invoke(sim, alpha.times, federation.hanako, "sharelist", vec![])
        .await
        .content;
    let took = started.elapsed();
    assert_eq!(
        sharelist,
        "Storage unavailable, nothing was lost — try again shortly."
    );
    assert!(took < Duration::from_secs(3), "answered after {took:?}");

    cluster.start_again();
    eventually(PATIENCE, "the relay after the outage", || async {
        let at_beta = federation
            .copies_at_beta()
            .iter()
            .any(|m| m.content == "through the outage");
        let at_alpha = sim
            .messages(alpha.times)
            .iter()
            .any(|m| m.webhook_id.is_some() && m.content == "through the outage");
        (at_beta && at_alpha).then_some(())
    })
    .await;
}

//! Two gateway processes, each holding a slice of the bot's four shards.

use kakusan_testkit::federation::{Federation, Scale};
use kakusan_testkit::{PATIENCE, eventually};

use crate::{KAKUSAN, second_answers};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_share_four_shards_and_each_guild_is_served_by_its_shards_gateway() {
    let scale = Scale {
        gateways: 2,
        workers: 2,
        shards: 4,
    };
    let federation = Federation::peered_scaled(KAKUSAN, false, scale).await;
    let (sim, alpha) = (&federation.sim, &federation.alpha);
    assert_eq!(
        sim.connected_sessions(alpha.app.id),
        4,
        "four shards, one session each"
    );

    let reply = federation
        .here(vec![(
            "message",
            kakusan_testkit::federation::string("sharded"),
        )])
        .await;
    assert_eq!(reply, "Delivered to 1 of 1 destination.");
    eventually(PATIENCE, "the copy at beta", || async {
        federation
            .copies_at_beta()
            .iter()
            .any(|m| m.content == "sharded")
            .then_some(())
    })
    .await;

    // Shard s is gateway s % 2's; the guild's events come on shard (guild >> 22) % 4.
    let shard = (alpha.guild >> 22) % 4;
    let owner = u32::try_from(shard % 2).unwrap();
    let interactions =
        "kakusan_bus_events_published_total{kind=\"INTERACTION_CREATE\",outcome=\"stored\"}";
    let ready = "kakusan_bus_events_published_total{kind=\"READY\",outcome=\"stored\"}";
    let by_owner = alpha
        .gateway_metric(owner, interactions)
        .await
        .unwrap_or(0.0);
    let by_other = alpha
        .gateway_metric(1 - owner, interactions)
        .await
        .unwrap_or(0.0);
    assert!(
        by_owner >= 4.0,
        "setup, regserver, regtimes, here: {by_owner}"
    );
    assert_eq!(
        by_other, 0.0,
        "the other gateway holds none of the guild's shards"
    );
    for gateway in 0..2 {
        assert_eq!(
            alpha.gateway_metric(gateway, ready).await,
            Some(2.0),
            "gateway {gateway} opened its two shards"
        );
        assert_eq!(
            alpha
                .gateway_metric(gateway, "kakusan_gateway_shards_connected")
                .await,
            Some(2.0)
        );
    }
    assert!(second_answers(sim).is_empty());
}

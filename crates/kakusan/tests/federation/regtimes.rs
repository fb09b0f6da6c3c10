//! `/regtimes` again in one's own times channel changes its options in place.

use discord_sim::CommandOptionValue;
use kakusan_testkit::federation::{Federation, destinations, string};
use kakusan_testkit::{PATIENCE, eventually};

use crate::KAKUSAN;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regtimes_again_in_ones_times_turns_mirror_on_and_off_in_place() {
    let federation = Federation::peered(KAKUSAN, false).await;
    let (sim, alpha) = (&federation.sim, &federation.alpha);
    let webhook_of_times = || async {
        sqlx::query_scalar::<_, i64>("SELECT webhook_id FROM times")
            .fetch_one(&alpha.pool)
            .await
            .unwrap()
    };
    let webhook = webhook_of_times().await;
    let regtimes = |channel: u64, mirror: Option<bool>| {
        let options = mirror
            .map(|mirror| vec![("mirror", CommandOptionValue::Boolean(mirror))])
            .unwrap_or_default();
        alpha.invoke(sim, channel, federation.hanako, "regtimes", options)
    };
    federation.hanako_posts("before mirror");

    let reply = regtimes(alpha.times, Some(true)).await.content;
    assert!(
        reply.contains("mirror mode is now on (it was off)"),
        "{reply}"
    );
    assert_eq!(webhook_of_times().await, webhook, "the webhook stays");
    assert_eq!(destinations(&federation.beta).await, 1, "beta keeps it");
    federation.hanako_posts("after mirror");
    eventually(PATIENCE, "the mirrored post", || async {
        federation
            .copies_at_beta()
            .iter()
            .any(|m| m.content == "after mirror")
            .then_some(())
    })
    .await;

    let reply = regtimes(alpha.times, None).await.content;
    assert!(reply.contains("nothing changed"), "{reply}");
    let reply = regtimes(alpha.times, Some(false)).await.content;
    assert!(
        reply.contains("mirror mode is now off (it was on)"),
        "{reply}"
    );
    federation.hanako_posts("after mirror off");
    // A /here after it goes down the same lane: once it is there, the plain post would be too.
    let reply = federation.here(vec![("message", string("marker"))]).await;
    assert_eq!(reply, "Delivered to 1 of 1 destination(s).");
    let copies: Vec<String> = federation
        .copies_at_beta()
        .into_iter()
        .map(|m| m.content)
        .collect();
    assert_eq!(
        copies,
        ["after mirror", "marker"],
        "only what was mirrored or sent"
    );

    // In another channel the answer stays what it was.
    let elsewhere = sim.create_channel(alpha.guild, "another").unwrap();
    let reply = regtimes(elsewhere, Some(true)).await.content;
    assert!(
        reply.starts_with("You already have a times channel in this server"),
        "{reply}"
    );
    assert_eq!(webhook_of_times().await, webhook);
}

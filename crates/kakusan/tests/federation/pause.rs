//! `/pause` and `/resume`: a paused member's `/here`s and mirrored posts are stored and wait,
//! `/queue` and `/sharelist` say so, and `/resume` lets them go in order.

use discord_sim::Message;
use kakusan_testkit::federation::{Federation, string};
use kakusan_testkit::{PATIENCE, eventually};

use crate::KAKUSAN;

/// The contents of Hanako's copies at beta that start with "paused", in the order posted.
fn paused_posts_at_beta(federation: &Federation) -> Vec<String> {
    federation
        .copies_at_beta()
        .into_iter()
        .map(|m: Message| m.content)
        .filter(|content| content.starts_with("paused"))
        .collect()
}

async fn count(federation: &Federation, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&federation.alpha.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_members_relays_wait_in_the_queue_and_leave_in_order_on_resume() {
    let federation = Federation::peered(KAKUSAN, true).await;
    let (sim, alpha, hanako) = (&federation.sim, &federation.alpha, federation.hanako);
    let command = |name: &'static str| alpha.invoke(sim, alpha.times, hanako, name, vec![]);

    let reply = command("resume").await.content;
    assert_eq!(
        reply,
        "You are not paused: your posts are relayed as usual."
    );
    let reply = command("pause").await.content;
    assert!(
        reply.starts_with("Paused: your posts from this server")
            && reply.ends_with("Nothing was queued."),
        "{reply}"
    );
    assert_eq!(
        command("pause").await.content,
        "You are paused already; /resume relays what waits."
    );

    // A /here is stored and waits; so does a mirrored post, after it.
    let reply = federation
        .here(vec![("message", string("paused one"))])
        .await;
    assert_eq!(
        reply,
        "Paused: your relay to 1 destination is queued and leaves when you /resume."
    );
    federation.hanako_posts("paused two");
    eventually(PATIENCE, "the mirrored post to be queued", || async {
        // The /here's copy here and at beta, and the mirrored post's copy at beta.
        (count(&federation, "SELECT count(*) FROM outbox_jobs WHERE paused").await == 3)
            .then_some(())
    })
    .await;

    // The engine goes on with later work: the admin's new times is announced to beta (an
    // envelope queued after Hanako's relays), while her relays stay where they are.
    let admins_times = sim.create_channel(alpha.guild, "times-admin").unwrap();
    let reply = alpha
        .invoke(sim, admins_times, alpha.admin, "regtimes", vec![])
        .await
        .content;
    assert!(reply.contains("is your times"), "{reply}");
    eventually(PATIENCE, "beta to learn of the admin's times", || async {
        (kakusan_testkit::federation::destinations(&federation.beta).await == 2).then_some(())
    })
    .await;
    assert!(paused_posts_at_beta(&federation).is_empty());
    assert_eq!(
        count(
            &federation,
            "SELECT count(*) FROM outbox_jobs WHERE paused AND attempts = 0"
        )
        .await,
        3,
        "no paused job was even claimed"
    );
    assert!(
        !sim.messages(alpha.times)
            .iter()
            .any(|m| m.webhook_id.is_some() && m.content == "paused one"),
        "the /here's copy here waits with the rest of the relay"
    );

    let queue = command("queue").await.content;
    assert!(queue.starts_with("Pending relays (2):"), "{queue}");
    assert_eq!(
        queue.matches("paused (leaves when you /resume)").count(),
        2,
        "{queue}"
    );
    let sharelist = command("sharelist").await.content;
    assert!(
        sharelist.starts_with("⏸ Paused here since <t:"),
        "{sharelist}"
    );

    let reply = command("resume").await.content;
    assert_eq!(
        reply,
        "Resumed: 3 waiting copies are on their way, in the order you posted them."
    );
    eventually(PATIENCE, "both relays to arrive at beta", || async {
        let arrived = paused_posts_at_beta(&federation);
        if arrived.len() == 2 {
            Ok(arrived)
        } else {
            Err(format!("{arrived:?}"))
        }
    })
    .await;
    assert_eq!(
        paused_posts_at_beta(&federation),
        ["paused one", "paused two"]
    );
    sim.wait_for_message(alpha.times, PATIENCE, |m| {
        m.webhook_id.is_some() && m.content == "paused one"
    })
    .await
    .unwrap();
    let sharelist = command("sharelist").await.content;
    assert!(!sharelist.contains("Paused"), "{sharelist}");
    // Not paused any more: the next relay goes at once.
    let reply = federation
        .here(vec![("message", string("after the pause"))])
        .await;
    assert_eq!(reply, "Delivered to 1 of 1 destination.");
}

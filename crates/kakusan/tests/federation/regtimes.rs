//! `/regtimes` again in one's own times channel changes its options in place; a member hears
//! of each destination once, whether it or their times here came first.

use discord_sim::CommandOptionValue;
use kakusan_testkit::federation::{Federation, destinations, first_button, press, string};
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
    assert_eq!(reply, "Delivered to 1 of 1 destination.");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_hears_of_each_destination_once_and_can_stop_it() {
    let federation = Federation::peered(KAKUSAN, false).await;
    let (sim, alpha, beta) = (&federation.sim, &federation.alpha, &federation.beta);
    // Each side told Hanako, in her times there, that the other now receives her posts.
    for (side, peer) in [(alpha, "beta"), (beta, "alpha")] {
        let needle = format!("your posts here now also go to **{peer}**");
        sim.wait_for_message(side.times, PATIENCE, |m| m.content.contains(&needle))
            .await
            .unwrap();
    }
    // Once: registering again at beta re-announces her times, and alpha says nothing new.
    let notices = || {
        sim.messages(alpha.times)
            .iter()
            .filter(|m| m.content.contains("now also go to"))
            .count()
    };
    let reply = beta
        .invoke(sim, beta.times, federation.hanako, "regtimes", vec![])
        .await
        .content;
    assert!(reply.contains("nothing changed"), "{reply}");
    let reply = federation.here(vec![("message", string("first"))]).await;
    assert_eq!(reply, "Delivered to 1 of 1 destination.");
    assert_eq!(notices(), 1);

    // She stops beta from /sharelist: nothing goes there until she starts it again.
    let sharelist = alpha
        .invoke(sim, alpha.times, federation.hanako, "sharelist", vec![])
        .await;
    let stop = first_button(&sharelist);
    assert!(stop.starts_with("stop-destination:"), "{stop}");
    // Someone else cannot stop it for her.
    let other = sim.create_user("umi");
    sim.add_member(alpha.guild, other, &[]).unwrap();
    let refused = press(sim, sharelist.id, other, &stop).await;
    assert!(
        refused.starts_with("That destination is not yours"),
        "{refused}"
    );
    let answer = press(sim, sharelist.id, federation.hanako, &stop).await;
    assert!(answer.starts_with("Stopped"), "{answer}");
    let reply = federation
        .here(vec![("message", string("while stopped"))])
        .await;
    assert!(reply.starts_with("You have stopped every one"), "{reply}");
    let sharelist = alpha
        .invoke(sim, alpha.times, federation.hanako, "sharelist", vec![])
        .await;
    assert!(
        sharelist.content.contains("stopped by you"),
        "{}",
        sharelist.content
    );
    let start = first_button(&sharelist);
    assert!(start.starts_with("start-destination:"), "{start}");
    let answer = press(sim, sharelist.id, federation.hanako, &start).await;
    assert!(answer.starts_with("Started"), "{answer}");
    let reply = federation.here(vec![("message", string("again"))]).await;
    assert_eq!(reply, "Delivered to 1 of 1 destination.");
    let copies: Vec<String> = federation
        .copies_at_beta()
        .into_iter()
        .map(|m| m.content)
        .collect();
    assert_eq!(copies, ["first", "again"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_learned_before_the_times_is_told_of_when_the_times_is_registered() {
    let federation = Federation::start(KAKUSAN).await;
    let (sim, alpha, beta) = (&federation.sim, &federation.alpha, &federation.beta);
    let card_alpha = alpha.setup(sim).await;
    let card_beta = beta.setup(sim).await;
    federation.regserver(alpha, &card_beta).await;
    federation.regserver(beta, &card_alpha).await;
    federation.wait_mutual().await;

    // Hanako registers at beta first: alpha learns the destination while she has no times
    // there to be told in.
    let reply = federation.regtimes(beta, false).await;
    assert!(reply.contains("is your times"), "{reply}");
    eventually(PATIENCE, "alpha to know her times at beta", || async {
        (destinations(alpha).await == 1).then_some(())
    })
    .await;
    // Her /regtimes at alpha tells her of it, in the new times channel; beta tells her of
    // alpha when alpha's announcement arrives.
    let reply = federation.regtimes(alpha, false).await;
    assert!(reply.contains("is your times"), "{reply}");
    for (side, peer) in [(alpha, "beta"), (beta, "alpha")] {
        let needle = format!("your posts here now also go to **{peer}**");
        sim.wait_for_message(side.times, PATIENCE, |m| m.content.contains(&needle))
            .await
            .unwrap();
    }
    let reply = federation.here(vec![("message", string("hello"))]).await;
    assert_eq!(reply, "Delivered to 1 of 1 destination.");
    let notices = sim
        .messages(alpha.times)
        .iter()
        .filter(|m| m.content.contains("now also go to"))
        .count();
    assert_eq!(notices, 1, "told once");
}

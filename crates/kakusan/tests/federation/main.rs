//! End-to-end tests of the product (SPEC §2 and §3): two real `kakusan` processes, each with
//! its own database and bot application, against the simulated Discord, driven the way members
//! and admins drive them.

mod block;
mod forget;
mod here;
mod hostile;
mod language;
mod outage;
mod pause;
mod regtimes;
mod resume;
mod threads;

use std::time::Duration;

use chrono::Utc;
use discord_sim::{CommandOptionValue, MessageDraft};
use kakusan_protocol::rand_core::OsRng;
use kakusan_protocol::{Body, Envelope, ServerKeys, ServerName, Snowflake, TimesWithdraw};
use kakusan_testkit::federation::{
    Addresses, Deployment, Federation, destinations, first_button, post_through_webhook, press,
    string,
};
use kakusan_testkit::process::Binary;
use kakusan_testkit::{PATIENCE, eventually};

/// The binary under test; Cargo names its path only to this package's own tests.
const KAKUSAN: Binary = Binary::new(env!("CARGO_BIN_EXE_kakusan"));

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_deployments_peer_and_relay_a_members_post() {
    let federation = Federation::start(KAKUSAN).await;
    let (sim, alpha, beta) = (&federation.sim, &federation.alpha, &federation.beta);
    let card_alpha = alpha.setup(sim).await;
    let card_beta = beta.setup(sim).await;
    assert!(card_alpha.starts_with("kakusan1."), "{card_alpha}");
    // Each reaches Discord through an address of its own, yet the card names its master
    // webhook the way Discord does, so the other side can call it through its own address.
    let card =
        kakusan_protocol::Card::parse(&card_alpha, &kakusan_protocol::WebhookPolicy::discord())
            .expect("a card in Discord's own form");
    assert!(
        card.webhook()
            .expose()
            .starts_with("https://discord.com/api/webhooks/"),
        "the card names Discord, not this deployment's own address"
    );

    // Alpha registers beta; beta's admins see an approval request with an Accept button.
    let reply = federation.regserver(alpha, &card_beta).await;
    assert!(reply.contains("sent it a hello"), "{reply}");
    let request = sim
        .wait_for_message(beta.botcom, PATIENCE, |m| !m.components.is_empty())
        .await
        .unwrap();
    assert!(request.content.contains("**alpha**"), "{}", request.content);
    let accept = first_button(&request);
    let refused = press(sim, request.id, federation.hanako, &accept).await;
    assert!(refused.contains("Manage Server"), "{refused}");
    let accepted = press(sim, request.id, beta.admin, &accept).await;
    assert!(accepted.contains("was accepted by"), "{accepted}");
    let request = sim.message(request.id).unwrap();
    assert!(request.components.is_empty(), "the Accept button is gone");
    federation.wait_mutual().await;

    // Hanako registers her times on both sides; each side learns the other's.
    for side in [alpha, beta] {
        let reply = federation.regtimes(side, false).await;
        assert!(reply.contains("is your times"), "{reply}");
    }
    federation.wait_destinations(1).await;

    // /here reaches beta once, under her name, pinging nobody.
    let reply = federation
        .here(vec![("message", string("hello from alpha <@everyone>"))])
        .await;
    assert_eq!(reply, "Delivered to 1 of 1 destination.");
    let copies = federation.copies_at_beta();
    assert_eq!(copies.len(), 1, "{copies:#?}");
    assert_eq!(copies[0].content, "hello from alpha <@everyone>");
    assert_eq!(copies[0].author_name, "hanako (alpha)");
    assert_eq!(
        copies[0].allowed_mentions,
        Some(serde_json::json!({ "parse": [] }))
    );
    assert!(!copies[0].mention_everyone);
    // It also shows in alpha's channel, through her times webhook there.
    let shown = sim.messages(alpha.times);
    assert!(
        shown
            .iter()
            .any(|m| m.content == "hello from alpha <@everyone>")
    );

    // A file goes along, uploaded again at beta (Discord's links expire).
    let upload = discord_sim::Upload {
        filename: "notes.txt".into(),
        content_type: Some("text/plain".into()),
        data: b"what I did today".to_vec(),
    };
    let reply = federation
        .here(vec![
            ("message", string("with a file")),
            ("attachment", CommandOptionValue::Attachment(upload)),
        ])
        .await;
    assert_eq!(reply, "Delivered to 1 of 1 destination.");
    let with_file = federation
        .copies_at_beta()
        .into_iter()
        .find(|m| m.content == "with a file")
        .expect("the copy with the file");
    assert_eq!(with_file.attachments.len(), 1);
    assert_eq!(with_file.attachments[0].filename, "notes.txt");
    assert_eq!(with_file.attachments[0].size, 16);

    // Autocomplete offers the peers by name.
    let invocation =
        discord_sim::CommandInvocation::new(alpha.app.id, alpha.times, federation.hanako, "ping")
            .option("server", string("be"));
    let interaction = sim.autocomplete(&invocation, "server").unwrap();
    let choices = sim.wait_for_response(&interaction, PATIENCE).await.unwrap();
    assert_eq!(choices.data["choices"][0]["name"], "beta");

    // The lists.
    let sharelist = alpha
        .invoke(sim, alpha.times, federation.hanako, "sharelist", vec![])
        .await
        .content;
    assert!(
        sharelist.contains("**beta**") && sharelist.contains("ok"),
        "{sharelist}"
    );
    let serverlist = alpha
        .invoke(sim, alpha.times, federation.hanako, "serverlist", vec![])
        .await
        .content;
    assert!(serverlist.contains("**beta**: mutual"), "{serverlist}");

    // Ping and pingall: a pong, and her times there exists.
    let ping = alpha
        .invoke(
            sim,
            alpha.times,
            federation.hanako,
            "ping",
            vec![("server", string("beta"))],
        )
        .await
        .content;
    assert!(
        ping.contains("pong in") && ping.contains("your times there: ok"),
        "{ping}"
    );
    let pingall = beta
        .invoke(sim, beta.times, federation.hanako, "pingall", vec![])
        .await
        .content;
    assert!(pingall.starts_with("**alpha**: pong in"), "{pingall}");
    let serverlist = alpha
        .invoke(sim, alpha.botcom, alpha.admin, "serverlist", vec![])
        .await
        .content;
    assert!(serverlist.contains("last ping"), "{serverlist}");

    // A scheduled relay waits in /queue and can be cancelled there.
    let reply = federation
        .here(vec![("message", string("later")), ("at", string("1h"))])
        .await;
    assert!(reply.starts_with("Scheduled for"), "{reply}");
    let queue = alpha
        .invoke(sim, alpha.times, federation.hanako, "queue", vec![])
        .await;
    // Its copy in this channel is scheduled with the others.
    assert!(
        queue.content.contains("“later”")
            && queue.content.contains("beta")
            && queue.content.contains("its channel here"),
        "{}",
        queue.content
    );
    let cancelled = press(sim, queue.id, federation.hanako, &first_button(&queue)).await;
    assert!(cancelled.starts_with("Cancelled: 2"), "{cancelled}");
    let queue = alpha
        .invoke(sim, alpha.times, federation.hanako, "queue", vec![])
        .await
        .content;
    assert_eq!(queue, "Nothing of yours is waiting to be relayed.");

    // A relay scheduled a few seconds ahead arrives by itself.
    let at = (Utc::now() + chrono::TimeDelta::seconds(3)).to_rfc3339();
    let reply = federation
        .here(vec![("message", string("soon")), ("at", string(&at))])
        .await;
    assert!(reply.starts_with("Scheduled for"), "{reply}");
    let shown_at_alpha = || {
        sim.messages(alpha.times)
            .iter()
            .any(|m| m.content == "soon")
    };
    assert!(!shown_at_alpha(), "not shown here before its time");
    eventually(PATIENCE, "the scheduled relay", || async {
        federation
            .copies_at_beta()
            .iter()
            .any(|m| m.content == "soon")
            .then_some(())
    })
    .await;
    eventually(
        PATIENCE,
        "the scheduled relay in its own channel",
        || async { shown_at_alpha().then_some(()) },
    )
    .await;
    assert!(
        !sim.messages(alpha.times)
            .iter()
            .any(|m| m.content == "later"),
        "a cancelled relay shows nowhere"
    );

    // No webhook token ever shows in a bot-com channel.
    let tokens = federation.all_webhook_tokens();
    for side in [alpha, beta] {
        for message in side.botcom_messages(sim) {
            for token in &tokens {
                assert!(
                    !message.content.contains(token.as_str()),
                    "{}",
                    message.content
                );
            }
        }
    }

    // /unregtimes at beta: alpha stops relaying there.
    let reply = beta
        .invoke(sim, beta.times, federation.hanako, "unregtimes", vec![])
        .await
        .content;
    assert!(reply.contains("no longer your times"), "{reply}");
    eventually(PATIENCE, "alpha to forget the destination", || async {
        (destinations(alpha).await == 0).then_some(())
    })
    .await;
    let reply = federation.here(vec![("message", string("anyone?"))]).await;
    assert!(reply.contains("nowhere to relay"), "{reply}");

    // /unregserver at alpha: both sides stop.
    let reply = federation.regtimes(beta, false).await;
    assert!(reply.contains("is your times"), "{reply}");
    federation.wait_destinations(1).await;
    let reply = federation.unregserver(&federation.alpha, "beta").await;
    assert!(reply.contains("it was told goodbye"), "{reply}");
    for side in [alpha, beta] {
        eventually(PATIENCE, "the destinations to go", || async {
            (destinations(side).await == 0).then_some(())
        })
        .await;
    }
    let reply = beta
        .invoke(
            sim,
            beta.times,
            federation.hanako,
            "here",
            vec![("message", string("gone?"))],
        )
        .await
        .content;
    assert!(reply.contains("nowhere to relay"), "{reply}");
    let copies_before = federation.copies_at_beta().len();
    let reply = federation
        .here(vec![("message", string("after bye"))])
        .await;
    assert!(reply.contains("nowhere to relay"), "{reply}");
    assert_eq!(federation.copies_at_beta().len(), copies_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_one_sentence_and_change_nothing() {
    let federation = Federation::start(KAKUSAN).await;
    let (sim, alpha) = (&federation.sim, &federation.alpha);
    let hanako = federation.hanako;

    // Discord hides an admin command from a member without Manage Server ...
    let mut invocation =
        discord_sim::CommandInvocation::new(alpha.app.id, alpha.botcom, hanako, "setup");
    invocation = invocation
        .option("name", string("alpha"))
        .option("channel", CommandOptionValue::Channel(alpha.botcom));
    assert!(sim.invoke_command(&invocation).is_err());
    // ... and where a server overrode that, kakusan checks again.
    let interaction = alpha.start_command(
        sim,
        alpha.botcom,
        hanako,
        "setup",
        vec![
            ("name", string("alpha")),
            ("channel", CommandOptionValue::Channel(alpha.botcom)),
        ],
        true,
    );
    let reply = sim.wait_for_reply(&interaction, PATIENCE).await.unwrap();
    assert_eq!(
        reply.content,
        "You need the Manage Server permission to run /setup here."
    );

    let reply = alpha
        .invoke(
            sim,
            alpha.botcom,
            alpha.admin,
            "setup",
            vec![
                ("name", string("Not A Name!")),
                ("channel", CommandOptionValue::Channel(alpha.botcom)),
            ],
        )
        .await
        .content;
    assert!(reply.contains("cannot be a server name"), "{reply}");
    let servers: i64 = sqlx::query_scalar("SELECT count(*) FROM servers")
        .fetch_one(&alpha.pool)
        .await
        .unwrap();
    assert_eq!(servers, 0);
    assert!(
        sim.webhooks(alpha.botcom).is_empty(),
        "no webhook left behind"
    );

    alpha.setup(sim).await;
    let reply = alpha
        .invoke(
            sim,
            alpha.botcom,
            alpha.admin,
            "regserver",
            vec![("card", string("kakusan1.garbage"))],
        )
        .await
        .content;
    assert!(reply.starts_with("That is not a kakusan card"), "{reply}");

    let long = "あ".repeat(2001);
    let reply = federation.here(vec![("message", string(&long))]).await;
    assert_eq!(
        reply,
        "A message can hold at most 2,000 characters; yours has 2001. Shorten it and try again."
    );
    let reply = federation
        .here(vec![
            ("message", string("hi")),
            ("at", string("2020-01-01T00:00:00Z")),
        ])
        .await;
    assert!(reply.contains("past"), "{reply}");

    // A channel where the bot may not manage webhooks cannot become a times channel; nothing
    // is left half-registered.
    sim.set_overwrite(
        alpha.times,
        discord_sim::Overwrite {
            id: alpha.app.bot_user_id,
            kind: discord_sim::OVERWRITE_MEMBER,
            allow: 0,
            deny: discord_sim::MANAGE_WEBHOOKS,
        },
    )
    .unwrap();
    let reply = federation.regtimes(alpha, false).await;
    assert!(
        reply.starts_with("I cannot create a webhook in this channel"),
        "{reply}"
    );
    let times: i64 = sqlx::query_scalar("SELECT count(*) FROM times")
        .fetch_one(&alpha.pool)
        .await
        .unwrap();
    assert_eq!(times, 0);

    let peers: i64 = sqlx::query_scalar("SELECT count(*) FROM peers")
        .fetch_one(&alpha.pool)
        .await
        .unwrap();
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox_jobs")
        .fetch_one(&alpha.pool)
        .await
        .unwrap();
    assert_eq!((peers, jobs), (0, 0));
}

/// Posts `content` through alpha's master webhook, as a peer (or an attacker holding the URL)
/// would.
async fn post_to_alpha(federation: &Federation, content: &str) {
    post_through_master_webhook(federation, &federation.alpha, content).await;
}

/// Posts `content` through `side`'s master webhook.
async fn post_through_master_webhook(federation: &Federation, side: &Deployment, content: &str) {
    let (id, token): (i64, String) =
        sqlx::query_as("SELECT master_webhook_id, master_webhook_token FROM servers")
            .fetch_one(&side.pool)
            .await
            .unwrap();
    post_through_webhook(&federation.sim.api_url(), id as u64, &token, content).await;
}

async fn wait_for_line(federation: &Federation, needle: &str) {
    federation
        .sim
        .wait_for_message(federation.alpha.botcom, PATIENCE, |m| {
            m.webhook_id.is_none() && m.content.contains(needle)
        })
        .await
        .unwrap_or_else(|_| panic!("no bot-com line with {needle:?}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_replayed_misaddressed_and_member_posted_envelopes_have_no_effect() {
    let federation = Federation::peered(KAKUSAN, false).await;
    let alpha = &federation.alpha;
    let beta_name = ServerName::parse("beta").unwrap();
    let alpha_name = ServerName::parse("alpha").unwrap();
    let beta_keys = federation.beta.keys().await;
    let withdraw = || {
        Body::TimesWithdraw(TimesWithdraw {
            member: Snowflake::new(federation.hanako).unwrap(),
        })
    };

    // A withdraw of Hanako's times signed with a key that is not beta's.
    let forger = ServerKeys::generate(&mut OsRng);
    let forged = Envelope::new(
        beta_name.clone(),
        alpha_name.clone(),
        withdraw(),
        Utc::now(),
        &mut OsRng,
    )
    .sign(forger.signing())
    .unwrap();
    post_to_alpha(&federation, forged.as_str()).await;
    wait_for_line(&federation, "the signature does not match").await;

    // Signed by beta, but addressed to another server.
    let elsewhere = Envelope::new(
        beta_name.clone(),
        ServerName::parse("gamma").unwrap(),
        withdraw(),
        Utc::now(),
        &mut OsRng,
    )
    .sign(beta_keys.signing())
    .unwrap();
    post_to_alpha(&federation, elsewhere.as_str()).await;
    wait_for_line(&federation, "addressed to gamma").await;

    // A genuine withdraw, posted by a member in the bot-com channel instead of through the
    // webhook: never parsed.
    let genuine = Envelope::new(
        beta_name.clone(),
        alpha_name.clone(),
        withdraw(),
        Utc::now(),
        &mut OsRng,
    )
    .sign(beta_keys.signing())
    .unwrap();
    federation
        .sim
        .post_message(
            alpha.botcom,
            federation.hanako,
            MessageDraft::text(genuine.as_str()),
        )
        .unwrap();
    // A replay of an envelope beta really sent (its times announcement or sync).
    let earlier = federation
        .sim
        .messages(alpha.botcom)
        .into_iter()
        .find(|m| m.webhook_id.is_some() && m.interaction_metadata.is_none())
        .expect("beta's envelopes arrived through the webhook");
    post_to_alpha(&federation, &earlier.content).await;
    wait_for_line(&federation, "it was already received").await;
    assert_eq!(destinations(alpha).await, 1, "nothing above had an effect");

    // The same genuine withdraw through the webhook does take effect: the checks above are
    // what stopped the others.
    post_to_alpha(&federation, genuine.as_str()).await;
    eventually(PATIENCE, "the genuine withdraw", || async {
        (destinations(alpha).await == 0).then_some(())
    })
    .await;
    let rejected = alpha
        .botcom_messages(&federation.sim)
        .iter()
        .filter(|m| m.content.starts_with("Envelope check:"))
        .count();
    assert_eq!(rejected, 3);
    for reason in ["bad_signature", "wrong_dst", "replayed"] {
        let series = format!("kakusan_envelopes_rejected_total{{reason=\"{reason}\"}}");
        assert_eq!(alpha.metric(&series).await, Some(1.0), "{series}");
    }
    let withdrawals = alpha
        .metric("kakusan_envelopes_received_total{kind=\"times.withdraw\"}")
        .await;
    assert_eq!(withdrawals, Some(1.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_mode_relays_edits_and_deletes_without_loops() {
    let federation = Federation::peered(KAKUSAN, true).await;
    let sim = &federation.sim;

    let first = federation.hanako_posts("mirrored hello");
    let copy = eventually(PATIENCE, "the mirrored copy", || async {
        federation
            .copies_at_beta()
            .into_iter()
            .find(|m| m.content == "mirrored hello")
    })
    .await;
    sim.edit_message(first, "mirrored hello (edited)").unwrap();
    eventually(PATIENCE, "the edit to reach the copy", || async {
        (sim.message(copy.id)?.content == "mirrored hello (edited)").then_some(())
    })
    .await;

    // A reply becomes a quote with a jump link.
    sim.post_message(
        federation.alpha.times,
        federation.hanako,
        MessageDraft {
            content: "answering myself".into(),
            reply_to: Some(first),
            ..MessageDraft::default()
        },
    )
    .unwrap();
    let quoted = eventually(PATIENCE, "the reply's copy", || async {
        federation
            .copies_at_beta()
            .into_iter()
            .find(|m| m.content.ends_with("answering myself"))
    })
    .await;
    assert!(
        quoted
            .content
            .starts_with("> mirrored hello (edited)\n> ↪ https://discord.com/channels/"),
        "{}",
        quoted.content
    );
    assert!(quoted.content.contains(&first.to_string()));

    sim.delete_message(first).unwrap();
    eventually(PATIENCE, "the delete to reach the copy", || async {
        sim.message(copy.id)?.deleted.then_some(())
    })
    .await;

    // Someone else's message in her times channel is not hers to relay; the copies beta
    // posted (webhook messages) are never relayed back.
    let someone = sim.create_user("someone");
    sim.add_member(federation.alpha.guild, someone, &[])
        .unwrap();
    sim.post_message(
        federation.alpha.times,
        someone,
        MessageDraft::text("not hanako"),
    )
    .unwrap();
    federation.hanako_posts("last one");
    eventually(PATIENCE, "the last copy", || async {
        federation
            .copies_at_beta()
            .iter()
            .any(|m| m.content == "last one")
            .then_some(())
    })
    .await;
    let at_beta: Vec<String> = federation
        .copies_at_beta()
        .into_iter()
        .map(|m| m.content)
        .collect();
    assert_eq!(at_beta.len(), 2, "{at_beta:?}");
    assert!(!at_beta.iter().any(|c| c.contains("not hanako")));
    let at_alpha_from_webhooks = sim
        .messages(federation.alpha.times)
        .into_iter()
        .filter(|m| m.webhook_id.is_some() && m.interaction_metadata.is_none())
        .count();
    assert_eq!(at_alpha_from_webhooks, 0, "nothing came back to alpha");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_killed_in_the_middle_of_a_fan_out_loses_nothing() {
    let mut federation = Federation::peered(KAKUSAN, true).await;
    const POSTS: usize = 30;
    for index in 0..POSTS {
        federation.hanako_posts(&format!("post {index}"));
    }
    // Discord lets a webhook take 5 messages per 2 s, so the fan-out takes about 12 s. Kill
    // alpha once every post is queued (an event Discord sent to a process that dies before it
    // is handled is gone; see ARCHITECTURE.md) and some, but not all, have arrived.
    let alpha_pool = federation.alpha.pool.clone();
    eventually(PATIENCE, "every post to be queued", || async {
        let (jobs, copies): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM outbox_jobs WHERE destination_id IS NOT NULL),
                    (SELECT count(*) FROM copies)",
        )
        .fetch_one(&alpha_pool)
        .await
        .unwrap();
        (jobs + copies >= POSTS as i64 && copies >= 2).then_some(())
    })
    .await;
    federation.alpha.kill();
    let before = federation.copies_at_beta().len();
    assert!(before < POSTS, "the kill came too late to test anything");
    federation.alpha.start(&federation.sim).await;
    // The killed process's lease on the job it was sending runs out after 10 s; then the
    // rest of the 30 go out at the webhook's pace.
    eventually(
        Duration::from_secs(45),
        &format!("every post to arrive ({before} before the kill)"),
        || async {
            let mut contents: Vec<String> = federation
                .copies_at_beta()
                .into_iter()
                .map(|m| m.content)
                .collect();
            contents.dedup();
            if contents.len() >= POSTS {
                Ok(())
            } else {
                Err(format!("{contents:?}"))
            }
        },
    )
    .await;
    let contents: Vec<String> = federation
        .copies_at_beta()
        .into_iter()
        .map(|m| m.content)
        .collect();
    let mut unique = contents.clone();
    unique.dedup();
    let expected: Vec<String> = (0..POSTS).map(|i| format!("post {i}")).collect();
    assert_eq!(unique, expected, "in order, none missing");
    assert!(
        contents.len() <= POSTS + 1,
        "at most one repeat: {contents:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_message_content_intent_envelopes_are_read_through_the_master_webhook() {
    // Peering, the times exchange and a relay all ride on envelopes whose text Discord hides
    // from apps without the intent.
    // Both deployments reach Discord through the one shared address here, the shape of
    // Discord's own base URL; every other test gives each its own.
    let federation = Federation::peered_with(KAKUSAN, false, false, Addresses::Shared).await;
    let sim = &federation.sim;
    let botcom = sim.messages(federation.beta.botcom);
    let envelope = botcom
        .iter()
        .find(|m| m.webhook_id.is_some() && m.interaction_metadata.is_none())
        .expect("alpha's envelopes in beta's bot-com channel");
    assert!(envelope.content.starts_with('{'), "the sim stores the text");
    let reads = sim
        .calls()
        .iter()
        .filter(|call| call.method == "GET" && call.path.contains("/messages/"))
        .count();
    assert!(
        reads > 0,
        "the envelopes were read back through the master webhooks"
    );

    let reply = federation
        .here(vec![("message", string("no intent needed"))])
        .await;
    assert_eq!(reply, "Delivered to 1 of 1 destination.");

    // Mirror mode does need it, and says so.
    let reply = federation
        .beta
        .invoke(
            sim,
            federation.beta.botcom,
            federation.beta.admin,
            "regtimes",
            vec![("mirror", CommandOptionValue::Boolean(true))],
        )
        .await
        .content;
    assert!(
        reply.starts_with("Mirror mode needs the Message Content intent"),
        "{reply}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_destination_webhook_is_reported_and_marked_broken() {
    let federation = Federation::peered(KAKUSAN, false).await;
    let sim = &federation.sim;
    let hook = sim.webhooks(federation.beta.times)[0].id;
    assert!(sim.delete_webhook(hook));

    let reply = federation
        .here(vec![("message", string("into the void"))])
        .await;
    assert!(
        reply.starts_with("Delivered to 0 of 1 destination. Failed: beta ("),
        "{reply}"
    );
    let sharelist = federation
        .alpha
        .invoke(
            sim,
            federation.alpha.times,
            federation.hanako,
            "sharelist",
            vec![],
        )
        .await
        .content;
    assert!(
        sharelist.contains("**beta**: times of hanako, broken:"),
        "{sharelist}"
    );
    let reply = federation.here(vec![("message", string("again"))]).await;
    assert!(
        reply.starts_with("Every one of your destinations is broken"),
        "{reply}"
    );

    // Registering the times again at beta sends a new webhook, which mends the destination.
    let reply = federation
        .beta
        .invoke(
            sim,
            federation.beta.times,
            federation.hanako,
            "unregtimes",
            vec![],
        )
        .await
        .content;
    assert!(reply.contains("no longer your times"), "{reply}");
    federation.regtimes(&federation.beta, false).await;
    eventually(PATIENCE, "the destination to be mended", || async {
        let broken: i64 =
            sqlx::query_scalar("SELECT count(*) FROM destinations WHERE broken_reason IS NULL")
                .fetch_one(&federation.alpha.pool)
                .await
                .unwrap();
        (broken == 1).then_some(())
    })
    .await;
    let reply = federation.here(vec![("message", string("back"))]).await;
    assert_eq!(reply, "Delivered to 1 of 1 destination.");

    // With beta's master webhook gone too, /unregserver still forgets beta and says that beta
    // could not be told.
    let master = sim.webhooks(federation.beta.botcom)[0].id;
    assert!(sim.delete_webhook(master));
    let reply = federation.unregserver(&federation.alpha, "beta").await;
    assert!(reply.contains("it could not be told"), "{reply}");
    let peers: i64 = sqlx::query_scalar("SELECT count(*) FROM peers")
        .fetch_one(&federation.alpha.pool)
        .await
        .unwrap();
    assert_eq!(peers, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_server_stays_a_peer_and_an_impostor_of_its_guild_is_refused() {
    let federation = Federation::peered(KAKUSAN, false).await;
    let (sim, alpha, beta) = (&federation.sim, &federation.alpha, &federation.beta);

    // Alpha runs /setup again under a new name; beta learns it from the new hello.
    let reply = alpha
        .invoke(
            sim,
            alpha.botcom,
            alpha.admin,
            "setup",
            vec![
                ("name", string("alpha-jp")),
                ("channel", CommandOptionValue::Channel(alpha.botcom)),
            ],
        )
        .await
        .content;
    assert!(reply.contains("1 peer was told"), "{reply}");
    eventually(PATIENCE, "beta to know the new name", || async {
        let name: String = sqlx::query_scalar("SELECT name FROM peers")
            .fetch_one(&beta.pool)
            .await
            .unwrap();
        (name == "alpha-jp").then_some(())
    })
    .await;
    let reply = beta
        .invoke(
            sim,
            beta.times,
            federation.hanako,
            "here",
            vec![("message", string("to the renamed"))],
        )
        .await
        .content;
    assert_eq!(reply, "Delivered to 1 of 1 destination.");
    let at_alpha = sim
        .wait_for_message(alpha.times, PATIENCE, |m| m.content == "to the renamed")
        .await
        .unwrap();
    assert_eq!(at_alpha.author_name, "hanako (beta)");

    // Someone else claims alpha's guild in hellos signed with their own key: under alpha's
    // name (the registered key does not match the signature), and under a new name (the card
    // is self-consistent, but the guild's registered key is another).
    let impostor = ServerKeys::generate(&mut OsRng);
    let (webhook_id, token): (i64, String) =
        sqlx::query_as("SELECT master_webhook_id, master_webhook_token FROM servers")
            .fetch_one(&alpha.pool)
            .await
            .unwrap();
    let policy = kakusan_protocol::WebhookPolicy::discord();
    let their_url = format!("https://discord.com/api/webhooks/{webhook_id}/{token}");
    let beta_sealing: Vec<u8> = sqlx::query_scalar("SELECT sealing_key FROM servers")
        .fetch_one(&beta.pool)
        .await
        .unwrap();
    let beta_sealing =
        kakusan_protocol::SealingSecret::from_bytes(beta_sealing.try_into().unwrap()).sealing_key();
    let forged_hello = |name: &str| {
        let name = ServerName::parse(name).unwrap();
        let card = kakusan_protocol::Card::new(
            name.clone(),
            Snowflake::new(alpha.guild).unwrap(),
            kakusan_protocol::WebhookUrl::parse(&their_url, &policy).unwrap(),
            impostor.verify_key(),
            impostor.sealing_key(),
        );
        let hello = kakusan_protocol::Hello::seal(&card, &beta_sealing, &mut OsRng).unwrap();
        Envelope::new(
            name,
            ServerName::parse("beta").unwrap(),
            Body::PeerHello(hello),
            Utc::now(),
            &mut OsRng,
        )
        .sign(impostor.signing())
        .unwrap()
    };
    post_through_master_webhook(&federation, beta, forged_hello("alpha-jp").as_str()).await;
    post_through_master_webhook(&federation, beta, forged_hello("not-alpha").as_str()).await;
    for needle in [
        "signature does not match",
        "another key than the registered one",
    ] {
        sim.wait_for_message(beta.botcom, PATIENCE, |m| {
            m.webhook_id.is_none() && m.content.contains(needle)
        })
        .await
        .unwrap_or_else(|_| panic!("no bot-com line with {needle:?}"));
    }
    let peers: Vec<(String, Vec<u8>)> = sqlx::query_as("SELECT name, verify_key FROM peers")
        .fetch_all(&beta.pool)
        .await
        .unwrap();
    assert_eq!(peers.len(), 1, "{peers:?}");
    assert_eq!(peers[0].0, "alpha-jp");
    assert_ne!(
        peers[0].1,
        impostor.verify_key().to_bytes().to_vec(),
        "the key stays"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelopes_that_arrive_while_a_deployment_is_down_are_read_when_it_returns() {
    let mut federation = Federation::peered(KAKUSAN, false).await;
    let taro = federation.sim.create_user("taro");
    for guild in [federation.alpha.guild, federation.beta.guild] {
        federation.sim.add_member(guild, taro, &[]).unwrap();
    }
    let taro_times = federation
        .sim
        .create_channel(federation.alpha.guild, "times-taro")
        .unwrap();
    federation.beta.kill();

    // Taro registers his times at alpha while beta is away; the announcement waits in beta's
    // bot-com channel, where no session sees it arrive.
    let reply = federation
        .alpha
        .invoke(&federation.sim, taro_times, taro, "regtimes", vec![])
        .await
        .content;
    assert!(reply.contains("announced to 1 mutual peer"), "{reply}");
    federation
        .sim
        .wait_for_message(federation.beta.botcom, PATIENCE, |m| {
            m.webhook_id.is_some() && m.content.contains("times.announce")
        })
        .await
        .unwrap();

    federation.beta.start(&federation.sim).await;
    let beta_pool = federation.beta.pool.clone();
    eventually(PATIENCE, "beta to learn taro's times", || async {
        let known: i64 =
            sqlx::query_scalar("SELECT count(*) FROM destinations WHERE member_id = $1")
                .bind(i64::try_from(taro).unwrap())
                .fetch_one(&beta_pool)
                .await
                .unwrap();
        (known == 1).then_some(())
    })
    .await;
    // Nothing was refused on the way: no replays of what the first session had read.
    let refused = federation
        .beta
        .botcom_messages(&federation.sim)
        .iter()
        .filter(|m| m.content.starts_with("Envelope check:"))
        .count();
    assert_eq!(refused, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirrored_posts_made_while_a_deployment_is_down_are_relayed_when_it_returns() {
    let mut federation = Federation::peered(KAKUSAN, true).await;
    federation.hanako_posts("before");
    eventually(PATIENCE, "the first copy", || async {
        (federation.copies_at_beta().len() == 1).then_some(())
    })
    .await;
    federation.alpha.kill();
    federation.hanako_posts("while away 1");
    federation.hanako_posts("while away 2");

    // Reading the history is slowed down, so that the next post arrives live while the new
    // session is still reading: it must be relayed once, not by both.
    federation.sim.inject_fault(discord_sim::Fault {
        method: Some("GET".into()),
        path: "/channels/*/messages".into(),
        action: discord_sim::FaultAction::Latency(Duration::from_millis(700)),
        times: None,
    });
    federation.alpha.start(&federation.sim).await;
    federation.hanako_posts("after");
    let contents = eventually(PATIENCE, "every post at beta", || async {
        let contents: Vec<String> = federation
            .copies_at_beta()
            .into_iter()
            .map(|m| m.content)
            .collect();
        let mut unique = contents.clone();
        unique.dedup();
        (unique.len() >= 4).then_some(contents)
    })
    .await;
    let mut unique = contents.clone();
    unique.dedup();
    assert_eq!(
        unique,
        ["before", "while away 1", "while away 2", "after"],
        "in order, none missing"
    );
    // SIGKILL between Discord's answer and the commit may repeat the one message in flight.
    assert!(contents.len() <= 5, "at most one repeat: {contents:?}");
}

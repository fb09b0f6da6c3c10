//! A hostile third server against a federation forming: it has its own keys, its own master
//! webhook and a card, signs valid envelopes and posts them exactly as a deployment would, and
//! tries to do what it should not. Each attack fails beside the legitimate flow succeeding.

use chrono::Utc;
use discord_sim::{DiscordSim, Message};
use kakusan_protocol::rand_core::OsRng;
use kakusan_protocol::{
    Body, Card, Envelope, Hello, LogLine, Ping, ServerKeys, ServerName, Snowflake, VerifyKey,
    WebhookPolicy, WebhookUrl,
};

use kakusan_testkit::federation::{
    BOT_PERMISSIONS, Federation, first_button, post_through_webhook, press, string,
};
use kakusan_testkit::{PATIENCE, eventually};

use crate::KAKUSAN;

/// The attacker: keys of its own, a guild of its own with a master webhook there, and the name
/// and guild it claims.
pub(crate) struct Attacker {
    pub(crate) keys: ServerKeys,
    pub(crate) card: Card,
    api: String,
}

impl Attacker {
    /// An attacker that claims to be `name` in guild `claimed_guild`.
    pub(crate) async fn new(sim: &DiscordSim, name: &str, claimed_guild: u64) -> Self {
        let app = sim.create_application("attacker");
        let owner = sim.create_user("mallory");
        let guild = sim.create_guild("attackers", owner).unwrap();
        let channel = sim.create_channel(guild, "bot-com").unwrap();
        sim.add_bot(guild, app.id, BOT_PERMISSIONS).unwrap();
        // Its own master webhook, made through the REST API as its bot would.
        let hook: serde_json::Value = reqwest::Client::new()
            .post(format!(
                "{}/api/v10/channels/{channel}/webhooks",
                sim.api_url()
            ))
            .header("Authorization", format!("Bot {}", app.token))
            .json(&serde_json::json!({ "name": "kakusan" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let url = format!(
            "https://discord.com/api/webhooks/{}/{}",
            hook["id"].as_str().unwrap(),
            hook["token"].as_str().unwrap()
        );
        let keys = ServerKeys::generate(&mut OsRng);
        let card = Card::new(
            ServerName::parse(name).unwrap(),
            Snowflake::new(claimed_guild).unwrap(),
            WebhookUrl::parse(&url, &WebhookPolicy::discord()).unwrap(),
            keys.verify_key(),
            keys.sealing_key(),
        );
        Attacker {
            keys,
            card,
            api: sim.api_url(),
        }
    }

    /// The same attacker, its card naming its real webhook with a wrong token: every call a
    /// victim makes to it is refused (401) and counts towards Discord's invalid-request ban.
    fn with_wrong_token(mut self) -> Self {
        let hook = self.card.webhook().clone();
        let url = format!(
            "https://discord.com/api/webhooks/{}/not-the-token",
            hook.id()
        );
        self.card = Card::new(
            self.card.name().clone(),
            self.card.guild_id(),
            WebhookUrl::parse(&url, &WebhookPolicy::discord()).unwrap(),
            self.keys.verify_key(),
            self.keys.sealing_key(),
        );
        self
    }

    /// Signs `body` for the server of `victim_card` and posts it through the master webhook
    /// that card names, waiting out its rate limit like any client.
    pub(crate) async fn send(&self, victim_card: &str, body: Body) {
        let victim = Card::parse(victim_card, &WebhookPolicy::discord()).unwrap();
        let text = Envelope::new(
            self.card.name().clone(),
            victim.name().clone(),
            body,
            Utc::now(),
            &mut OsRng,
        )
        .sign(self.keys.signing())
        .unwrap();
        let hook = victim.webhook();
        post_through_webhook(&self.api, hook.id().get(), hook.token(), text.as_str()).await;
    }

    /// A hello with its own card, sealed to the victim.
    pub(crate) async fn hello(&self, victim_card: &str) {
        let victim = Card::parse(victim_card, &WebhookPolicy::discord()).unwrap();
        let hello = Hello::seal(&self.card, victim.sealing_key(), &mut OsRng).unwrap();
        self.send(victim_card, Body::PeerHello(hello)).await;
    }
}

/// How approval requests show a key.
fn fingerprint(key: &VerifyKey) -> String {
    key.to_base64().chars().take(12).collect()
}

fn requests_in(sim: &DiscordSim, channel: u64) -> Vec<Message> {
    sim.messages(channel)
        .into_iter()
        .filter(|m| !m.components.is_empty() && m.content.contains("asks to be accepted"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_registers_the_card_it_showed_and_a_server_that_only_said_hello_can_do_nothing() {
    let federation = Federation::start(KAKUSAN).await;
    let (sim, alpha, beta) = (&federation.sim, &federation.alpha, &federation.beta);
    let card_alpha = alpha.setup(sim).await;
    let card_beta = beta.setup(sim).await;
    let alpha_key = Card::parse(&card_alpha, &WebhookPolicy::discord())
        .unwrap()
        .verify_key();

    // Alpha registers beta; beta's admins get alpha's request.
    federation.regserver(alpha, &card_beta).await;
    eventually(PATIENCE, "alpha's request", || async {
        (requests_in(sim, beta.botcom).len() == 1).then_some(())
    })
    .await;

    // The attacker holds beta's card and claims alpha's name and guild with its own keys.
    let attacker = Attacker::new(sim, "alpha", alpha.guild).await;
    attacker.hello(&card_beta).await;
    // It does so twice: the same card makes no second request.
    attacker.hello(&card_beta).await;
    let requests = eventually(
        PATIENCE,
        "the attacker's request beside alpha's",
        || async {
            let requests = requests_in(sim, beta.botcom);
            (requests.len() == 2).then_some(requests)
        },
    )
    .await;
    let real = &requests[0];
    let fake = &requests[1];
    assert!(
        real.content.contains(&fingerprint(&alpha_key)),
        "the first request still shows alpha's key: {}",
        real.content
    );
    assert!(
        fake.content
            .contains(&fingerprint(&attacker.keys.verify_key())),
        "{}",
        fake.content
    );

    // A server that has only said hello is no peer: its log line and its ping are refused as
    // coming from an unknown sender, and neither shows nor is answered.
    let before = beta
        .metric(r#"kakusan_envelopes_rejected_total{reason="unknown_src"}"#)
        .await
        .unwrap_or_default();
    attacker
        .send(
            &card_beta,
            Body::Log(LogLine::parse("please accept me, I am alpha").unwrap()),
        )
        .await;
    attacker
        .send(&card_beta, Body::Ping(Ping::new(&mut OsRng, Utc::now())))
        .await;
    eventually(PATIENCE, "both refused as unknown_src", || async {
        let now = beta
            .metric(r#"kakusan_envelopes_rejected_total{reason="unknown_src"}"#)
            .await?;
        (now >= before + 2.0).then_some(())
    })
    .await;
    assert!(
        !sim.messages(beta.botcom)
            .iter()
            .any(|m| m.webhook_id.is_none() && m.content.contains("please accept me")),
        "the log line of a server that only said hello never shows"
    );

    // Beta's admin accepts the first request: exactly alpha's card is registered.
    let accepted = press(sim, real.id, beta.admin, &first_button(real)).await;
    assert!(accepted.contains("was accepted by"), "{accepted}");
    federation.wait_mutual().await;
    let stored: Vec<u8> = sqlx::query_scalar("SELECT verify_key FROM peers")
        .fetch_one(&beta.pool)
        .await
        .unwrap();
    assert_eq!(stored, alpha_key.to_bytes().to_vec(), "alpha's own key");
    // The attacker's request is void now.
    let refused = press(sim, fake.id, beta.admin, &first_button(fake)).await;
    assert!(refused.contains("no longer pending"), "{refused}");
    let peers: i64 = sqlx::query_scalar("SELECT count(*) FROM peers")
        .fetch_one(&beta.pool)
        .await
        .unwrap();
    assert_eq!(peers, 1);

    // The legitimate flow goes on: times are shared and a post is relayed.
    for side in [alpha, beta] {
        let reply = federation.regtimes(side, false).await;
        assert!(reply.contains("is your times"), "{reply}");
    }
    federation.wait_destinations(1).await;
    let reply = federation
        .here(vec![("message", string("after the attack"))])
        .await;
    assert_eq!(reply, "Delivered to 1 of 1 destination.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_cannot_make_us_flood_discord_with_syncs_or_pings() {
    let federation = Federation::peered(KAKUSAN, false).await;
    let (sim, alpha, beta) = (&federation.sim, &federation.alpha, &federation.beta);
    let card_alpha: String = alpha.card(sim).await;
    let card_beta: String = beta.card(sim).await;
    // Alpha is compromised: the attacker signs with its keys and repeats its hello.
    let attacker = Attacker {
        keys: alpha.keys().await,
        card: Card::parse(&card_alpha, &WebhookPolicy::discord()).unwrap(),
        api: sim.api_url(),
    };
    // Every sync beta ever sent alpha is a message in alpha's bot-com channel.
    let syncs_at_alpha = || {
        sim.messages(alpha.botcom)
            .iter()
            .filter(|m| m.content.contains(r#""kind":"times.sync""#))
            .count()
    };
    let syncs_before = syncs_at_alpha();
    assert!(syncs_before >= 1, "the peering sent a sync");
    let skipped = r#"kakusan_hello_syncs_skipped_total"#;
    let before = beta.metric(skipped).await.unwrap_or_default();
    for _ in 0..3 {
        attacker.hello(&card_beta).await;
    }
    eventually(
        PATIENCE,
        "the repeated hellos to be counted and not answered",
        || async {
            let now = beta.metric(skipped).await?;
            (now >= before + 3.0).then_some(())
        },
    )
    .await;
    let synced_since: i64 =
        sqlx::query_scalar("SELECT count(*) FROM peers WHERE last_sync_sent_at IS NOT NULL")
            .fetch_one(&beta.pool)
            .await
            .unwrap();
    assert_eq!(synced_since, 1, "the first hello was answered");

    // A member's /ping goes through once, and again only after the cooldown.
    let ping = |side: &'static str| {
        let deployment = if side == "alpha" { alpha } else { beta };
        deployment.invoke(
            sim,
            deployment.times,
            federation.hanako,
            "ping",
            vec![(
                "server",
                string(if side == "alpha" { "beta" } else { "alpha" }),
            )],
        )
    };
    let first = ping("alpha").await.content;
    assert!(first.starts_with("**beta**: pong in"), "{first}");
    let second = ping("alpha").await.content;
    assert!(
        second.starts_with("You can ping once every 30 seconds"),
        "{second}"
    );
    // The legitimate flow beside it: beta's side pings fine, and a relay still goes out.
    let other = ping("beta").await.content;
    assert!(other.starts_with("**alpha**: pong in"), "{other}");
    let reply = federation
        .here(vec![("message", string("still relayed"))])
        .await;
    assert_eq!(reply, "Delivered to 1 of 1 destination.");
    // By now a sync queued in answer to the hellos would long have arrived.
    assert_eq!(
        syncs_at_alpha(),
        syncs_before,
        "no sync answered the repeated hellos"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announced_webhook_outside_the_peers_guild_is_never_used() {
    let federation = Federation::peered(KAKUSAN, false).await;
    let (sim, alpha, beta) = (&federation.sim, &federation.alpha, &federation.beta);
    let card_alpha = alpha.card(sim).await;
    let card_beta = beta.card(sim).await;
    let beta_card = Card::parse(&card_beta, &WebhookPolicy::discord()).unwrap();
    // Compromised alpha announces Hanako's times with beta's own master webhook as its hook:
    // her posts at beta would land in beta's bot-com channel.
    let attacker = Attacker {
        keys: alpha.keys().await,
        card: Card::parse(&card_alpha, &WebhookPolicy::discord()).unwrap(),
        api: sim.api_url(),
    };
    let destination_hook = || async {
        sqlx::query_scalar::<_, i64>("SELECT webhook_id FROM destinations")
            .fetch_one(&beta.pool)
            .await
            .unwrap()
    };
    let legitimate = destination_hook().await;
    let registration = kakusan_protocol::Registration {
        member: Snowflake::new(federation.hanako).unwrap(),
        name: kakusan_protocol::DisplayName::parse("hanako").unwrap(),
        channel: Snowflake::new(beta.botcom).unwrap(),
        thread: None,
        hook: kakusan_protocol::SealedSecret::seal_webhook(
            beta_card.sealing_key(),
            beta_card.webhook(),
            &mut OsRng,
        )
        .unwrap(),
    };
    let refused = r#"kakusan_envelopes_rejected_total{reason="foreign_webhook"}"#;
    attacker
        .send(&card_beta, Body::TimesAnnounce(registration))
        .await;
    eventually(PATIENCE, "the foreign webhook to be refused", || async {
        (beta.metric(refused).await? >= 1.0).then_some(())
    })
    .await;
    sim.wait_for_message(beta.botcom, PATIENCE, |m| {
        m.webhook_id.is_none() && m.content.contains("not in its own guild")
    })
    .await
    .unwrap();
    assert_eq!(
        destination_hook().await,
        legitimate,
        "the destination is unchanged"
    );

    // The legitimate flow beside it: Hanako's post at beta reaches her times at alpha.
    let reply = beta
        .invoke(
            sim,
            beta.times,
            federation.hanako,
            "here",
            vec![("message", string("from beta"))],
        )
        .await
        .content;
    assert_eq!(reply, "Delivered to 1 of 1 destination.");
    sim.wait_for_message(alpha.times, PATIENCE, |m| m.content == "from beta")
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_whose_webhook_refuses_us_is_unreachable_and_gets_nothing_more() {
    let federation = Federation::peered(KAKUSAN, false).await;
    let (sim, alpha, beta) = (&federation.sim, &federation.alpha, &federation.beta);
    let attacker = Attacker::new(sim, "gamma", 424_242)
        .await
        .with_wrong_token();
    let hook = attacker.card.webhook().id().get();
    let calls_to_it = || {
        sim.calls()
            .iter()
            .filter(|call| call.path.contains(&format!("/webhooks/{hook}/")))
            .count()
    };
    // Beta's admin registers the card: the hello is refused with 401 and the peer becomes
    // unreachable.
    let reply = federation.regserver(beta, &attacker.card.encode()).await;
    assert!(reply.contains("Registered **gamma**"), "{reply}");
    let serverlist = eventually(PATIENCE, "gamma to be unreachable", async || {
        let list = beta
            .invoke(sim, beta.botcom, beta.admin, "serverlist", vec![])
            .await
            .content;
        list.contains("**gamma**: unreachable").then_some(list)
    })
    .await;
    assert!(serverlist.contains("401"), "{serverlist}");
    let refused = calls_to_it();
    assert_eq!(refused, 1, "one refused call, no retries");

    // A new name for beta is told to its peers: alpha hears it, gamma is not called.
    let reply = beta
        .invoke(
            sim,
            beta.botcom,
            beta.admin,
            "setup",
            vec![
                ("name", string("beta-two")),
                (
                    "channel",
                    discord_sim::CommandOptionValue::Channel(beta.botcom),
                ),
            ],
        )
        .await
        .content;
    assert!(reply.contains("told about the change"), "{reply}");
    eventually(PATIENCE, "alpha to know beta's new name", async || {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM peers WHERE name = 'beta-two'")
            .fetch_one(&alpha.pool)
            .await
            .unwrap()
            == 1
    })
    .await;
    assert_eq!(calls_to_it(), refused, "nothing more is sent to gamma");
    let pending: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox_jobs WHERE failed_at IS NULL")
            .fetch_one(&beta.pool)
            .await
            .unwrap();
    assert_eq!(pending, 0);

    // /ping retries it, and says so; alpha answers as before.
    let ping = beta
        .invoke(sim, beta.times, federation.hanako, "pingall", vec![])
        .await
        .content;
    assert!(ping.contains("**alpha**: pong in"), "{ping}");
    assert!(ping.contains("**gamma**: unreachable"), "{ping}");
    assert_eq!(calls_to_it(), refused + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_keys_reach_the_peers_and_the_stolen_old_key_is_worth_nothing() {
    let federation = Federation::peered(KAKUSAN, false).await;
    let (sim, alpha, beta) = (&federation.sim, &federation.alpha, &federation.beta);
    // Alpha's admins fear its keys leaked: the attacker holds the old ones.
    let old_keys = alpha.keys().await;
    let card_beta = beta.card(sim).await;
    let reply = alpha
        .invoke(
            sim,
            alpha.botcom,
            alpha.admin,
            "setup",
            vec![
                ("name", string("alpha")),
                (
                    "channel",
                    discord_sim::CommandOptionValue::Channel(alpha.botcom),
                ),
                (
                    "rotate_keys",
                    discord_sim::CommandOptionValue::Boolean(true),
                ),
            ],
        )
        .await
        .content;
    assert!(reply.contains("Its keys were rotated"), "{reply}");
    assert!(reply.contains("1 peer was sent the new card"), "{reply}");
    let new_keys = alpha.keys().await;
    assert_ne!(
        new_keys.verify_key().to_bytes(),
        old_keys.verify_key().to_bytes()
    );
    // Beta accepts the new key: the hello carrying it was signed with the old one.
    eventually(PATIENCE, "beta to know alpha's new key", async || {
        let stored: Vec<u8> = sqlx::query_scalar("SELECT verify_key FROM peers")
            .fetch_one(&beta.pool)
            .await
            .unwrap();
        stored == new_keys.verify_key().to_bytes()
    })
    .await;
    sim.wait_for_message(beta.botcom, PATIENCE, |m| {
        m.webhook_id.is_none() && m.content.contains("alpha rotated its keys")
    })
    .await
    .unwrap();
    // Beta answered with a hello sealed to the new key: alpha forgets its old keys.
    eventually(PATIENCE, "alpha to forget its previous keys", async || {
        sqlx::query_scalar::<_, bool>("SELECT previous_sealing_key IS NULL FROM servers")
            .fetch_one(&alpha.pool)
            .await
            .unwrap()
    })
    .await;

    // The attacker with the old key tries to rotate alpha to a key of its own: refused.
    let mut attacker = Attacker::new(sim, "alpha", alpha.guild).await;
    let own_card = attacker.card.clone();
    attacker.keys = old_keys;
    attacker.card = own_card;
    let bad_signatures = r#"kakusan_envelopes_rejected_total{reason="bad_signature"}"#;
    let before = beta.metric(bad_signatures).await.unwrap_or_default();
    attacker.hello(&card_beta).await;
    eventually(PATIENCE, "the old key's hello to be refused", async || {
        (beta.metric(bad_signatures).await? >= before + 1.0).then_some(())
    })
    .await;
    let stored: Vec<u8> = sqlx::query_scalar("SELECT verify_key FROM peers")
        .fetch_one(&beta.pool)
        .await
        .unwrap();
    assert_eq!(
        stored,
        new_keys.verify_key().to_bytes(),
        "still alpha's new key"
    );

    // Both directions relay under the new keys.
    for side in [alpha, beta] {
        let reply = side
            .invoke(
                sim,
                side.times,
                federation.hanako,
                "here",
                vec![("message", string("after the rotation"))],
            )
            .await
            .content;
        assert_eq!(reply, "Delivered to 1 of 1 destination.");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_peer_loses_every_webhook_it_was_given() {
    let federation = Federation::peered(KAKUSAN, false).await;
    let (sim, alpha) = (&federation.sim, &federation.alpha);
    // Beta turned hostile: it holds alpha's times webhook (announced to it) and master webhook
    // (in alpha's card).
    let webhooks = || async {
        sqlx::query_as::<_, (i64, String, i64, String)>(
            "SELECT t.webhook_id, t.webhook_token, s.master_webhook_id, s.master_webhook_token
             FROM times t JOIN servers s ON s.guild_id = t.server_guild_id",
        )
        .fetch_one(&alpha.pool)
        .await
        .unwrap()
    };
    let (old_times, old_times_token, old_master, old_master_token) = webhooks().await;
    let card_before = alpha.card(sim).await;

    let reply = federation.unregserver(&federation.alpha, "beta").await;
    assert!(reply.contains("1 times webhook was replaced"), "{reply}");
    assert!(reply.contains("and the master webhook"), "{reply}");
    let (new_times, _, new_master, _) = webhooks().await;
    assert_ne!(new_times, old_times);
    assert_ne!(new_master, old_master);

    // The old webhooks are deleted from the outbox: what beta kept no longer posts anything.
    eventually(PATIENCE, "the old webhooks to be deleted", async || {
        let times_hooks: Vec<u64> = sim.webhooks(alpha.times).iter().map(|w| w.id).collect();
        let botcom_hooks: Vec<u64> = sim.webhooks(alpha.botcom).iter().map(|w| w.id).collect();
        (!times_hooks.contains(&(old_times as u64)) && !botcom_hooks.contains(&(old_master as u64)))
            .then_some(())
    })
    .await;
    for (id, token) in [(old_times, old_times_token), (old_master, old_master_token)] {
        let status = reqwest::Client::new()
            .post(format!("{}/api/v10/webhooks/{id}/{token}", sim.api_url()))
            .json(&serde_json::json!({ "content": "still here?" }))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, reqwest::StatusCode::NOT_FOUND, "webhook {id}");
    }

    // Alpha goes on with its new webhooks: a new card, and Hanako's times still works.
    let card_after = alpha.card(sim).await;
    assert_ne!(card_after, card_before);
    let sharelist = alpha
        .invoke(sim, alpha.times, federation.hanako, "sharelist", vec![])
        .await
        .content;
    assert!(sharelist.contains(", ok"), "{sharelist}");
    assert!(
        sim.webhooks(alpha.times)
            .iter()
            .any(|w| w.id == new_times as u64)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_cut_short_by_a_restart_is_finished_at_the_next_start() {
    let mut federation = Federation::peered(KAKUSAN, false).await;
    let old: i64 = sqlx::query_scalar("SELECT webhook_id FROM times")
        .fetch_one(&federation.alpha.pool)
        .await
        .unwrap();
    // As if alpha died right after /unregserver's transaction, before replacing anything.
    federation.alpha.kill();
    sqlx::query("UPDATE times SET rotation_pending = true")
        .execute(&federation.alpha.pool)
        .await
        .unwrap();
    federation.alpha.start(&federation.sim).await;
    let alpha = &federation.alpha;
    let new = eventually(PATIENCE, "the rotation to be finished", async || {
        let (id, pending): (i64, bool) =
            sqlx::query_as("SELECT webhook_id, rotation_pending FROM times")
                .fetch_one(&alpha.pool)
                .await
                .unwrap();
        (!pending && id != old).then_some(id)
    })
    .await;
    // Beta, still a peer here, was told the new webhook and relays through it.
    let beta = &federation.beta;
    eventually(PATIENCE, "beta to know the new webhook", async || {
        sqlx::query_scalar::<_, i64>("SELECT webhook_id FROM destinations")
            .fetch_one(&beta.pool)
            .await
            .unwrap()
            == new
    })
    .await;
    let reply = beta
        .invoke(
            &federation.sim,
            beta.times,
            federation.hanako,
            "here",
            vec![("message", string("through the new webhook"))],
        )
        .await
        .content;
    assert_eq!(reply, "Delivered to 1 of 1 destination.");
    eventually(PATIENCE, "the old webhook to be deleted", async || {
        !federation
            .sim
            .webhooks(alpha.times)
            .iter()
            .any(|w| w.id == old as u64)
    })
    .await;
}

//! A simulated Discord with one origin server and N peer destinations, the real database, and
//! a running delivery engine.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use discord_sim::{DiscordSim, MANAGE_WEBHOOKS, SEND_MESSAGES, VIEW_CHANNEL};
use kakusan_delivery::{
    AttachmentLink, Delivery, DeliveryConfig, RelayJob, SendPayload, enqueue_send, webhook_username,
};
use kakusan_storage::destinations::{self, Announced};
use kakusan_storage::outbox::{self, Coalesced};
use kakusan_storage::peers::{self, PeerCard};
use kakusan_storage::servers::{self, NewServer};
use kakusan_storage::{PrivateKey, PublicKey, SecretString, WebhookUrl, copies};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use twilight_model::id::Id;

/// The member whose posts are relayed.
pub(crate) const MEMBER: u64 = 7;

/// One destination: a times channel at a peer, with its webhook.
#[derive(Debug, Clone)]
pub(crate) struct Dest {
    pub(crate) id: i64,
    pub(crate) channel_id: u64,
    pub(crate) webhook_id: u64,
}

pub(crate) struct Harness {
    pub(crate) pool: PgPool,
    pub(crate) sim: DiscordSim,
    pub(crate) origin_guild: u64,
    pub(crate) destinations: Vec<Dest>,
    http: Arc<twilight_http::Client>,
    shutdown: CancellationToken,
    engines: Vec<tokio::task::JoinHandle<()>>,
}

/// What the simulated Discord and the database hold for the tests: our server `alpha` (guild
/// 100), and `count` destinations of [`MEMBER`], each a times channel with a webhook at a peer
/// of its own.
pub(crate) struct World {
    /// The bot token of the application that owns the webhooks.
    #[allow(dead_code, reason = "the binary's crash test starts kakusan with it")]
    pub(crate) token: String,
    /// A REST client with that token, pointed at the simulator.
    pub(crate) http: Arc<twilight_http::Client>,
    /// A guild for members' original messages.
    pub(crate) origin_guild: u64,
    /// The destinations.
    pub(crate) destinations: Vec<Dest>,
}

impl World {
    pub(crate) async fn build(pool: &PgPool, sim: &DiscordSim, count: usize) -> World {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let app = sim.create_application("kakusan-peers");
        let owner = sim.create_user("owner");
        let origin_guild = sim.create_guild("origin", owner).unwrap();
        let guild = sim.create_guild("peers", owner).unwrap();
        sim.add_bot(
            guild,
            app.id,
            MANAGE_WEBHOOKS | VIEW_CHANNEL | SEND_MESSAGES,
        )
        .unwrap();
        let http = Arc::new(
            twilight_http::Client::builder()
                .token(app.token.clone())
                .proxy(sim.proxy_host(), true)
                .build(),
        );

        servers::upsert_server(
            pool,
            &NewServer {
                guild_id: 100,
                name: "alpha",
                botcom_channel_id: 101,
                master_webhook_id: 102,
                master_webhook_token: &SecretString::new("master"),
                signing_key: &PrivateKey::new([1; 32]),
                sealing_key: &PrivateKey::new([2; 32]),
            },
        )
        .await
        .unwrap();
        let mut destinations = Vec::new();
        for index in 0..count {
            let channel_id = sim
                .create_channel(guild, &format!("times-{index}"))
                .unwrap();
            let webhook = http
                .create_webhook(Id::new(channel_id), "kakusan")
                .await
                .unwrap()
                .model()
                .await
                .unwrap();
            let name = format!("peer-{index}");
            let card = PeerCard {
                name: &name,
                guild_id: 1000 + index as u64,
                webhook_url: WebhookUrl::try_from(
                    "https://discord.com/api/webhooks/1/x".to_owned(),
                )
                .unwrap(),
                verify_key: PublicKey([3; 32]),
                sealing_key: PublicKey([4; 32]),
            };
            peers::register_peer(pool, 100, &card, 42).await.unwrap();
            let peer = peers::record_hello(pool, 100, &card).await.unwrap();
            let token = SecretString::new(webhook.token.expect("a new webhook has a token"));
            let id = destinations::announce(
                pool,
                peer.id,
                &Announced {
                    member_id: MEMBER,
                    member_name: "Hanako",
                    channel_id,
                    webhook_id: webhook.id.get(),
                    webhook_token: &token,
                },
                None,
            )
            .await
            .unwrap();
            destinations.push(Dest {
                id,
                channel_id,
                webhook_id: webhook.id.get(),
            });
        }

        World {
            token: app.token,
            http,
            origin_guild,
            destinations,
        }
    }
}

impl Harness {
    /// `count` destinations of [`MEMBER`], each at a peer of its own, and an engine running.
    pub(crate) async fn start(pool: PgPool, count: usize, mut config: DeliveryConfig) -> Harness {
        let sim = DiscordSim::start_default().await.unwrap();
        let World {
            http,
            origin_guild,
            destinations,
            ..
        } = World::build(&pool, &sim, count).await;
        let mut harness = Harness {
            pool,
            sim,
            origin_guild,
            destinations,
            http,
            shutdown: CancellationToken::new(),
            engines: Vec::new(),
        };
        config.poll_interval = Duration::from_millis(100);
        harness.add_engine(config);
        harness
    }

    /// Starts one more engine on the same database, as another process would.
    pub(crate) fn add_engine(&mut self, config: DeliveryConfig) {
        let engine = Delivery::new(self.pool.clone(), self.http.clone(), config);
        self.engines
            .push(tokio::spawn(engine.run(self.shutdown.clone())));
    }

    pub(crate) fn job(&self, dest: usize, source: u64) -> RelayJob {
        let dest = &self.destinations[dest];
        RelayJob {
            server_guild_id: 100,
            destination_id: dest.id,
            webhook_id: dest.webhook_id,
            member_id: MEMBER,
            source_message_id: source,
            relay_id: None,
        }
    }

    pub(crate) async fn send(&self, dest: usize, source: u64, content: &str) -> i64 {
        self.send_at(dest, source, content, None).await
    }

    pub(crate) async fn send_at(
        &self,
        dest: usize,
        source: u64,
        content: &str,
        at: Option<DateTime<Utc>>,
    ) -> i64 {
        self.enqueue(dest, source, content, Vec::new(), at).await
    }

    pub(crate) async fn send_with(
        &self,
        dest: usize,
        source: u64,
        content: &str,
        files: Vec<AttachmentLink>,
    ) -> i64 {
        self.enqueue(dest, source, content, files, None).await
    }

    async fn enqueue(
        &self,
        dest: usize,
        source: u64,
        content: &str,
        attachments: Vec<AttachmentLink>,
        at: Option<DateTime<Utc>>,
    ) -> i64 {
        let payload = SendPayload {
            content: content.to_owned(),
            username: webhook_username("Hanako@Discord", "alpha"),
            avatar_url: None,
            attachments,
        };
        let mut connection = self.pool.acquire().await.unwrap();
        match enqueue_send(&mut connection, &self.job(dest, source), &payload, at)
            .await
            .unwrap()
        {
            Coalesced::Enqueued(id) => id,
            other => panic!("a new job, not {other:?}"),
        }
    }

    /// Waits until message `source` was delivered to destination `dest`; returns the copy.
    pub(crate) async fn wait_for_copy(&self, dest: usize, source: u64) -> u64 {
        let id = self.destinations[dest].id;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(copy) = copies::copy_of(&self.pool, id, source).await.unwrap() {
                return copy;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "message {source} never reached destination {dest}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until no job is pending.
    pub(crate) async fn wait_drained(&self) {
        self.wait_until_async("the outbox to drain", async || {
            outbox::pending_jobs(&self.pool, 100, None)
                .await
                .unwrap()
                .is_empty()
        })
        .await;
    }

    pub(crate) async fn wait_until(&self, what: &str, mut done: impl FnMut() -> bool) {
        self.wait_until_async(what, async || done()).await;
    }

    pub(crate) async fn wait_until_async(&self, what: &str, mut done: impl AsyncFnMut() -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !done().await {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every call that posts or edits a message (JSON or multipart) told Discord to ping
    /// nobody.
    pub(crate) fn assert_no_call_may_ping(&self) {
        let calls: Vec<_> = self
            .sim
            .calls()
            .into_iter()
            .filter(|call| {
                call.path.contains("/webhooks/") && matches!(call.method.as_str(), "POST" | "PATCH")
            })
            .collect();
        assert!(!calls.is_empty());
        for call in calls {
            assert!(
                call.body.contains(r#""allowed_mentions":{"parse":[]}"#),
                "{} {} sent {}",
                call.method,
                call.path,
                call.body
            );
        }
    }

    /// The contents of the live messages in destination `dest`'s channel, oldest first.
    pub(crate) fn contents(&self, dest: usize) -> Vec<String> {
        self.sim
            .messages(self.destinations[dest].channel_id)
            .into_iter()
            .filter(|message| !message.deleted)
            .map(|message| message.content)
            .collect()
    }

    pub(crate) async fn stop(self) {
        self.shutdown.cancel();
        for engine in self.engines {
            tokio::time::timeout(Duration::from_secs(10), engine)
                .await
                .expect("the engine stops within 10 s")
                .unwrap();
        }
        self.sim.shutdown().await;
    }
}

//! The delivery tests' world: a simulated Discord with one origin server and N peer
//! destinations in the real database ([`World`]), and a running delivery engine on it
//! ([`Harness`]). The binary's operations tests and the delivery benchmark use it too.

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

use crate::{PATIENCE, eventually};

/// The member whose posts are relayed.
pub const MEMBER: u64 = 7;

/// One destination: a times channel at a peer, with its webhook.
#[derive(Debug, Clone)]
pub struct Dest {
    /// Its row in `destinations`.
    pub id: i64,
    /// The times channel at the peer.
    pub channel_id: u64,
    /// The webhook in that channel.
    pub webhook_id: u64,
}

/// A [`World`] with one or more delivery engines running on it, as kakusan processes would.
pub struct Harness {
    /// The test's database, migrated.
    pub pool: PgPool,
    /// The simulated Discord.
    pub sim: DiscordSim,
    /// A guild for members' original messages.
    pub origin_guild: u64,
    /// The destinations, in the order [`Harness::job`] numbers them.
    pub destinations: Vec<Dest>,
    /// The bot's REST client, pointed at the simulator (the engines use it too).
    pub http: Arc<twilight_http::Client>,
    /// Cancelled by [`Harness::stop`]; every engine watches it.
    shutdown: CancellationToken,
    /// The engines' tasks, awaited by [`Harness::stop`].
    engines: Vec<tokio::task::JoinHandle<()>>,
}

/// What the simulated Discord and the database hold for the tests: our server `alpha` (guild
/// 100), and `count` destinations of [`MEMBER`], each a times channel with a webhook at a peer
/// of its own.
pub struct World {
    /// The bot token of the application that owns the webhooks (the binary's tests start
    /// `kakusan` with it).
    pub token: String,
    /// A REST client with that token, pointed at the simulator.
    pub http: Arc<twilight_http::Client>,
    /// A guild for members' original messages.
    pub origin_guild: u64,
    /// The destinations.
    pub destinations: Vec<Dest>,
}

impl World {
    /// Creates `count` destinations of [`MEMBER`] in `sim`, and our server and its peers in
    /// the (migrated) database `pool`.
    pub async fn build(pool: &PgPool, sim: &DiscordSim, count: usize) -> World {
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
                    thread_id: None,
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
    pub async fn start(pool: PgPool, count: usize, mut config: DeliveryConfig) -> Harness {
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
        // The simulator serves attachments from its own address, as Discord's CDN would.
        config.download_hosts.push("127.0.0.1".to_owned());
        harness.add_engine(config);
        harness
    }

    /// Starts one more engine on the same database, as another process would.
    pub fn add_engine(&mut self, config: DeliveryConfig) {
        let engine = Delivery::new(self.pool.clone(), self.http.clone(), config);
        self.engines
            .push(tokio::spawn(engine.run(self.shutdown.clone())));
    }

    /// The relay job of message `source` to destination `dest`.
    pub fn job(&self, dest: usize, source: u64) -> RelayJob {
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

    /// Enqueues message `source` to destination `dest`, due now; returns the job's id.
    pub async fn send(&self, dest: usize, source: u64, content: &str) -> i64 {
        self.send_at(dest, source, content, None).await
    }

    /// Enqueues message `source` to destination `dest`, due at `at` (now if `None`).
    pub async fn send_at(
        &self,
        dest: usize,
        source: u64,
        content: &str,
        at: Option<DateTime<Utc>>,
    ) -> i64 {
        self.enqueue(dest, source, content, Vec::new(), at).await
    }

    /// Enqueues message `source` with files to destination `dest`, due now.
    pub async fn send_with(
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
    pub async fn wait_for_copy(&self, dest: usize, source: u64) -> u64 {
        let id = self.destinations[dest].id;
        eventually(
            PATIENCE,
            &format!("message {source} to reach destination {dest}"),
            async || copies::copy_of(&self.pool, id, source).await.unwrap(),
        )
        .await
    }

    /// Waits until no job is pending.
    pub async fn wait_drained(&self) {
        eventually(PATIENCE, "the outbox to drain", async || {
            outbox::pending_jobs(&self.pool, 100, None)
                .await
                .unwrap()
                .is_empty()
        })
        .await;
    }

    /// Every call that posts or edits a message (JSON or multipart) told Discord to ping
    /// nobody.
    pub fn assert_no_call_may_ping(&self) {
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
    pub fn contents(&self, dest: usize) -> Vec<String> {
        self.sim
            .messages(self.destinations[dest].channel_id)
            .into_iter()
            .filter(|message| !message.deleted)
            .map(|message| message.content)
            .collect()
    }

    /// Stops every engine (each within 10 s) and the simulator.
    pub async fn stop(self) {
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

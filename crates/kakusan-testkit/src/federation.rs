//! Two kakusan deployments (two processes, two databases, two bot applications) against one
//! simulated Discord, and the member's and admin's gestures the end-to-end tests make.

use std::process::{Child, Command, Stdio};

use discord_sim::{
    AppCredentials, CommandInvocation, CommandOptionValue, DiscordSim, InteractionRef, Message,
    MessageDraft,
};
use kakusan_storage::PgPool;

use crate::cluster::free_port;
use crate::endpoint::{get, sample};
use crate::process::{Binary, sigterm, wait_for_exit};
use crate::{Cluster, PATIENCE, TestDatabase, eventually};

/// The permissions the README's invite URL grants the bot (536988672): View Channels, Send
/// Messages, Embed Links, Attach Files, Read Message History, Manage Webhooks.
pub const BOT_PERMISSIONS: u64 = 536_988_672;

/// One organisation: its guild, its bot application, its database and its kakusan process.
pub struct Deployment {
    /// Its federation name, given at `/setup`: `alpha` or `beta`.
    pub name: &'static str,
    /// Its bot application.
    pub app: AppCredentials,
    /// Its guild.
    pub guild: u64,
    /// The guild's owner, who may run the admin commands.
    pub admin: u64,
    /// The bot-com channel `/setup` names.
    pub botcom: u64,
    /// Hanako's times channel in the guild.
    pub times: u64,
    /// The `kakusan` it runs, started again after a stop or a kill.
    binary: Binary,
    /// Its database on the shared server (dropped with it), unless it has a cluster of its own.
    _database: Option<TestDatabase>,
    /// A PostgreSQL cluster of its own, for tests that take its database away.
    pub cluster: Option<Cluster>,
    database_url: String,
    /// A pool on its database, for tests to look at what it stored.
    pub pool: PgPool,
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// The port of its HTTP endpoint (metrics and health), while it runs.
    pub http_port: u16,
    message_content: bool,
    api: String,
    gateway: String,
    /// The JetStream stream of its own (the NATS server is shared by every test).
    pub stream: String,
    /// Set when the deployment is scaled out: gateways and workers instead of `kakusan run`.
    pub scale: Option<Scale>,
    /// The scaled-out processes, by role and number, while they run.
    gateways: Vec<Option<Child>>,
    workers: Vec<Option<Child>>,
    /// The HTTP ports of the workers.
    pub worker_ports: Vec<u16>,
    /// The HTTP ports of the gateways (gateway 0's is also `http_port`).
    pub gateway_ports: Vec<u16>,
}

/// A scaled-out deployment: `gateways` processes of `kakusan gateway` sharing the shards and
/// `workers` of `kakusan worker`, over NATS on 127.0.0.1:4222 (`KAKUSAN_NATS_URL` overrides).
#[derive(Debug, Clone)]
pub struct Scale {
    /// How many gateway processes.
    pub gateways: u32,
    /// How many workers.
    pub workers: usize,
    /// How many shards the simulator recommends to the bot; the gateways share them.
    pub shards: u32,
}

impl Scale {
    /// One gateway holding the one shard, and `workers` workers.
    pub fn workers(workers: usize) -> Self {
        Scale {
            gateways: 1,
            workers,
            shards: 1,
        }
    }
}

/// The NATS server the scaled-out tests use.
pub fn nats_url() -> String {
    std::env::var("KAKUSAN_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

impl Deployment {
    /// `message_content`: whether the app may have the Message Content intent, and kakusan
    /// asks for it (`KAKUSAN_MIRROR`).
    async fn create(
        binary: Binary,
        sim: &DiscordSim,
        name: &'static str,
        hanako: u64,
        message_content: bool,
        addresses: Addresses,
        own_cluster: bool,
    ) -> Self {
        let app = sim.create_application_with(&format!("kakusan-{name}"), message_content);
        let admin = sim.create_user(&format!("admin-{name}"));
        let guild = sim.create_guild(name, admin).unwrap();
        let botcom = sim.create_channel(guild, "bot-com").unwrap();
        let times = sim.create_channel(guild, "times-hanako").unwrap();
        sim.add_bot(guild, app.id, BOT_PERMISSIONS).unwrap();
        sim.add_member(guild, hanako, &[]).unwrap();
        // Its own address, as a deployment behind its own HTTP proxy has: nothing it hands to
        // a peer may depend on it.
        let (api, gateway) = match addresses {
            Addresses::Own => {
                let own = sim.add_address().await.unwrap();
                (own.api_url(), own.gateway_url())
            }
            Addresses::Shared => (sim.api_url(), sim.gateway_url()),
        };
        let (database, cluster) = if own_cluster {
            (None, Some(Cluster::start()))
        } else {
            (Some(TestDatabase::create().await), None)
        };
        let database_url = match (&database, &cluster) {
            (Some(database), _) => database.url.clone(),
            (_, Some(cluster)) => cluster.url.clone(),
            (None, None) => unreachable!("one of the two was made"),
        };
        let pool = PgPool::connect(&database_url).await.unwrap();
        let stream = format!("KT{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
        Deployment {
            stream,
            scale: None,
            gateways: Vec::new(),
            workers: Vec::new(),
            worker_ports: Vec::new(),
            gateway_ports: Vec::new(),
            name,
            app,
            guild,
            admin,
            botcom,
            times,
            binary,
            _database: database,
            cluster,
            database_url,
            pool,
            dir: tempfile::tempdir().unwrap(),
            child: None,
            http_port: 0,
            message_content,
            api,
            gateway,
        }
    }

    /// Starts `kakusan run` (or, scaled out, its gateways and workers) and waits until its
    /// shards are connected and its commands exist (and, scaled out, every lane is held).
    pub async fn start(&mut self, sim: &DiscordSim) {
        let Some(scale) = self.scale.clone() else {
            let http_port = free_port();
            self.http_port = http_port;
            self.child = Some(self.command("run", http_port).spawn().unwrap());
            self.wait_started(sim, 1).await;
            return;
        };
        sim.set_recommended_shards(self.app.id, scale.shards);
        self.gateways = (0..scale.gateways).map(|_| None).collect();
        self.gateway_ports = (0..scale.gateways).map(|_| free_port()).collect();
        self.workers = (0..scale.workers).map(|_| None).collect();
        self.worker_ports = (0..scale.workers).map(|_| free_port()).collect();
        for worker in 0..scale.workers {
            self.start_worker(worker);
        }
        for gateway in 0..scale.gateways {
            self.start_gateway(gateway);
        }
        self.wait_started(sim, scale.shards as usize).await;
        self.wait_lanes_held().await;
    }

    async fn wait_started(&self, sim: &DiscordSim, shards: usize) {
        sim.wait_for_sessions(self.app.id, shards, PATIENCE)
            .await
            .unwrap();
        // One bulk overwrite registers them all at once: any command means every command.
        eventually(PATIENCE, "the commands to be registered", || async {
            let all = kakusan_commands::model::definitions().len();
            (sim.commands(self.app.id, None).len() == all).then_some(())
        })
        .await;
    }

    /// Waits until the workers hold every lane of the bus between them.
    pub async fn wait_lanes_held(&self) {
        let workers = self.workers.iter().filter(|w| w.is_some()).count();
        let expected = i64::from(kakusan_bus::PARTITIONS) + 1 + workers as i64;
        eventually(PATIENCE, "the workers to hold every lane", || async {
            // The workers' slot locks and lane locks (IDENTIFY's take one briefly).
            let held: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
                   AND objsubid = 2
                   AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            )
            .fetch_one(&self.pool)
            .await
            .unwrap();
            (held >= expected).then_some(()).ok_or(held)
        })
        .await;
    }

    /// The command for `kakusan <subcommand>` with this deployment's settings (and NATS's when
    /// scaled out), serving HTTP on `http_port`; not started.
    pub fn command(&self, subcommand: &str, http_port: u16) -> Command {
        let mut command = self.binary.command(&self.dir);
        command
            .arg(subcommand)
            .env("DISCORD_TOKEN", &self.app.token)
            .env("DATABASE_URL", &self.database_url)
            .env("KAKUSAN_DISCORD_API", &self.api)
            .env("KAKUSAN_DISCORD_GATEWAY", &self.gateway)
            .env("KAKUSAN_HTTP_ADDR", format!("127.0.0.1:{http_port}"))
            .env("KAKUSAN_MIRROR", self.message_content.to_string())
            .env("KAKUSAN_LOG", "info,kakusan=debug")
            .stderr(if std::env::var_os("KAKUSAN_TEST_LOGS").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            });
        if self.scale.is_some() {
            command
                .env("KAKUSAN_NATS_URL", nats_url())
                .env("KAKUSAN_NATS_STREAM", &self.stream);
        }
        command
    }

    /// Starts (again) gateway process `index`; gateway 0 serves on `http_port`.
    pub fn start_gateway(&mut self, index: u32) {
        let scale = self.scale.clone().expect("a scaled-out deployment");
        let port = self.gateway_ports[index as usize];
        if index == 0 {
            self.http_port = port;
        }
        let child = self
            .command("gateway", port)
            .arg("--gateway-id")
            .arg(index.to_string())
            .arg("--gateway-count")
            .arg(scale.gateways.to_string())
            .spawn()
            .unwrap();
        self.gateways[index as usize] = Some(child);
    }

    /// Starts (again) worker `index`.
    pub fn start_worker(&mut self, index: usize) {
        let child = self
            .command("worker", self.worker_ports[index])
            .spawn()
            .unwrap();
        self.workers[index] = Some(child);
    }

    /// SIGKILL to worker `index`: it dies at once, with whatever event it held.
    pub fn kill_worker(&mut self, index: usize) {
        kill_child(self.workers[index].take().expect("the worker runs"));
    }

    /// SIGTERM to worker `index`, and a clean exit (status 0).
    pub fn stop_worker(&mut self, index: usize) {
        let mut child = self.workers[index].take().expect("the worker runs");
        sigterm(&child);
        let status = wait_for_exit(&mut child, PATIENCE);
        assert!(status.success(), "{status:?}");
    }

    /// SIGKILL to gateway `index`.
    pub fn kill_gateway(&mut self, index: u32) {
        kill_child(
            self.gateways[index as usize]
                .take()
                .expect("the gateway runs"),
        );
    }

    /// SIGTERM to gateway `index`, and a clean exit.
    pub fn stop_gateway(&mut self, index: u32) {
        let mut child = self.gateways[index as usize]
            .take()
            .expect("the gateway runs");
        sigterm(&child);
        let status = wait_for_exit(&mut child, PATIENCE);
        assert!(status.success(), "{status:?}");
    }

    /// A series of gateway `index`'s `/metrics`.
    pub async fn gateway_metric(&self, index: u32, series: &str) -> Option<f64> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.gateway_ports[index as usize]));
        let (_, text) = get(addr, "/metrics").await?;
        sample(&text, series)
    }

    /// A series of worker `index`'s `/metrics`.
    pub async fn worker_metric(&self, index: usize, series: &str) -> Option<f64> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.worker_ports[index]));
        let (_, text) = get(addr, "/metrics").await?;
        sample(&text, series)
    }

    /// The value of one series of its `/metrics`, e.g. `kakusan_envelopes_received_total{kind="ping"}`.
    pub async fn metric(&self, series: &str) -> Option<f64> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.http_port));
        let (_, text) = get(addr, "/metrics").await?;
        sample(&text, series)
    }

    /// SIGKILL: the process dies at once, in the middle of whatever it was doing.
    pub fn kill(&mut self) {
        kill_child(self.child.take().expect("the deployment runs"));
    }

    /// The card from this deployment's `/setup` reply.
    pub async fn setup(&self, sim: &DiscordSim) -> String {
        let reply = self
            .invoke(
                sim,
                self.botcom,
                self.admin,
                "setup",
                vec![
                    ("name", string(self.name)),
                    ("channel", CommandOptionValue::Channel(self.botcom)),
                ],
            )
            .await;
        card_in(&reply.content)
    }

    /// Invokes a command as `user` in `channel` and returns the settled reply.
    pub async fn invoke(
        &self,
        sim: &DiscordSim,
        channel: u64,
        user: u64,
        name: &str,
        options: Vec<(&str, CommandOptionValue)>,
    ) -> Message {
        let interaction = self.start_command(sim, channel, user, name, options, false);
        sim.wait_for_reply(&interaction, PATIENCE).await.unwrap()
    }

    /// Sends the interaction without waiting; `override_permissions` simulates a server that
    /// lets everyone see an admin command.
    pub fn start_command(
        &self,
        sim: &DiscordSim,
        channel: u64,
        user: u64,
        name: &str,
        options: Vec<(&str, CommandOptionValue)>,
        override_permissions: bool,
    ) -> InteractionRef {
        let mut invocation = CommandInvocation::new(self.app.id, channel, user, name);
        for (option, value) in options {
            invocation = invocation.option(option, value);
        }
        if override_permissions {
            invocation = invocation.with_permission_override();
        }
        sim.invoke_command(&invocation).unwrap()
    }

    /// Sets the guild's preferred locale (`ja`, `en-US`), as its admin does in the server
    /// settings: the running deployment gets GUILD_UPDATE, and interactions there carry it as
    /// `guild_locale`. Guilds start in `en-US`.
    pub fn set_guild_locale(&self, sim: &DiscordSim, locale: &str) {
        sim.set_guild_locale(self.guild, locale).unwrap();
    }

    /// The locale this deployment stored for its server (`None` before `/setup` or before
    /// Discord said).
    pub async fn stored_locale(&self) -> Option<String> {
        sqlx::query_scalar("SELECT locale FROM servers")
            .fetch_optional(&self.pool)
            .await
            .unwrap()
            .flatten()
    }

    /// Messages in this deployment's bot-com channel.
    pub fn botcom_messages(&self, sim: &DiscordSim) -> Vec<Message> {
        sim.messages(self.botcom)
    }

    /// This server's card, as `/card` shows it to its admin.
    pub async fn card(&self, sim: &DiscordSim) -> String {
        let reply = self
            .invoke(sim, self.botcom, self.admin, "card", vec![])
            .await;
        card_in(&reply.content)
    }

    /// This deployment's keys, read from its database as only its own process could (or an
    /// attacker who compromised it).
    pub async fn keys(&self) -> kakusan_protocol::ServerKeys {
        let (signing, sealing): (Vec<u8>, Vec<u8>) =
            sqlx::query_as("SELECT signing_key, sealing_key FROM servers")
                .fetch_one(&self.pool)
                .await
                .unwrap();
        kakusan_protocol::ServerKeys::new(
            kakusan_protocol::SigningSecret::from_seed(signing.try_into().unwrap()),
            kakusan_protocol::SealingSecret::from_bytes(sealing.try_into().unwrap()),
        )
    }

    /// SIGTERM, as an operator stops it, and a clean exit (status 0).
    pub fn stop(&mut self) {
        let mut child = self.child.take().expect("the deployment runs");
        sigterm(&child);
        let status = wait_for_exit(&mut child, PATIENCE);
        assert!(status.success(), "{status:?}");
    }
}

fn kill_child(mut child: Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

impl Drop for Deployment {
    fn drop(&mut self) {
        let scaled = self.gateways.iter_mut().chain(self.workers.iter_mut());
        for mut child in self
            .child
            .take()
            .into_iter()
            .chain(scaled.filter_map(Option::take))
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Where the deployments reach the simulated Discord.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addresses {
    /// Each through an address of its own (a second port of the simulator), as deployments
    /// behind their own proxies: the world the tests assume unless they say otherwise.
    Own,
    /// Both through the simulator's main address, the shape of Discord's one base URL.
    Shared,
}

/// Another member in both guilds, with a times channel in each (not registered yet).
#[derive(Debug, Clone, Copy)]
pub struct Member {
    /// The user.
    pub id: u64,
    /// Their times channel in alpha's guild.
    pub alpha_times: u64,
    /// Their times channel in beta's guild.
    pub beta_times: u64,
}

/// Two deployments, `alpha` and `beta`, and the member Hanako who is in both guilds.
/// Everyone's client speaks `en-US` unless a test gives them another locale.
pub struct Federation {
    /// The simulated Discord both talk to.
    pub sim: DiscordSim,
    /// The first deployment; a test's member usually posts here.
    pub alpha: Deployment,
    /// The second deployment.
    pub beta: Deployment,
    /// The member in both guilds.
    pub hanako: u64,
}

impl Federation {
    /// Both deployments running `kakusan`, nothing set up yet.
    pub async fn start(kakusan: Binary) -> Self {
        Self::start_with(kakusan, true, Addresses::Own).await
    }

    /// Both deployments running, their apps with or without the Message Content intent.
    pub async fn start_with(kakusan: Binary, message_content: bool, addresses: Addresses) -> Self {
        Self::build(kakusan, message_content, addresses, false).await
    }

    /// Both running; alpha's database on a cluster of its own when `alpha_cluster`.
    async fn build(
        kakusan: Binary,
        message_content: bool,
        addresses: Addresses,
        alpha_cluster: bool,
    ) -> Self {
        Self::build_scaled(kakusan, message_content, addresses, alpha_cluster, None).await
    }

    /// Both deployments scaled out as `scale` says (gateways and workers over NATS), set up,
    /// mutual, with Hanako's times registered on both sides (`mirror` as given).
    pub async fn peered_scaled(kakusan: Binary, mirror: bool, scale: Scale) -> Self {
        Self::build_scaled(kakusan, true, Addresses::Own, false, Some(scale))
            .await
            .peer_up(mirror)
            .await
    }

    async fn build_scaled(
        kakusan: Binary,
        message_content: bool,
        addresses: Addresses,
        alpha_cluster: bool,
        scale: Option<Scale>,
    ) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let sim = DiscordSim::start_default().await.unwrap();
        let hanako = sim.create_user("hanako");
        let mut alpha = Deployment::create(
            kakusan,
            &sim,
            "alpha",
            hanako,
            message_content,
            addresses,
            alpha_cluster,
        )
        .await;
        let mut beta = Deployment::create(
            kakusan,
            &sim,
            "beta",
            hanako,
            message_content,
            addresses,
            false,
        )
        .await;
        alpha.scale = scale.clone();
        beta.scale = scale;
        alpha.start(&sim).await;
        beta.start(&sim).await;
        Federation {
            sim,
            alpha,
            beta,
            hanako,
        }
    }

    /// Set up, mutual (by `/regserver` on both sides), with Hanako's times registered on both
    /// sides, `mirror` as given, and each side knowing the other's.
    pub async fn peered(kakusan: Binary, mirror: bool) -> Self {
        Self::peered_with(kakusan, mirror, true, Addresses::Own).await
    }

    /// [`Federation::peered`], the apps with or without the Message Content intent, reaching
    /// Discord through their own addresses or the shared one.
    pub async fn peered_with(
        kakusan: Binary,
        mirror: bool,
        message_content: bool,
        addresses: Addresses,
    ) -> Self {
        Self::start_with(kakusan, message_content, addresses)
            .await
            .peer_up(mirror)
            .await
    }

    /// [`Federation::peered`] without mirror mode, alpha's database on a PostgreSQL cluster of
    /// its own that a test may stop (`alpha.cluster`).
    pub async fn peered_alpha_on_own_cluster(kakusan: Binary) -> Self {
        Self::build(kakusan, true, Addresses::Own, true)
            .await
            .peer_up(false)
            .await
    }

    /// Sets both up, peers them and registers Hanako's times on both sides.
    async fn peer_up(self, mirror: bool) -> Self {
        let federation = self;
        let card_alpha = federation.alpha.setup(&federation.sim).await;
        let card_beta = federation.beta.setup(&federation.sim).await;
        federation.regserver(&federation.alpha, &card_beta).await;
        federation.regserver(&federation.beta, &card_alpha).await;
        federation.wait_mutual().await;
        for side in [&federation.alpha, &federation.beta] {
            let reply = federation.regtimes(side, mirror).await;
            assert!(reply.contains("is your times"), "{reply}");
        }
        federation.wait_destinations(1).await;
        federation
    }

    /// `side`'s admin registers the server of `card` (`/regserver`); returns the reply.
    pub async fn regserver(&self, side: &Deployment, card: &str) -> String {
        side.invoke(
            &self.sim,
            side.botcom,
            side.admin,
            "regserver",
            vec![("card", string(card))],
        )
        .await
        .content
    }

    /// `side`'s admin removes the peer named `server` (`/unregserver`); returns the reply.
    pub async fn unregserver(&self, side: &Deployment, server: &str) -> String {
        side.invoke(
            &self.sim,
            side.botcom,
            side.admin,
            "unregserver",
            vec![("server", string(server))],
        )
        .await
        .content
    }

    /// Hanako registers her times at `side` (`/regtimes`), with or without mirror mode;
    /// returns the reply.
    pub async fn regtimes(&self, side: &Deployment, mirror: bool) -> String {
        side.invoke(
            &self.sim,
            side.times,
            self.hanako,
            "regtimes",
            vec![("mirror", CommandOptionValue::Boolean(mirror))],
        )
        .await
        .content
    }

    /// Hanako's `/here` in alpha's times channel.
    pub async fn here(&self, options: Vec<(&str, CommandOptionValue)>) -> String {
        self.alpha
            .invoke(&self.sim, self.alpha.times, self.hanako, "here", options)
            .await
            .content
    }

    /// Waits until each side counts the other as a mutual peer.
    pub async fn wait_mutual(&self) {
        for side in [&self.alpha, &self.beta] {
            wait_mutual_peers(side, 1).await;
        }
    }

    /// Waits until each side knows `count` destinations (Hanako's times at the other).
    pub async fn wait_destinations(&self, count: i64) {
        for side in [&self.alpha, &self.beta] {
            eventually(PATIENCE, "the destinations", || async {
                (destinations(side).await == count).then_some(())
            })
            .await;
        }
    }

    /// The live messages webhooks posted in beta's times channel: the copies Hanako's posts
    /// became there.
    pub fn copies_at_beta(&self) -> Vec<Message> {
        self.sim
            .messages(self.beta.times)
            .into_iter()
            .filter(|m| !m.deleted && m.webhook_id.is_some() && m.interaction_metadata.is_none())
            .collect()
    }

    /// Every webhook token the simulator issued; none may appear in a bot-com channel.
    pub fn all_webhook_tokens(&self) -> Vec<String> {
        [
            self.alpha.botcom,
            self.alpha.times,
            self.beta.botcom,
            self.beta.times,
        ]
        .into_iter()
        .flat_map(|channel| self.sim.webhooks(channel))
        .map(|webhook| webhook.token)
        .collect()
    }

    /// A new member of both guilds whose Discord client speaks `locale` (`ja`, `en-US`), with
    /// a channel `times-<name>` in each guild.
    pub fn member(&self, name: &str, locale: &str) -> Member {
        let id = self.sim.create_user(name);
        self.sim.set_user_locale(id, locale).unwrap();
        let mut times = [0; 2];
        for (side, channel) in [&self.alpha, &self.beta].into_iter().zip(&mut times) {
            self.sim.add_member(side.guild, id, &[]).unwrap();
            *channel = self
                .sim
                .create_channel(side.guild, &format!("times-{name}"))
                .unwrap();
        }
        Member {
            id,
            alpha_times: times[0],
            beta_times: times[1],
        }
    }

    /// Posts as Hanako in alpha's times channel.
    pub fn hanako_posts(&self, text: &str) -> u64 {
        self.sim
            .post_message(self.alpha.times, self.hanako, MessageDraft::text(text))
            .unwrap()
    }
}

/// Waits until `side`'s database holds `count` mutual peers (of all its servers together).
pub async fn wait_mutual_peers(side: &Deployment, count: i64) {
    eventually(PATIENCE, "the peers to be mutual", || async {
        let mutual: i64 = sqlx::query_scalar("SELECT count(*) FROM peers WHERE mutual")
            .fetch_one(&side.pool)
            .await
            .unwrap();
        (mutual == count).then_some(())
    })
    .await;
}

/// How many destinations `side` knows.
pub async fn destinations(side: &Deployment) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM destinations")
        .fetch_one(&side.pool)
        .await
        .unwrap()
}

/// A string option of a command.
pub fn string(text: &str) -> CommandOptionValue {
    CommandOptionValue::String(text.to_owned())
}

/// The card inside a `/setup` or `/card` reply (the code block).
pub fn card_in(reply: &str) -> String {
    reply
        .split("```")
        .nth(1)
        .unwrap_or_else(|| panic!("no card in {reply:?}"))
        .trim()
        .to_owned()
}

/// The `custom_id` of the first button on a message.
pub fn first_button(message: &Message) -> String {
    message.components[0]["components"][0]["custom_id"]
        .as_str()
        .expect("a button with a custom_id")
        .to_owned()
}

/// Presses a button as `user` and returns the answer.
pub async fn press(sim: &DiscordSim, message: u64, user: u64, id: &str) -> String {
    let interaction = sim.press_button(message, user, id).unwrap();
    sim.wait_for_reply(&interaction, PATIENCE)
        .await
        .unwrap()
        .content
}

/// Posts `content` through webhook `id`/`token` at the simulator `api`, as a peer (or an
/// attacker holding the URL) would: like any client, it waits out a 429 and tries again.
pub async fn post_through_webhook(api: &str, id: u64, token: &str, content: &str) {
    let url = format!("{api}/api/v10/webhooks/{id}/{token}");
    loop {
        let response = reqwest::Client::new()
            .post(&url)
            .json(&serde_json::json!({ "content": content, "allowed_mentions": { "parse": [] } }))
            .send()
            .await
            .unwrap();
        if response.status() != reqwest::StatusCode::TOO_MANY_REQUESTS {
            assert!(response.status().is_success(), "{}", response.status());
            return;
        }
        let body: serde_json::Value = response.json().await.unwrap();
        let wait = body["retry_after"].as_f64().unwrap_or(1.0);
        tokio::time::sleep(std::time::Duration::from_secs_f64(wait)).await;
    }
}

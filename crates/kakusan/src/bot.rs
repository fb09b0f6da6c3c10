//! The bot: the command and federation handlers of `kakusan-commands` on the gateway loop of
//! `kakusan-gateway`, with the commands registered first, the shards' sessions kept in the
//! database from one process to the next, and the pruning of seen envelope ids.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use kakusan_commands::{App, AppConfig};
use kakusan_gateway::{
    EventHandler, GatewayConfig, GatewayStatus, RESUME_WINDOW, ShardSession, ShardSlice,
};
use kakusan_protocol::MAX_CLOCK_SKEW;
use kakusan_storage::PgPool;
use kakusan_storage::gateway_sessions::{self, GatewaySession};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use twilight_gateway::queue::Queue;
use twilight_gateway::{Event, EventTypeFlags, Intents, ShardId};
use twilight_http::Client;
use twilight_model::id::Id;
use twilight_model::id::marker::ApplicationMarker;

use crate::config::DiscordConfig;

/// How long shutdown lets running handlers finish.
const HANDLER_GRACE: Duration = Duration::from_secs(5);

struct Handler(Arc<App>);

impl EventHandler for Handler {
    fn handle(
        self: Arc<Self>,
        _shard: ShardId,
        event: Event,
    ) -> impl Future<Output = anyhow::Result<()>> + Send + 'static {
        self.0.handle(event)
    }
}

/// Asks Discord who we are, registers the commands, and starts the shards, resuming the
/// sessions the previous process saved. The shards' sessions are saved again once they closed.
pub(crate) async fn start(
    config: &DiscordConfig,
    pool: PgPool,
    http: Arc<Client>,
    status: GatewayStatus,
    tasks: &TaskTracker,
    shutdown: CancellationToken,
) -> anyhow::Result<JoinHandle<anyhow::Result<()>>> {
    let guild = config.commands_guild;
    let (application, _) = register(&http, guild).await?;
    tracing::info!(application = %application, guild, "slash commands registered");
    let app = App::new(
        pool.clone(),
        Arc::clone(&http),
        AppConfig {
            application_id: application,
            message_content: config.mirror,
        },
    );
    tasks.spawn(prune_seen_envelopes(pool.clone(), shutdown.clone()));
    tasks.spawn(listen_for_answers(Arc::clone(&app), shutdown.clone()));
    let shards = Shards {
        application,
        slice: ShardSlice::default(),
        identify_queue: None,
    };
    Ok(shards.start(config, pool, http, Arc::new(Handler(app)), status, shutdown))
}

/// Which shards a process opens, and how they wait to IDENTIFY.
pub(crate) struct Shards {
    /// The application the shards belong to (their saved sessions are filed under it).
    pub(crate) application: Id<ApplicationMarker>,
    /// This process's slice of the shards.
    pub(crate) slice: ShardSlice,
    /// The IDENTIFY queue shared with other gateway processes, if any.
    pub(crate) identify_queue: Option<Arc<dyn Queue + Send + Sync>>,
}

impl Shards {
    /// Starts the shards of this slice with `handler`, resuming the sessions a previous
    /// process saved for them; their sessions are saved again once they closed.
    pub(crate) fn start<H: EventHandler>(
        self,
        config: &DiscordConfig,
        pool: PgPool,
        http: Arc<Client>,
        handler: Arc<H>,
        status: GatewayStatus,
        shutdown: CancellationToken,
    ) -> JoinHandle<anyhow::Result<()>> {
        let gateway = GatewayConfig {
            token: config.token.expose().to_owned(),
            intents: intents(config),
            event_types: EVENT_TYPES,
            proxy_url: config
                .gateway
                .as_ref()
                .map(|url| url.as_str().trim_end_matches('/').to_owned()),
            shutdown_grace: HANDLER_GRACE,
            resume: Vec::new(),
            slice: self.slice,
            identify_queue: self.identify_queue,
        };
        let Shards {
            application, slice, ..
        } = self;
        tokio::spawn(async move {
            let gateway = GatewayConfig {
                resume: take_sessions(&pool, application, slice).await,
                ..gateway
            };
            let result = kakusan_gateway::run(&http, gateway, handler, status, shutdown).await;
            let sessions = result?;
            save_sessions(&pool, application, &sessions).await;
            Ok(())
        })
    }
}

/// The events kakusan handles.
pub(crate) const EVENT_TYPES: EventTypeFlags = EventTypeFlags::READY
    .union(EventTypeFlags::GUILD_CREATE)
    .union(EventTypeFlags::GUILD_UPDATE)
    .union(EventTypeFlags::INTERACTION_CREATE)
    .union(EventTypeFlags::MESSAGE_CREATE)
    .union(EventTypeFlags::MESSAGE_UPDATE)
    .union(EventTypeFlags::MESSAGE_DELETE);

/// The intents: guilds and their messages, with the content when mirror mode is on.
fn intents(config: &DiscordConfig) -> Intents {
    let mut intents = Intents::GUILDS | Intents::GUILD_MESSAGES;
    if config.mirror {
        intents |= Intents::MESSAGE_CONTENT;
    }
    intents
}

/// Takes the sessions the previous process saved, if they are recent enough to resume. A
/// database error only costs the resume: the shards identify, and the READY catch-up reads what
/// was posted meanwhile.
async fn take_sessions(
    pool: &PgPool,
    application: Id<ApplicationMarker>,
    slice: ShardSlice,
) -> Vec<ShardSession> {
    let saved = match gateway_sessions::take_gateway_sessions_of_slice(
        pool,
        application.get(),
        RESUME_WINDOW,
        slice.index,
        slice.count,
    )
    .await
    {
        Ok(saved) => saved,
        Err(error) => {
            tracing::warn!(%error, "could not read the saved gateway sessions; identifying");
            return Vec::new();
        }
    };
    saved
        .into_iter()
        .filter_map(|saved| {
            Some(ShardSession {
                shard: ShardId::new_checked(saved.shard_id, saved.shard_total)?,
                session_id: saved.session_id,
                sequence: saved.sequence,
                resume_url: saved.resume_url,
            })
        })
        .collect()
}

/// Saves the shards' sessions for the next process. Failing only costs the resume, so it is
/// logged, not returned: the shutdown itself went well.
async fn save_sessions(
    pool: &PgPool,
    application: Id<ApplicationMarker>,
    sessions: &[ShardSession],
) {
    let rows: Vec<GatewaySession> = sessions
        .iter()
        .map(|session| GatewaySession {
            shard_id: session.shard.number(),
            shard_total: session.shard.total(),
            session_id: session.session_id.clone(),
            sequence: session.sequence,
            resume_url: session.resume_url.clone(),
        })
        .collect();
    match gateway_sessions::save_gateway_sessions(pool, application.get(), &rows).await {
        Ok(saved) => tracing::info!(saved, "gateway sessions saved for the next start"),
        Err(error) => tracing::warn!(%error, "could not save the gateway sessions"),
    }
}

/// Asks Discord which application the token belongs to and registers the slash commands,
/// globally or in `guild`. Returns the application id and how many commands were registered.
pub(crate) async fn register(
    http: &Client,
    guild: Option<u64>,
) -> anyhow::Result<(Id<ApplicationMarker>, usize)> {
    let application = application_id(http).await?;
    let guild = guild
        .map(|id| Id::new_checked(id).context("the guild id cannot be 0"))
        .transpose()?;
    let commands = kakusan_commands::register::register(http, application, guild)
        .await
        .context("registering the slash commands")?;
    Ok((application, commands.len()))
}

/// Asks Discord which application the token belongs to.
pub(crate) async fn application_id(http: &Client) -> anyhow::Result<Id<ApplicationMarker>> {
    Ok(http
        .current_user_application()
        .await
        .context("asking Discord for the application (is DISCORD_TOKEN right?)")?
        .model()
        .await
        .context("reading the application")?
        .id)
}

/// Hands the peers' answers to this process's waiting commands until shutdown.
pub(crate) async fn listen_for_answers(app: Arc<App>, shutdown: CancellationToken) {
    tokio::select! {
        () = app.listen_for_answers() => {}
        () = shutdown.cancelled() => {}
    }
}

/// How often seen envelope ids and old failed jobs are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(10 * 60);

/// How long a scaled-out worker remembers an interaction it took on.
const HANDLED_KEPT: Duration = Duration::from_secs(24 * 60 * 60);

/// How long a job that failed for good stays for members to see.
const FAILED_JOBS_KEPT: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Forgets seen envelope ids once the timestamp check alone rejects their envelopes, so the
/// replay table stays as small as one clock-skew window of traffic, and removes jobs that
/// failed for good more than a week ago, so a peer cannot fill the outbox for ever.
pub(crate) async fn prune_seen_envelopes(pool: PgPool, shutdown: CancellationToken) {
    loop {
        let cutoff = chrono::Utc::now() - MAX_CLOCK_SKEW * 2;
        match kakusan_storage::seen::prune_seen_envelopes(&pool, cutoff).await {
            Ok(removed) => tracing::debug!(removed, "pruned seen envelope ids"),
            Err(error) => tracing::warn!(%error, "could not prune seen envelope ids"),
        }
        match kakusan_storage::outbox::prune_failed(&pool, FAILED_JOBS_KEPT).await {
            Ok(removed) => tracing::debug!(removed, "pruned failed jobs"),
            Err(error) => tracing::warn!(%error, "could not prune failed jobs"),
        }
        // Redelivered interactions come within minutes; a day is plenty.
        match kakusan_storage::handled::prune_handled_interactions(&pool, HANDLED_KEPT).await {
            Ok(removed) => tracing::debug!(removed, "pruned handled interaction ids"),
            Err(error) => tracing::warn!(%error, "could not prune handled interaction ids"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(PRUNE_EVERY) => {}
        }
    }
}

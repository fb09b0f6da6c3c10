//! Shared set-up: a simulator with one guild, one channel, one member and one bot, and
//! twilight clients pointed at it.

use std::sync::Once;
use std::time::Duration;

use discord_sim::{AppCredentials, DiscordSim};
use twilight_gateway::{
    ConfigBuilder, Event, EventTypeFlags, Intents, Shard, ShardId, StreamExt as _,
};

/// Generous enough for a loaded two-core machine, short enough to fail fast.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// A simulator with a guild ("alpha"), a text channel, a member and one bot with `permissions`.
pub(crate) struct Fixture {
    pub(crate) sim: DiscordSim,
    pub(crate) app: AppCredentials,
    pub(crate) member: u64,
    pub(crate) guild: u64,
    pub(crate) channel: u64,
}

pub(crate) fn install_crypto() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

pub(crate) async fn fixture_with(permissions: u64) -> Fixture {
    install_crypto();
    let sim = DiscordSim::start_default().await.expect("simulator starts");
    let app = sim.create_application("kakusan");
    let member = sim.create_user("alice");
    let guild = sim.create_guild("alpha", member).unwrap();
    let channel = sim.create_channel(guild, "times-alice").unwrap();
    sim.add_bot(guild, app.id, permissions).unwrap();
    Fixture {
        sim,
        app,
        member,
        guild,
        channel,
    }
}

pub(crate) async fn fixture() -> Fixture {
    fixture_with(discord_sim::ADMINISTRATOR).await
}

pub(crate) fn http(sim: &DiscordSim, token: &str) -> twilight_http::Client {
    install_crypto();
    twilight_http::Client::builder()
        .token(token.to_owned())
        .proxy(sim.proxy_host(), true)
        .timeout(WAIT)
        .build()
}

pub(crate) fn shard(sim: &DiscordSim, token: &str, intents: Intents) -> Shard {
    install_crypto();
    let config = ConfigBuilder::new(token.to_owned(), intents)
        .proxy_url(sim.gateway_url())
        .build();
    Shard::with_config(ShardId::ONE, config)
}

/// Reads events until `pick` returns Some, failing after [`WAIT`].
pub(crate) async fn next_matching<T, Q: twilight_gateway::queue::Queue + Unpin>(
    shard: &mut Shard<Q>,
    mut pick: impl FnMut(&Event) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let event = tokio::time::timeout_at(deadline, shard.next_event(EventTypeFlags::all()))
            .await
            .expect("event before the deadline")
            .expect("shard stream open");
        match event {
            Ok(event) => {
                if let Some(value) = pick(&event) {
                    return value;
                }
            }
            Err(error) => panic!("shard error: {error:?}"),
        }
    }
}

/// Connects a shard and waits for READY.
pub(crate) async fn ready_shard(sim: &DiscordSim, token: &str, intents: Intents) -> Shard {
    let mut shard = shard(sim, token, intents);
    next_matching(&mut shard, |e| matches!(e, Event::Ready(_)).then_some(())).await;
    shard
}

/// The default intents a relay bot uses.
pub(crate) fn relay_intents() -> Intents {
    Intents::GUILDS | Intents::GUILD_MESSAGES | Intents::MESSAGE_CONTENT
}

/// A small HTTP client for hand-made requests on error paths.
pub(crate) fn raw() -> reqwest::Client {
    reqwest::Client::builder().timeout(WAIT).build().unwrap()
}

/// The HTTP status and Discord error code of a failed twilight request.
pub(crate) fn api_error(error: &twilight_http::Error) -> (u16, Option<u64>) {
    match error.kind() {
        twilight_http::error::ErrorType::Response { body, status, .. } => {
            let code = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v["code"].as_u64());
            (status.get(), code)
        }
        other => panic!("not a response error: {other:?}"),
    }
}

/// Registers `commands` (JSON) as guild commands through twilight.
pub(crate) async fn register(f: &Fixture, commands: serde_json::Value) {
    let client = http(&f.sim, &f.app.token);
    let commands: Vec<twilight_model::application::command::Command> =
        serde_json::from_value(commands).unwrap();
    client
        .interaction(twilight_model::id::Id::new(f.app.id))
        .set_guild_commands(twilight_model::id::Id::new(f.guild), &commands)
        .await
        .unwrap();
}

/// Waits for the next INTERACTION_CREATE.
pub(crate) async fn next_interaction(
    shard: &mut Shard,
) -> twilight_model::application::interaction::Interaction {
    next_matching(shard, |e| match e {
        Event::InteractionCreate(i) => Some(i.0.clone()),
        _ => None,
    })
    .await
}

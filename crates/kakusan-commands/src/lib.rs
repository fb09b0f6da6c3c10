//! kakusan's behaviour on Discord: the slash commands, buttons and autocomplete, the federation
//! flows run on envelopes read from bot-com channels, and mirror mode.
//!
//! The gateway crate hands every event to [`App::handle`]; the binary wires the two together.
//! This crate writes no SQL (storage does) and no wire JSON (the protocol crate does).
//!
//! Each handler type owns its state and holds the shared [`context`] (pool, Discord client,
//! configuration): `interaction::Interactions` routes commands and buttons to `admin::Admin`,
//! `times::TimesCommands`, `relay::Relays`, `forget::Forgets` (`/forget-me`), `pause::Pauses`
//! and `block::Blocks` (which also removes blocked relays as they arrive); `federation::Inbound`
//! and `federation::Outbound`
//! are the two directions of the protocol; `mirror::Mirror` is mirror mode. Handlers fail with
//! the one `error::HandlerError`.

mod admin;
mod answers;
mod app;
mod block;
pub mod component;
mod context;
mod error;
mod federation;
mod forget;
mod i18n;
mod interaction;
mod lines;
mod mirror;
pub mod model;
mod pause;
mod reasons;
pub mod register;
mod relay;
mod rotation;
pub mod schedule;
mod times;

pub use app::App;
pub use context::AppConfig;

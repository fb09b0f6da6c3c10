//! kakusan's behaviour on Discord: the slash commands, buttons and autocomplete, the federation
//! flows run on envelopes read from bot-com channels, and mirror mode.
//!
//! The gateway crate hands every event to [`App::handle`]; the binary wires the two together.
//! This crate writes no SQL (storage does) and no wire JSON (the relay crate does).

mod admin;
mod app;
pub mod component;
mod federation;
mod interaction;
pub mod model;
pub mod register;
mod relay;
pub mod schedule;
mod times;

pub use app::{App, AppConfig};

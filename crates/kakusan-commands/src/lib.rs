//! kakusan's slash commands, buttons and autocomplete, and the handlers of gateway events.

pub mod component;
pub mod model;
pub mod register;
pub mod schedule;

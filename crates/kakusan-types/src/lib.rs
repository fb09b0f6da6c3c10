//! The validated types every kakusan crate shares: federation server names, Discord ids,
//! webhook URLs and secret strings. Parse, don't validate: a value of these types is known to
//! be well-formed, so the storage crate returns rows already parsed and no caller parses a
//! stored value again.
//!
//! This crate sits below `kakusan-storage` and `kakusan-protocol` and depends on neither; it
//! knows no database, no wire format and no Discord client.

#![deny(missing_docs)]

mod name;
mod secret;
mod webhook;

pub use name::{NameError, ServerName, Snowflake, SnowflakeError};
pub use secret::SecretString;
pub use webhook::{WebhookPolicy, WebhookUrl, WebhookUrlError};

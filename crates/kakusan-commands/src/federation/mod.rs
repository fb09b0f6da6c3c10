//! The federation flows of SPEC §3, by direction: `inbound` (envelopes read from a bot-com
//! channel: received, verified, applied), `outbound` (envelopes built, signed and queued) and
//! `catch_up` (what arrived while kakusan was away), with `pings` joining the two directions
//! for `/ping`'s round trip.

mod catch_up;
mod inbound;
mod outbound;
mod pings;

pub(crate) use inbound::{Inbound, fingerprint, peer_card};
pub(crate) use outbound::{Outbound, PostFailure, card, registration};
pub(crate) use pings::Pings;

//! The federation flows of SPEC §3, by direction: `inbound` (envelopes read from a bot-com
//! channel: received, verified, applied), `outbound` (envelopes built, signed and queued) and
//! `catch_up` (what arrived while kakusan was away); `crate::answers` joins the two directions
//! for the commands that wait for a peer's answer.

mod catch_up;
mod inbound;
mod outbound;

pub(crate) use inbound::{Inbound, fingerprint, peer_card};
pub(crate) use outbound::{Outbound, PostFailure, card, registration};

//! The gateway loop against the Discord simulator: delivery, failing handlers, resuming after
//! op 7 and across runs, readiness, metrics and shutdown.

mod common;
mod delivery;
mod lifecycle;
mod recorder;

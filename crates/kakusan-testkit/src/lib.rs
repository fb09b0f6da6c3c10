//! Test support shared by kakusan's integration tests and benchmarks: a throw-away database
//! ([`TestDatabase`]) or a PostgreSQL cluster of a test's own ([`Cluster`]), the compiled
//! binary as a child process ([`process`]) and its HTTP endpoint ([`endpoint`]), one way to
//! wait for something to happen ([`eventually`]), the delivery engine's test world
//! ([`delivery`]), and two deployments peered against one simulated Discord ([`federation`]).
//!
//! This crate is only ever a dev-dependency. Cargo names the `kakusan` binary's path
//! (`CARGO_BIN_EXE_kakusan`) only to that package's own integration tests, so nothing here
//! knows it: the tests hand it in as a [`process::Binary`].

pub mod burst;
mod cluster;
mod database;
pub mod delivery;
pub mod endpoint;
mod eventually;
pub mod federation;
pub mod process;

pub use cluster::Cluster;
pub use database::TestDatabase;
pub use eventually::{Outcome, PATIENCE, eventually};

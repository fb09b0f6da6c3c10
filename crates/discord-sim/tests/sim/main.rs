//! Integration tests: real twilight 0.18 clients and hand-made requests against the simulator.

mod common;
mod gateway;
mod interactions;
mod rest;
mod webhooks;

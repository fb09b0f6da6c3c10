//! Integration tests: real twilight 0.18 clients and hand-made requests against the simulator.

mod common;
mod control_http;
mod errors;
mod gateway;
mod interactions;
mod multi;
mod ratelimits;
mod rest;
mod webhooks;

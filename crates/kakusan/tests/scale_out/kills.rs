//! Killing workers and gateways.

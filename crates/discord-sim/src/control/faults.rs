//! Making Discord misbehave on purpose: scripted faults on REST routes, rate limits, the
//! interaction deadline, and a webhook deleted behind the bot's back.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::gateway;
use crate::ratelimit::RateLimitConfig;
use crate::world::{FaultAction, FaultRule};

use super::SimHandle;

/// A fault on requests whose method and path match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    /// The HTTP method, or any when None.
    pub method: Option<String>,
    /// The path pattern, with or without `/api/v10`; `*` matches one segment, a final `**` any
    /// remainder. Example: `/webhooks/*/*`.
    pub path: String,
    /// What to do.
    pub action: FaultAction,
    /// How many requests to affect; None for every one.
    pub times: Option<u32>,
}

impl SimHandle {
    /// Adds a scripted fault.
    pub fn inject_fault(&self, fault: Fault) {
        self.with_world(|world| {
            world.faults.push(FaultRule {
                method: fault.method,
                path: fault.path,
                action: fault.action,
                remaining: fault.times,
            })
        });
    }

    /// Removes every scripted fault.
    pub fn clear_faults(&self) {
        self.with_world(|world| world.faults.clear());
    }

    /// Replaces the rate limits and resets every bucket.
    pub fn set_rate_limits(&self, limits: RateLimitConfig) {
        self.with_world(|world| {
            world.limits = limits;
            world.ratelimiter.clear();
        });
    }

    /// Changes the interaction response deadline (Discord: 3 s).
    pub fn set_interaction_deadline(&self, deadline: Duration) {
        self.with_world(|world| world.interaction_deadline = deadline);
    }

    /// Deletes a webhook behind the bot's back; later calls through it get 10015.
    pub fn delete_webhook(&self, webhook_id: u64) -> bool {
        self.with_world(|world| match world.webhooks.remove(&webhook_id) {
            Some(webhook) => {
                gateway::dispatch_webhooks_update(world, webhook.guild_id, webhook.channel_id);
                true
            }
            None => false,
        })
    }
}

//! The world behind its lock, shared by the HTTP handlers, the gateway connections and the
//! control handle.

use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;
use tokio::sync::futures::Notified;

use crate::world::World;

/// State shared by the HTTP handlers, the gateway connections and the handle.
#[derive(Debug)]
pub(crate) struct Shared {
    world: Mutex<World>,
    /// Woken whenever the world changes, so waiters poll without sleeping.
    changed: Notify,
}

impl Shared {
    pub(crate) fn new(world: World) -> Self {
        Self {
            world: Mutex::new(world),
            changed: Notify::new(),
        }
    }

    /// Locks the world; a poisoned lock is taken over, since a panicking handler leaves the
    /// model usable for the remaining assertions of a test.
    pub(crate) fn lock(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn notify(&self) {
        self.changed.notify_waiters();
    }

    /// A future that completes at the next [`Shared::notify`]; a waiter enables it before it
    /// checks the world, so a change made in between is not missed.
    pub(crate) fn changed(&self) -> Notified<'_> {
        self.changed.notified()
    }
}

//! A burst of numbered `/here`s, and what a test checks of its arrival: every relay the member
//! was told about arrives everywhere, in the order it was sent, with at most the one repeat a
//! `kill -9` between Discord's answer and the commit may cause.

use discord_sim::{DiscordSim, InteractionRef};

use crate::federation::{Federation, string};

/// The posts of one burst, told apart by their first word.
#[derive(Debug, Clone, Copy)]
pub struct Burst {
    prefix: &'static str,
}

impl Burst {
    /// A burst whose posts read `{prefix} 00`, `{prefix} 01`, ….
    pub const fn new(prefix: &'static str) -> Self {
        Burst { prefix }
    }

    /// The text of post `index`.
    pub fn text(&self, index: usize) -> String {
        format!("{} {index:02}", self.prefix)
    }

    /// Hanako sends posts `0..count` with `/here` in her times at alpha, all at once, without
    /// waiting for the answers.
    pub fn send(&self, federation: &Federation, count: usize) -> Vec<InteractionRef> {
        let alpha = &federation.alpha;
        (0..count)
            .map(|index| {
                alpha.start_command(
                    &federation.sim,
                    alpha.times,
                    federation.hanako,
                    "here",
                    vec![("message", string(&self.text(index)))],
                    false,
                )
            })
            .collect()
    }

    /// The burst's messages that webhooks posted in `channel`, in the order they were posted.
    pub fn posts(&self, sim: &DiscordSim, channel: u64) -> Vec<String> {
        let start = format!("{} ", self.prefix);
        sim.messages(channel)
            .into_iter()
            .filter(|m| !m.deleted && m.webhook_id.is_some() && m.interaction_metadata.is_none())
            .map(|m| m.content)
            .filter(|content| content.starts_with(&start))
            .collect()
    }

    /// Asserts that `posts` (seen at `place`) hold every `acknowledged` post, in order, with at
    /// most one repeat.
    pub fn check_arrivals(&self, place: &str, posts: &[String], acknowledged: &[usize]) {
        let mut unique = posts.to_vec();
        unique.dedup();
        let mut sorted = unique.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(
            unique, sorted,
            "{place}: out of order or repeated later: {posts:?}"
        );
        for &index in acknowledged {
            assert!(
                unique.contains(&self.text(index)),
                "{place}: acknowledged {} is missing: {posts:?}",
                self.text(index)
            );
        }
        assert!(
            posts.len() <= unique.len() + 1,
            "{place}: more than one repeat: {posts:?}"
        );
    }
}

/// The indexes of the `interactions` that were answered.
pub fn acknowledged(sim: &DiscordSim, interactions: &[InteractionRef]) -> Vec<usize> {
    (0..interactions.len())
        .filter(|&index| {
            sim.interaction(interactions[index].id)
                .is_some_and(|interaction| interaction.response.is_some())
        })
        .collect()
}

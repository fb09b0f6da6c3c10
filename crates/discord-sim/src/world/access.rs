//! Discord's permission computation ("Permissions: Permission Hierarchy") over the world's
//! guilds and channels: base permissions from roles, then `@everyone`, role and member
//! overwrites. The bits themselves are named in `crate::permissions`.

use crate::error::ApiError;
use crate::permissions::{ADMINISTRATOR, ALL, OVERWRITE_MEMBER, OVERWRITE_ROLE, VIEW_CHANNEL};

use super::{Channel, Guild, World};

impl Guild {
    /// Guild-level permissions of a user: owner and administrators get everything.
    pub(crate) fn base_permissions(&self, user_id: u64) -> u64 {
        if self.owner_id == user_id {
            return ALL;
        }
        let Some(member) = self.members.get(&user_id) else {
            return 0;
        };
        let mut perms = self
            .roles
            .iter()
            .find(|r| r.id == self.id)
            .map_or(0, |r| r.permissions);
        for role in &self.roles {
            if member.roles.contains(&role.id) {
                perms |= role.permissions;
            }
        }
        if perms & ADMINISTRATOR != 0 {
            ALL
        } else {
            perms
        }
    }

    /// Channel permissions: base permissions with `@everyone`, role and member overwrites
    /// applied in Discord's order. Threads take their parent's overwrites.
    pub(crate) fn permissions_in(
        &self,
        channel: &Channel,
        parent: Option<&Channel>,
        user_id: u64,
    ) -> u64 {
        let mut perms = self.base_permissions(user_id);
        if perms == ALL && (self.owner_id == user_id || perms & ADMINISTRATOR != 0) {
            return ALL;
        }
        let overwrites = match parent {
            Some(p) if channel.is_thread() => &p.overwrites,
            _ => &channel.overwrites,
        };
        let member_roles = self
            .members
            .get(&user_id)
            .map(|m| m.roles.clone())
            .unwrap_or_default();
        if let Some(o) = overwrites
            .iter()
            .find(|o| o.kind == OVERWRITE_ROLE && o.id == self.id)
        {
            perms = (perms & !o.deny) | o.allow;
        }
        let (mut allow, mut deny) = (0, 0);
        for o in overwrites
            .iter()
            .filter(|o| o.kind == OVERWRITE_ROLE && member_roles.contains(&o.id))
        {
            allow |= o.allow;
            deny |= o.deny;
        }
        perms = (perms & !deny) | allow;
        if let Some(o) = overwrites
            .iter()
            .find(|o| o.kind == OVERWRITE_MEMBER && o.id == user_id)
        {
            perms = (perms & !o.deny) | o.allow;
        }
        if perms & VIEW_CHANNEL == 0 {
            // Discord removes every other permission from a channel the user cannot see.
            return 0;
        }
        perms
    }
}

impl World {
    /// A user's permissions in a channel; 0 when they are not in its guild.
    pub(crate) fn channel_permissions(&self, channel_id: u64, user_id: u64) -> u64 {
        let Some(channel) = self.channels.get(&channel_id) else {
            return 0;
        };
        match channel.guild_id.and_then(|g| self.guilds.get(&g)) {
            Some(guild) => {
                let parent = channel.parent_id.and_then(|p| self.channels.get(&p));
                guild.permissions_in(channel, parent, user_id)
            }
            None if channel.recipients.contains(&user_id) => ALL,
            None => 0,
        }
    }

    /// Requires the bot to see the channel (50001 otherwise) and to hold `needed` (50013).
    pub(crate) fn require_channel_permissions(
        &self,
        channel_id: u64,
        user_id: u64,
        needed: u64,
    ) -> Result<u64, ApiError> {
        self.channel(channel_id)?;
        let perms = self.channel_permissions(channel_id, user_id);
        if perms & VIEW_CHANNEL == 0 {
            return Err(ApiError::missing_access());
        }
        if perms & needed != needed {
            return Err(ApiError::missing_permissions());
        }
        Ok(perms)
    }
}

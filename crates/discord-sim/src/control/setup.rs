//! Building and changing the world as Discord's users and server admins do: applications and
//! their bots, users, guilds, channels, threads, DMs, roles, overwrites, members, nicknames and
//! avatars, removing a bot and deleting a channel.

use serde::{Deserialize, Serialize};

use crate::error::SimError;
use crate::gateway;
use crate::messages;
use crate::permissions;
use crate::world::{
    App, CHANNEL_DM, CHANNEL_GUILD_FORUM, CHANNEL_GUILD_TEXT, CHANNEL_PRIVATE_THREAD,
    CHANNEL_PUBLIC_THREAD, Channel, Guild, Member, Overwrite, Role, User, now_rfc3339,
};

use super::SimHandle;

/// What a new application's creator needs: ids and the bot token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppCredentials {
    /// The application id.
    pub id: u64,
    /// The bot user's id.
    pub bot_user_id: u64,
    /// The bot token (without `Bot `).
    pub token: String,
}

impl SimHandle {
    /// Creates a bot application with the message-content intent enabled.
    pub fn create_application(&self, name: &str) -> AppCredentials {
        self.create_application_with(name, true)
    }

    /// Creates a bot application; `message_content` says whether its privileged
    /// message-content intent is enabled (identifying with it otherwise closes with 4014).
    pub fn create_application_with(&self, name: &str, message_content: bool) -> AppCredentials {
        self.with_world(|world| {
            let id = world.next_id();
            let bot_user_id = world.next_id();
            let owner_id = world.next_id();
            world.users.insert(
                owner_id,
                User {
                    id: owner_id,
                    username: format!("{name}-owner"),
                    global_name: None,
                    avatar: None,
                    bot: false,
                },
            );
            let token = bot_token(bot_user_id, &world.new_token(""));
            world.users.insert(
                bot_user_id,
                User {
                    id: bot_user_id,
                    username: name.to_owned(),
                    global_name: None,
                    avatar: None,
                    bot: true,
                },
            );
            world.apps.insert(
                id,
                App {
                    id,
                    name: name.to_owned(),
                    bot_user_id,
                    owner_id,
                    token: token.clone(),
                    message_content,
                },
            );
            AppCredentials {
                id,
                bot_user_id,
                token,
            }
        })
    }

    /// Creates a (human) user.
    pub fn create_user(&self, username: &str) -> u64 {
        self.with_world(|world| {
            let id = world.next_id();
            world.users.insert(
                id,
                User {
                    id,
                    username: username.to_owned(),
                    global_name: Some(username.to_owned()),
                    avatar: None,
                    bot: false,
                },
            );
            id
        })
    }

    /// Creates a guild owned by `owner` (who becomes a member) with an `@everyone` role that has
    /// Discord's default permissions.
    pub fn create_guild(&self, name: &str, owner: u64) -> Result<u64, SimError> {
        self.with_world(|world| {
            if !world.users.contains_key(&owner) {
                return Err(SimError::Unknown("user"));
            }
            let id = world.next_id();
            let mut guild = Guild {
                id,
                name: name.to_owned(),
                owner_id: owner,
                roles: vec![Role {
                    id,
                    name: "@everyone".to_owned(),
                    permissions: permissions::DEFAULT_EVERYONE,
                    position: 0,
                    bot_id: None,
                }],
                members: Default::default(),
                apps: Default::default(),
            };
            guild.members.insert(owner, new_member(owner, Vec::new()));
            world.guilds.insert(id, guild);
            Ok(id)
        })
    }

    /// Creates a text channel in a guild.
    pub fn create_channel(&self, guild_id: u64, name: &str) -> Result<u64, SimError> {
        self.add_channel(Some(guild_id), CHANNEL_GUILD_TEXT, name, None, Vec::new())
    }

    /// Creates a public thread under a text channel (or a post, without its first message,
    /// in a forum channel).
    pub fn create_thread(&self, parent_id: u64, name: &str) -> Result<u64, SimError> {
        self.add_thread(parent_id, CHANNEL_PUBLIC_THREAD, name)
    }

    /// Creates a private thread under a text channel. Thread membership is not simulated:
    /// whoever sees the parent sees the thread.
    pub fn create_private_thread(&self, parent_id: u64, name: &str) -> Result<u64, SimError> {
        self.add_thread(parent_id, CHANNEL_PRIVATE_THREAD, name)
    }

    /// Creates a forum channel in a guild: it takes posts (threads), and no messages itself.
    pub fn create_forum(&self, guild_id: u64, name: &str) -> Result<u64, SimError> {
        self.add_channel(Some(guild_id), CHANNEL_GUILD_FORUM, name, None, Vec::new())
    }

    /// Creates a post in a forum channel as a member: a public thread whose first message is
    /// the member's `content`, as Discord's client makes it.
    pub fn create_forum_post(
        &self,
        forum_id: u64,
        user_id: u64,
        name: &str,
        content: &str,
    ) -> Result<u64, SimError> {
        let kind = self.with_world(|w| w.channels.get(&forum_id).map(|c| c.kind));
        if kind != Some(CHANNEL_GUILD_FORUM) {
            return Err(SimError::Invalid(
                "a forum post needs a forum channel".into(),
            ));
        }
        let post = self.add_thread(forum_id, CHANNEL_PUBLIC_THREAD, name)?;
        self.post_message(post, user_id, super::MessageDraft::text(content))?;
        Ok(post)
    }

    /// Archives or reopens, locks or unlocks a thread (a moderator's or Discord's
    /// auto-archive's doing). No THREAD_UPDATE is sent.
    pub fn set_thread_state(
        &self,
        thread_id: u64,
        archived: bool,
        locked: bool,
    ) -> Result<(), SimError> {
        self.with_world(|world| {
            let thread = world
                .channels
                .get_mut(&thread_id)
                .filter(|c| c.is_thread())
                .ok_or(SimError::Unknown("thread"))?;
            thread.archived = archived;
            thread.locked = locked;
            Ok(())
        })
    }

    fn add_thread(&self, parent_id: u64, kind: u8, name: &str) -> Result<u64, SimError> {
        let parent = self
            .with_world(|w| w.channels.get(&parent_id).map(|c| (c.guild_id, c.kind)))
            .ok_or(SimError::Unknown("channel"))?;
        let (guild, parent_kind) = parent;
        let allowed = match kind {
            CHANNEL_PRIVATE_THREAD => parent_kind == CHANNEL_GUILD_TEXT,
            _ => matches!(parent_kind, CHANNEL_GUILD_TEXT | 5 | CHANNEL_GUILD_FORUM),
        };
        if !allowed {
            return Err(SimError::Invalid(
                "threads belong to text, announcement or forum channels".into(),
            ));
        }
        self.add_channel(guild, kind, name, Some(parent_id), Vec::new())
    }

    /// Creates a DM channel between a user and an application's bot.
    pub fn create_dm(&self, user_id: u64, application_id: u64) -> Result<u64, SimError> {
        let bot = self
            .with_world(|w| w.apps.get(&application_id).map(|a| a.bot_user_id))
            .ok_or(SimError::Unknown("application"))?;
        self.add_channel(None, CHANNEL_DM, "", None, vec![user_id, bot])
    }

    fn add_channel(
        &self,
        guild_id: Option<u64>,
        kind: u8,
        name: &str,
        parent_id: Option<u64>,
        recipients: Vec<u64>,
    ) -> Result<u64, SimError> {
        self.with_world(|world| {
            if let Some(guild) = guild_id
                && !world.guilds.contains_key(&guild)
            {
                return Err(SimError::Unknown("guild"));
            }
            let id = world.next_id();
            let position = world
                .channels
                .values()
                .filter(|c| c.guild_id == guild_id)
                .count() as i32;
            world.channels.insert(
                id,
                Channel {
                    id,
                    guild_id,
                    kind,
                    name: name.to_owned(),
                    parent_id,
                    position,
                    overwrites: Vec::new(),
                    recipients,
                    archived: false,
                    locked: false,
                },
            );
            gateway::dispatch_channel_create(world, id);
            Ok(id)
        })
    }

    /// Sets (or replaces) a permission overwrite on a channel.
    pub fn set_overwrite(&self, channel_id: u64, overwrite: Overwrite) -> Result<(), SimError> {
        self.with_world(|world| {
            let channel = world
                .channels
                .get_mut(&channel_id)
                .ok_or(SimError::Unknown("channel"))?;
            channel.overwrites.retain(|o| o.id != overwrite.id);
            channel.overwrites.push(overwrite);
            Ok(())
        })
    }

    /// Creates a role with the given permission bits.
    pub fn create_role(
        &self,
        guild_id: u64,
        name: &str,
        permissions: u64,
    ) -> Result<u64, SimError> {
        self.with_world(|world| {
            let id = world.next_id();
            let guild = world
                .guilds
                .get_mut(&guild_id)
                .ok_or(SimError::Unknown("guild"))?;
            let position = guild.roles.len() as i64;
            guild.roles.push(Role {
                id,
                name: name.to_owned(),
                permissions,
                position,
                bot_id: None,
            });
            Ok(id)
        })
    }

    /// Sets the `@everyone` permissions of a guild.
    pub fn set_everyone_permissions(
        &self,
        guild_id: u64,
        permissions: u64,
    ) -> Result<(), SimError> {
        self.with_world(|world| {
            let guild = world
                .guilds
                .get_mut(&guild_id)
                .ok_or(SimError::Unknown("guild"))?;
            if let Some(everyone) = guild.roles.iter_mut().find(|r| r.id == guild_id) {
                everyone.permissions = permissions;
            }
            Ok(())
        })
    }

    /// Adds a user to a guild with the given roles.
    pub fn add_member(&self, guild_id: u64, user_id: u64, roles: &[u64]) -> Result<(), SimError> {
        self.with_world(|world| {
            if !world.users.contains_key(&user_id) {
                return Err(SimError::Unknown("user"));
            }
            let guild = world
                .guilds
                .get_mut(&guild_id)
                .ok_or(SimError::Unknown("guild"))?;
            guild
                .members
                .insert(user_id, new_member(user_id, roles.to_vec()));
            Ok(())
        })
    }

    /// Creates a user and adds them to a guild with the given roles.
    pub fn create_member(
        &self,
        guild_id: u64,
        username: &str,
        roles: &[u64],
    ) -> Result<u64, SimError> {
        let user = self.create_user(username);
        self.add_member(guild_id, user, roles)?;
        Ok(user)
    }

    /// Adds an application's bot to a guild with a managed role holding `permissions`, as the
    /// OAuth2 bot flow does; connected sessions get GUILD_CREATE.
    pub fn add_bot(
        &self,
        guild_id: u64,
        application_id: u64,
        permissions: u64,
    ) -> Result<u64, SimError> {
        self.with_world(|world| {
            let app = world
                .apps
                .get(&application_id)
                .cloned()
                .ok_or(SimError::Unknown("application"))?;
            let role_id = world.next_id();
            let guild = world
                .guilds
                .get_mut(&guild_id)
                .ok_or(SimError::Unknown("guild"))?;
            let position = guild.roles.len() as i64;
            guild.roles.push(Role {
                id: role_id,
                name: app.name.clone(),
                permissions,
                position,
                bot_id: Some(app.bot_user_id),
            });
            guild
                .members
                .insert(app.bot_user_id, new_member(app.bot_user_id, vec![role_id]));
            guild.apps.insert(app.id);
            gateway::dispatch_guild_create(world, guild_id, app.id);
            Ok(role_id)
        })
    }

    /// Sets a member's guild nickname (None clears it).
    pub fn set_nick(
        &self,
        guild_id: u64,
        user_id: u64,
        nick: Option<&str>,
    ) -> Result<(), SimError> {
        self.with_world(|world| {
            let member = world
                .guilds
                .get_mut(&guild_id)
                .ok_or(SimError::Unknown("guild"))?
                .members
                .get_mut(&user_id)
                .ok_or(SimError::Unknown("member"))?;
            member.nick = nick.map(str::to_owned);
            Ok(())
        })
    }

    /// Sets the language of a user's Discord client (`ja`, `en-US`, …): the `locale` of their
    /// interactions from now on. Every user starts with `en-US`.
    pub fn set_user_locale(&self, user_id: u64, locale: &str) -> Result<(), SimError> {
        self.with_world(|world| {
            if !world.users.contains_key(&user_id) {
                return Err(SimError::Unknown("user"));
            }
            world.user_locales.insert(user_id, locale.to_owned());
            Ok(())
        })
    }

    /// Sets a guild's preferred locale, as its admin does in the server settings: interactions
    /// there carry it as `guild_locale`, and the apps in the guild get GUILD_UPDATE. Every
    /// guild starts with `en-US`.
    pub fn set_guild_locale(&self, guild_id: u64, locale: &str) -> Result<(), SimError> {
        self.with_world(|world| {
            if !world.guilds.contains_key(&guild_id) {
                return Err(SimError::Unknown("guild"));
            }
            world.guild_locales.insert(guild_id, locale.to_owned());
            gateway::dispatch_guild_update(world, guild_id);
            Ok(())
        })
    }

    /// Gives a user an avatar (a generated image hash) and returns the hash; the avatar URL
    /// is then `https://cdn.discordapp.com/avatars/{user}/{hash}.png`, as clients build it.
    pub fn set_avatar(&self, user_id: u64) -> Result<String, SimError> {
        self.with_world(|world| {
            let user = world
                .users
                .get_mut(&user_id)
                .ok_or(SimError::Unknown("user"))?;
            let hash = messages::image_hash(&format!("avatar-{user_id}"));
            user.avatar = Some(hash.clone());
            Ok(hash)
        })
    }

    /// Deletes a channel with its threads and webhooks, as Discord does; apps get
    /// CHANNEL_DELETE and later calls through those webhooks get 10015.
    pub fn delete_channel(&self, channel_id: u64) -> Result<(), SimError> {
        self.with_world(|world| {
            let channel = world
                .channels
                .remove(&channel_id)
                .ok_or(SimError::Unknown("channel"))?;
            let threads: Vec<u64> = world
                .channels
                .values()
                .filter(|c| c.is_thread() && c.parent_id == Some(channel_id))
                .map(|c| c.id)
                .collect();
            for thread in threads {
                if let Some(thread) = world.channels.remove(&thread) {
                    gateway::dispatch_channel_delete(world, &thread);
                }
            }
            world.webhooks.retain(|_, w| w.channel_id != channel_id);
            gateway::dispatch_channel_delete(world, &channel);
            Ok(())
        })
    }

    /// Removes an application's bot (and its managed role) from a guild; its sessions get
    /// GUILD_DELETE and its REST calls on the guild answer 50001 from then on.
    pub fn remove_bot(&self, guild_id: u64, application_id: u64) -> Result<(), SimError> {
        self.with_world(|world| {
            let app = world
                .apps
                .get(&application_id)
                .cloned()
                .ok_or(SimError::Unknown("application"))?;
            let guild = world
                .guilds
                .get_mut(&guild_id)
                .ok_or(SimError::Unknown("guild"))?;
            guild.members.remove(&app.bot_user_id);
            guild.roles.retain(|r| r.bot_id != Some(app.bot_user_id));
            guild.apps.remove(&app.id);
            gateway::dispatch_guild_delete(world, guild_id, app.id);
            Ok(())
        })
    }
}

/// A token shaped like Discord's: the bot user id in base64, a timestamp part and a secret.
/// Some libraries read the user id back out of the first part.
fn bot_token(bot_user_id: u64, secret: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = bot_user_id.to_string().into_bytes();
    let mut encoded = String::new();
    for chunk in input.chunks(3) {
        let bytes = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(bytes[0]) << 16) | (u32::from(bytes[1]) << 8) | u32::from(bytes[2]);
        for i in 0..=chunk.len() {
            encoded.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    format!("{encoded}.{}.{secret}", &secret[..6])
}

fn new_member(user_id: u64, roles: Vec<u64>) -> Member {
    Member {
        user_id,
        roles,
        nick: None,
        joined_at: now_rfc3339(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bot_tokens_start_with_the_base64_user_id() {
        // "123" in base64 is "MTIz", "1234" is "MTIzNA" without padding, as Discord writes it.
        assert!(bot_token(123, "abcdefghij").starts_with("MTIz.abcdef."));
        assert!(bot_token(1234, "abcdefghij").starts_with("MTIzNA."));
    }
}

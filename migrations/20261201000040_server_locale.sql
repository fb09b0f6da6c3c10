-- The guild's language, as Discord names it (its preferred_locale: `ja`, `en-US`, …), for the
-- sentences kakusan writes without an interaction to take a member's language from: bot-com
-- lines and notices in times channels. NULL until Discord told us (GUILD_CREATE, GUILD_UPDATE,
-- or an interaction's guild_locale); English is the fallback.
ALTER TABLE servers ADD COLUMN locale TEXT;

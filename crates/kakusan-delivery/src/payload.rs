//! What a relay job carries: the payloads stored in the outbox, and the webhook username rule.

use serde::{Deserialize, Serialize};

/// Discord's limit on a webhook username, in characters.
pub const USERNAME_MAX_CHARS: usize = 80;

/// A copy of a member's message to send through a destination's webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendPayload {
    /// The message text (at most 2,000 characters).
    pub content: String,
    /// The name the copy appears under; see [`webhook_username`].
    pub username: String,
    /// The member's avatar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
    /// Files of the original message, re-uploaded when small enough and linked otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<AttachmentLink>,
}

/// New text for a delivered copy. Its fields have the names of [`SendPayload`]'s, so an edit
/// that meets its send still queued merges into it field by field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditPayload {
    /// The new text.
    pub content: String,
}

/// A file of the member's message, where Discord's CDN serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentLink {
    /// The file name.
    pub filename: String,
    /// The CDN URL (which expires after a while: delivery downloads it).
    pub url: String,
    /// The size in bytes, as Discord reported it.
    pub size: u64,
}

/// A signed envelope to post through a peer's master webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopePayload {
    /// The envelope's wire text: the whole message content.
    pub content: String,
    /// The name the envelope is posted under (the sending server's).
    pub username: String,
}

/// The username a relayed message appears under: the member's display name and, in
/// parentheses, the name of the server it comes from, e.g. `Hanako (alpha)`.
///
/// Discord refuses webhook usernames that contain "discord" or "clyde" (in any case) and
/// names longer than 80 characters; it also forbids `@`, `#`, `:` and code fences in names.
/// So the words are broken with a hyphen (`Dis-cord`), those characters are replaced by their
/// full-width forms, and the display name is shortened (never the server's name) to fit. A
/// relay is therefore never refused for its name.
pub fn webhook_username(display_name: &str, server_name: &str) -> String {
    let server = clean(server_name);
    let suffix = format!(" ({server})");
    let mut name = clean(display_name.trim());
    if name.is_empty() {
        name = "member".to_owned();
    }
    let room = USERNAME_MAX_CHARS
        .saturating_sub(suffix.chars().count())
        .max(1);
    if name.chars().count() > room {
        name = name
            .chars()
            .take(room.saturating_sub(1))
            .collect::<String>()
            + "…";
    }
    // Cutting can never recreate a forbidden word: the hyphens stay in place.
    name + &suffix
}

/// Whether a webhook message's `username` names `server_name` as its origin, as
/// [`webhook_username`] writes it. Anyone holding the webhook can write any name: this tells
/// honest senders apart, it proves nothing.
pub fn username_names_server(username: &str, server_name: &str) -> bool {
    username.ends_with(&format!(" ({})", clean(server_name)))
}

/// Replaces what Discord refuses in a username.
fn clean(text: &str) -> String {
    let text: String = text
        .chars()
        .map(|c| match c {
            '@' => '＠',
            '#' => '＃',
            ':' => '：',
            '`' => '｀',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect();
    break_word(&break_word(&text, "discord", 3), "clyde", 2)
}

/// Puts a hyphen after the first `at` characters of every case-insensitive `word` in `text`.
fn break_word(text: &str, word: &str, at: usize) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len() + 4);
    let mut rest = 0;
    // ASCII lower-casing keeps byte offsets, so indices in `lower` are indices in `text`.
    for (index, _) in lower.match_indices(word) {
        out.push_str(&text[rest..index + at]);
        out.push('-');
        rest = index + at;
    }
    out.push_str(&text[rest..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_server_is_read_back_from_the_username() {
        let name = webhook_username("Taro (the admin)", "discord-jp");
        assert!(username_names_server(&name, "discord-jp"));
        assert!(!username_names_server(&name, "jp"));
        assert!(!username_names_server("Taro", "beta"));
    }

    #[test]
    fn name_and_server() {
        assert_eq!(webhook_username("Hanako", "alpha"), "Hanako (alpha)");
        assert_eq!(webhook_username("  ", "alpha"), "member (alpha)");
    }

    #[test]
    fn forbidden_words_are_broken_in_any_case() {
        let name = webhook_username("DiscordFan clyde CLYDE", "discord-jp");
        assert_eq!(name, "Dis-cordFan cl-yde CL-YDE (dis-cord-jp)");
        assert!(!name.to_lowercase().contains("discord"));
        assert!(!name.to_lowercase().contains("clyde"));
    }

    #[test]
    fn forbidden_characters_are_replaced() {
        assert_eq!(
            webhook_username("a@b#c:d```", "x1"),
            "a＠b＃c：d｀｀｀ (x1)"
        );
    }

    #[test]
    fn long_names_are_cut_keeping_the_server() {
        let server = "s".repeat(32);
        let name = webhook_username(&"長".repeat(200), &server);
        assert_eq!(name.chars().count(), USERNAME_MAX_CHARS);
        assert!(name.ends_with(&format!("… ({server})")));
    }

    #[test]
    fn edits_merge_into_sends_field_by_field() {
        let send = serde_json::to_value(SendPayload {
            content: "old".into(),
            username: "u (s)".into(),
            avatar_url: None,
            attachments: vec![],
        })
        .unwrap();
        let edit = serde_json::to_value(EditPayload {
            content: "new".into(),
        })
        .unwrap();
        let mut merged = send.as_object().unwrap().clone();
        merged.extend(edit.as_object().unwrap().clone());
        let merged: SendPayload = serde_json::from_value(merged.into()).unwrap();
        assert_eq!(merged.content, "new");
        assert_eq!(merged.username, "u (s)");
    }
}

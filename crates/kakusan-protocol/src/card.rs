//! Server cards: a server's public identity as one copy-pasteable token.
//!
//! ```text
//! kakusan1.<name>.<guild id>.<verify key>.<sealing key>.<webhook URL>.<checksum>
//! ```
//!
//! See `docs/protocol.md` for the byte-level definition.

use crate::encoding::{b64_decode, b64_encode};
use crate::keys::{KeyError, SealingKey, VerifyKey};
use crate::{NameError, ServerName, Snowflake, SnowflakeError};
use crate::{WebhookPolicy, WebhookUrl, WebhookUrlError};
use sha2::{Digest as _, Sha256};
use std::fmt;

/// The prefix every card starts with; the `1` is the card format version.
pub const CARD_PREFIX: &str = "kakusan1.";

/// The longest text [`Card::parse`] looks at; real cards are about 400 characters.
const MAX_CARD_LEN: usize = 1024;

/// Why a text is not a valid card. Each message is meant for the admin who pasted it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    /// The text is far longer than any card.
    #[error("this is not a kakusan card: it is {0} characters long, far more than a card")]
    TooLong(usize),
    /// The text does not start with `kakusan1.`.
    #[error("this is not a kakusan card: a card starts with \"kakusan1.\"")]
    WrongPrefix,
    /// The text has spaces or line breaks inside; cards are one unbroken token.
    #[error("the card contains spaces or line breaks; paste it as one unbroken piece of text")]
    Whitespace,
    /// The text does not have the six dot-separated fields after the prefix.
    #[error("the card has {0} parts instead of 6; it may have been copied incompletely")]
    FieldCount(usize),
    /// The checksum does not match the rest of the card.
    #[error("the card's checksum does not match; it was altered or copied incompletely")]
    Checksum,
    /// The server name field is not a valid server name.
    #[error("the card's server name is invalid: {0}")]
    Name(#[source] NameError),
    /// The guild id field is not a Discord id.
    #[error("the card's guild id is invalid: {0}")]
    GuildId(#[source] SnowflakeError),
    /// A field that must be base64url is not.
    #[error("the card's {0} is not valid unpadded base64url")]
    Base64(&'static str),
    /// The verify key is not a valid Ed25519 key.
    #[error("the card's signing key is not a valid Ed25519 key: {0}")]
    VerifyKey(#[source] KeyError),
    /// The sealing key is not a valid X25519 key.
    #[error("the card's sealing key is not a valid X25519 key: {0}")]
    SealingKey(#[source] KeyError),
    /// The webhook field does not decode to text.
    #[error("the card's webhook URL is not text")]
    WebhookNotText,
    /// The webhook URL is not a Discord webhook URL.
    #[error("the card's webhook URL is not a Discord webhook URL: {0}")]
    Webhook(#[source] WebhookUrlError),
}

impl CardError {
    /// A stable, lower-case label for the kind of defect, as used in the golden vectors.
    pub fn as_str(&self) -> &'static str {
        match self {
            CardError::TooLong(_) => "too_long",
            CardError::WrongPrefix => "wrong_prefix",
            CardError::Whitespace => "whitespace",
            CardError::FieldCount(_) => "field_count",
            CardError::Checksum => "checksum",
            CardError::Name(_) => "name",
            CardError::GuildId(_) => "guild_id",
            CardError::Base64(_) => "base64",
            CardError::VerifyKey(_) => "verify_key",
            CardError::SealingKey(_) => "sealing_key",
            CardError::WebhookNotText => "webhook_not_text",
            CardError::Webhook(_) => "webhook",
        }
    }
}

/// A server's public identity: name, guild, master webhook URL and public keys.
///
/// The card contains the master webhook URL, so its text is shared only between admins; `Debug`
/// hides the token.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Card {
    name: ServerName,
    guild_id: Snowflake,
    webhook: WebhookUrl,
    verify_key: VerifyKey,
    sealing_key: SealingKey,
}

impl Card {
    /// Assembles a card from validated parts.
    pub fn new(
        name: ServerName,
        guild_id: Snowflake,
        webhook: WebhookUrl,
        verify_key: VerifyKey,
        sealing_key: SealingKey,
    ) -> Self {
        Self {
            name,
            guild_id,
            webhook,
            verify_key,
            sealing_key,
        }
    }

    /// Parses and validates a card. Whitespace around the token is ignored.
    ///
    /// The checks run in the order `docs/protocol.md` gives, and the first failure is reported,
    /// so that every implementation names the same defect for the same text.
    pub fn parse(text: &str, policy: &WebhookPolicy) -> Result<Self, CardError> {
        // Pasting adds whitespace around a card, so only the token itself counts toward the limit.
        let text = text.trim();
        if text.len() > MAX_CARD_LEN {
            return Err(CardError::TooLong(text.len()));
        }
        let rest = text
            .strip_prefix(CARD_PREFIX)
            .ok_or(CardError::WrongPrefix)?;
        if text.chars().any(char::is_whitespace) {
            return Err(CardError::Whitespace);
        }
        let fields: Vec<&str> = rest.split('.').collect();
        let [name, guild, verify, sealing, webhook, checksum] = fields[..] else {
            return Err(CardError::FieldCount(fields.len()));
        };
        // The checksum covers everything before its own separating dot.
        let covered = &text[..text.len() - checksum.len() - 1];
        if checksum != card_checksum(covered) {
            return Err(CardError::Checksum);
        }
        let name = ServerName::parse(name).map_err(CardError::Name)?;
        let guild_id = Snowflake::parse(guild).map_err(CardError::GuildId)?;
        // All three binary fields are decoded before any is interpreted, so a base64 defect in
        // one is reported ahead of a bad key in another, as the documented order demands.
        let verify = b64_decode(verify).ok_or(CardError::Base64("signing key"))?;
        let sealing = b64_decode(sealing).ok_or(CardError::Base64("sealing key"))?;
        let webhook = b64_decode(webhook).ok_or(CardError::Base64("webhook URL"))?;
        let verify_key = key_bytes(verify)
            .and_then(VerifyKey::from_bytes)
            .map_err(CardError::VerifyKey)?;
        let sealing_key = key_bytes(sealing)
            .and_then(SealingKey::from_bytes)
            .map_err(CardError::SealingKey)?;
        let webhook = String::from_utf8(webhook).map_err(|_| CardError::WebhookNotText)?;
        let webhook = WebhookUrl::parse(&webhook, policy).map_err(CardError::Webhook)?;
        Ok(Self {
            name,
            guild_id,
            webhook,
            verify_key,
            sealing_key,
        })
    }

    /// The card as its token text. The text contains the webhook URL: treat it as a secret.
    pub fn encode(&self) -> String {
        let body = format!(
            "{CARD_PREFIX}{}.{}.{}.{}.{}",
            self.name,
            self.guild_id,
            self.verify_key.to_base64(),
            self.sealing_key.to_base64(),
            b64_encode(self.webhook.expose().as_bytes()),
        );
        let checksum = card_checksum(&body);
        format!("{body}.{checksum}")
    }

    /// The server's federation name.
    pub fn name(&self) -> &ServerName {
        &self.name
    }

    /// The Discord guild the server lives in.
    pub fn guild_id(&self) -> Snowflake {
        self.guild_id
    }

    /// The master webhook URL that envelopes for this server are posted to.
    pub fn webhook(&self) -> &WebhookUrl {
        &self.webhook
    }

    /// The key that verifies this server's envelopes.
    pub fn verify_key(&self) -> VerifyKey {
        self.verify_key
    }

    /// The key that secrets for this server are sealed to.
    pub fn sealing_key(&self) -> &SealingKey {
        &self.sealing_key
    }
}

/// Parses a card under Discord's own webhook hosts ([`WebhookPolicy::discord`]).
impl std::str::FromStr for Card {
    type Err = CardError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text, &WebhookPolicy::discord())
    }
}

/// Takes decoded key bytes that must be exactly 32 long; any other length is an encoding defect
/// of the key, not of the base64 text, which already decoded.
fn key_bytes(bytes: Vec<u8>) -> Result<[u8; 32], KeyError> {
    bytes.try_into().map_err(|_| KeyError::Encoding)
}

/// The first six bytes of SHA-256 over the covered text, as 8 characters of base64url.
///
/// It is a typo and truncation check, not a signature: whoever can edit a card can recompute it.
fn card_checksum(covered: &str) -> String {
    let digest = Sha256::digest(covered.as_bytes());
    b64_encode(&digest[..6])
}

/// A short, safe description for logs and approval requests: name, guild and key fingerprint,
/// never the webhook token.
impl fmt::Display for Card {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = self.verify_key.to_base64();
        write!(
            f,
            "{} (guild {}, key {}…)",
            self.name,
            self.guild_id,
            &key[..8]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{SealingSecret, SigningSecret};

    fn sample() -> Card {
        Card::new(
            ServerName::parse("tokyo-dev").unwrap(),
            Snowflake::new(1_100_000_000_000_000_001).unwrap(),
            WebhookUrl::parse(
                "https://discord.com/api/webhooks/1100000000000000002/tok_EN-1",
                &WebhookPolicy::discord(),
            )
            .unwrap(),
            SigningSecret::from_seed([1; 32]).verify_key(),
            SealingSecret::from_bytes([2; 32]).sealing_key(),
        )
    }

    /// Rebuilds a card text from raw fields with a correct checksum, to reach the later checks.
    fn with_fields(fields: [&str; 5]) -> String {
        let body = format!("{CARD_PREFIX}{}", fields.join("."));
        let checksum = card_checksum(&body);
        format!("{body}.{checksum}")
    }

    #[test]
    fn cards_round_trip() {
        let card = sample();
        let text = card.encode();
        assert!(text.starts_with("kakusan1.tokyo-dev.1100000000000000001."));
        assert!(!text.chars().any(char::is_whitespace));
        assert_eq!(Card::parse(&text, &WebhookPolicy::discord()).unwrap(), card);
        let padded = format!("  {text}\n");
        assert_eq!(
            Card::parse(&padded, &WebhookPolicy::discord()).unwrap(),
            card
        );
        // The length limit applies to the token, not to the whitespace pasted around it.
        let far = format!("{}{text}\n", " ".repeat(MAX_CARD_LEN));
        assert_eq!(Card::parse(&far, &WebhookPolicy::discord()).unwrap(), card);
        let long = format!("{text}{}", "A".repeat(MAX_CARD_LEN + 1 - text.len()));
        assert_eq!(
            Card::parse(&long, &WebhookPolicy::discord()),
            Err(CardError::TooLong(MAX_CARD_LEN + 1))
        );
    }

    #[test]
    fn each_defect_has_its_own_error() {
        let policy = WebhookPolicy::discord();
        let card = sample();
        let text = card.encode();
        let verify = card.verify_key().to_base64();
        let sealing = card.sealing_key().to_base64();
        let hook = b64_encode(card.webhook().expose().as_bytes());
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let weak = b64_encode(&identity);

        assert_eq!(
            Card::parse("kakusan2.x", &policy),
            Err(CardError::WrongPrefix)
        );
        assert_eq!(
            Card::parse(&text[..text.len() - 1], &policy),
            Err(CardError::Checksum)
        );
        let broken = text.replacen("tokyo", "tokyp", 1);
        assert_eq!(Card::parse(&broken, &policy), Err(CardError::Checksum));
        let spaced = text.replacen(".", ". ", 2);
        assert_eq!(Card::parse(&spaced, &policy), Err(CardError::Whitespace));
        assert_eq!(
            Card::parse("kakusan1.a.b", &policy),
            Err(CardError::FieldCount(2))
        );

        let cases = [
            (["Tokyo", "1", &verify, &sealing, &hook], "Name"),
            (["tokyo", "0", &verify, &sealing, &hook], "GuildId"),
            (["tokyo", "1", "***", &sealing, &hook], "Base64"),
            (["tokyo", "1", "AAAA", &sealing, &hook], "VerifyKey"),
            (
                ["tokyo", "1", &verify, &b64_encode(&[0; 32]), &hook],
                "SealingKey",
            ),
            (["tokyo", "1", &verify, &sealing, "%%"], "Base64"),
            // Every field is decoded before any key is checked, so base64 wins over a weak key.
            (["tokyo", "1", &weak, &sealing, "%%"], "Base64"),
            (
                ["tokyo", "1", &verify, &sealing, &b64_encode(&[0xff, 0xfe])],
                "WebhookNotText",
            ),
            (
                [
                    "tokyo",
                    "1",
                    &verify,
                    &sealing,
                    &b64_encode(b"https://example.com/api/webhooks/1/t"),
                ],
                "Webhook",
            ),
        ];
        for (fields, expected) in cases {
            let error = Card::parse(&with_fields(fields), &policy).unwrap_err();
            let debug = format!("{error:?}");
            assert!(
                debug.starts_with(expected),
                "{fields:?}: got {debug}, wanted {expected}"
            );
            assert!(!error.to_string().is_empty());
        }
    }

    #[test]
    fn display_and_debug_hide_the_webhook_token() {
        let card = sample();
        assert!(!format!("{card}").contains("tok_EN-1"));
        assert!(!format!("{card:?}").contains("tok_EN-1"));
    }
}

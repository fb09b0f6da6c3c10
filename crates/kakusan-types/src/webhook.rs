//! Discord webhook URLs as a secret type, and the policy of which API bases are accepted.

use crate::name::Snowflake;
use crate::secret::SecretString;
use std::fmt;
use zeroize::Zeroize;

/// Why a text is not an acceptable webhook URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookUrlError {
    /// The URL is longer than [`WebhookUrl::MAX_LEN`] bytes.
    #[error("the webhook URL is too long ({0} bytes; at most 512 are accepted)")]
    TooLong(usize),
    /// The URL does not start with one of the accepted API bases.
    #[error(
        "the webhook URL does not start with an accepted Discord address (such as https://discord.com)"
    )]
    WrongBase,
    /// The path is not `/api/webhooks/` or `/api/v{N}/webhooks/`.
    #[error("the webhook URL does not have the path /api/webhooks/{{id}}/{{token}}")]
    NotAWebhookPath,
    /// The webhook id is not a Discord id.
    #[error("the webhook id in the URL is not a Discord id")]
    BadId,
    /// The token is empty, too long, or has characters other than `A-Z a-z 0-9 - _`, or
    /// something follows it.
    #[error("the webhook token in the URL is missing or malformed")]
    BadToken,
}

/// Discord's canonical API base, the one webhook URLs are written with in cards and envelopes.
const DISCORD_BASE: &str = "https://discord.com";

/// Which API bases (scheme, host and optional port) a webhook URL may start with.
///
/// Production accepts Discord's hosts; end-to-end tests point it at a local simulator such as
/// `http://127.0.0.1:8080`, which is why the set is configurable rather than a constant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookPolicy {
    bases: Vec<String>,
}

impl WebhookPolicy {
    /// The hosts Discord serves webhooks from: `discord.com`, `discordapp.com` and their
    /// `ptb.` and `canary.` forms, all over HTTPS.
    pub fn discord() -> Self {
        let bases = [
            DISCORD_BASE,
            "https://ptb.discord.com",
            "https://canary.discord.com",
            "https://discordapp.com",
            "https://ptb.discordapp.com",
            "https://canary.discordapp.com",
        ];
        Self::with_bases(bases)
    }

    /// Accepts exactly the given bases, such as `http://127.0.0.1:8080`. A trailing `/` is
    /// ignored.
    pub fn with_bases<I, S>(bases: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let bases = bases
            .into_iter()
            .map(|base| base.as_ref().trim_end_matches('/').to_owned())
            .collect();
        Self { bases }
    }

    /// The accepted bases.
    pub fn bases(&self) -> &[String] {
        &self.bases
    }
}

impl Default for WebhookPolicy {
    fn default() -> Self {
        Self::discord()
    }
}

/// A webhook URL: `{base}/api[/v{N}]/webhooks/{id}/{token}`. What a call needs of it is the
/// id and the token: each deployment calls a webhook through its own API base.
///
/// Whoever holds it can post as the webhook, so it is a secret: `Debug` shows the id only, and
/// the text is wiped from memory when dropped. The original spelling is kept so that a card
/// round-trips byte for byte.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    text: String,
    id: Snowflake,
}

impl WebhookUrl {
    /// The longest accepted URL in bytes.
    pub const MAX_LEN: usize = 512;

    /// The form in which webhooks cross between deployments: Discord's own,
    /// `https://discord.com/api/webhooks/{id}/{token}`, whatever API base (a proxy, a test
    /// server) the sender reaches Discord through. The receiver calls it through its own base;
    /// only the id and the token matter.
    pub fn discord(id: Snowflake, token: &str) -> Result<Self, WebhookUrlError> {
        Self::parse(
            &format!("{DISCORD_BASE}/api/webhooks/{id}/{token}"),
            &WebhookPolicy::discord(),
        )
    }

    /// Parses a webhook URL whose base is one of `policy`'s.
    pub fn parse(text: &str, policy: &WebhookPolicy) -> Result<Self, WebhookUrlError> {
        if text.len() > Self::MAX_LEN {
            return Err(WebhookUrlError::TooLong(text.len()));
        }
        // The base must be followed by a '/', so `https://discord.com.evil` is not accepted.
        let rest = policy
            .bases
            .iter()
            .find_map(|base| {
                text.strip_prefix(base.as_str())
                    .filter(|rest| rest.starts_with('/'))
            })
            .ok_or(WebhookUrlError::WrongBase)?;
        let rest = rest
            .strip_prefix("/api/")
            .ok_or(WebhookUrlError::NotAWebhookPath)?;
        let rest = strip_version(rest);
        let rest = rest
            .strip_prefix("webhooks/")
            .ok_or(WebhookUrlError::NotAWebhookPath)?;
        let (id, token) = rest.split_once('/').ok_or(WebhookUrlError::BadToken)?;
        let id = Snowflake::parse(id).map_err(|_| WebhookUrlError::BadId)?;
        let token_ok = (1..=128).contains(&token.len())
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !token_ok {
            return Err(WebhookUrlError::BadToken);
        }
        Ok(Self {
            text: text.to_owned(),
            id,
        })
    }

    /// The webhook's id, which is not secret.
    pub fn id(&self) -> Snowflake {
        self.id
    }

    /// The webhook's token, for the call that executes it. Handle it as the secret it is.
    pub fn token(&self) -> &str {
        // A parsed URL always ends with `/{id}/{token}`, and the token has no '/'.
        self.text.rsplit('/').next().unwrap_or_default()
    }

    /// The full URL including the token. Only pass it to an HTTP client, to sealing or to
    /// storage.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// The URL as a secret string, for storing it.
    pub fn to_secret(&self) -> SecretString {
        SecretString::new(self.text.as_str())
    }
}

/// Parses a stored URL under Discord's policy (the only one peers' URLs are accepted under).
impl TryFrom<String> for WebhookUrl {
    type Error = WebhookUrlError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        WebhookUrl::parse(&text, &WebhookPolicy::discord())
    }
}

impl WebhookUrl {}

/// Removes an optional `v{digits}/` API version segment.
fn strip_version(rest: &str) -> &str {
    let Some(after_v) = rest.strip_prefix('v') else {
        return rest;
    };
    let digits = after_v.bytes().take_while(u8::is_ascii_digit).count();
    if (1..=2).contains(&digits)
        && let Some(after) = after_v[digits..].strip_prefix('/')
    {
        return after;
    }
    rest
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookUrl(id {}, token <redacted>)", self.id)
    }
}

impl Drop for WebhookUrl {
    fn drop(&mut self) {
        self.text.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "AbC-def_123";

    #[test]
    fn discord_forms_are_accepted() {
        let policy = WebhookPolicy::discord();
        for base in [
            "https://discord.com/api",
            "https://discordapp.com/api",
            "https://ptb.discord.com/api",
            "https://canary.discord.com/api/v10",
            "https://discord.com/api/v9",
        ] {
            let text = format!("{base}/webhooks/123456789012345678/{TOKEN}");
            let url = WebhookUrl::parse(&text, &policy).unwrap();
            assert_eq!(url.id().get(), 123_456_789_012_345_678);
            assert_eq!(url.token(), TOKEN);
            assert_eq!(url.expose(), text);
        }
    }

    #[test]
    fn each_defect_has_its_own_error() {
        let policy = WebhookPolicy::discord();
        let cases = [
            (
                "http://discord.com/api/webhooks/1/t",
                WebhookUrlError::WrongBase,
            ),
            (
                "https://discord.com.evil.example/api/webhooks/1/t",
                WebhookUrlError::WrongBase,
            ),
            (
                "https://example.com/api/webhooks/1/t",
                WebhookUrlError::WrongBase,
            ),
            (
                "https://discord.com/api/channels/1/t",
                WebhookUrlError::NotAWebhookPath,
            ),
            (
                "https://discord.com/api/v100/webhooks/1/t",
                WebhookUrlError::NotAWebhookPath,
            ),
            (
                "https://discord.com/api/webhooks/0/t",
                WebhookUrlError::BadId,
            ),
            (
                "https://discord.com/api/webhooks/x/t",
                WebhookUrlError::BadId,
            ),
            (
                "https://discord.com/api/webhooks/1",
                WebhookUrlError::BadToken,
            ),
            (
                "https://discord.com/api/webhooks/1/",
                WebhookUrlError::BadToken,
            ),
            (
                "https://discord.com/api/webhooks/1/t?wait=true",
                WebhookUrlError::BadToken,
            ),
            (
                "https://discord.com/api/webhooks/1/t/slack",
                WebhookUrlError::BadToken,
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(WebhookUrl::parse(text, &policy), Err(expected), "{text}");
        }
        let long = format!("https://discord.com/api/webhooks/1/{}", "t".repeat(600));
        assert!(matches!(
            WebhookUrl::parse(&long, &policy),
            Err(WebhookUrlError::TooLong(_))
        ));
    }

    #[test]
    fn a_simulator_base_can_be_configured() {
        let policy = WebhookPolicy::with_bases(["http://127.0.0.1:8080/"]);
        let text = "http://127.0.0.1:8080/api/v10/webhooks/42/tok";
        assert!(WebhookUrl::parse(text, &policy).is_ok());
        let discord = format!("https://discord.com/api/webhooks/42/{TOKEN}");
        assert_eq!(
            WebhookUrl::parse(&discord, &policy),
            Err(WebhookUrlError::WrongBase)
        );
        assert_eq!(
            WebhookUrl::parse(text, &WebhookPolicy::discord()),
            Err(WebhookUrlError::WrongBase)
        );
    }

    #[test]
    fn the_canonical_form_is_discords_whatever_the_api_base() {
        let id = Snowflake::new(42).unwrap();
        let url = WebhookUrl::discord(id, TOKEN).unwrap();
        assert_eq!(
            url.expose(),
            format!("https://discord.com/api/webhooks/42/{TOKEN}")
        );
        assert_eq!(url.id(), id);
        assert_eq!(
            WebhookUrl::discord(id, "not a token"),
            Err(WebhookUrlError::BadToken)
        );
    }

    #[test]
    fn debug_hides_the_token() {
        let url = WebhookUrl::parse(
            &format!("https://discord.com/api/webhooks/42/{TOKEN}"),
            &WebhookPolicy::discord(),
        )
        .unwrap();
        let printed = format!("{url:?}");
        assert!(!printed.contains(TOKEN));
        assert!(printed.contains("42"));
    }
}

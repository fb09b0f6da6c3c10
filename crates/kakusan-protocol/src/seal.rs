//! Sealed secrets: data encrypted to a recipient's X25519 key with libsodium's sealed box
//! construction, so that only the recipient can read it.
//!
//! Webhook URLs travel inside envelopes that are posted into a visible bot-com channel; sealing
//! them means that channel never shows a usable webhook token.

use crate::encoding::{b64_decode, b64_encode};
use crate::keys::{SealingKey, SealingSecret};
use crate::{WebhookPolicy, WebhookUrl, WebhookUrlError};
use rand_core::CryptoRngCore;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use zeroize::Zeroizing;

/// Why a secret could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The text is not unpadded base64url, or is shorter than a sealed box can be.
    #[error("the sealed secret is not valid unpadded base64url of at least 48 bytes")]
    Encoding,
    /// The plaintext is larger than [`SealedSecret::MAX_PLAINTEXT`].
    #[error("the secret is too large to seal")]
    TooLarge,
    /// Encryption failed inside the cipher.
    #[error("sealing failed")]
    Seal,
    /// The box was sealed to another key, or altered.
    #[error(
        "the sealed secret cannot be opened with this server's key (sealed to someone else, or altered)"
    )]
    Open,
    /// The box opened, but the content is not text.
    #[error("the sealed secret does not contain text")]
    NotText,
    /// The box opened, but the content is not an acceptable webhook URL.
    #[error("the sealed webhook URL is not acceptable: {0}")]
    Webhook(#[from] WebhookUrlError),
}

/// Ciphertext sealed to one recipient: `ephemeral public key (32) || XSalsa20-Poly1305 box`.
///
/// The text form is unpadded base64url.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret(Vec<u8>);

impl SealedSecret {
    /// Bytes a sealed box adds to its plaintext: the ephemeral public key and the tag.
    pub const OVERHEAD: usize = 32 + 16;
    /// The largest plaintext this crate seals or accepts; secrets are webhook URLs and cards.
    pub const MAX_PLAINTEXT: usize = 1024;

    /// Seals `plaintext` to `recipient`, with randomness from `rng` for the ephemeral key.
    pub fn seal(
        recipient: &SealingKey,
        plaintext: &[u8],
        rng: &mut impl CryptoRngCore,
    ) -> Result<Self, SealError> {
        if plaintext.len() > Self::MAX_PLAINTEXT {
            return Err(SealError::TooLarge);
        }
        recipient
            .inner()
            .seal(rng, plaintext)
            .map(Self)
            .map_err(|_| SealError::Seal)
    }

    /// Seals a webhook URL to `recipient`.
    pub fn seal_webhook(
        recipient: &SealingKey,
        url: &WebhookUrl,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Self, SealError> {
        Self::seal(recipient, url.expose().as_bytes(), rng)
    }

    /// Opens the box with the recipient's secret key.
    pub fn open(&self, secret: &SealingSecret) -> Result<Zeroizing<Vec<u8>>, SealError> {
        secret
            .inner()
            .unseal(&self.0)
            .map(Zeroizing::new)
            .map_err(|_| SealError::Open)
    }

    /// Opens the box and parses its content as a webhook URL under `policy`.
    pub fn open_webhook(
        &self,
        secret: &SealingSecret,
        policy: &WebhookPolicy,
    ) -> Result<WebhookUrl, SealError> {
        let plain = self.open(secret)?;
        let text = std::str::from_utf8(&plain).map_err(|_| SealError::NotText)?;
        Ok(WebhookUrl::parse(text, policy)?)
    }

    /// Parses the unpadded base64url text form.
    pub fn parse(text: &str) -> Result<Self, SealError> {
        let bytes = b64_decode(text).ok_or(SealError::Encoding)?;
        if bytes.len() < Self::OVERHEAD || bytes.len() > Self::OVERHEAD + Self::MAX_PLAINTEXT {
            return Err(SealError::Encoding);
        }
        Ok(Self(bytes))
    }

    /// The unpadded base64url text form.
    pub fn to_base64(&self) -> String {
        b64_encode(&self.0)
    }

    /// The raw ciphertext bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedSecret({} bytes)", self.0.len())
    }
}

impl Serialize for SealedSecret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_base64())
    }
}

impl<'de> Deserialize<'de> for SealedSecret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::OsRng;

    #[test]
    fn only_the_recipient_can_open() {
        let recipient = SealingSecret::from_bytes([3; 32]);
        let other = SealingSecret::from_bytes([4; 32]);
        let sealed = SealedSecret::seal(&recipient.sealing_key(), b"hello", &mut OsRng).unwrap();
        assert_eq!(sealed.as_bytes().len(), 5 + SealedSecret::OVERHEAD);
        assert_eq!(sealed.open(&recipient).unwrap().as_slice(), b"hello");
        assert_eq!(sealed.open(&other), Err(SealError::Open));
    }

    #[test]
    fn altered_ciphertext_does_not_open() {
        let recipient = SealingSecret::from_bytes([3; 32]);
        let sealed = SealedSecret::seal(&recipient.sealing_key(), b"hello", &mut OsRng).unwrap();
        for index in 0..sealed.as_bytes().len() {
            let mut bytes = sealed.as_bytes().to_vec();
            bytes[index] ^= 0x01;
            assert_eq!(SealedSecret(bytes).open(&recipient), Err(SealError::Open));
        }
    }

    #[test]
    fn webhook_urls_round_trip_and_are_checked_after_opening() {
        let recipient = SealingSecret::from_bytes([5; 32]);
        let policy = WebhookPolicy::discord();
        let url = WebhookUrl::parse("https://discord.com/api/webhooks/9/tok", &policy).unwrap();
        let sealed =
            SealedSecret::seal_webhook(&recipient.sealing_key(), &url, &mut OsRng).unwrap();
        let text = sealed.to_base64();
        assert!(!text.contains("tok"));
        let parsed = SealedSecret::parse(&text).unwrap();
        assert_eq!(parsed.open_webhook(&recipient, &policy).unwrap(), url);
        let sim = WebhookPolicy::with_bases(["http://127.0.0.1:1"]);
        assert_eq!(
            parsed.open_webhook(&recipient, &sim),
            Err(SealError::Webhook(WebhookUrlError::WrongBase))
        );
    }
}

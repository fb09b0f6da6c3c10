//! A server's key pairs: Ed25519 for signing envelopes and X25519 for receiving sealed secrets.
//!
//! Secret halves never print: their `Debug` shows only the public half, so a stray `{:?}` in a
//! log line cannot leak them.

use crate::encoding::{b64_decode_array, b64_encode};
use ed25519_dalek::Signer as _;
use rand_core::CryptoRngCore;
use std::fmt;
use zeroize::Zeroizing;

/// Why bytes or text are not a usable key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The text is not 43 characters of unpadded base64url encoding 32 bytes.
    #[error("a key must be 32 bytes written as 43 characters of unpadded base64url")]
    Encoding,
    /// The bytes are not the canonical encoding of an Ed25519 public key, or are a weak
    /// (small-order) one.
    #[error("the bytes are not a valid Ed25519 verify key")]
    BadVerifyKey,
    /// The X25519 key is all zeros, which would make every sealed box readable.
    #[error("the X25519 sealing key is all zeros")]
    ZeroSealingKey,
    /// The X25519 key is not the canonical encoding of a curve coordinate: the number is at
    /// least 2^255 − 19, or the top bit is set.
    #[error(
        "the X25519 sealing key is not in canonical form (it must be a number below 2^255 - 19)"
    )]
    NonCanonicalSealingKey,
}

/// An Ed25519 private key that signs this server's envelopes.
#[derive(Clone)]
pub struct SigningSecret(ed25519_dalek::SigningKey);

impl SigningSecret {
    /// Builds the key from its 32-byte seed (RFC 8032 private key).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// Parses the seed from unpadded base64url, the form used for storage.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let seed = Zeroizing::new(b64_decode_array::<32>(text).ok_or(KeyError::Encoding)?);
        Ok(Self::from_seed(*seed))
    }

    /// Draws a fresh key from a cryptographic random number generator.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(seed.as_mut());
        Self::from_seed(*seed)
    }

    /// The seed as unpadded base64url, for storage. Handle the result as a secret.
    pub fn expose_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(b64_encode(self.0.as_bytes()))
    }

    /// The matching public key.
    pub fn verify_key(&self) -> VerifyKey {
        VerifyKey(self.0.verifying_key())
    }

    /// Signs `message` and returns the 64-byte signature.
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SigningSecret(<redacted>, verify key {})",
            self.verify_key()
        )
    }
}

/// An Ed25519 public key that verifies a server's envelopes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct VerifyKey(ed25519_dalek::VerifyingKey);

impl VerifyKey {
    /// Accepts 32 bytes that are the canonical encoding of a valid, non-weak Ed25519 point.
    pub fn from_bytes(bytes: [u8; 32]) -> Result<Self, KeyError> {
        let key =
            ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::BadVerifyKey)?;
        // Decompression reduces y modulo p and ignores a sign bit on x = 0, so a second spelling
        // of a point decodes too. RFC 8032 and libsodium refuse those spellings; refusing them
        // here keeps every implementation in agreement about which cards are valid.
        if key.to_edwards().compress().to_bytes() != bytes {
            return Err(KeyError::BadVerifyKey);
        }
        // A small-order key would let anyone produce signatures that verify for it.
        if key.is_weak() {
            return Err(KeyError::BadVerifyKey);
        }
        Ok(Self(key))
    }

    /// Parses the key from unpadded base64url.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        Self::from_bytes(b64_decode_array::<32>(text).ok_or(KeyError::Encoding)?)
    }

    /// The 32 key bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The key as unpadded base64url.
    pub fn to_base64(&self) -> String {
        b64_encode(self.0.as_bytes())
    }

    /// Checks an Ed25519 signature with the strict rules (canonical `S`, no small-order `R`).
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        let signature = ed25519_dalek::Signature::from_bytes(signature);
        self.0.verify_strict(message, &signature).is_ok()
    }
}

impl fmt::Display for VerifyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifyKey({})", self.to_base64())
    }
}

/// An X25519 private key that opens secrets sealed to this server.
#[derive(Clone)]
pub struct SealingSecret(crypto_box::SecretKey);

impl SealingSecret {
    /// Builds the key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(crypto_box::SecretKey::from(bytes))
    }

    /// Parses the key from unpadded base64url, the form used for storage.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let bytes = Zeroizing::new(b64_decode_array::<32>(text).ok_or(KeyError::Encoding)?);
        Ok(Self::from_bytes(*bytes))
    }

    /// Draws a fresh key from a cryptographic random number generator.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(bytes.as_mut());
        Self::from_bytes(*bytes)
    }

    /// The key as unpadded base64url, for storage. Handle the result as a secret.
    pub fn expose_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(b64_encode(&self.0.to_bytes()))
    }

    /// The matching public key.
    pub fn sealing_key(&self) -> SealingKey {
        SealingKey(self.0.public_key())
    }

    pub(crate) fn inner(&self) -> &crypto_box::SecretKey {
        &self.0
    }
}

impl fmt::Debug for SealingSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SealingSecret(<redacted>, sealing key {})",
            self.sealing_key()
        )
    }
}

/// An X25519 public key that others seal secrets to.
#[derive(Clone, PartialEq, Eq)]
pub struct SealingKey(crypto_box::PublicKey);

impl SealingKey {
    /// Accepts the canonical encoding of any curve coordinate except zero: 32 bytes holding a
    /// little-endian number below 2^255 − 19.
    pub fn from_bytes(bytes: [u8; 32]) -> Result<Self, KeyError> {
        if bytes == [0u8; 32] {
            return Err(KeyError::ZeroSealingKey);
        }
        // X25519 masks the top bit and reduces modulo p, so other spellings would name the
        // same key; only the one its owner's implementation produces is accepted.
        if !is_canonical_x25519(&bytes) {
            return Err(KeyError::NonCanonicalSealingKey);
        }
        Ok(Self(crypto_box::PublicKey::from(bytes)))
    }

    /// Parses the key from unpadded base64url.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        Self::from_bytes(b64_decode_array::<32>(text).ok_or(KeyError::Encoding)?)
    }

    /// The 32 key bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        *self.0.as_bytes()
    }

    /// The key as unpadded base64url.
    pub fn to_base64(&self) -> String {
        b64_encode(self.0.as_bytes())
    }

    pub(crate) fn inner(&self) -> &crypto_box::PublicKey {
        &self.0
    }
}

impl fmt::Display for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealingKey({})", self.to_base64())
    }
}

/// Whether 32 bytes are the canonical encoding of an X25519 coordinate, a little-endian number
/// below p = 2^255 − 19 (which leaves the top bit clear).
fn is_canonical_x25519(bytes: &[u8; 32]) -> bool {
    // Comparing byte sequences from the most significant byte down orders them as numbers.
    const P: [u8; 32] = {
        let mut p = [0xff; 32];
        p[0] = 0xed;
        p[31] = 0x7f;
        p
    };
    bytes.iter().rev().lt(P.iter().rev())
}

/// Both private keys of one server.
#[derive(Clone, Debug)]
pub struct ServerKeys {
    signing: SigningSecret,
    sealing: SealingSecret,
}

impl ServerKeys {
    /// Pairs a signing and a sealing key.
    pub fn new(signing: SigningSecret, sealing: SealingSecret) -> Self {
        Self { signing, sealing }
    }

    /// Draws both keys from a cryptographic random number generator (what `/setup` does).
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let signing = SigningSecret::generate(rng);
        let sealing = SealingSecret::generate(rng);
        Self { signing, sealing }
    }

    /// The Ed25519 signing key.
    pub fn signing(&self) -> &SigningSecret {
        &self.signing
    }

    /// The X25519 sealing secret.
    pub fn sealing(&self) -> &SealingSecret {
        &self.sealing
    }

    /// The public Ed25519 key.
    pub fn verify_key(&self) -> VerifyKey {
        self.signing.verify_key()
    }

    /// The public X25519 key.
    pub fn sealing_key(&self) -> SealingKey {
        self.sealing.sealing_key()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_contains_the_secret() {
        let keys = ServerKeys::new(
            SigningSecret::from_seed([7; 32]),
            SealingSecret::from_bytes([9; 32]),
        );
        let printed = format!("{keys:?}");
        assert!(!printed.contains(keys.signing().expose_base64().as_str()));
        assert!(!printed.contains(keys.sealing().expose_base64().as_str()));
        assert!(printed.contains("<redacted>"));
    }

    #[test]
    fn secrets_round_trip_through_their_storage_form() {
        let signing = SigningSecret::from_seed([1; 32]);
        let again = SigningSecret::parse(&signing.expose_base64()).unwrap();
        assert_eq!(again.verify_key(), signing.verify_key());
        let sealing = SealingSecret::from_bytes([2; 32]);
        let again = SealingSecret::parse(&sealing.expose_base64()).unwrap();
        assert_eq!(again.sealing_key(), sealing.sealing_key());
    }

    #[test]
    fn weak_and_malformed_keys_are_refused() {
        // The identity point encodes as 1 followed by zeros; it is of small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(VerifyKey::from_bytes(identity), Err(KeyError::BadVerifyKey));
        assert_eq!(VerifyKey::parse("short"), Err(KeyError::Encoding));
        assert_eq!(
            SealingKey::from_bytes([0; 32]),
            Err(KeyError::ZeroSealingKey)
        );
    }

    /// The little-endian bytes of 2^255 − 19 + `k`, for small `k`.
    fn p_plus(k: u8) -> [u8; 32] {
        let mut bytes = [0xff; 32];
        bytes[0] = 0xed + k;
        bytes[31] = 0x7f;
        bytes
    }

    #[test]
    fn a_second_spelling_of_an_ed25519_point_is_refused() {
        // y = 3 is on the curve and not of small order, so its canonical spelling is a key.
        let mut three = [0u8; 32];
        three[0] = 3;
        assert!(VerifyKey::from_bytes(three).is_ok());
        // y = p + 3 names the same point; the library decodes it, this crate must not.
        assert!(ed25519_dalek::VerifyingKey::from_bytes(&p_plus(3)).is_ok());
        assert_eq!(
            VerifyKey::from_bytes(p_plus(3)),
            Err(KeyError::BadVerifyKey)
        );
        // x = 0 with the sign bit set is refused as well (y = 1 is the identity).
        let mut negative_zero = [0u8; 32];
        negative_zero[0] = 1;
        negative_zero[31] = 0x80;
        assert_eq!(
            VerifyKey::from_bytes(negative_zero),
            Err(KeyError::BadVerifyKey)
        );
    }

    #[test]
    fn x25519_keys_must_be_below_the_field_prime() {
        let mut below = p_plus(0);
        below[0] -= 1;
        assert!(SealingKey::from_bytes(below).is_ok());
        for bytes in [p_plus(0), p_plus(3), p_plus(18)] {
            assert_eq!(
                SealingKey::from_bytes(bytes),
                Err(KeyError::NonCanonicalSealingKey)
            );
        }
        let mut top_bit = SealingSecret::from_bytes([2; 32]).sealing_key().to_bytes();
        assert!(SealingKey::from_bytes(top_bit).is_ok());
        top_bit[31] |= 0x80;
        assert_eq!(
            SealingKey::from_bytes(top_bit),
            Err(KeyError::NonCanonicalSealingKey)
        );
    }
}

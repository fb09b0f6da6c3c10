//! Key material as stored: private keys that never print, and public keys. (Secret strings
//! are `kakusan-types`' [`SecretString`](crate::SecretString).)

use std::fmt;

use crate::StorageError;

/// A 32-byte private key (an Ed25519 seed or an X25519 secret).
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKey([u8; 32]);

impl PrivateKey {
    /// Wraps 32 secret bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        PrivateKey(bytes)
    }

    /// The key bytes, for the one place that signs or opens with them.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey([redacted])")
    }
}

impl TryFrom<Vec<u8>> for PrivateKey {
    type Error = StorageError;

    fn try_from(bytes: Vec<u8>) -> Result<Self, Self::Error> {
        <[u8; 32]>::try_from(bytes)
            .map(PrivateKey)
            .map_err(|_| StorageError::BadKeyLength)
    }
}

/// A private key that may be absent (a server's previous keys, kept during a rotation).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct MaybePrivateKey(pub Option<PrivateKey>);

impl TryFrom<Option<Vec<u8>>> for MaybePrivateKey {
    type Error = StorageError;

    fn try_from(bytes: Option<Vec<u8>>) -> Result<Self, Self::Error> {
        bytes
            .map(PrivateKey::try_from)
            .transpose()
            .map(MaybePrivateKey)
    }
}

/// A 32-byte public key (an Ed25519 verify key or an X25519 sealing key).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PublicKey(pub [u8; 32]);

impl TryFrom<Vec<u8>> for PublicKey {
    type Error = StorageError;

    fn try_from(bytes: Vec<u8>) -> Result<Self, Self::Error> {
        <[u8; 32]>::try_from(bytes)
            .map(PublicKey)
            .map_err(|_| StorageError::BadKeyLength)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SecretString;

    #[test]
    fn secrets_never_print() {
        let token = SecretString::new("hunter2-token");
        let key = PrivateKey::new([7; 32]);
        let shown = format!("{token:?} {key:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains('7'), "{shown}");
        assert_eq!(token.expose(), "hunter2-token");
    }

    #[test]
    fn keys_must_be_32_bytes() {
        assert!(PrivateKey::try_from(vec![0; 31]).is_err());
        assert!(PublicKey::try_from(vec![0; 33]).is_err());
        assert_eq!(
            PublicKey::try_from(vec![1; 32]).unwrap(),
            PublicKey([1; 32])
        );
    }
}

//! Validated names and ids: federation server names and Discord snowflakes.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Why a text is not a valid [`ServerName`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is shorter than two or longer than 32 characters.
    #[error("a server name must be 2 to 32 characters long, but {0:?} has {1}")]
    Length(String, usize),
    /// The name contains something other than `a`-`z`, `0`-`9` and `-`.
    #[error(
        "a server name may only use lower-case letters a-z, digits and '-', but {0:?} does not"
    )]
    Characters(String),
}

/// A federation server name: 2 to 32 characters from `[a-z0-9-]`.
///
/// Names appear in envelopes (`src`, `dst`) and cards, and are unique within a federation.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerName(String);

impl ServerName {
    /// Parses and validates a server name.
    pub fn parse(text: &str) -> Result<Self, NameError> {
        let len = text.len();
        if !(2..=32).contains(&len) {
            return Err(NameError::Length(text.to_owned(), text.chars().count()));
        }
        if !text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(NameError::Characters(text.to_owned()));
        }
        Ok(Self(text.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ServerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ServerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServerName({:?})", self.0)
    }
}

impl FromStr for ServerName {
    type Err = NameError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl PartialEq<str> for ServerName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for ServerName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// Parses a stored name.
impl TryFrom<String> for ServerName {
    type Error = NameError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl AsRef<str> for ServerName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for ServerName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ServerName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Why a text is not a valid [`Snowflake`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnowflakeError {
    /// The text is not a canonical decimal number (digits only, no leading zero, fits in 64 bits).
    #[error("{0:?} is not a Discord id (a decimal number without leading zeros)")]
    NotANumber(String),
    /// Discord never hands out the id zero.
    #[error("a Discord id cannot be zero")]
    Zero,
}

/// A Discord id (guild, channel, member, webhook): a non-zero 64-bit number.
///
/// On the wire it is a decimal string, as in Discord's own API, because JSON numbers above 2^53
/// lose precision in many JSON libraries.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Snowflake(u64);

impl Snowflake {
    /// Wraps a non-zero id.
    pub fn new(id: u64) -> Result<Self, SnowflakeError> {
        if id == 0 {
            Err(SnowflakeError::Zero)
        } else {
            Ok(Self(id))
        }
    }

    /// Parses the canonical decimal form: ASCII digits, no sign, no leading zero.
    pub fn parse(text: &str) -> Result<Self, SnowflakeError> {
        let canonical = !text.is_empty()
            && text.len() <= 20
            && text.bytes().all(|b| b.is_ascii_digit())
            && !(text.len() > 1 && text.starts_with('0'));
        if !canonical {
            return Err(SnowflakeError::NotANumber(text.to_owned()));
        }
        let id: u64 = text
            .parse()
            .map_err(|_| SnowflakeError::NotANumber(text.to_owned()))?;
        Self::new(id)
    }

    /// The id as a number.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Snowflake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for Snowflake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Snowflake({})", self.0)
    }
}

impl Serialize for Snowflake {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Snowflake {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_follow_the_pattern() {
        assert_eq!(
            ServerName::parse("tokyo-dev").unwrap().as_str(),
            "tokyo-dev"
        );
        assert!(ServerName::parse("ab").is_ok());
        assert!(ServerName::parse(&"a".repeat(32)).is_ok());
        assert!(matches!(ServerName::parse("a"), Err(NameError::Length(..))));
        assert!(matches!(
            ServerName::parse(&"a".repeat(33)),
            Err(NameError::Length(..))
        ));
        assert!(matches!(
            ServerName::parse("Tokyo"),
            Err(NameError::Characters(_))
        ));
        assert!(matches!(
            ServerName::parse("to.kyo"),
            Err(NameError::Characters(_))
        ));
        assert!(matches!(
            ServerName::parse("東京"),
            Err(NameError::Length(..) | NameError::Characters(_))
        ));
    }

    #[test]
    fn snowflakes_have_one_spelling() {
        assert_eq!(Snowflake::parse("1234").unwrap().get(), 1234);
        assert_eq!(
            Snowflake::parse("18446744073709551615").unwrap().get(),
            u64::MAX
        );
        for bad in [
            "",
            "0",
            "01",
            "+1",
            "-1",
            "1 ",
            "18446744073709551616",
            "1e3",
        ] {
            assert!(Snowflake::parse(bad).is_err(), "{bad:?} must be refused");
        }
        let json = serde_json::to_string(&Snowflake::new(42).unwrap()).unwrap();
        assert_eq!(json, "\"42\"");
    }
}

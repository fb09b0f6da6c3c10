//! Member display names as relayed posts show them. (Server names and Discord ids are
//! `kakusan-types`' and re-exported from the crate root.)

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Why a text is not a valid [`DisplayName`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DisplayNameError {
    /// The name is empty or longer than [`DisplayName::MAX_CHARS`] characters.
    #[error("a display name must be 1 to 80 characters long, but this one has {0}")]
    Length(usize),
    /// The name contains a control character such as a newline.
    #[error("a display name cannot contain control characters such as line breaks")]
    Control,
}

/// A member's display name as shown on relayed posts.
///
/// Discord caps webhook user names at 80 characters, so that is the limit here too; control
/// characters are refused so that a name cannot break a log line.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DisplayName(String);

impl DisplayName {
    /// The longest accepted name, in Unicode scalar values.
    pub const MAX_CHARS: usize = 80;

    /// Parses and validates a display name.
    pub fn parse(text: &str) -> Result<Self, DisplayNameError> {
        let chars = text.chars().count();
        if chars == 0 || chars > Self::MAX_CHARS {
            return Err(DisplayNameError::Length(chars));
        }
        if text.chars().any(char::is_control) {
            return Err(DisplayNameError::Control);
        }
        Ok(Self(text.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DisplayName({:?})", self.0)
    }
}

impl Serialize for DisplayName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DisplayName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_refuse_control_characters_and_overlong_text() {
        assert!(DisplayName::parse("みどり 🌱").is_ok());
        assert_eq!(DisplayName::parse(""), Err(DisplayNameError::Length(0)));
        assert_eq!(DisplayName::parse("a\nb"), Err(DisplayNameError::Control));
        assert_eq!(
            DisplayName::parse(&"あ".repeat(81)),
            Err(DisplayNameError::Length(81))
        );
    }
}

//! Reading the `at` option of `/here`: a delay such as `30m`, `2h`, `1d` or `1h30m`, or an RFC
//! 3339 time, turned into the moment the relay is due.
//!
//! A relay may wait at most [`MAX_AHEAD_DAYS`] days. The limit keeps the queue short-lived: a
//! destination that is fine today may be gone in months, and a member who typed `300d` by
//! mistake is better told than surprised a year later.

use chrono::{DateTime, TimeDelta, Utc};

use crate::i18n::Lang;

/// How many days ahead a relay may be scheduled, inclusive.
pub const MAX_AHEAD_DAYS: i64 = 30;

/// How much of an unreadable input is repeated back, so a pasted novel does not make the
/// answer too long for Discord.
const ECHO_LIMIT: usize = 40;

/// Why a schedule could not be read; [`ScheduleError::sentence`] is one sentence for the
/// member, in their language (Display is the English one, for the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleError {
    /// Nothing (or only spaces) was given.
    Empty,
    /// The text is neither a delay nor an RFC 3339 time.
    Unreadable {
        /// The input, shortened to 40 characters.
        text: String,
    },
    /// The time is now or earlier (a zero delay included).
    InPast {
        /// The time asked for.
        at: DateTime<Utc>,
        /// The time it was asked at.
        now: DateTime<Utc>,
    },
    /// The time is more than [`MAX_AHEAD_DAYS`] days ahead.
    TooFar {
        /// The time asked for.
        at: DateTime<Utc>,
    },
    /// The delay is too large to compute at all.
    Overflow {
        /// The input, shortened to 40 characters.
        text: String,
    },
}

impl ScheduleError {
    /// The sentence for the member, in `lang`.
    pub fn sentence(&self, lang: Lang) -> String {
        match self {
            ScheduleError::Empty => crate::tr!(lang, "schedule-empty"),
            ScheduleError::Unreadable { text } => {
                crate::tr!(lang, "schedule-unreadable", text = text.as_str())
            }
            ScheduleError::InPast { at, now } => {
                crate::tr!(lang, "schedule-past", at = show(at), now = show(now))
            }
            ScheduleError::TooFar { at } => {
                crate::tr!(
                    lang,
                    "schedule-too-far",
                    at = show(at),
                    days = MAX_AHEAD_DAYS
                )
            }
            ScheduleError::Overflow { text } => crate::tr!(
                lang,
                "schedule-overflow",
                text = text.as_str(),
                days = MAX_AHEAD_DAYS
            ),
        }
    }
}

impl std::fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.sentence(Lang::En))
    }
}

impl std::error::Error for ScheduleError {}

/// A time as shown to members: RFC 3339 in UTC, to the second, like the input it answers.
fn show(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Reads `text` as the moment a relay is due, relative to `now`.
///
/// Accepted: one or more `<positive integer><unit>` parts with units `d`, `h`, `m` (any case,
/// each unit at most once, in that order, optionally separated by spaces: `1d`, `1h30m`,
/// `2h 15m`), or an RFC 3339 time with an offset (`2026-11-23T09:00:00+09:00`). The result must
/// be after `now` and at most [`MAX_AHEAD_DAYS`] days after it.
pub fn parse_schedule(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, ScheduleError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ScheduleError::Empty);
    }
    let at = match DateTime::parse_from_rfc3339(text) {
        Ok(at) => at.with_timezone(&Utc),
        Err(_) => {
            let delay = parse_delay(text)?;
            now.checked_add_signed(delay)
                .ok_or_else(|| ScheduleError::Overflow { text: echo(text) })?
        }
    };
    if at <= now {
        return Err(ScheduleError::InPast { at, now });
    }
    // `TimeDelta::days` cannot overflow for 30; comparing deltas avoids adding to `now`.
    if at - now > TimeDelta::days(MAX_AHEAD_DAYS) {
        return Err(ScheduleError::TooFar { at });
    }
    Ok(at)
}

/// Reads a delay made of `<n>d`, `<n>h`, `<n>m` parts, largest unit first.
fn parse_delay(text: &str) -> Result<TimeDelta, ScheduleError> {
    let unreadable = || ScheduleError::Unreadable { text: echo(text) };
    let overflow = || ScheduleError::Overflow { text: echo(text) };
    let mut rest = text;
    let mut total = TimeDelta::zero();
    // The units still allowed; each part removes its own unit and the larger ones, which
    // enforces "each once, largest first" so `30m2h` or `1h1h` are refused as typos.
    let mut units: &[char] = &['d', 'h', 'm'];
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return Err(unreadable());
        }
        let (number, after) = rest.split_at(digits);
        let mut chars = after.chars();
        let unit = chars
            .next()
            .map(|c| c.to_ascii_lowercase())
            .ok_or_else(unreadable)?;
        let position = units
            .iter()
            .position(|&u| u == unit)
            .ok_or_else(unreadable)?;
        units = &units[position + 1..];
        // Digits only, so a parse failure means the number does not fit.
        let number: i64 = number.parse().map_err(|_| overflow())?;
        let part = match unit {
            'd' => TimeDelta::try_days(number),
            'h' => TimeDelta::try_hours(number),
            _ => TimeDelta::try_minutes(number),
        }
        .ok_or_else(overflow)?;
        total = total.checked_add(&part).ok_or_else(overflow)?;
        rest = chars.as_str().trim_start();
    }
    Ok(total)
}

/// The input as repeated back in an error, at most [`ECHO_LIMIT`] characters.
fn echo(text: &str) -> String {
    match text.char_indices().nth(ECHO_LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-20T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn delays_are_added_to_now() {
        let cases = [
            ("30m", "2026-11-20T12:30:00Z"),
            ("2h", "2026-11-20T14:00:00Z"),
            ("1d", "2026-11-21T12:00:00Z"),
            ("1h30m", "2026-11-20T13:30:00Z"),
            ("1d2h3m", "2026-11-21T14:03:00Z"),
            ("2h 15m", "2026-11-20T14:15:00Z"),
            ("  45M  ", "2026-11-20T12:45:00Z"),
            ("90m", "2026-11-20T13:30:00Z"),
            ("1m", "2026-11-20T12:01:00Z"),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_schedule(text, now()), Ok(at(expected)), "{text}");
        }
    }

    #[test]
    fn rfc3339_times_are_read_with_their_offset() {
        assert_eq!(
            parse_schedule("2026-11-23T09:00:00+09:00", now()),
            Ok(at("2026-11-23T00:00:00Z"))
        );
        assert_eq!(
            parse_schedule("2026-11-20T12:00:01Z", now()),
            Ok(at("2026-11-20T12:00:01Z"))
        );
    }

    #[test]
    fn thirty_days_is_the_last_moment_allowed() {
        assert_eq!(parse_schedule("30d", now()), Ok(at("2026-12-20T12:00:00Z")));
        assert_eq!(
            parse_schedule("720h", now()),
            Ok(at("2026-12-20T12:00:00Z"))
        );
        assert_eq!(
            parse_schedule("30d1m", now()),
            Err(ScheduleError::TooFar {
                at: at("2026-12-20T12:01:00Z")
            })
        );
        assert_eq!(
            parse_schedule("2026-12-20T12:00:01Z", now()),
            Err(ScheduleError::TooFar {
                at: at("2026-12-20T12:00:01Z")
            })
        );
    }

    #[test]
    fn now_and_earlier_are_in_the_past() {
        for text in [
            "0m",
            "0d0h0m",
            "2026-11-20T12:00:00Z",
            "2026-11-20T21:00:00+09:00",
        ] {
            assert_eq!(
                parse_schedule(text, now()),
                Err(ScheduleError::InPast {
                    at: now(),
                    now: now()
                }),
                "{text}"
            );
        }
        assert!(matches!(
            parse_schedule("2020-01-01T00:00:00Z", now()),
            Err(ScheduleError::InPast { .. })
        ));
    }

    #[test]
    fn garbage_is_unreadable() {
        for text in [
            "x",
            "30",
            "m",
            "30s",
            "-5m",
            "+5m",
            "1.5h",
            "30m2h",
            "1h1h",
            "2 h",
            "1h30",
            "tomorrow",
            "2026-11-23 09:00",
            "2026-11-23T09:00:00",
            "１h",
        ] {
            assert_eq!(
                parse_schedule(text, now()),
                Err(ScheduleError::Unreadable {
                    text: text.trim().to_owned()
                }),
                "{text}"
            );
        }
    }

    #[test]
    fn empty_is_refused() {
        assert_eq!(parse_schedule("", now()), Err(ScheduleError::Empty));
        assert_eq!(parse_schedule(" \t ", now()), Err(ScheduleError::Empty));
    }

    #[test]
    fn huge_numbers_overflow_instead_of_panicking() {
        for text in [
            "99999999999999999999d",
            "9223372036854775807m",
            "106751991167300d",
            "106751991167d23h",
        ] {
            assert!(
                matches!(
                    parse_schedule(text, now()),
                    Err(ScheduleError::Overflow { .. } | ScheduleError::TooFar { .. })
                ),
                "{text}"
            );
        }
        assert_eq!(
            parse_schedule("99999999999999999999d", now()),
            Err(ScheduleError::Overflow {
                text: "99999999999999999999d".into()
            })
        );
    }

    #[test]
    fn messages_are_one_plain_sentence_in_either_language() {
        assert_eq!(
            ScheduleError::Unreadable { text: "x".into() }.sentence(Lang::Ja),
            "`x` を時刻として読み取れません。30m、2h、1d、または 2026-11-23T09:00:00+09:00 のような RFC 3339 形式で指定してください"
        );
        assert_eq!(
            ScheduleError::Unreadable { text: "x".into() }.to_string(),
            "cannot read `x` as a time: use 30m, 2h, 1d or an RFC 3339 time like 2026-11-23T09:00:00+09:00"
        );
        assert_eq!(
            parse_schedule("0m", now()).unwrap_err().to_string(),
            "that time is in the past: 2026-11-20T12:00:00Z is not after now (2026-11-20T12:00:00Z)"
        );
        assert_eq!(
            parse_schedule("31d", now()).unwrap_err().to_string(),
            "that time is too far ahead: 2026-12-21T12:00:00Z is more than 30 days from now, the longest a relay can wait"
        );
    }

    #[test]
    fn long_input_is_shortened_when_repeated() {
        let text = "a".repeat(500);
        let error = parse_schedule(&text, now()).unwrap_err();
        assert_eq!(
            error,
            ScheduleError::Unreadable {
                text: format!("{}…", "a".repeat(40))
            }
        );
    }
}

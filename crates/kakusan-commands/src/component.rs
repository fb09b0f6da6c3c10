//! Buttons: the `custom_id` format that names what a button does, and builders for the buttons
//! and the action rows that hold them.
//!
//! A custom id is `<action>:<argument>`, e.g. `accept-peer:123` or
//! `cancel-relay:67e55044-10b1-426f-9247-bb680e5fe0c8`. Discord limits custom ids to 100
//! characters; the longest here is 49. Parsing is strict (the exact text [`ComponentAction::custom_id`]
//! writes) so that each action has one spelling and a forged id cannot alias another.

use twilight_model::channel::message::component::{ActionRow, Button, ButtonStyle, Component};
use uuid::Uuid;

use crate::i18n::Lang;

/// Discord's limit on buttons in one action row.
const BUTTONS_PER_ROW: usize = 5;
/// Discord's limit on action rows in one message.
const MAX_ROWS: usize = 5;

const ACCEPT_PEER: &str = "accept-peer";
const CANCEL_RELAY: &str = "cancel-relay";
const STOP_DESTINATION: &str = "stop-destination";
const START_DESTINATION: &str = "start-destination";
const FORGET_ME: &str = "forget-me";

/// What a pressed button asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ComponentAction {
    /// Accept the approval request of a server that introduced itself with `peer.hello`:
    /// exactly the card the request showed.
    AcceptPeer {
        /// The request's id in storage.
        request_id: i64,
    },
    /// Cancel a pending (scheduled or retrying) relay.
    CancelRelay {
        /// The relay's id in storage.
        relay_id: Uuid,
    },
    /// Stop one of the member's destinations (`/sharelist`): it gets nothing meanwhile.
    StopDestination {
        /// The destination's id in storage.
        destination_id: i64,
    },
    /// Start a stopped destination again.
    StartDestination {
        /// The destination's id in storage.
        destination_id: i64,
    },
    /// Confirm `/forget-me`: only the member it names may press it.
    ForgetMe {
        /// The member who ran `/forget-me`.
        member_id: u64,
    },
}

impl ComponentAction {
    /// The button's `custom_id` for this action.
    pub fn custom_id(&self) -> String {
        match self {
            Self::AcceptPeer { request_id } => format!("{ACCEPT_PEER}:{request_id}"),
            Self::CancelRelay { relay_id } => format!("{CANCEL_RELAY}:{}", relay_id.hyphenated()),
            Self::StopDestination { destination_id } => {
                format!("{STOP_DESTINATION}:{destination_id}")
            }
            Self::StartDestination { destination_id } => {
                format!("{START_DESTINATION}:{destination_id}")
            }
            Self::ForgetMe { member_id } => format!("{FORGET_ME}:{member_id}"),
        }
    }

    /// Reads a `custom_id` written by [`ComponentAction::custom_id`]; anything else is None.
    pub fn parse(custom_id: &str) -> Option<Self> {
        let (action, argument) = custom_id.split_once(':')?;
        let parsed = match action {
            ACCEPT_PEER => Self::AcceptPeer {
                request_id: argument.parse().ok()?,
            },
            CANCEL_RELAY => Self::CancelRelay {
                relay_id: Uuid::try_parse(argument).ok()?,
            },
            STOP_DESTINATION => Self::StopDestination {
                destination_id: argument.parse().ok()?,
            },
            START_DESTINATION => Self::StartDestination {
                destination_id: argument.parse().ok()?,
            },
            FORGET_ME => Self::ForgetMe {
                member_id: argument.parse().ok()?,
            },
            _ => return None,
        };
        // `i64` and `Uuid` accept other spellings (`+5`, `007`, braces, upper case); only the
        // canonical one is ours.
        (parsed.custom_id() == custom_id).then_some(parsed)
    }
}

/// A button with a custom id.
pub(crate) fn button(action: ComponentAction, label: &str, style: ButtonStyle) -> Component {
    Component::Button(Button {
        custom_id: Some(action.custom_id()),
        disabled: false,
        emoji: None,
        id: None,
        label: Some(label.to_owned()),
        sku_id: None,
        style,
        url: None,
    })
}

/// The "Accept" button for a peer's introduction, labelled in `lang`.
pub fn accept_button(request_id: i64, lang: Lang) -> Component {
    button(
        ComponentAction::AcceptPeer { request_id },
        &crate::tr!(lang, "button-accept"),
        ButtonStyle::Primary,
    )
}

/// The "Cancel" button for a pending relay, labelled in `lang`.
pub fn cancel_button(relay_id: Uuid, lang: Lang) -> Component {
    button(
        ComponentAction::CancelRelay { relay_id },
        &crate::tr!(lang, "button-cancel"),
        ButtonStyle::Danger,
    )
}

/// The "Stop" (or, for a stopped one, "Start") button of a destination in `/sharelist`,
/// labelled in `lang`.
pub fn destination_button(destination_id: i64, stopped: bool, peer: &str, lang: Lang) -> Component {
    if stopped {
        button(
            ComponentAction::StartDestination { destination_id },
            &crate::tr!(lang, "button-start", server = peer),
            ButtonStyle::Success,
        )
    } else {
        button(
            ComponentAction::StopDestination { destination_id },
            &crate::tr!(lang, "button-stop", server = peer),
            ButtonStyle::Secondary,
        )
    }
}

/// Packs buttons into action rows of at most five, as Discord requires.
///
/// A message holds at most five rows, so only the first 25 buttons are kept; the rest are
/// dropped rather than making Discord refuse the whole message. Callers that may have more
/// (e.g. `/queue` with many relays) should say so in the text.
pub fn rows(buttons: Vec<Component>) -> Vec<Component> {
    let mut buttons = buttons;
    buttons.truncate(BUTTONS_PER_ROW * MAX_ROWS);
    let mut rows = Vec::with_capacity(buttons.len().div_ceil(BUTTONS_PER_ROW));
    let mut buttons = buttons.into_iter().peekable();
    while buttons.peek().is_some() {
        rows.push(Component::ActionRow(ActionRow {
            components: buttons.by_ref().take(BUTTONS_PER_ROW).collect(),
            id: None,
        }));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relay_id() -> Uuid {
        Uuid::parse_str("67e55044-10b1-426f-9247-bb680e5fe0c8").unwrap()
    }

    #[test]
    fn custom_ids_are_pinned() {
        assert_eq!(
            ComponentAction::AcceptPeer { request_id: 123 }.custom_id(),
            "accept-peer:123"
        );
        assert_eq!(
            ComponentAction::CancelRelay {
                relay_id: relay_id()
            }
            .custom_id(),
            "cancel-relay:67e55044-10b1-426f-9247-bb680e5fe0c8"
        );
    }

    #[test]
    fn custom_ids_round_trip_and_fit_discord() {
        for action in [
            ComponentAction::AcceptPeer { request_id: 0 },
            ComponentAction::AcceptPeer {
                request_id: i64::MAX,
            },
            ComponentAction::AcceptPeer {
                request_id: i64::MIN,
            },
            ComponentAction::CancelRelay {
                relay_id: relay_id(),
            },
            ComponentAction::CancelRelay {
                relay_id: Uuid::max(),
            },
            ComponentAction::StopDestination {
                destination_id: i64::MAX,
            },
            ComponentAction::StartDestination { destination_id: 1 },
            ComponentAction::ForgetMe {
                member_id: u64::MAX,
            },
        ] {
            let id = action.custom_id();
            assert!((1..=100).contains(&id.len()), "{id}");
            assert_eq!(ComponentAction::parse(&id), Some(action));
        }
    }

    #[test]
    fn foreign_or_non_canonical_ids_are_refused() {
        for id in [
            "",
            "accept-peer",
            "accept-peer:",
            "accept-peer:x",
            "accept-peer:+5",
            "accept-peer:007",
            "accept-peer:99999999999999999999",
            "accept-peer:1:2",
            "cancel-relay:",
            "cancel-relay:67e5504410b1426f9247bb680e5fe0c8",
            "cancel-relay:67E55044-10B1-426F-9247-BB680E5FE0C8",
            "cancel-relay:{67e55044-10b1-426f-9247-bb680e5fe0c8}",
            "delete-everything:1",
            "forget-me:+5",
            "forget-me:-5",
            "forget-me:18446744073709551616",
            "Accept-peer:1",
        ] {
            assert_eq!(ComponentAction::parse(id), None, "{id}");
        }
    }

    #[test]
    fn buttons_carry_label_style_and_id() {
        let Component::Button(accept) = accept_button(7, Lang::En) else {
            panic!("not a button");
        };
        assert_eq!(accept.label.as_deref(), Some("Accept"));
        let Component::Button(japanese) = accept_button(7, Lang::Ja) else {
            panic!("not a button");
        };
        assert_eq!(japanese.label.as_deref(), Some("承認"));
        assert_eq!(accept.style, ButtonStyle::Primary);
        assert_eq!(accept.custom_id.as_deref(), Some("accept-peer:7"));
        assert_eq!(accept.url, None);

        let Component::Button(cancel) = cancel_button(relay_id(), Lang::En) else {
            panic!("not a button");
        };
        assert_eq!(cancel.label.as_deref(), Some("Cancel"));
        assert_eq!(cancel.style, ButtonStyle::Danger);
        assert_eq!(
            cancel.custom_id.as_deref(),
            Some("cancel-relay:67e55044-10b1-426f-9247-bb680e5fe0c8")
        );
    }

    fn row_sizes(rows: &[Component]) -> Vec<usize> {
        rows.iter()
            .map(|row| match row {
                Component::ActionRow(row) => row.components.len(),
                other => panic!("not an action row: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn rows_hold_five_buttons_and_a_message_five_rows() {
        let buttons = |n: i64| {
            (0..n)
                .map(|id| accept_button(id, Lang::En))
                .collect::<Vec<_>>()
        };
        assert_eq!(row_sizes(&rows(buttons(0))), Vec::<usize>::new());
        assert_eq!(row_sizes(&rows(buttons(1))), [1]);
        assert_eq!(row_sizes(&rows(buttons(5))), [5]);
        assert_eq!(row_sizes(&rows(buttons(6))), [5, 1]);
        assert_eq!(row_sizes(&rows(buttons(25))), [5, 5, 5, 5, 5]);
        assert_eq!(row_sizes(&rows(buttons(40))), [5, 5, 5, 5, 5]);

        // Order is kept, and the dropped buttons are the last ones.
        let packed = rows(buttons(40));
        let Component::ActionRow(last) = &packed[4] else {
            panic!("not an action row");
        };
        let Component::Button(button) = &last.components[4] else {
            panic!("not a button");
        };
        assert_eq!(button.custom_id.as_deref(), Some("accept-peer:24"));
    }
}

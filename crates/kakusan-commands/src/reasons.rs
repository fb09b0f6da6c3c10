//! Reasons stored in the database (why a destination or times is broken, a job's last error,
//! why a peer is unreachable), shown in the member's language.
//!
//! **Rendered at display time.** The delivery engine writes these reasons in English, the
//! words its log lines use too, and they often end in Discord's own error text, which only
//! exists in English. So the rows keep that sentence, and what a member sees is made from it
//! here: a known reason (its fixed English beginning) becomes its message in the member's
//! language, with the status and Discord's detail kept as they are; an unknown one (a
//! connection error, say) is shown as stored. A new reason written by the delivery engine gets
//! its line in [`KNOWN`] and its message in both files.

use crate::i18n::{Lang, text};

/// How the rest of a reason after its beginning is read.
#[derive(Clone, Copy)]
enum Rest {
    /// Nothing follows (or what follows adds nothing for the member).
    Nothing,
    /// Discord's or the system's detail: `$detail`.
    Detail,
    /// `{status}): {detail}`: `$status` and `$detail`.
    StatusThenDetail,
    /// `{status}: {detail}`: `$status` and `$detail`.
    StatusColonDetail,
    /// `{status})`: `$status`.
    Status,
    /// Another stored reason: `$detail`, itself translated.
    Reason,
}

/// The reasons the code stores, by their English beginning, longest first where one starts
/// another.
const KNOWN: &[(&str, &str, Rest)] = &[
    (
        "the webhook was deleted",
        "reason-webhook-deleted",
        Rest::Nothing,
    ),
    (
        "the webhook's token was refused",
        "reason-token-refused",
        Rest::Nothing,
    ),
    (
        "Discord refused access (403): ",
        "reason-access-refused",
        Rest::Detail,
    ),
    (
        "Discord refused the message (",
        "reason-message-refused",
        Rest::StatusThenDetail,
    ),
    (
        "Discord answered ",
        "reason-discord-answered",
        Rest::StatusColonDetail,
    ),
    (
        "the message cannot be sent: ",
        "reason-cannot-send",
        Rest::Detail,
    ),
    (
        "unreadable answer from Discord: ",
        "reason-unreadable-answer",
        Rest::Detail,
    ),
    (
        "the job's payload is unreadable: ",
        "reason-payload-unreadable",
        Rest::Detail,
    ),
    (
        "the copy was deleted at the destination",
        "reason-copy-deleted",
        Rest::Nothing,
    ),
    (
        "the destination is broken: ",
        "reason-destination-broken",
        Rest::Reason,
    ),
    (
        "you stopped this destination",
        "reason-stopped",
        Rest::Nothing,
    ),
    (
        "the thread or forum post was deleted",
        "reason-thread-deleted",
        Rest::Nothing,
    ),
    (
        "the thread or forum post is archived and locked",
        "reason-thread-locked",
        Rest::Nothing,
    ),
    (
        "its webhook refused us (",
        "reason-peer-refused",
        Rest::Status,
    ),
];

/// A stored reason in `lang`; `None` (no reason stored) reads as "failed".
pub(crate) fn reason(lang: Lang, stored: Option<&str>) -> String {
    let Some(stored) = stored else {
        return crate::tr!(lang, "reason-failed");
    };
    for (beginning, id, rest) in KNOWN {
        let Some(after) = stored.strip_prefix(beginning) else {
            continue;
        };
        let mut args = fluent_bundle::FluentArgs::new();
        let read = match rest {
            Rest::Nothing => true,
            Rest::Detail => {
                args.set("detail", after.to_owned());
                true
            }
            Rest::Reason => {
                args.set("detail", reason(lang, Some(after)));
                true
            }
            Rest::StatusThenDetail | Rest::StatusColonDetail => {
                let separator = match rest {
                    Rest::StatusThenDetail => "): ",
                    _ => ": ",
                };
                after.split_once(separator).is_some_and(|(status, detail)| {
                    args.set("status", status.to_owned());
                    args.set("detail", detail.to_owned());
                    true
                })
            }
            Rest::Status => after.strip_suffix(')').is_some_and(|status| {
                args.set("status", status.to_owned());
                true
            }),
        };
        if read {
            return text(lang, id, Some(&args));
        }
    }
    stored.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_reasons_are_translated_with_discords_detail_kept() {
        assert_eq!(
            reason(
                Lang::Ja,
                Some("the webhook was deleted (10015 Unknown Webhook)")
            ),
            "ウェブフックが削除されました"
        );
        assert_eq!(
            reason(
                Lang::En,
                Some("the webhook was deleted (10015 Unknown Webhook)")
            ),
            "the webhook was deleted"
        );
        assert_eq!(
            reason(
                Lang::Ja,
                Some("Discord refused the message (400): Invalid Form Body")
            ),
            "Discord がメッセージを受け付けませんでした (400): Invalid Form Body"
        );
        assert_eq!(
            reason(
                Lang::En,
                Some("Discord refused the message (400): Invalid Form Body")
            ),
            "Discord refused the message (400): Invalid Form Body"
        );
        assert_eq!(
            reason(Lang::Ja, Some("Discord answered 502: Bad Gateway")),
            "Discord がエラーを返しました (502): Bad Gateway"
        );
        assert_eq!(
            reason(Lang::Ja, Some("its webhook refused us (401)")),
            "相手のウェブフックに拒否されました (401)"
        );
        assert_eq!(
            reason(
                Lang::Ja,
                Some("the destination is broken: you stopped this destination")
            ),
            "配信先が利用できません: あなたがこの配信先を停止しました"
        );
        assert_eq!(reason(Lang::Ja, None), "失敗しました");
    }

    #[test]
    fn every_known_reason_has_its_message() {
        for (_, id, _) in KNOWN {
            for lang in [Lang::En, Lang::Ja] {
                assert_ne!(text(lang, id, None), *id, "{id} has no message");
            }
        }
    }

    #[test]
    fn unknown_or_malformed_reasons_are_shown_as_stored() {
        let stored = "error sending request: connection refused";
        assert_eq!(reason(Lang::Ja, Some(stored)), stored);
        // A known beginning whose rest cannot be read is not half translated.
        let odd = "Discord answered nothing";
        assert_eq!(reason(Lang::Ja, Some(odd)), odd);
    }
}

//! What a failed webhook call means for its job: retry, give up on the job, or give up on the
//! destination.

use twilight_http::api_error::ApiError;
use twilight_http::error::ErrorType;

/// Discord's JSON error code for a webhook that does not exist (any more).
pub(crate) const UNKNOWN_WEBHOOK: u64 = 10015;
/// Discord's JSON error code for a message that does not exist (any more).
pub(crate) const UNKNOWN_MESSAGE: u64 = 10008;

/// Discord's JSON error code for a channel that does not exist: for a webhook call with
/// `thread_id`, the thread was deleted (or is not in the webhook's channel).
pub(crate) const UNKNOWN_CHANNEL: u64 = 10003;
/// Discord's JSON error code for an action on an archived thread that the caller may not
/// reopen: a webhook post reopens an archived thread itself unless the thread is locked.
pub(crate) const THREAD_ARCHIVED: u64 = 50083;

/// The reason a destination in a thread or forum post is broken, for Discord's codes that
/// mean the thread itself refuses (the webhook may be fine): the member reads it in
/// `/sharelist`.
fn thread_refusal(code: Option<u64>) -> Option<&'static str> {
    match code? {
        UNKNOWN_CHANNEL => Some("the thread or forum post was deleted (10003 Unknown Channel)"),
        THREAD_ARCHIVED => Some(
            "the thread or forum post is archived and locked; a moderator there must reopen it (50083)",
        ),
        _ => None,
    }
}

/// Discord's answer that a webhook does not exist: 10015, or a bare 404.
fn unknown_webhook(status: u16, code: Option<u64>) -> bool {
    code == Some(UNKNOWN_WEBHOOK) || status == 404
}

/// Whether a failed call means the webhook is gone (deleted at the destination), as delivery
/// judges it; `/ping` uses the same rule when it checks a destination.
pub fn is_unknown_webhook(error: &twilight_http::Error) -> bool {
    match error.kind() {
        ErrorType::Response { status, .. } => unknown_webhook(status.get(), discord_code(error)),
        _ => false,
    }
}

/// Discord's JSON error code of a failed call, when Discord answered with one.
pub fn discord_code(error: &twilight_http::Error) -> Option<u64> {
    match error.kind() {
        ErrorType::Response {
            error: ApiError::General(general),
            ..
        } => Some(general.code),
        _ => None,
    }
}

/// Why a call did not deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Worth trying again later: a server error, a time-out, a broken connection.
    Transient(String),
    /// This job can never succeed (Discord refused its content), but the webhook is fine.
    Rejected(String),
    /// The webhook is gone or refuses us: the destination is broken until re-announced.
    Broken(String),
    /// The delivered copy no longer exists (deleted at the destination).
    CopyGone,
}

impl Failure {
    /// Sorts a twilight error.
    pub(crate) fn of(error: &twilight_http::Error) -> Failure {
        let code = discord_code(error);
        match error.kind() {
            ErrorType::Response { error, status, .. } => {
                let status = status.get();
                match (status, code) {
                    (_, Some(UNKNOWN_MESSAGE)) => Failure::CopyGone,
                    (_, code) if let Some(reason) = thread_refusal(code) => {
                        Failure::Broken(reason.to_owned())
                    }
                    _ if unknown_webhook(status, code) => Failure::Broken(
                        "the webhook was deleted (10015 Unknown Webhook)".to_owned(),
                    ),
                    (401, _) => Failure::Broken("the webhook's token was refused (401)".to_owned()),
                    (403, _) => Failure::Broken(format!("Discord refused access (403): {error}")),
                    (500.., _) | (408, _) => {
                        Failure::Transient(format!("Discord answered {status}: {error}"))
                    }
                    (_, _) => Failure::Rejected(format!(
                        "Discord refused the message ({status}): {error}"
                    )),
                }
            }
            ErrorType::BuildingRequest
            | ErrorType::Validation
            | ErrorType::CreatingHeader { .. } => {
                Failure::Rejected(format!("the message cannot be sent: {error}"))
            }
            _ => Failure::Transient(error_line(error)),
        }
    }

    /// Sorts a twilight error of an edit of a copy. An archived thread refuses changes to its
    /// messages, yet takes new posts (which reopen it), so an edit refused for that fails
    /// alone and leaves the destination working.
    pub(crate) fn of_edit(error: &twilight_http::Error) -> Failure {
        if discord_code(error) == Some(THREAD_ARCHIVED) {
            return Failure::Rejected(
                "the copy is in an archived thread, whose messages Discord does not let anyone change (50083)"
                    .to_owned(),
            );
        }
        Failure::of(error)
    }

    /// The sentence stored on the job and shown to the member.
    pub(crate) fn reason(&self) -> &str {
        match self {
            Failure::Transient(reason) | Failure::Rejected(reason) | Failure::Broken(reason) => {
                reason
            }
            Failure::CopyGone => "the copy was deleted at the destination",
        }
    }
}

/// An error and its sources on one line.
pub(crate) fn error_line(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusing_thread_has_a_reason_of_its_own_and_other_codes_have_none() {
        let deleted = thread_refusal(Some(UNKNOWN_CHANNEL)).unwrap();
        let locked = thread_refusal(Some(THREAD_ARCHIVED)).unwrap();
        assert!(deleted.contains("deleted"), "{deleted}");
        assert!(locked.contains("locked"), "{locked}");
        assert_eq!(thread_refusal(Some(UNKNOWN_WEBHOOK)), None);
        assert_eq!(thread_refusal(None), None);
    }
}

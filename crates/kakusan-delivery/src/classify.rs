//! What a failed webhook call means for its job: retry, give up on the job, or give up on the
//! destination.

use twilight_http::api_error::ApiError;
use twilight_http::error::ErrorType;

/// Discord's JSON error code for a webhook that does not exist (any more).
pub(crate) const UNKNOWN_WEBHOOK: u64 = 10015;
/// Discord's JSON error code for a message that does not exist (any more).
pub(crate) const UNKNOWN_MESSAGE: u64 = 10008;

/// Why a call did not deliver.
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

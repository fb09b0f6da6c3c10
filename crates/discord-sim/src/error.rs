//! Errors: the JSON error bodies Discord answers with, and the simulator's own start-up errors.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value, json};

/// An error the simulator cannot recover from, such as a port that cannot be bound.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The listener could not be bound.
    #[error("binding the simulator listener")]
    Bind(#[source] std::io::Error),
    /// A control-API call named something that does not exist.
    #[error("unknown {0}")]
    Unknown(&'static str),
    /// A control-API call was not allowed, e.g. acting in a channel of another guild.
    #[error("invalid control request: {0}")]
    Invalid(String),
    /// Waiting for something (an interaction response, a message) took longer than allowed.
    #[error("timed out waiting for {0}")]
    Timeout(String),
}

/// A Discord API error: an HTTP status with the `{code, message, errors?}` body Discord sends.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{status} (code {code}): {message}")]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: u32,
    pub(crate) message: String,
    /// The nested `errors` object of 50035 "Invalid Form Body".
    pub(crate) errors: Option<Value>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            errors: None,
        }
    }

    /// The body Discord sends for a missing or wrong bot token: code 0, not a JSON error code.
    pub(crate) fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, 0, "401: Unauthorized")
    }

    pub(crate) fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, 0, "404: Not Found")
    }

    pub(crate) fn unknown_channel() -> Self {
        Self::new(StatusCode::NOT_FOUND, 10003, "Unknown Channel")
    }

    /// An archived thread that the caller may not reopen (it is locked).
    pub(crate) fn thread_archived() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            50083,
            "Operation cannot be performed on an archived thread",
        )
    }

    pub(crate) fn unknown_guild() -> Self {
        Self::new(StatusCode::NOT_FOUND, 10004, "Unknown Guild")
    }

    pub(crate) fn unknown_member() -> Self {
        Self::new(StatusCode::NOT_FOUND, 10007, "Unknown Member")
    }

    pub(crate) fn unknown_message() -> Self {
        Self::new(StatusCode::NOT_FOUND, 10008, "Unknown Message")
    }

    pub(crate) fn unknown_user() -> Self {
        Self::new(StatusCode::NOT_FOUND, 10013, "Unknown User")
    }

    pub(crate) fn unknown_webhook() -> Self {
        Self::new(StatusCode::NOT_FOUND, 10015, "Unknown Webhook")
    }

    pub(crate) fn unknown_interaction() -> Self {
        Self::new(StatusCode::NOT_FOUND, 10062, "Unknown interaction")
    }

    pub(crate) fn already_acknowledged() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            40060,
            "Interaction has already been acknowledged.",
        )
    }

    pub(crate) fn missing_access() -> Self {
        Self::new(StatusCode::FORBIDDEN, 50001, "Missing Access")
    }

    pub(crate) fn missing_permissions() -> Self {
        Self::new(StatusCode::FORBIDDEN, 50013, "Missing Permissions")
    }

    pub(crate) fn cannot_edit_others() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            50005,
            "Cannot edit a message authored by another user",
        )
    }

    pub(crate) fn empty_message() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            50006,
            "Cannot send an empty message",
        )
    }

    pub(crate) fn invalid_webhook_token() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, 50027, "Invalid Webhook Token")
    }

    pub(crate) fn invalid_json() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            50109,
            "The request body contains invalid JSON.",
        )
    }

    pub(crate) fn max_webhooks() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            30007,
            "Maximum number of webhooks reached (15)",
        )
    }

    pub(crate) fn too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            40005,
            "Request entity too large",
        )
    }

    /// The JSON body as Discord shapes it.
    pub(crate) fn body(&self) -> Value {
        let mut body = json!({ "message": self.message, "code": self.code });
        if let Some(errors) = &self.errors {
            body["errors"] = errors.clone();
        }
        body
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

/// Collects field errors and turns them into Discord's 50035 "Invalid Form Body".
///
/// Discord nests errors by field path (`options.0.name._errors`), which clients print and tests
/// assert on, so the simulator keeps the same nesting.
#[derive(Debug, Default)]
pub(crate) struct FormErrors {
    errors: Map<String, Value>,
}

impl FormErrors {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Records an error at a dotted path such as `options.0.name`.
    pub(crate) fn add(&mut self, path: &str, code: &str, message: impl Into<String>) {
        let mut node = &mut self.errors;
        for part in path.split('.') {
            let entry = node
                .entry(part.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            node = entry.as_object_mut().expect("form error nodes are objects");
        }
        let list = node
            .entry("_errors".to_owned())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = list {
            list.push(json!({ "code": code, "message": message.into() }));
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// Ok when nothing was recorded, otherwise the 50035 error.
    pub(crate) fn finish(self) -> Result<(), ApiError> {
        if self.is_empty() {
            return Ok(());
        }
        Err(ApiError {
            status: StatusCode::BAD_REQUEST,
            code: 50035,
            message: "Invalid Form Body".to_owned(),
            errors: Some(Value::Object(self.errors)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_errors_nest_by_path() {
        let mut errors = FormErrors::new();
        errors.add(
            "options.0.name",
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 32 in length.",
        );
        let err = errors.finish().unwrap_err();
        assert_eq!(err.code, 50035);
        assert_eq!(
            err.body()["errors"]["options"]["0"]["name"]["_errors"][0]["code"],
            "BASE_TYPE_BAD_LENGTH"
        );
    }
}

//! The control API over HTTP under `/_sim/...`, for the binary and for processes that cannot
//! hold the Rust handle.

use std::sync::Arc;

use axum::Router;

use crate::Shared;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let _ = shared;
    Router::new()
}

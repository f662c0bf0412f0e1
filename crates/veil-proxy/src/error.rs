//! Failures of the proxy itself, answered to the local client as Open
//! Inference Protocol error bodies (`{"error": ..., "code": ...}`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use veil_client::ClientError;
use veil_protocol::{ErrorBody, ErrorCode};

/// A request the proxy could not carry to the server.
///
/// Errors the *server* answers inside the channel are not `ProxyError`s:
/// they reach the local client unchanged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The local request body exceeds the proxy's configured limit.
    #[error("the request body exceeds the proxy's limit of {limit} bytes")]
    BodyTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// The local request could not be read or is not expressible inside the
    /// channel (a non-UTF-8 header, say).
    #[error("the local request is malformed: {0}")]
    BadRequest(String),
    /// The server could not be reached, failed (re-)attestation, or answered
    /// outside the channel. Nothing was sent to an unverified key.
    #[error("the Veil server could not be reached securely: {0}")]
    Upstream(#[from] ClientError),
}

impl ProxyError {
    fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        match self {
            ProxyError::BodyTooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge)
            }
            ProxyError::BadRequest(_) => (StatusCode::BAD_REQUEST, ErrorCode::BadRequest),
            // The server's own outer refusal of an oversized message is the
            // local client's problem to fix, so it keeps its status.
            ProxyError::Upstream(e) if e.code() == Some(ErrorCode::PayloadTooLarge) => {
                (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge)
            }
            ProxyError::Upstream(_) => (StatusCode::BAD_GATEWAY, ErrorCode::Unavailable),
        }
    }
}

impl IntoResponse for ProxyError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let body = serde_json::to_vec(&ErrorBody::new(code, self.to_string())).unwrap_or_default();
        (
            status,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    }
}

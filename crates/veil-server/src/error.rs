//! The error every handler returns: a code, a message without request data,
//! and for bad inputs the signature the model expects.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use veil_engine::EngineError;
use veil_protocol::{ErrorBody, ErrorCode};
use veil_tensor::ModelSignature;

/// A typed API error, rendered as an [`ErrorBody`].
#[derive(Debug)]
pub struct ApiError {
    /// Machine-readable code; decides the HTTP status.
    pub code: ErrorCode,
    /// Human message; never request data.
    pub message: String,
    /// For `invalid_input`: what the model expects.
    pub expected: Option<ModelSignature>,
    /// When the client may retry, sent as `Retry-After` (whole seconds, at least 1).
    pub retry_after: Option<Duration>,
}

impl ApiError {
    /// An error with a code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            expected: None,
            retry_after: None,
        }
    }

    /// The same error, telling the client to retry after `wait`.
    pub fn with_retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    /// The rendered body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.message.clone(),
            code: self.code,
            expected: self.expected.clone(),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::InvalidModel(reason) => ApiError::new(
                ErrorCode::InvalidModel,
                format!("the model cannot be loaded: {reason}"),
            ),
            EngineError::InvalidInput { reason, expected } => ApiError {
                code: ErrorCode::InvalidInput,
                message: format!("{reason}; the model expects {expected}"),
                expected: Some(expected),
                retry_after: None,
            },
            EngineError::Run(reason) => ApiError::new(
                ErrorCode::InferenceFailed,
                format!("inference failed: {reason}"),
            ),
            other => ApiError::new(ErrorCode::Internal, other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        tracing::debug!(code = %self.code, "request refused");
        let mut resp = (status, Json(self.body())).into_response();
        if let Some(wait) = self.retry_after {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        // Lets the gateway count the outcome without parsing the body.
        resp.extensions_mut().insert(self.code);
        resp
    }
}

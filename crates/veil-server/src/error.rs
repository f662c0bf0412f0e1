//! The error every handler returns: a code, a message without request data,
//! and for bad inputs the signature the model expects.

use axum::Json;
use axum::http::StatusCode;
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
}

impl ApiError {
    /// An error with a code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            expected: None,
        }
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
        // Lets the gateway count the outcome without parsing the body.
        resp.extensions_mut().insert(self.code);
        resp
    }
}

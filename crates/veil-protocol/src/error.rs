//! Machine-readable error codes, the JSON error body that carries them, and
//! this crate's own error type.

use std::fmt;

use serde::{Deserialize, Serialize};
use veil_tensor::ModelSignature;

/// What went wrong, as a stable machine-readable code.
///
/// Every error response inside the encrypted channel carries one, next to a
/// human message that never contains request data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The uploaded bytes are not a model the engine can load.
    InvalidModel,
    /// No model of that name is loaded.
    ModelNotFound,
    /// Inputs do not match the model's signature (names, dtypes, shapes).
    InvalidInput,
    /// The model's SHA-256 differs from the one the client expected.
    ModelHashMismatch,
    /// Missing or wrong owner token or API key.
    Unauthorized,
    /// A body or tensor exceeds a configured limit.
    PayloadTooLarge,
    /// The outer OHTTP message could not be decapsulated.
    BadEncapsulation,
    /// The request is malformed (bad JSON, bad header, bad name).
    BadRequest,
    /// No such route.
    NotFound,
    /// The route exists but not with this method.
    MethodNotAllowed,
    /// The engine failed while running a valid request.
    InferenceFailed,
    /// The server is overloaded or not ready; retry later.
    Unavailable,
    /// A state-changing call (model upload or delete) carried no fresh
    /// single-use server challenge: missing, unknown, expired or already used.
    InvalidChallenge,
    /// Too many failed authentication attempts; retry after `Retry-After`.
    TooManyRequests,
    /// An upload of a new model name while the server holds the configured
    /// maximum number of models; delete one first.
    ModelLimitReached,
    /// A replica asked for the sealing key with evidence that does not pin
    /// the same code as this server, or this server cannot share it.
    ReplicaRefused,
    /// An unexpected server-side failure.
    Internal,
}

impl ErrorCode {
    /// Every code, for documents that list them (the OpenAPI schema).
    pub const ALL: [ErrorCode; 17] = [
        ErrorCode::InvalidModel,
        ErrorCode::ModelNotFound,
        ErrorCode::InvalidInput,
        ErrorCode::ModelHashMismatch,
        ErrorCode::Unauthorized,
        ErrorCode::PayloadTooLarge,
        ErrorCode::BadEncapsulation,
        ErrorCode::BadRequest,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::InferenceFailed,
        ErrorCode::Unavailable,
        ErrorCode::InvalidChallenge,
        ErrorCode::TooManyRequests,
        ErrorCode::ModelLimitReached,
        ErrorCode::ReplicaRefused,
        ErrorCode::Internal,
    ];

    /// The HTTP status that carries this code.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidModel
            | ErrorCode::InvalidInput
            | ErrorCode::BadEncapsulation
            | ErrorCode::BadRequest => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::InvalidChallenge | ErrorCode::ReplicaRefused => 403,
            ErrorCode::ModelNotFound | ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::ModelHashMismatch => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::TooManyRequests => 429,
            ErrorCode::InferenceFailed | ErrorCode::Internal => 500,
            ErrorCode::Unavailable => 503,
            ErrorCode::ModelLimitReached => 507,
        }
    }

    /// The snake_case name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidModel => "invalid_model",
            ErrorCode::ModelNotFound => "model_not_found",
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::ModelHashMismatch => "model_hash_mismatch",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::BadEncapsulation => "bad_encapsulation",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::InferenceFailed => "inference_failed",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::InvalidChallenge => "invalid_challenge",
            ErrorCode::TooManyRequests => "too_many_requests",
            ErrorCode::ModelLimitReached => "model_limit_reached",
            ErrorCode::ReplicaRefused => "replica_refused",
            ErrorCode::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The JSON body of every error response.
///
/// `error` is the Open Inference Protocol's error string, so plain OIP
/// clients show the message; `code` is Veil's machine-readable addition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Human-readable message; never contains request data.
    pub error: String,
    /// Machine-readable code.
    pub code: ErrorCode,
    /// For `invalid_input`: the signature the model expects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<ModelSignature>,
}

impl ErrorBody {
    /// An error body with a code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody {
            error: message.into(),
            code,
            expected: None,
        }
    }
}

/// Failures of this crate's encoders, decoders and checks.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A message could not be parsed; says which part.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// Which message or field.
        what: &'static str,
        /// Why (never request data).
        reason: String,
    },
    /// OHTTP encapsulation or decapsulation failed.
    #[error("oblivious HTTP: {0}")]
    Ohttp(#[from] ohttp::Error),
    /// Binary HTTP encoding or decoding failed.
    #[error("binary HTTP: {0}")]
    Bhttp(#[from] bhttp::Error),
    /// Attestation of the server failed.
    #[error(transparent)]
    Attestation(#[from] veil_attest::AttestationError),
    /// Tensors could not be encoded or decoded.
    #[error("{0}")]
    Tensor(String),
}

impl ProtocolError {
    /// A parse failure of `what`.
    pub fn malformed(what: &'static str, reason: impl fmt::Display) -> Self {
        ProtocolError::Malformed {
            what,
            reason: reason.to_string(),
        }
    }
}

//! What can go wrong on the client side.

use veil_attest::AttestationError;
use veil_protocol::{ErrorBody, ErrorCode, ProtocolError};
use veil_tensor::ModelSignature;

/// A failed client call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server's evidence did not verify; nothing was sent to it.
    #[error(transparent)]
    Attestation(#[from] AttestationError),
    /// The server could not be reached or the transport failed.
    #[error("connection to the server failed: {0}")]
    Connection(String),
    /// The server answered with an error (inside the encrypted channel
    /// unless the code is `bad_encapsulation` or `payload_too_large`).
    #[error("server refused the request ({code}, HTTP {status}): {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// Machine-readable code.
        code: ErrorCode,
        /// Human message.
        message: String,
        /// For `invalid_input`: the signature the model expects.
        expected: Option<ModelSignature>,
        /// The server's id of the request (its `x-request-id` header), to
        /// quote when reporting a problem; `None` if the server sent none.
        request_id: Option<String>,
    },
    /// A message from the server did not parse or decrypt.
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    /// A local file could not be read.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl ClientError {
    /// The server's error code, if the server answered with one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Server { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether the server could not decapsulate the request: its key is not
    /// the one this client verified (a restart, a rotation, another
    /// replica). The remedy is [`Client::reconnect`](crate::Client::reconnect),
    /// which verifies the new key before anything is sent to it.
    pub fn is_bad_encapsulation(&self) -> bool {
        self.code() == Some(ErrorCode::BadEncapsulation)
    }

    /// The server's id of the failed request, if it sent one: quote it when
    /// reporting a problem to the server's operator.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            ClientError::Server { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// Records the server's request id on a `Server` error.
    pub(crate) fn with_request_id(mut self, id: Option<&str>) -> Self {
        if let ClientError::Server { request_id, .. } = &mut self {
            *request_id = id.map(str::to_owned);
        }
        self
    }

    pub(crate) fn from_response(status: u16, body: &[u8]) -> Self {
        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(e) => ClientError::Server {
                status,
                code: e.code,
                message: e.error,
                expected: e.expected,
                request_id: None,
            },
            Err(_) => ClientError::Server {
                status,
                code: if status == 404 {
                    ErrorCode::NotFound
                } else {
                    ErrorCode::Internal
                },
                message: format!("HTTP {status} without a Veil error body"),
                expected: None,
                request_id: None,
            },
        }
    }

    pub(crate) fn connection(e: impl std::fmt::Display) -> Self {
        ClientError::Connection(e.to_string())
    }
}

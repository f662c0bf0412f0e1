//! The inner API: Open Inference Protocol (KServe v2) REST plus Veil's model
//! repository calls. Reachable only through the gateway, so every byte here
//! arrived encrypted to the attested key.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use base64::Engine as _;
use futures::StreamExt;
use serde_json::json;
use sha2::{Digest, Sha256};
use veil_model_crypto::owner::{self, OwnerDecryptor, OwnerModelError};
use veil_protocol::ErrorCode;
use veil_protocol::ProtocolError;
use veil_protocol::challenge::IssuedChallenge;
use veil_protocol::model_key::{MODEL_KEY_PATH, ModelKeyInfo};
use veil_protocol::oip::{self, InferRequest, InferResponse, ModelMetadata, ServerMetadata};
use veil_protocol::replica::{self, JoinRequest, SealedSealingKey};

use crate::auth::{bearer, token_allowed};
use crate::challenge::{CHALLENGE_HEADER, CHALLENGE_PATH, ChallengeError};
use crate::error::ApiError;
use crate::metrics::{InferredModel, Rejection, Stage};
use crate::model_name::ModelName;
use crate::state::Services;

type S = State<Arc<Services>>;

/// The inner router.
pub fn router(services: Arc<Services>) -> Router {
    Router::new()
        .route("/v2", get(server_metadata))
        .route("/v2/health/live", get(live))
        .route("/v2/health/ready", get(ready))
        .route("/v2/models/{name}", get(model_metadata))
        .route("/v2/models/{name}/ready", get(model_ready))
        .route("/v2/models/{name}/infer", post(infer))
        .route("/v2/repository/index", get(index).post(index))
        .route("/v2/repository/models/{name}", put(upload).delete(delete))
        .route(CHALLENGE_PATH, post(challenge))
        .route(MODEL_KEY_PATH, get(model_key))
        .route(replica::SEALING_KEY_PATH, post(replica_sealing_key))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // The gateway already bounded the ciphertext; uploads bound themselves.
        .layer(DefaultBodyLimit::disable())
        .with_state(services)
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such route in the inner API")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "method not allowed on this route",
    )
}

fn token(headers: &HeaderMap) -> Option<&str> {
    bearer(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    )
}

/// Checks a token with `allowed`, unless failed checks are being rate
/// limited: then it answers 429 without looking at the token, so that a
/// guesser learns nothing faster than the limit allows.
fn check_token(
    s: &Services,
    allowed: impl FnOnce() -> bool,
    refusal: &'static str,
) -> Result<(), ApiError> {
    if let Err(wait) = s.auth_failures.check() {
        return Err(ApiError::new(
            ErrorCode::TooManyRequests,
            "too many failed authentication attempts; retry later",
        )
        .with_retry_after(wait));
    }
    if allowed() {
        Ok(())
    } else {
        s.auth_failures.record_failure();
        Err(ApiError::new(ErrorCode::Unauthorized, refusal))
    }
}

fn require_owner(s: &Services, headers: &HeaderMap) -> Result<(), ApiError> {
    check_token(
        s,
        || token_allowed(token(headers), &s.config.owner_tokens),
        "this call needs a valid owner token",
    )
}

fn require_user(s: &Services, headers: &HeaderMap) -> Result<(), ApiError> {
    if s.config.api_keys.is_empty() {
        return Ok(());
    }
    let t = token(headers);
    check_token(
        s,
        || token_allowed(t, &s.config.api_keys) || token_allowed(t, &s.config.owner_tokens),
        "this call needs a valid API key",
    )
}

/// Accepts the request's challenge once; see [`crate::challenge`].
fn require_fresh_challenge(s: &Services, headers: &HeaderMap) -> Result<(), ApiError> {
    let header = headers
        .get(CHALLENGE_HEADER)
        .map(|v| v.to_str().unwrap_or(""));
    s.challenges.redeem(header).map_err(|e| {
        if e != ChallengeError::Missing {
            tracing::warn!(reason = %e, "state-changing call refused: stale or replayed challenge");
        }
        ApiError::new(ErrorCode::InvalidChallenge, e.to_string())
    })
}

/// Issues a single-use challenge for one upload or delete (owner only).
async fn challenge(State(s): S, headers: HeaderMap) -> Result<Json<IssuedChallenge>, ApiError> {
    require_owner(&s, &headers)?;
    Ok(Json(IssuedChallenge {
        challenge: s.challenges.issue(),
        expires_in_seconds: s.challenges.ttl().as_secs(),
    }))
}

/// The key owners encrypt models to. Public, but served only inside the
/// channel: that is what lets a client trust it came from the attested TEE.
async fn model_key(State(s): S, headers: HeaderMap) -> Result<Json<ModelKeyInfo>, ApiError> {
    require_user(&s, &headers)?;
    let public = s.owner_model_key.public();
    Ok(Json(ModelKeyInfo {
        suite: owner::SUITE.into(),
        public_key: base64::engine::general_purpose::STANDARD.encode(public.as_bytes()),
        key_id: public.key_id().to_string(),
    }))
}

/// Hands the sealing key to a replica of this server, sealed to it. No
/// token: the replica's evidence is the credential ([`crate::replica`]).
async fn replica_sealing_key(State(s): S, body: Bytes) -> Result<Json<SealedSealingKey>, ApiError> {
    let request: JoinRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            ErrorCode::BadRequest,
            // Position only: serde's messages can quote the input.
            format!(
                "the join request is not valid JSON of the expected shape (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })?;
    Ok(Json(s.replicas.answer(&request)?))
}

async fn server_metadata() -> Json<ServerMetadata> {
    Json(ServerMetadata {
        name: "veil".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        extensions: vec!["binary_tensor_data".into(), "model_repository".into()],
    })
}

async fn live() -> Json<serde_json::Value> {
    Json(json!({ "live": true }))
}

/// Ready until the server starts draining; then `503 {"ready": false}`.
async fn ready(State(s): S) -> Response {
    let ready = s.readiness.is_ready();
    let status = if ready {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(json!({ "ready": ready }))).into_response()
}

async fn model_metadata(
    State(s): S,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Json<ModelMetadata>, ApiError> {
    require_user(&s, &headers)?;
    let m = s.registry.get(&name)?;
    let sig = m.model.signature();
    Ok(Json(ModelMetadata {
        name: m.name.to_string(),
        versions: vec!["1".into()],
        platform: "onnxruntime_onnx".into(),
        inputs: sig.inputs.clone(),
        outputs: sig.outputs.clone(),
        sha256: m.sha256.clone(),
    }))
}

async fn model_ready(
    State(s): S,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    require_user(&s, &headers)?;
    let m = s.registry.get(&name)?;
    Ok(Json(json!({ "name": m.name.as_str(), "ready": true })))
}

async fn index(
    State(s): S,
    headers: HeaderMap,
) -> Result<Json<Vec<oip::RepositoryEntry>>, ApiError> {
    require_user(&s, &headers)?;
    Ok(Json(s.registry.index()))
}

fn decode_error(e: ProtocolError) -> ApiError {
    match e {
        ProtocolError::Tensor(reason) => ApiError::new(ErrorCode::InvalidInput, reason),
        other => ApiError::new(ErrorCode::BadRequest, other.to_string()),
    }
}

async fn infer(
    State(s): S,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_user(&s, &headers)?;
    let model = s.registry.get(&name)?;
    let header_length = match headers.get(oip::HEADER_LENGTH_HEADER) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::BadRequest,
                        "Inference-Header-Content-Length must be a byte count",
                    )
                })?,
        ),
    };
    // The input tensors are views of `body`, not copies of it.
    let mut request = InferRequest::decode_shared(body, header_length).map_err(|e| {
        let mut err = decode_error(e);
        if err.code == ErrorCode::InvalidInput {
            err.expected = Some(model.model.signature().clone());
        }
        err
    })?;
    if let Some(expected) = &request.expected_sha256
        && !expected.eq_ignore_ascii_case(&model.sha256)
    {
        return Err(ApiError::new(
            ErrorCode::ModelHashMismatch,
            format!(
                "the model served under this name has SHA-256 {}, not the one the client expects",
                model.sha256
            ),
        ));
    }
    let limit = s.config.limits.max_tensor_elements;
    if request.inputs.iter().any(|(_, t)| t.len() > limit) {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("an input tensor has more than the configured limit of {limit} elements"),
        ));
    }
    let wanted: Option<Vec<String>> = request
        .outputs
        .as_ref()
        .map(|o| o.iter().map(|r| r.name.clone()).collect());
    // Moved, not copied: the request keeps only what shapes the response.
    let inputs = std::mem::take(&mut request.inputs);
    let ticket = match s.gates.get(model.name.as_str()).admit() {
        Ok(ticket) => ticket,
        Err(e) => {
            tracing::debug!(model = %model.name, "inference queue full");
            s.metrics.rejected(Rejection::QueueFull);
            let mut resp = e.into_response();
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return Ok(resp);
        }
    };
    // The model's session threads run it; the ticket is held until the run
    // ends, even if the client has gone.
    let outcome = model.model.submit(inputs, wanted, Box::new(ticket)).await;
    let (outputs, waited, ran) = (outcome.outputs, outcome.queued, outcome.ran);
    let outputs = outputs?;
    s.metrics
        .inference(model.name.as_str(), Stage::Queue, waited);
    s.metrics.inference(model.name.as_str(), Stage::Run, ran);
    tracing::debug!(
        model = %model.name,
        queue_us = waited.as_micros() as u64,
        run_us = ran.as_micros() as u64,
        "inference"
    );
    let response = InferResponse {
        model_name: model.name.to_string(),
        id: request.id.clone(),
        outputs,
    };
    let encoded = response
        .encode(|n| request.wants_binary(n))
        .map_err(|e| ApiError::new(ErrorCode::InferenceFailed, e.to_string()))?;
    let mut resp = Response::new(Body::from(encoded.body));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(if encoded.header_length.is_some() {
            oip::BINARY_CONTENT_TYPE
        } else {
            oip::JSON_CONTENT_TYPE
        }),
    );
    if let Some(n) = encoded.header_length {
        resp.headers_mut()
            .insert(oip::HEADER_LENGTH_HEADER, HeaderValue::from(n));
    }
    resp.extensions_mut()
        .insert(InferredModel(model.name.to_string()));
    Ok(resp)
}

/// Whether an upload's body is an owner-encrypted model (its content type).
fn is_owner_encrypted_upload(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case(owner::MEDIA_TYPE))
}

fn owner_encryption_error(e: OwnerModelError) -> ApiError {
    ApiError::new(ErrorCode::InvalidModel, e.to_string())
}

/// The plaintext of an upload on its way into the store: hashed, counted
/// against the model size limit, and sealed into the temp file.
struct ReceivedModel {
    temp: crate::store::TempModel,
    hasher: Sha256,
    size: u64,
    max: u64,
    /// The first bytes, to recognise an encrypted model sent as plaintext.
    head: Vec<u8>,
}

impl ReceivedModel {
    fn take(&mut self, bytes: &[u8]) -> Result<(), ApiError> {
        self.size += bytes.len() as u64;
        if self.size > self.max {
            return Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!(
                    "the model exceeds the configured limit of {} bytes",
                    self.max
                ),
            ));
        }
        let wanted = owner::MAGIC.len().saturating_sub(self.head.len());
        self.head
            .extend_from_slice(&bytes[..wanted.min(bytes.len())]);
        self.hasher.update(bytes);
        self.temp.write_all(bytes).map_err(cannot_store)
    }
}

fn cannot_store(e: std::io::Error) -> ApiError {
    tracing::error!(error = %e, "cannot write upload");
    ApiError::new(ErrorCode::Internal, "the server could not store the upload")
}

async fn upload(
    State(s): S,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    require_owner(&s, &headers)?;
    let name =
        ModelName::new(&name).map_err(|e| ApiError::new(ErrorCode::BadRequest, e.to_string()))?;
    require_fresh_challenge(&s, &headers)?;
    let max_models = s.config.limits.max_models;
    // Refused before a byte is stored; checked again when installing.
    s.registry.check_room(&name, max_models)?;
    let mut received = ReceivedModel {
        temp: s.registry.store().temp(&name).map_err(cannot_store)?,
        hasher: Sha256::new(),
        size: 0,
        max: s.config.limits.max_model_bytes,
        head: Vec::new(),
    };
    // An owner-encrypted model is opened here, inside the TEE, chunk by
    // authenticated chunk: no plaintext of it ever existed outside.
    let mut decryptor =
        is_owner_encrypted_upload(&headers).then(|| OwnerDecryptor::new(&s.owner_model_key));
    let mut plaintext = Vec::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| {
            ApiError::new(
                ErrorCode::BadRequest,
                "the upload was cut off before its end",
            )
        })?;
        match &mut decryptor {
            None => received.take(&chunk)?,
            Some(d) => {
                d.push(&chunk, &mut plaintext)
                    .map_err(owner_encryption_error)?;
                received.take(&plaintext)?;
                plaintext.clear();
            }
        }
    }
    match decryptor {
        Some(d) => {
            d.finish(&mut plaintext).map_err(owner_encryption_error)?;
            received.take(&plaintext)?;
        }
        None if owner::is_owner_encrypted(&received.head) => {
            return Err(ApiError::new(
                ErrorCode::InvalidModel,
                format!(
                    "the upload is an owner-encrypted model sent as plaintext: send it with content type {}",
                    owner::MEDIA_TYPE
                ),
            ));
        }
        None => {}
    }
    if received.size == 0 {
        return Err(ApiError::new(
            ErrorCode::InvalidModel,
            "the upload is empty",
        ));
    }
    let ReceivedModel {
        temp, hasher, size, ..
    } = received;
    let info = s
        .registry
        .install(temp, hex::encode(hasher.finalize()), size, max_models)
        .await?;
    Ok(Json(info).into_response())
}

async fn delete(
    State(s): S,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    require_owner(&s, &headers)?;
    require_fresh_challenge(&s, &headers)?;
    s.registry.delete(&name).await?;
    Ok(Json(json!({ "name": name, "deleted": true })))
}

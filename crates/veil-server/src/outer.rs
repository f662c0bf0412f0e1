//! The outer API: public, plaintext, safe to pass through any proxy.
//!
//! * `GET /v1/health`
//! * `GET /v1/health/live`, `GET /v1/health/ready` — probes (ready: 503 while draining)
//! * `GET /v1/attestation?nonce=<64 hex>` — the evidence bundle
//! * `POST /v1/ohttp` — encapsulated requests (see [`crate::gateway`])
//! * `GET /metrics` — Prometheus metrics (see [`crate::metrics`])
//! * `GET /v1/openapi.json`, `GET /v1/openapi-inner.json` — the API documents
//!   (see [`crate::openapi`])

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use veil_protocol::ErrorCode;
use veil_protocol::bundle::EvidenceBundle;
use veil_protocol::channel::{CHUNKED_REQUEST_MEDIA_TYPE, REQUEST_MEDIA_TYPE};
use veil_protocol::transcript::{self, Nonce};

use crate::budget::{self, ReadBodyError};
use crate::error::ApiError;
use crate::gateway;
use crate::metrics::{self, Rejection};
use crate::openapi::{self, path};
use crate::state::AppState;

/// The whole server as one router, ready for `axum::serve`.
pub fn app(state: AppState) -> Router {
    // The same paths as the OpenAPI document (`crate::openapi`), which a
    // test requests one by one.
    Router::new()
        .route(path::HEALTH, get(health))
        .route(path::HEALTH_LIVE, get(health_live))
        .route(path::HEALTH_READY, get(health_ready))
        .route(path::ATTESTATION, get(attestation))
        .route(path::OHTTP, post(ohttp))
        .route(path::METRICS, get(metrics))
        .route(path::OPENAPI, get(openapi::serve_outer))
        .route(path::OPENAPI_INNER, get(openapi::serve_inner))
        .fallback(|| async {
            ApiError::new(
                ErrorCode::NotFound,
                "no such route; the inner API is reached through /v1/ohttp",
            )
        })
        // Bodies are bounded per framing in `ohttp` below.
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

async fn health(State(s): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({
        "status": "ok",
        "platform": s.attestor.producer.platform().to_string(),
        "version": env!("CARGO_PKG_VERSION"),
        "models": s.services.registry.len(),
    }))
}

/// What `veil serve --metrics-listen` serves: `/metrics` and the two
/// probes, nothing that touches models or keys.
pub fn metrics_app(state: AppState) -> Router {
    Router::new()
        .route(path::METRICS, get(metrics))
        .route(path::HEALTH_LIVE, get(health_live))
        .route(path::HEALTH_READY, get(health_ready))
        .with_state(state)
}

/// Liveness: the process answers. Always `200 {"status":"live"}`.
async fn health_live() -> Json<serde_json::Value> {
    Json(json!({ "status": "live" }))
}

/// Readiness: `200 {"status":"ready"}`, or `503 {"status":"draining"}` once
/// the server drains before stopping.
async fn health_ready(State(s): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    if s.services.readiness.is_ready() {
        (StatusCode::OK, Json(json!({ "status": "ready" })))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "draining" })),
        )
    }
}

async fn metrics(State(s): State<AppState>) -> Response {
    let models = s
        .services
        .registry
        .index()
        .into_iter()
        .map(|m| (m.name, m.size_bytes.unwrap_or(0)));
    let platform = s.attestor.producer.platform();
    let endorsement = s
        .attestor
        .producer
        .endorsement_times()
        .map(|times| (platform.as_str(), times));
    match s.services.metrics.encode(models, endorsement) {
        Ok(text) => ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response(),
        Err(_) => {
            ApiError::new(ErrorCode::Internal, "the metrics could not be encoded").into_response()
        }
    }
}

#[derive(Deserialize)]
struct NonceQuery {
    nonce: String,
}

async fn attestation(
    State(s): State<AppState>,
    query: Result<Query<NonceQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<EvidenceBundle>, ApiError> {
    let bad = || {
        ApiError::new(
            ErrorCode::BadRequest,
            "query parameter `nonce` must be 64 hex digits (32 fresh random bytes)",
        )
    };
    let Ok(Query(q)) = query else {
        return Err(bad());
    };
    let nonce: Nonce = hex::decode(&q.nonce)
        .ok()
        .and_then(|n| n.try_into().ok())
        .ok_or_else(bad)?;
    let key_config = s.attestor.key.encoded_config();
    let report_data = transcript::report_data(key_config, &nonce);
    let evidence = s.attestor.producer.produce(&report_data).map_err(|e| {
        tracing::error!(error = %e, "evidence production failed");
        ApiError::new(ErrorCode::Internal, "the server could not produce evidence")
    })?;
    s.services.metrics.attestation_served();
    Ok(Json(EvidenceBundle::new(
        &evidence,
        key_config,
        &nonce,
        env!("CARGO_PKG_VERSION"),
    )))
}

async fn ohttp(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let _in_flight = s.services.metrics.in_flight();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match content_type {
        REQUEST_MEDIA_TYPE => {
            let limit = s.services.config.limits.max_request_bytes;
            let timeout = s.services.config.limits.request_read_timeout;
            let read = budget::read_body(&s.services.request_budget, body, limit);
            match tokio::time::timeout(timeout, read).await {
                Err(_) => gateway::read_timeout(&s, timeout),
                // The reservation is held until the response is ready.
                Ok(Ok((bytes, _reserved))) => gateway::handle(&s, bytes).await,
                Ok(Err(ReadBodyError::OverBudget)) => gateway::over_budget(&s),
                Ok(Err(_)) => {
                    s.services.metrics.rejected(Rejection::PayloadTooLarge);
                    ApiError::new(
                    ErrorCode::PayloadTooLarge,
                    format!("encapsulated requests are limited to {limit} bytes; upload models with chunked OHTTP"),
                )
                .into_response()
                }
            }
        }
        CHUNKED_REQUEST_MEDIA_TYPE => gateway::handle_chunked(&s, body).await,
        _ => {
            let mut r = ApiError::new(
                ErrorCode::BadRequest,
                format!(
                    "content type must be {REQUEST_MEDIA_TYPE} or {CHUNKED_REQUEST_MEDIA_TYPE}"
                ),
            )
            .into_response();
            *r.status_mut() = axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE;
            r
        }
    }
}

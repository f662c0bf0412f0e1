//! The local HTTP side: every request, whatever its method and path, becomes
//! one inner request; the inner response comes back unchanged.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, HttpBody, to_bytes};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use veil_client::Client;
use veil_protocol::challenge::{
    CHALLENGE_HEADER, CHALLENGE_PATH, IssuedChallenge, needs_challenge,
};
use veil_protocol::inner::{InnerRequest, InnerResponse};

use crate::{Channel, Framing, ProxyError};

/// How the proxy treats local requests.
#[derive(Clone)]
#[non_exhaustive]
pub struct ProxyConfig {
    /// Largest local request body accepted, in bytes; larger ones get 413.
    pub max_body_bytes: usize,
    /// Sent as `Authorization: Bearer <token>` inside the channel when the
    /// local request has no `Authorization` header of its own: for clients
    /// that cannot set headers.
    pub default_token: Option<String>,
}

impl Default for ProxyConfig {
    /// 64 MiB bodies (the server's own default limit), no default token.
    fn default() -> Self {
        ProxyConfig {
            max_body_bytes: 64 << 20,
            default_token: None,
        }
    }
}

impl std::fmt::Debug for ProxyConfig {
    // The token is a credential: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyConfig")
            .field("max_body_bytes", &self.max_body_bytes)
            .field(
                "default_token",
                &self.default_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Shared state of the proxy: the verified channel and the configuration.
#[derive(Clone)]
pub struct ProxyState {
    channel: Arc<Channel>,
    config: Arc<ProxyConfig>,
}

impl ProxyState {
    /// State over a verified `client`.
    pub fn new(client: Client, config: ProxyConfig) -> Self {
        ProxyState {
            channel: Arc::new(Channel::new(client)),
            config: Arc::new(config),
        }
    }

    /// The channel, e.g. to read the current attestation or count
    /// re-attestations.
    pub fn channel(&self) -> &Channel {
        &self.channel
    }
}

/// The proxy as one router, ready for `axum::serve`: every method and path
/// is forwarded.
pub fn app(state: ProxyState) -> Router {
    Router::new()
        .fallback(forward)
        // Bounded in `forward`, with a proxy-specific error body.
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

/// Hop-by-hop and framing fields: they describe one HTTP connection (local
/// or outer), not the message, so they never cross the channel.
fn is_connection_specific(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "expect"
            | "host"
            | "content-length"
    )
}

async fn forward(State(state): State<ProxyState>, request: Request) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    // The path only: a query string may carry request data.
    let path = request.uri().path().to_owned();
    let (response, request_bytes) = match forward_request(&state, request).await {
        Ok((response, size)) => (response, size),
        Err(e) => {
            tracing::warn!(%method, path, error = %e, "not forwarded");
            (e.into_response(), 0)
        }
    };
    let response_bytes = response.body().size_hint().exact().unwrap_or(0);
    tracing::info!(
        %method,
        path,
        model = model_name(&path).unwrap_or("-"),
        status = response.status().as_u16(),
        request_bytes,
        response_bytes,
        latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        "forwarded"
    );
    response
}

async fn forward_request(
    state: &ProxyState,
    request: Request,
) -> Result<(Response, usize), ProxyError> {
    let (parts, body) = request.into_parts();
    let limit = state.config.max_body_bytes;
    let body = to_bytes(body, limit).await.map_err(|e| {
        if is_length_limit(&e) {
            ProxyError::BodyTooLarge { limit }
        } else {
            ProxyError::BadRequest(format!("the body could not be read: {e}"))
        }
    })?;
    let size = body.len();
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let mut headers = inner_headers(&parts.headers, state.config.default_token.as_deref())?;
    // Uploads and deletes carry a fresh single-use server challenge, so a
    // replay of their ciphertext changes nothing; local clients know
    // nothing of it, so the proxy fetches one for them.
    if needs_challenge(parts.method.as_str(), parts.uri.path())
        && !headers.iter().any(|(n, _)| n == CHALLENGE_HEADER)
    {
        match fetch_challenge(state, &headers).await? {
            Ok(challenge) => headers.push((CHALLENGE_HEADER.to_owned(), challenge)),
            // Refused (e.g. a wrong owner token): the local client sees why.
            Err(refusal) => return Ok((local_response(refusal), size)),
        }
    }
    // Uploads go chunked, so the server's single-message limit does not
    // bound them and the proxy holds the model once, not once per encoding.
    let framing = if parts.method == Method::PUT {
        headers.push(("content-length".to_owned(), size.to_string()));
        Framing::Chunked
    } else {
        Framing::Whole
    };
    let inner = InnerRequest {
        method: parts.method.as_str().to_owned(),
        path,
        headers,
        body: body.into(),
    };
    let answer = state.channel.send(&inner, framing).await?;
    Ok((local_response(answer), size))
}

/// A challenge from the server, asked for with the local request's
/// credentials; or the server's refusal, to pass on.
async fn fetch_challenge(
    state: &ProxyState,
    headers: &[(String, String)],
) -> Result<Result<String, InnerResponse>, ProxyError> {
    let request = InnerRequest {
        method: "POST".to_owned(),
        path: CHALLENGE_PATH.to_owned(),
        headers: headers
            .iter()
            .filter(|(n, _)| n == "authorization")
            .cloned()
            .collect(),
        body: Vec::new(),
    };
    let answer = state.channel.send(&request, Framing::Whole).await?;
    if answer.status != 200 {
        return Ok(Err(answer));
    }
    let issued: IssuedChallenge = serde_json::from_slice(&answer.body).map_err(|e| {
        ProxyError::Upstream(veil_protocol::ProtocolError::malformed("server challenge", e).into())
    })?;
    Ok(Ok(issued.challenge))
}

fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// The local request's header fields as the inner request carries them:
/// names lowercase, connection-specific ones dropped, and the proxy's
/// default token added when the local client sent no `Authorization`.
fn inner_headers(
    headers: &HeaderMap,
    default_token: Option<&str>,
) -> Result<Vec<(String, String)>, ProxyError> {
    let mut out = Vec::with_capacity(headers.len() + 1);
    for (name, value) in headers {
        if is_connection_specific(name) {
            continue;
        }
        let value = value
            .to_str()
            .map_err(|_| ProxyError::BadRequest(format!("header `{name}` is not visible ASCII")))?;
        out.push((name.as_str().to_owned(), value.to_owned()));
    }
    if let Some(token) = default_token
        && !headers.contains_key(header::AUTHORIZATION)
    {
        out.push(("authorization".to_owned(), format!("Bearer {token}")));
    }
    Ok(out)
}

/// The inner response as a local response: same status, same fields (less
/// connection-specific ones, which the local connection sets itself), same
/// body. Fields the local side cannot carry are dropped, not guessed at.
fn local_response(inner: InnerResponse) -> Response {
    let status = StatusCode::from_u16(inner.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut response = Response::new(Body::from(inner.body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in &inner.headers {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) else {
            continue;
        };
        if !is_connection_specific(&name) {
            headers.append(name, value);
        }
    }
    response
}

/// The model a request is about, for logs: `/v2/models/{name}/...` and
/// `/v2/repository/models/{name}/...`.
fn model_name(path: &str) -> Option<&str> {
    let rest = path
        .strip_prefix("/v2/models/")
        .or_else(|| path.strip_prefix("/v2/repository/models/"))?;
    rest.split('/').next().filter(|name| !name.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_name_is_taken_from_model_and_repository_paths() {
        assert_eq!(model_name("/v2/models/mlp/infer"), Some("mlp"));
        assert_eq!(model_name("/v2/models/mlp"), Some("mlp"));
        assert_eq!(model_name("/v2/repository/models/mlp"), Some("mlp"));
        assert_eq!(model_name("/v2/health/ready"), None);
        assert_eq!(model_name("/v2/models/"), None);
    }

    #[test]
    fn connection_fields_are_dropped_and_authorization_kept() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("localhost"));
        h.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("3"));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer mine"),
        );
        h.insert(
            "inference-header-content-length",
            HeaderValue::from_static("42"),
        );
        let got = inner_headers(&h, Some("proxy-token")).unwrap_or_default();
        assert_eq!(
            got,
            vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                ("authorization".to_owned(), "Bearer mine".to_owned()),
                (
                    "inference-header-content-length".to_owned(),
                    "42".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn default_token_is_added_only_without_a_local_authorization() {
        let got = inner_headers(&HeaderMap::new(), Some("proxy-token")).unwrap_or_default();
        assert_eq!(
            got,
            vec![("authorization".to_owned(), "Bearer proxy-token".to_owned())]
        );
        assert!(
            inner_headers(&HeaderMap::new(), None)
                .unwrap_or_default()
                .is_empty()
        );
    }

    #[test]
    fn inner_response_status_fields_and_body_reach_the_local_client() {
        let r = local_response(InnerResponse {
            status: 404,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("inference-header-content-length".into(), "7".into()),
                ("transfer-encoding".into(), "chunked".into()),
            ],
            body: b"{}".to_vec(),
        });
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(r.headers()["inference-header-content-length"], "7");
        assert!(r.headers().get(header::TRANSFER_ENCODING).is_none());
    }
}

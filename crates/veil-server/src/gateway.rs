//! The OHTTP gateway: decapsulates a request with the attested key, runs it
//! through the inner API, and encapsulates the response to that request only.
//!
//! Two framings share one endpoint, chosen by content type:
//! * `message/ohttp-req` (RFC 9458): the whole message at once — inference
//!   and management calls;
//! * `message/ohttp-chunked-req` (draft-ietf-ohai-chunked-ohttp): a stream of
//!   authenticated chunks, read by `bhttp`'s streaming parser and fed to the
//!   handler as it arrives — model uploads, so a model is never held in
//!   memory whole on its way to disk. Truncation is detected (the final chunk
//!   is marked), and the handler sees an error, never a short model.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::{Body, Bytes, to_bytes};
use axum::http::{self, HeaderName, HeaderValue, Method, Request};
use axum::response::Response;
use bhttp::stream::AsyncReadMessage;
use futures::StreamExt;
use futures::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::compat::TokioAsyncReadCompatExt;
use tower::ServiceExt;
use tracing::Instrument;
use veil_protocol::ErrorCode;
use veil_protocol::channel::{CHUNKED_RESPONSE_MEDIA_TYPE, RESPONSE_MEDIA_TYPE};
use veil_protocol::inner::{self, InnerRequest, InnerResponse};

use crate::error::ApiError;
use crate::metrics::{self, Decapsulated, Framing, InferredModel, Rejection, Stage};
use crate::state::AppState;

/// Largest inner response body the gateway will encapsulate (our own
/// responses; a bound only against bugs).
const MAX_INNER_RESPONSE: usize = 1 << 31;

/// How much of a chunked request the gateway reads after the inner message.
const MAX_TRAILING_BYTES: u64 = 64 * 1024;

/// The header that carries a request's id: inside the encrypted inner
/// response, and on a plaintext outer error response.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// A fresh request id: 16 random hex digits. It identifies one OHTTP request
/// in the logs and is returned to the client, so a user can report it; it
/// is derived from nothing in the request.
pub fn new_request_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// The span that every log line of one OHTTP request is recorded in.
fn request_span(request_id: &str, framing: &'static str) -> tracing::Span {
    tracing::info_span!("ohttp", request_id, framing)
}

/// Puts the request id on a plaintext (non-200) outer response; a sealed
/// response carries it inside the encryption only.
fn tag_outer(mut response: Response, request_id: &str) -> Response {
    if !response.status().is_success()
        && let Ok(v) = HeaderValue::from_str(request_id)
    {
        response
            .headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), v);
    }
    response
}

/// Adds the request id to an inner response, before it is sealed.
fn tag_inner(mut response: InnerResponse, request_id: &str) -> InnerResponse {
    response
        .headers
        .push((REQUEST_ID_HEADER.into(), request_id.to_owned()));
    response
}

fn error_response(e: &ApiError) -> InnerResponse {
    InnerResponse {
        status: e.code.http_status(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: serde_json::to_vec(&e.body()).unwrap_or_default(),
    }
}

fn build_request(
    method: &[u8],
    path: &[u8],
    headers: &[(String, String)],
    body: Body,
) -> Result<Request<Body>, ApiError> {
    let bad = |what: &str| {
        ApiError::new(
            ErrorCode::BadRequest,
            format!("inner request has an invalid {what}"),
        )
    };
    let method = Method::from_bytes(method).map_err(|_| bad("method"))?;
    if !path.starts_with(b"/") {
        return Err(bad("path"));
    }
    let uri = http::Uri::try_from(path).map_err(|_| bad("path"))?;
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .body(body)
        .map_err(|_| bad("request line"))?;
    for (k, v) in headers {
        let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| bad("header name"))?;
        let value = HeaderValue::from_str(v).map_err(|_| bad("header value"))?;
        req.headers_mut().append(name, value);
    }
    Ok(req)
}

/// Runs an inner request; with the model it inferred with, if it was a
/// successful inference (its decapsulation time, when the request carries
/// one, is recorded for that model here).
async fn run_inner(state: &AppState, req: Request<Body>) -> (InnerResponse, Option<InferredModel>) {
    let route = metrics::route_label(req.method(), req.uri().path());
    let decapsulated = req.extensions().get::<Decapsulated>().copied();
    let Ok(resp) = state.inner.clone().oneshot(req).await;
    let (parts, body) = resp.into_parts();
    let outcome = parts.extensions.get::<ErrorCode>().copied();
    count_request(state, route, outcome);
    let inferred = parts.extensions.get::<InferredModel>().cloned();
    if let (Some(InferredModel(model)), Some(Decapsulated(took))) = (&inferred, decapsulated) {
        state
            .services
            .metrics
            .inference(model, Stage::Decapsulate, took);
    }
    (into_inner_response(parts, body).await, inferred)
}

async fn into_inner_response(parts: http::response::Parts, body: Body) -> InnerResponse {
    let body = match to_bytes(body, MAX_INNER_RESPONSE).await {
        // No copy when the handler's body was one buffer (an inference
        // response always is).
        Ok(b) => Vec::from(b),
        Err(_) => {
            return error_response(&ApiError::new(ErrorCode::Internal, "response body failed"));
        }
    };
    InnerResponse {
        status: parts.status.as_u16(),
        headers: parts
            .headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect(),
        body,
    }
}

/// Counts one request in the metrics, with a limit rejection if it was one.
fn count_request(state: &AppState, route: &'static str, outcome: Option<ErrorCode>) {
    let m = &state.services.metrics;
    m.request(route, outcome);
    if outcome == Some(ErrorCode::PayloadTooLarge) {
        m.rejected(Rejection::PayloadTooLarge);
    }
}

/// An inner request that never reached the router: counted as route `other`.
fn refused_inner(state: &AppState, e: &ApiError) -> InnerResponse {
    count_request(state, "other", Some(e.code));
    error_response(e)
}

fn plaintext_error(code: ErrorCode, message: &str) -> Response {
    axum::response::IntoResponse::into_response(ApiError::new(code, message))
}

fn sealed_response(media_type: &'static str, body: Vec<u8>) -> Response {
    let mut resp = Response::new(Body::from(body));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(media_type),
    );
    resp
}

/// The plaintext `408` for a client that did not send its request in time.
pub fn read_timeout(state: &AppState, timeout: Duration) -> Response {
    state.services.metrics.rejected(Rejection::ReadTimeout);
    tracing::debug!(
        timeout_ms = timeout.as_millis() as u64,
        "request body read timed out"
    );
    let mut r = plaintext_error(
        ErrorCode::BadRequest,
        &format!(
            "the request body did not arrive in time (limit {} ms); send it without pauses",
            timeout.as_millis()
        ),
    );
    *r.status_mut() = http::StatusCode::REQUEST_TIMEOUT;
    r
}

/// The plaintext `503` with `Retry-After` for a `message/ohttp-req` whose
/// body did not fit the server-wide budget of request bytes in flight (see
/// [`crate::budget`]), counted as a `request_budget` rejection.
pub fn over_budget(state: &AppState) -> Response {
    state.services.metrics.rejected(Rejection::RequestBudget);
    tracing::debug!("request refused: the in-flight request budget is spent");
    let mut r = plaintext_error(
        ErrorCode::Unavailable,
        "the server is reading too many large requests at once; retry later",
    );
    r.headers_mut()
        .insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

/// The body as a stream whose every part must arrive within `idle` of the
/// previous one; if not, the stream fails and `timed_out` is set.
fn idle_limited(
    body: Body,
    idle: Duration,
    timed_out: Arc<AtomicBool>,
) -> impl futures::Stream<Item = io::Result<Bytes>> + Send {
    let stream = body.into_data_stream();
    futures::stream::unfold(Some(stream), move |state| {
        let timed_out = timed_out.clone();
        async move {
            let mut stream = state?;
            match tokio::time::timeout(idle, stream.next()).await {
                Ok(Some(Ok(bytes))) => Some((Ok(bytes), Some(stream))),
                Ok(Some(Err(e))) => Some((Err(io::Error::other(e)), None)),
                Ok(None) => None,
                Err(_) => {
                    timed_out.store(true, Ordering::Release);
                    Some((
                        Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "the client paused too long",
                        )),
                        None,
                    ))
                }
            }
        }
    })
}

/// Handles one `message/ohttp-req`.
///
/// Every log line of the request carries its id (a span field,
/// `request_id`); the id is returned in the inner response's `x-request-id`
/// header, or in the outer one if the answer is a plaintext error.
pub async fn handle(state: &AppState, enc_request: Bytes) -> Response {
    with_request_id(state, Framing::Single, |id| async move {
        handle_timed(state, enc_request, &id).await
    })
    .await
}

/// Runs `handle(request_id)` inside the request's span, records its time,
/// and tags a plaintext answer with the id: the part both framings share.
async fn with_request_id<F, Fut>(state: &AppState, framing: Framing, handle: F) -> Response
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = Response>,
{
    let request_id = new_request_id();
    let span = request_span(&request_id, framing.as_str());
    async {
        let received = std::time::Instant::now();
        let response = handle(request_id.clone()).await;
        let took = received.elapsed();
        state.services.metrics.ohttp_request(framing, took);
        tracing::debug!(
            total_us = took.as_micros() as u64,
            status = response.status().as_u16(),
            "ohttp request"
        );
        tag_outer(response, &request_id)
    }
    .instrument(span)
    .await
}

async fn handle_timed(state: &AppState, enc_request: Bytes, request_id: &str) -> Response {
    // Decrypted where it lies: the body is taken over (without a copy when
    // nothing else holds it) and the inner request is read out of it, so its
    // body is copied once, into the `Body` the handler reads.
    let started = std::time::Instant::now();
    let mut enc_request = Vec::from(enc_request);
    let Ok((inner_bytes, sealer)) = state.attestor.key.decapsulate_in_place(&mut enc_request)
    else {
        return plaintext_error(
            ErrorCode::BadEncapsulation,
            "the request could not be decapsulated with this server's key; fetch a fresh attestation",
        );
    };
    let decoded = InnerRequest::decode(inner_bytes);
    drop(enc_request);
    let (inner_response, inferred) = match decoded {
        Err(e) => (
            refused_inner(state, &ApiError::new(ErrorCode::BadRequest, e.to_string())),
            None,
        ),
        Ok(req) => {
            match build_request(
                req.method.as_bytes(),
                req.path.as_bytes(),
                &req.headers,
                Body::from(req.body),
            ) {
                Ok(mut http_req) => {
                    http_req
                        .extensions_mut()
                        .insert(Decapsulated(started.elapsed()));
                    run_inner(state, http_req).await
                }
                Err(e) => (refused_inner(state, &e), None),
            }
        }
    };
    let encapsulating = std::time::Instant::now();
    match tag_inner(inner_response, request_id)
        .encode()
        .map_err(io::Error::other)
        .and_then(|b| sealer.seal(&b).map_err(io::Error::other))
    {
        Ok(sealed) => {
            if let Some(InferredModel(model)) = inferred {
                state.services.metrics.inference(
                    &model,
                    Stage::Encapsulate,
                    encapsulating.elapsed(),
                );
            }
            sealed_response(RESPONSE_MEDIA_TYPE, sealed)
        }
        Err(_) => plaintext_error(
            ErrorCode::Internal,
            "the response could not be encapsulated",
        ),
    }
}

/// The head of a chunked inner request.
struct Head {
    method: Vec<u8>,
    path: Vec<u8>,
    headers: Vec<(String, String)>,
}

/// Handles one `message/ohttp-chunked-req`, streaming the inner body to the handler.
///
/// The handler sees the end of the body only once the whole stream has
/// verified: the binary HTTP terminator and trailer, then OHTTP's final
/// chunk. Any truncation or trailing data reaches it as an error instead.
///
/// The request id is handled as in [`handle`].
pub async fn handle_chunked(state: &AppState, body: Body) -> Response {
    with_request_id(state, Framing::Chunked, |id| async move {
        handle_chunked_timed(state, body, &id).await
    })
    .await
}

async fn handle_chunked_timed(state: &AppState, body: Body, request_id: &str) -> Response {
    // `SyncStream`: the body is `Send` but not `Sync`, and the handler future
    // must be `Send` while the decapsulating reader is borrowed across awaits.
    let idle = state.services.config.limits.request_read_timeout;
    let timed_out = Arc::new(AtomicBool::new(false));
    let stream =
        sync_wrapper::SyncStream::new(Box::pin(idle_limited(body, idle, timed_out.clone())));
    let ciphertext = tokio_util::io::StreamReader::new(stream).compat();
    let mut request = Box::pin(
        state
            .attestor
            .key
            .ohttp_server()
            .clone()
            .decapsulate_stream(ciphertext),
    );

    let (head_tx, head_rx) = tokio::sync::oneshot::channel::<Result<Head, ErrorCode>>();
    let (body_tx, body_rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(4);

    let reader = async {
        // Moved in, so that the handler's body ends when this block does.
        let body_tx = body_tx;
        let mut message = bhttp::Message::async_read(&mut request);
        let head = match message.header().await {
            Err(_) => Err(ErrorCode::BadEncapsulation),
            Ok(header) => match (header.control().method(), header.control().path()) {
                (Some(method), Some(path)) => Ok(Head {
                    method: method.to_vec(),
                    path: path.to_vec(),
                    headers: inner::fields(header.fields()).unwrap_or_default(),
                }),
                _ => Err(ErrorCode::BadRequest),
            },
        };
        let ok = head.is_ok();
        let _ = head_tx.send(head);
        if !ok {
            return;
        }
        let mut failure = stream_body(&mut message, &body_tx).await;
        drop(message);
        if failure.is_none() {
            // After the inner message, only OHTTP's final chunk may follow.
            let mut rest = Vec::new();
            failure = match (&mut request)
                .take(MAX_TRAILING_BYTES)
                .read_to_end(&mut rest)
                .await
            {
                Ok(_) if rest.is_empty() => None,
                Ok(_) => Some("data follows the inner message"),
                Err(e) => {
                    tracing::debug!(error = %e, "chunked request ended badly");
                    Some("the stream ended without its final chunk")
                }
            };
        }
        if let Some(reason) = failure {
            tracing::warn!(reason, "chunked request refused");
            let _ = body_tx.send(Err(io::Error::other(reason))).await;
        }
        // Dropping the sender ends the handler's body: only now.
    };
    let handler = async {
        let head = match head_rx.await {
            Ok(Ok(head)) => head,
            Ok(Err(code)) => return Err(code),
            Err(_) => return Err(ErrorCode::Internal),
        };
        let body = Body::from_stream(futures::stream::unfold(body_rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        }));
        Ok(
            match build_request(&head.method, &head.path, &head.headers, body) {
                // Chunked requests are decrypted while the handler reads
                // them: no separate decapsulation stage to attribute.
                Ok(http_req) => run_inner(state, http_req).await.0,
                Err(e) => refused_inner(state, &e),
            },
        )
    };
    let ((), outcome) = tokio::join!(reader, handler);
    if timed_out.load(Ordering::Acquire) {
        return read_timeout(state, idle);
    }
    let inner_response = match outcome {
        Ok(r) => r,
        Err(ErrorCode::BadEncapsulation) => {
            return plaintext_error(
                ErrorCode::BadEncapsulation,
                "the chunked request could not be decapsulated with this server's key; fetch a fresh attestation",
            );
        }
        Err(code) => return plaintext_error(code, "the inner message is not a request"),
    };

    let encoded = match tag_inner(inner_response, request_id).encode() {
        Ok(e) => e,
        Err(_) => return plaintext_error(ErrorCode::Internal, "the response could not be encoded"),
    };
    let mut sealed = Vec::with_capacity(encoded.len() + 64);
    let written = async {
        let mut writer = request.response(&mut sealed).map_err(io::Error::other)?;
        writer.write_all(&encoded).await?;
        writer.close().await
    }
    .await;
    match written {
        Ok(()) => sealed_response(CHUNKED_RESPONSE_MEDIA_TYPE, sealed),
        Err(_) => plaintext_error(
            ErrorCode::Internal,
            "the response could not be encapsulated",
        ),
    }
}

/// Forwards the inner body to the handler; returns why it failed, if it did.
async fn stream_body<S: futures::io::AsyncRead + Unpin>(
    message: &mut bhttp::stream::AsyncMessage<S>,
    tx: &tokio::sync::mpsc::Sender<io::Result<Bytes>>,
) -> Option<&'static str> {
    let Ok(mut body) = message.body() else {
        return Some("the inner request has no body section");
    };
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match body.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => {
                if tx
                    .send(Ok(Bytes::copy_from_slice(&buf[..n])))
                    .await
                    .is_err()
                {
                    // The handler finished without reading everything.
                    return Some("the handler stopped reading");
                }
            }
            Err(e) => {
                // The error comes from the framing or the AEAD, never from
                // the plaintext: safe to log.
                tracing::debug!(error = %e, "chunked request body failed");
                return Some("the inner body is truncated or malformed");
            }
        }
    }
    message
        .trailer()
        .await
        .err()
        .map(|_| "the inner trailer is truncated or malformed")
}

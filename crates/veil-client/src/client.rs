//! Connecting (fetch evidence, verify it) and the typed calls.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use rand::RngCore;
use serde::de::DeserializeOwned;
use veil_attest::{Policy, VerifiedClaims};
use veil_protocol::bundle::{EvidenceBundle, VerifiedServer, verify_bundle};
use veil_protocol::challenge::{CHALLENGE_HEADER, CHALLENGE_PATH, IssuedChallenge};
use veil_protocol::channel::{ClientKey, REQUEST_MEDIA_TYPE};
use veil_protocol::inner::{InnerRequest, InnerRequestRef, InnerResponse};
use veil_protocol::oip::{
    self, InferRequest, InferResponse, ModelInfo, ModelMetadata, RepositoryEntry, ServerMetadata,
};
use veil_protocol::transcript::Nonce;

use crate::ClientError;

/// How to connect: the policy the server must satisfy, and credentials.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// What the server's evidence must prove.
    pub policy: Policy,
    /// Timeout of each HTTP exchange (uploads: of connecting only).
    pub timeout: Duration,
    /// Owner token for uploads and deletes; sent only inside the channel.
    pub owner_token: Option<String>,
    /// API key for inference, if the server requires one; sent only inside the channel.
    pub api_key: Option<String>,
}

impl ConnectOptions {
    /// Options with `policy`, a 30 s timeout and no credentials.
    pub fn new(policy: Policy) -> Self {
        ConnectOptions {
            policy,
            timeout: Duration::from_secs(30),
            owner_token: None,
            api_key: None,
        }
    }
}

/// A connection to a verified server.
pub struct Client {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    pub(crate) key: ClientKey,
    server: VerifiedServer,
    /// The evidence bundle exactly as the server sent it (shared by clones).
    bundle_json: std::sync::Arc<[u8]>,
    pub(crate) options: ConnectOptions,
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(crate) fn segment(name: &str) -> String {
    utf8_percent_encode(name, NON_ALPHANUMERIC).to_string()
}

impl Client {
    /// Fetches the server's evidence with a fresh nonce and verifies it
    /// against `options.policy`. Nothing else is sent before this succeeds.
    pub async fn connect(url: &str, options: ConnectOptions) -> Result<Self, ClientError> {
        let base = url.trim_end_matches('/').to_owned();
        let http = reqwest::Client::builder()
            .connect_timeout(options.timeout)
            .build()
            .map_err(ClientError::connection)?;
        let mut nonce: Nonce = [0; 32];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let resp = http
            .get(format!(
                "{base}/v1/attestation?nonce={}",
                hex::encode(nonce)
            ))
            .timeout(options.timeout)
            .send()
            .await
            .map_err(ClientError::connection)?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(ClientError::connection)?;
        if status != 200 {
            return Err(ClientError::from_response(status, &body));
        }
        let bundle: EvidenceBundle =
            serde_json::from_slice(&body).map_err(|e| veil_attest::AttestationError {
                check: veil_attest::Check::Format,
                detail: format!("the evidence bundle does not parse: {e}"),
            })?;
        let server = verify_bundle(&bundle, &nonce, &options.policy, now_unix())?;
        let key = ClientKey::new(server.key_config.clone())?;
        Ok(Client {
            http,
            base,
            key,
            server,
            bundle_json: body.to_vec().into(),
            options,
        })
    }

    /// What the server's evidence proved.
    pub fn attestation(&self) -> &VerifiedClaims {
        &self.server.claims
    }

    /// The evidence bundle this client verified, byte for byte as the server
    /// sent it (JSON; its `nonce` is the one this client sent). For saving
    /// the evidence and verifying it again later, offline (`veil verify`).
    pub fn evidence_bundle_json(&self) -> &[u8] {
        &self.bundle_json
    }

    /// The attested OHTTP key configuration list this client encrypts to.
    pub fn key_config(&self) -> &[u8] {
        &self.server.key_config
    }

    /// The server's base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// This connection with another owner token (`None`: no owner token),
    /// sharing the verified key and the HTTP connection pool; nothing is
    /// re-verified or re-sent.
    pub fn with_owner_token(&self, owner_token: Option<String>) -> Client {
        let mut options = self.options.clone();
        options.owner_token = owner_token;
        Client {
            http: self.http.clone(),
            base: self.base.clone(),
            key: self.key.clone(),
            server: self.server.clone(),
            bundle_json: self.bundle_json.clone(),
            options,
        }
    }

    /// The server's self-reported version.
    pub fn server_version(&self) -> &str {
        &self.server.server_version
    }

    /// Sends one inner request through the channel and returns the inner
    /// response, whatever its status.
    pub async fn send(&self, request: &InnerRequest) -> Result<InnerResponse, ClientError> {
        self.send_ref(&request.view()).await
    }

    /// [`Client::send`] for a request whose body is borrowed in pieces: they
    /// are copied once, straight into the buffer that is encrypted in place.
    pub async fn send_ref(
        &self,
        request: &InnerRequestRef<'_>,
    ) -> Result<InnerResponse, ClientError> {
        let (enc, opener) = self.key.encapsulate_request(request)?;
        let resp = self
            .http
            .post(format!("{}/v1/ohttp", self.base))
            .header(reqwest::header::CONTENT_TYPE, REQUEST_MEDIA_TYPE)
            .timeout(self.options.timeout)
            .body(enc)
            .send()
            .await
            .map_err(ClientError::connection)?;
        let status = resp.status().as_u16();
        let request_id = outer_request_id(resp.headers());
        let body = resp.bytes().await.map_err(ClientError::connection)?;
        if status != 200 {
            // Outer-layer refusal (bad encapsulation, oversized body): plaintext.
            return Err(
                ClientError::from_response(status, &body).with_request_id(request_id.as_deref())
            );
        }
        // Decrypted where it lies (no copy when `body` is the only owner).
        let mut body = Vec::from(body);
        Ok(InnerResponse::decode(opener.open_in_place(&mut body)?)?)
    }

    pub(crate) fn headers(&self, owner: bool) -> Vec<(String, String)> {
        let token = if owner {
            self.options.owner_token.as_ref()
        } else {
            self.options
                .api_key
                .as_ref()
                .or(self.options.owner_token.as_ref())
        };
        token
            .iter()
            .map(|t| ("authorization".to_owned(), format!("Bearer {t}")))
            .collect()
    }

    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        path: String,
        owner: bool,
    ) -> Result<T, ClientError> {
        let resp = self
            .send(&InnerRequest {
                method: method.into(),
                path,
                headers: self.headers(owner),
                body: Vec::new(),
            })
            .await?;
        parse_json(&resp)
    }

    /// `GET /v2`.
    pub async fn server_metadata(&self) -> Result<ServerMetadata, ClientError> {
        self.call("GET", "/v2".into(), false).await
    }

    /// The models the server serves.
    pub async fn list_models(&self) -> Result<Vec<RepositoryEntry>, ClientError> {
        self.call("GET", "/v2/repository/index".into(), false).await
    }

    /// A model's metadata: inputs, outputs, SHA-256.
    pub async fn model_metadata(&self, name: &str) -> Result<ModelMetadata, ClientError> {
        self.call("GET", format!("/v2/models/{}", segment(name)), false)
            .await
    }

    /// Deletes a model (owner only), with a fresh server challenge so that
    /// a replay of this request changes nothing.
    pub async fn delete_model(&self, name: &str) -> Result<(), ClientError> {
        let mut headers = self.headers(true);
        headers.push((CHALLENGE_HEADER.into(), self.challenge().await?));
        let resp = self
            .send(&InnerRequest {
                method: "DELETE".into(),
                path: format!("/v2/repository/models/{}", segment(name)),
                headers,
                body: Vec::new(),
            })
            .await?;
        let _: serde_json::Value = parse_json(&resp)?;
        Ok(())
    }

    /// A fresh single-use server challenge (owner only): what an upload or
    /// delete carries in its `veil-challenge` header to show it is not a
    /// replay. [`Client::upload_model`] and [`Client::delete_model`] fetch
    /// one themselves.
    pub async fn challenge(&self) -> Result<String, ClientError> {
        let issued: IssuedChallenge = self.call("POST", CHALLENGE_PATH.into(), true).await?;
        Ok(issued.challenge)
    }

    /// Runs inference; inputs go binary, outputs come back as the request asks.
    pub async fn infer(
        &self,
        name: &str,
        request: &InferRequest,
    ) -> Result<InferResponse, ClientError> {
        // The tensors' bytes are borrowed, not joined into a body first.
        let parts = request.encode_parts(true)?;
        let mut headers = self.headers(false);
        headers.push(("content-type".into(), parts.content_type().into()));
        if let Some(n) = parts.header_length {
            headers.push((oip::HEADER_LENGTH_HEADER.into(), n.to_string()));
        }
        let path = format!("/v2/models/{}/infer", segment(name));
        let resp = self
            .send_ref(&InnerRequestRef {
                method: "POST",
                path: &path,
                headers: &headers,
                body: parts.pieces(),
            })
            .await?;
        if resp.status != 200 {
            return Err(ClientError::from_response(resp.status, &resp.body)
                .with_request_id(resp.header(REQUEST_ID_HEADER)));
        }
        let header_length = resp
            .header(oip::HEADER_LENGTH_HEADER)
            .map(|v| v.parse::<usize>())
            .transpose()
            .map_err(|_| {
                veil_protocol::ProtocolError::malformed("inference response", "bad header length")
            })?;
        // The output tensors are views of the response body, not copies.
        Ok(InferResponse::decode_shared(
            bytes::Bytes::from(resp.body),
            header_length,
        )?)
    }

    /// Uploads the ONNX file at `path` as model `name` (owner only),
    /// streaming it; `progress(sent, total)` is called as bytes go out.
    pub async fn upload_model_file(
        &self,
        name: &str,
        path: &Path,
        progress: impl FnMut(u64, u64) + Send,
    ) -> Result<ModelInfo, ClientError> {
        let file = tokio::fs::File::open(path).await?;
        let total = file.metadata().await?.len();
        self.upload_model_reader(name, file, total, progress).await
    }

    /// Uploads model bytes already in memory as model `name` (owner only).
    pub async fn upload_model(
        &self,
        name: &str,
        model: &[u8],
        progress: impl FnMut(u64, u64) + Send,
    ) -> Result<ModelInfo, ClientError> {
        self.upload_model_reader(name, model, model.len() as u64, progress)
            .await
    }
}

pub(crate) fn parse_json<T: DeserializeOwned>(resp: &InnerResponse) -> Result<T, ClientError> {
    if !(200..300).contains(&resp.status) {
        return Err(ClientError::from_response(resp.status, &resp.body)
            .with_request_id(resp.header(REQUEST_ID_HEADER)));
    }
    serde_json::from_slice(&resp.body)
        .map_err(|e| veil_protocol::ProtocolError::malformed("server response", e).into())
}

/// The header in which the server returns a request's id.
pub(crate) const REQUEST_ID_HEADER: &str = "x-request-id";

/// The request id on a plaintext outer response, if any.
pub(crate) fn outer_request_id(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

//! Mirrors of the JSON bodies, for their schemas. Never constructed: the
//! servers serialise the real types (in `veil-protocol` and `veil-tensor`,
//! which stay free of `utoipa`), and tests check those against these.
//! Enumerations are built from those crates' own lists.
#![allow(dead_code)]

use std::borrow::Cow;

use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{Object, RefOr};
use utoipa::{PartialSchema, ToSchema};

fn string_enum(description: &str, values: impl IntoIterator<Item = String>) -> RefOr<Schema> {
    let object: Object = ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .enum_values(Some(values))
        .build();
    RefOr::T(Schema::Object(object))
}

/// `code` of an [`ErrorBody`]: every `veil_protocol::ErrorCode`.
pub struct ErrorCode;
impl PartialSchema for ErrorCode {
    fn schema() -> RefOr<Schema> {
        string_enum(
            "Machine-readable error code; it decides the HTTP status.",
            veil_protocol::ErrorCode::ALL
                .iter()
                .map(|c| c.as_str().to_owned()),
        )
    }
}
impl ToSchema for ErrorCode {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ErrorCode")
    }
}

/// Every `veil_attest::PlatformKind`, by its wire name.
pub struct PlatformKind;
impl PartialSchema for PlatformKind {
    fn schema() -> RefOr<Schema> {
        string_enum(
            "The TEE platform that produced the evidence; `simulated` is no TEE at all.",
            veil_attest::PlatformKind::ALL.iter().filter_map(|p| {
                serde_json::to_value(p)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
            }),
        )
    }
}
impl ToSchema for PlatformKind {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("PlatformKind")
    }
}

/// Every `veil_tensor::DataType`, by its Open Inference Protocol name.
pub struct DataType;
impl PartialSchema for DataType {
    fn schema() -> RefOr<Schema> {
        string_enum(
            "Tensor element type (Open Inference Protocol name).",
            veil_tensor::DataType::ALL
                .iter()
                .map(|d| d.oip_name().to_owned()),
        )
    }
}
impl ToSchema for DataType {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("DataType")
    }
}

/// The JSON body of every error response, outside and inside the channel.
#[derive(ToSchema)]
pub struct ErrorBody {
    /// Human-readable message; never contains request data.
    pub error: String,
    pub code: ErrorCode,
    /// For `invalid_input`: the signature the model expects.
    #[schema(required = false)]
    pub expected: ModelSignature,
}

/// A named input or output of a model.
#[derive(ToSchema)]
pub struct TensorSpec {
    /// Tensor name as the model declares it.
    pub name: String,
    pub datatype: DataType,
    /// Declared shape; `-1` is a dynamic dimension.
    #[schema(minimum = -1)]
    pub shape: Vec<i64>,
}

/// The inputs and outputs of a model.
#[derive(ToSchema)]
pub struct ModelSignature {
    /// Inputs, in the model's order.
    pub inputs: Vec<TensorSpec>,
    /// Outputs, in the model's order.
    pub outputs: Vec<TensorSpec>,
}

/// Evidence that the server runs attested code and holds the key of
/// `key_config`, answering one client's nonce
/// (`veil_protocol::bundle::EvidenceBundle`). Public: what makes it
/// trustworthy is its verification by the client.
#[derive(ToSchema)]
pub struct EvidenceBundle {
    /// Protocol version (`veil_protocol::PROTOCOL_VERSION`).
    #[schema(minimum = 0)]
    pub version: u32,
    pub platform: PlatformKind,
    /// The attestation report (or quote, or document), base64.
    #[schema(content_encoding = "base64")]
    pub report: String,
    /// Endorsement certificates, DER in base64, leaf first.
    pub certificates: Vec<String>,
    /// Platform collateral, base64: the Intel PCS collateral JSON for
    /// `tdx` and `sgx`; absent for every other platform.
    #[schema(required = false, content_encoding = "base64")]
    pub collateral: String,
    /// The key configuration: an OHTTP key configuration list
    /// (`application/ohttp-keys`, RFC 9458 section 3), base64. Each entry
    /// is a key id (1 byte), a KEM id (2 bytes; Veil uses X25519-SHA256,
    /// 0x0020), the public key, and the symmetric suites (Veil offers
    /// HKDF-SHA256 with AES-128-GCM). The report data binds it:
    /// `SHA-512("veil/v1" | key_config | nonce)`. Encrypt only to a key
    /// whose bundle verified.
    #[schema(content_encoding = "base64")]
    pub key_config: String,
    /// The client's nonce this evidence answers, hex.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub nonce: String,
    /// The server's version (informational: the measurement is what counts).
    pub server_version: String,
}

/// `GET /v1/health`.
#[derive(ToSchema)]
pub struct Health {
    /// Always `ok` when the server answers.
    #[schema(pattern = "^ok$")]
    pub status: String,
    pub platform: PlatformKind,
    /// The server's version.
    pub version: String,
    /// Models being served.
    #[schema(minimum = 0)]
    pub models: u64,
}

/// A probe's answer: `live`, `ready`, or `draining` (with `503`).
#[derive(ToSchema)]
pub struct Probe {
    /// `live`, `ready` or `draining`.
    #[schema(pattern = "^(live|ready|draining)$")]
    pub status: String,
}

/// `GET /v2`: server metadata (Open Inference Protocol).
#[derive(ToSchema)]
pub struct ServerMetadata {
    /// Server name (`veil`).
    pub name: String,
    /// Server version.
    pub version: String,
    /// Supported protocol extensions.
    pub extensions: Vec<String>,
}

/// `GET /v2/health/live` inside the channel.
#[derive(ToSchema)]
pub struct InnerLive {
    /// Whether the server is live.
    pub live: bool,
}

/// `GET /v2/health/ready` inside the channel.
#[derive(ToSchema)]
pub struct InnerReady {
    /// Whether the server is ready.
    pub ready: bool,
}

/// `GET /v2/models/{name}`: model metadata (Open Inference Protocol, plus `sha256`).
#[derive(ToSchema)]
pub struct ModelMetadata {
    /// Model name.
    pub name: String,
    /// Available versions (Veil keeps one per name).
    pub versions: Vec<String>,
    /// The engine platform, `onnxruntime_onnx`.
    pub platform: String,
    /// Inputs.
    pub inputs: Vec<TensorSpec>,
    /// Outputs.
    pub outputs: Vec<TensorSpec>,
    /// Veil's extension: SHA-256 of the model bytes (hex).
    pub sha256: String,
}

/// `GET /v2/models/{name}/ready`.
#[derive(ToSchema)]
pub struct ModelReady {
    /// Model name.
    pub name: String,
    /// Always true for a model that is served.
    pub ready: bool,
}

/// One entry of `GET /v2/repository/index`.
#[derive(ToSchema)]
pub struct RepositoryEntry {
    /// Model name.
    pub name: String,
    /// `READY` for a loaded model.
    pub state: String,
    /// SHA-256 of the model bytes (hex).
    #[schema(required = false)]
    pub sha256: String,
    /// Size in bytes.
    #[schema(required = false)]
    pub size_bytes: u64,
}

/// Answer to an upload: what the server now serves under the name.
#[derive(ToSchema)]
pub struct ModelInfo {
    /// Model name.
    pub name: String,
    /// SHA-256 of the model bytes (hex).
    pub sha256: String,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Inputs.
    pub inputs: Vec<TensorSpec>,
    /// Outputs.
    pub outputs: Vec<TensorSpec>,
}

/// `POST /veil/v1/challenge`: a single-use challenge for one upload or delete.
#[derive(ToSchema)]
pub struct IssuedChallenge {
    /// 32 random bytes, hex.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub challenge: String,
    /// How long the server accepts it.
    pub expires_in_seconds: u64,
}

/// `GET /veil/v1/model-key`: the public key owners encrypt models to.
#[derive(ToSchema)]
pub struct ModelKeyInfo {
    /// The encryption suite, in words.
    pub suite: String,
    /// The 32-byte X25519 public key, base64.
    #[schema(pattern = "^[A-Za-z0-9+/]{43}=$")]
    pub public_key: String,
    /// SHA-256 of the public key, hex: the id an encrypted file names.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub key_id: String,
}

/// `POST /veil/v1/replica/sealing-key`: a replica's evidence and the key it binds.
#[derive(ToSchema)]
pub struct JoinRequest {
    /// Which platform produced the evidence.
    pub platform: String,
    /// The attestation report, base64.
    pub report: String,
    /// Endorsement certificates, DER in base64, leaf first.
    pub certificates: Vec<String>,
    /// Platform collateral, base64 (Intel PCS collateral for `tdx`/`sgx`).
    pub collateral: Option<String>,
    /// The replica's X25519 public key, base64 (32 bytes), which the
    /// evidence's report data binds.
    pub public_key: String,
}

/// The sealing key, sealed to the replica that asked.
#[derive(ToSchema)]
pub struct SealedSealingKey {
    /// HPKE encapsulated key (32 bytes) followed by the ciphertext, base64.
    pub sealed: String,
}

/// Answer to a delete.
#[derive(ToSchema)]
pub struct Deleted {
    /// Model name.
    pub name: String,
    /// Always true.
    pub deleted: bool,
}

/// One tensor in an inference request or response (JSON form). With
/// the binary extension, `data` is absent and
/// `parameters.binary_data_size` gives its byte length in the binary
/// part of the body.
#[derive(ToSchema)]
pub struct InferTensor {
    /// Input or output name.
    pub name: String,
    /// Shape.
    pub shape: Vec<u64>,
    pub datatype: DataType,
    /// `binary_data_size`, `binary_data`.
    #[schema(required = false, value_type = Object)]
    pub parameters: serde_json::Value,
    /// Elements in row-major order (flat or nested), when not binary.
    #[schema(required = false, value_type = Vec<Object>)]
    pub data: serde_json::Value,
}

/// An output the client asks for.
#[derive(ToSchema)]
pub struct RequestedOutput {
    /// Output name.
    pub name: String,
    /// `binary_data`: whether this output comes back binary.
    #[schema(required = false, value_type = Object)]
    pub parameters: serde_json::Value,
}

/// `POST /v2/models/{name}/infer` request (its JSON part).
#[derive(ToSchema)]
pub struct InferRequest {
    /// Client-chosen id, echoed in the response.
    #[schema(required = false)]
    pub id: String,
    /// `binary_data_output` (all outputs binary), and Veil's
    /// `veil_model_sha256`: the model hash the client requires.
    #[schema(required = false, value_type = Object)]
    pub parameters: serde_json::Value,
    /// Input tensors.
    pub inputs: Vec<InferTensor>,
    /// Outputs wanted; all when absent.
    #[schema(required = false)]
    pub outputs: Vec<RequestedOutput>,
}

/// `POST /v2/models/{name}/infer` response (its JSON part).
#[derive(ToSchema)]
pub struct InferResponse {
    /// The model that ran.
    pub model_name: String,
    /// The request's id.
    #[schema(required = false)]
    pub id: String,
    /// Output tensors.
    pub outputs: Vec<InferTensor>,
}

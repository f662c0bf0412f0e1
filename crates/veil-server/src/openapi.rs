//! OpenAPI 3.1 documents of Veil's two APIs, generated from this code.
//!
//! * [`outer_document`], served at `GET /v1/openapi.json`: the public,
//!   plaintext API that [`crate::outer::app`] routes. Its paths are the
//!   [`path`] constants the router registers, so the two cannot name
//!   different routes; a test requests every documented operation against
//!   the live router.
//! * [`inner_document`], served at `GET /v1/openapi-inner.json`: the Open
//!   Inference Protocol and Veil's repository calls as they look *inside*
//!   the OHTTP channel ([`crate::api`]). Nobody can call these paths on the
//!   outer listener; a client encodes them as binary HTTP and encapsulates
//!   them to the attested key (`POST /v1/ohttp`).
//!
//! Both documents are committed under `docs/` (`openapi.json`,
//! `openapi-inner.json`); a test fails when they differ from what this
//! module generates (`VEIL_BLESS=1 cargo test -p veil-server --lib openapi`
//! rewrites them). The schemas of wire types that live in `veil-protocol`
//! and `veil-tensor` are mirrored here (module `schema`) so that `utoipa`
//! stays out of the client's dependency tree; enumerations (error codes,
//! platforms, datatypes) are built from those crates' own lists, and tests
//! check real serialised values against the mirrors.

use axum::Json;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem, PathItemBuilder,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::{Response as ApiResponse, ResponseBuilder};
use utoipa::openapi::schema::{
    AdditionalProperties, ComponentsBuilder, ObjectBuilder, Schema, Type,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, RefOr, Required};
use utoipa::{PartialSchema, ToSchema};
use veil_protocol::channel::{
    CHUNKED_REQUEST_MEDIA_TYPE, CHUNKED_RESPONSE_MEDIA_TYPE, REQUEST_MEDIA_TYPE,
    RESPONSE_MEDIA_TYPE,
};
use veil_protocol::oip;

use crate::gateway::REQUEST_ID_HEADER;
use crate::metrics;

/// The outer API's paths: the router registers exactly these, and the
/// document describes exactly these.
pub mod path {
    /// Server status: platform, version, model count.
    pub const HEALTH: &str = "/v1/health";
    /// Liveness probe.
    pub const HEALTH_LIVE: &str = "/v1/health/live";
    /// Readiness probe (`503` while draining).
    pub const HEALTH_READY: &str = "/v1/health/ready";
    /// The evidence bundle for a client's nonce.
    pub const ATTESTATION: &str = "/v1/attestation";
    /// The OHTTP gateway: encapsulated inner requests.
    pub const OHTTP: &str = "/v1/ohttp";
    /// Prometheus metrics.
    pub const METRICS: &str = "/metrics";
    /// This module's outer document.
    pub const OPENAPI: &str = "/v1/openapi.json";
    /// This module's inner document.
    pub const OPENAPI_INNER: &str = "/v1/openapi-inner.json";
}

const JSON: &str = "application/json";
/// The media type of the Prometheus exposition, without parameters.
const METRICS_MEDIA_TYPE: &str = "text/plain";

/// Mirrors of the JSON bodies, for their schemas. Never constructed: the
/// servers serialise the real types, and tests check those against these.
#[allow(dead_code)]
mod schema {
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
}

/// Adds `T` and every schema it references to `components`. The objects of
/// the outer API are closed (`additionalProperties: false`): a field the
/// server adds without documenting it breaks the schema-driven tests.
fn with_schema<T: ToSchema>(components: ComponentsBuilder) -> ComponentsBuilder {
    let mut nested = Vec::new();
    T::schemas(&mut nested);
    components
        .schema(T::name(), T::schema())
        .schemas_from_iter(nested)
}

/// As [`with_schema`], with every object schema closed.
fn with_closed_schema<T: ToSchema>(components: ComponentsBuilder) -> ComponentsBuilder {
    let mut all = vec![(T::name().into_owned(), T::schema())];
    T::schemas(&mut all);
    components.schemas_from_iter(all.into_iter().map(|(name, mut schema)| {
        if let RefOr::T(Schema::Object(object)) = &mut schema
            && object.schema_type == Type::Object.into()
        {
            object.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
        }
        (name, schema)
    }))
}

fn reference<T: ToSchema>() -> RefOr<Schema> {
    RefOr::Ref(utoipa::openapi::Ref::from_schema_name(T::name()))
}

fn binary() -> RefOr<Schema> {
    // An opaque byte string; OpenAPI 3.1 leaves its schema empty or a
    // string with a content media type.
    RefOr::T(Schema::Object(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Binary,
            )))
            .build(),
    ))
}

fn json_response<T: ToSchema>(description: &str) -> ApiResponse {
    ResponseBuilder::new()
        .description(description)
        .content(
            JSON,
            ContentBuilder::new().schema(Some(reference::<T>())).build(),
        )
        .build()
}

fn error(description: &str) -> ApiResponse {
    json_response::<schema::ErrorBody>(description)
}

/// An outer error the gateway answers in plaintext; it carries the request id.
fn gateway_error(description: &str) -> ApiResponse {
    let mut response = error(description);
    response.headers.insert(
        REQUEST_ID_HEADER.to_owned(),
        HeaderBuilder::new()
            .schema(String::schema())
            .description(Some(
                "The request id, for reports; also in the server's logs.",
            ))
            .build(),
    );
    response
}

fn any_json_object(description: &str) -> ApiResponse {
    let object = ObjectBuilder::new().schema_type(Type::Object).build();
    ResponseBuilder::new()
        .description(description)
        .content(
            JSON,
            ContentBuilder::new()
                .schema(Some(RefOr::T(Schema::Object(object))))
                .build(),
        )
        .build()
}

fn outer_operations() -> PathsBuilder {
    let health = OperationBuilder::new()
        .operation_id(Some("health"))
        .tag("health")
        .summary(Some("Server status"))
        .description(Some(
            "The platform, version and number of models served. Public and unauthenticated.",
        ))
        .response(
            "200",
            json_response::<schema::Health>("The server answers."),
        );
    let live = OperationBuilder::new()
        .operation_id(Some("health_live"))
        .tag("health")
        .summary(Some("Liveness probe"))
        .response(
            "200",
            json_response::<schema::Probe>("`{\"status\":\"live\"}`"),
        );
    let ready = OperationBuilder::new()
        .operation_id(Some("health_ready"))
        .tag("health")
        .summary(Some("Readiness probe"))
        .description(Some(
            "`200 {\"status\":\"ready\"}`, or `503 {\"status\":\"draining\"}` from the moment \
             the server starts draining before it stops.",
        ))
        .response("200", json_response::<schema::Probe>("Ready for requests."))
        .response(
            "503",
            json_response::<schema::Probe>("Draining: send new requests elsewhere."),
        );
    let nonce = ParameterBuilder::new()
        .name("nonce")
        .parameter_in(ParameterIn::Query)
        .required(Required::True)
        .description(Some(
            "32 fresh random bytes, hex: the evidence answers this nonce only.",
        ))
        .schema(Some(RefOr::T(Schema::Object(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[0-9a-fA-F]{64}$"))
                .build(),
        ))))
        .build();
    let attestation = OperationBuilder::new()
        .operation_id(Some("attestation"))
        .tag("attestation")
        .summary(Some("Evidence bundle for a nonce"))
        .description(Some(
            "Fresh evidence from the TEE whose report data is \
             `SHA-512(\"veil/v1\" | key_config | nonce)`: it binds the OHTTP key configuration \
             in the bundle to this request. Verify it (measurement, platform root, policy) \
             before encrypting anything to `key_config`.",
        ))
        .parameter(nonce)
        .response(
            "200",
            json_response::<schema::EvidenceBundle>("The evidence bundle."),
        )
        .response("400", error("`nonce` is missing or not 64 hex digits."))
        .response("500", error("The platform could not produce evidence."));
    let ohttp_body = RequestBodyBuilder::new()
        .required(Some(Required::True))
        .description(Some(
            "An inner request (see the inner document, `/v1/openapi-inner.json`) encoded as \
             binary HTTP (RFC 9292) and encapsulated to the attested key.",
        ))
        .content(
            REQUEST_MEDIA_TYPE,
            ContentBuilder::new().schema(Some(binary())).build(),
        )
        .content(
            CHUNKED_REQUEST_MEDIA_TYPE,
            ContentBuilder::new().schema(Some(binary())).build(),
        )
        .build();
    let sealed = ResponseBuilder::new()
        .description(
            "The inner response, encapsulated to this request only: `message/ohttp-res` for \
             `message/ohttp-req`, `message/ohttp-chunked-res` for the chunked request. Inner \
             errors (unknown model, bad input, unauthorized, ...) travel inside it.",
        )
        .content(
            RESPONSE_MEDIA_TYPE,
            ContentBuilder::new().schema(Some(binary())).build(),
        )
        .content(
            CHUNKED_RESPONSE_MEDIA_TYPE,
            ContentBuilder::new().schema(Some(binary())).build(),
        )
        .build();
    let ohttp = OperationBuilder::new()
        .operation_id(Some("ohttp"))
        .tag("channel")
        .summary(Some("Oblivious HTTP gateway"))
        .description(Some(
            "RFC 9458 requests (`message/ohttp-req`, bounded by `--max-request-bytes`) and \
             chunked OHTTP (`message/ohttp-chunked-req`, draft-ietf-ohai-chunked-ohttp: model \
             uploads stream through it). The server decapsulates inside the TEE, runs the inner \
             request, and encapsulates the answer.",
        ))
        .request_body(Some(ohttp_body))
        .response("200", sealed)
        .response(
            "400",
            gateway_error("The body is not a request encapsulated to the current key (`bad_encapsulation`), or not a valid inner request."),
        )
        .response("408", gateway_error("The body did not arrive within the read timeout."))
        .response("413", gateway_error("The body exceeds `--max-request-bytes`."))
        .response(
            "415",
            error("The content type is neither `message/ohttp-req` nor `message/ohttp-chunked-req`."),
        )
        .response(
            "503",
            gateway_error("Overloaded (the server's budget for request bodies is spent) or draining; retry later."),
        );
    let exposition = RefOr::T(Schema::Object(
        ObjectBuilder::new().schema_type(Type::String).build(),
    ));
    let metrics_op = OperationBuilder::new()
        .operation_id(Some("metrics"))
        .tag("operations")
        .summary(Some("Prometheus metrics"))
        .description(Some(
            "The Prometheus text exposition (format 0.0.4). Labels are bounded: route classes, \
             error codes, stages, and names of models that were uploaded. No request data.",
        ))
        .response(
            "200",
            ResponseBuilder::new()
                .description(format!("`{}`", metrics::CONTENT_TYPE))
                .content(
                    METRICS_MEDIA_TYPE,
                    ContentBuilder::new().schema(Some(exposition)).build(),
                )
                .build(),
        )
        .response("500", error("The metrics could not be encoded."));
    let openapi = OperationBuilder::new()
        .operation_id(Some("openapi"))
        .tag("operations")
        .summary(Some("This document"))
        .response(
            "200",
            any_json_object("The OpenAPI 3.1 document of the outer API."),
        );
    let openapi_inner = OperationBuilder::new()
        .operation_id(Some("openapi_inner"))
        .tag("operations")
        .summary(Some("The inner API's document"))
        .description(Some(
            "The OpenAPI 3.1 document of the API inside the channel: its paths are reachable \
             only through `POST /v1/ohttp`.",
        ))
        .response(
            "200",
            any_json_object("The OpenAPI 3.1 document of the inner API."),
        );
    PathsBuilder::new()
        .path(path::HEALTH, PathItem::new(HttpMethod::Get, health))
        .path(path::HEALTH_LIVE, PathItem::new(HttpMethod::Get, live))
        .path(path::HEALTH_READY, PathItem::new(HttpMethod::Get, ready))
        .path(
            path::ATTESTATION,
            PathItem::new(HttpMethod::Get, attestation),
        )
        .path(path::OHTTP, PathItem::new(HttpMethod::Post, ohttp))
        .path(path::METRICS, PathItem::new(HttpMethod::Get, metrics_op))
        .path(path::OPENAPI, PathItem::new(HttpMethod::Get, openapi))
        .path(
            path::OPENAPI_INNER,
            PathItem::new(HttpMethod::Get, openapi_inner),
        )
}

/// The OpenAPI 3.1 document of the outer API.
pub fn outer_document() -> OpenApi {
    let components = [
        with_closed_schema::<schema::Health>,
        with_closed_schema::<schema::Probe>,
        with_closed_schema::<schema::EvidenceBundle>,
        with_closed_schema::<schema::ErrorBody>,
    ]
    .into_iter()
    .fold(ComponentsBuilder::new(), |c, add| add(c));
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Veil outer API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "The public, plaintext API of a Veil server: health, attestation evidence, \
                     the Oblivious HTTP gateway, metrics. Everything else (inference, model \
                     management) is the inner API, reachable only encrypted through \
                     `POST /v1/ohttp`; see `/v1/openapi-inner.json`. Unknown paths answer \
                     `404` with an `ErrorBody`. With `veil serve --metrics-listen ADDR`, \
                     `/metrics` and the two probes are also served on that address.",
                )),
        )
        .paths(outer_operations())
        .components(Some(components.build()))
        .build()
}

fn name_parameter() -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name("name")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(
            "Model name: 1-64 of `A-Za-z0-9._-`, starting with a letter or digit.",
        ))
        .schema(Some(String::schema()))
        .build()
}

/// `security` that accepts a bearer token of `scheme`, or none when the
/// server requires none (inference is open unless API keys are set).
fn bearer(scheme: &str, optional: bool) -> Vec<SecurityRequirement> {
    let mut requirements = vec![SecurityRequirement::new(scheme, Vec::<String>::new())];
    if optional {
        requirements.push(SecurityRequirement::default());
    }
    requirements
}

fn inner_operations() -> PathsBuilder {
    use schema::*;
    let user = |op: OperationBuilder| {
        op.securities(Some(bearer("api_key", true)))
            .response("401", error("API keys are configured and none was sent."))
    };
    let model_missing = || error("No model of that name is served (`model_not_found`).");
    let server_metadata = OperationBuilder::new()
        .operation_id(Some("server_metadata"))
        .tag("oip")
        .response("200", json_response::<ServerMetadata>("Server metadata."));
    let live = OperationBuilder::new()
        .operation_id(Some("server_live"))
        .tag("oip")
        .response("200", json_response::<InnerLive>("`{\"live\": true}`"));
    let ready = OperationBuilder::new()
        .operation_id(Some("server_ready"))
        .tag("oip")
        .response("200", json_response::<InnerReady>("`{\"ready\": true}`"));
    let model_metadata = user(
        OperationBuilder::new()
            .operation_id(Some("model_metadata"))
            .tag("oip")
            .parameter(name_parameter())
            .response(
                "200",
                json_response::<ModelMetadata>("The model's signature and hash."),
            )
            .response("404", model_missing()),
    );
    let model_ready = user(
        OperationBuilder::new()
            .operation_id(Some("model_ready"))
            .tag("oip")
            .parameter(name_parameter())
            .response("200", json_response::<ModelReady>("The model is served."))
            .response("404", model_missing()),
    );
    let tensors = |what: &str| {
        format!(
            "{what}: JSON (`{}`), or the binary tensor extension (`{}`): a JSON header whose \
             length is in `{}`, followed by the raw little-endian tensors.",
            oip::JSON_CONTENT_TYPE,
            oip::BINARY_CONTENT_TYPE,
            oip::HEADER_LENGTH_HEADER,
        )
    };
    let infer_body = RequestBodyBuilder::new()
        .required(Some(Required::True))
        .description(Some(tensors("The inputs")))
        .content(
            oip::JSON_CONTENT_TYPE,
            ContentBuilder::new()
                .schema(Some(reference::<InferRequest>()))
                .build(),
        )
        .content(
            oip::BINARY_CONTENT_TYPE,
            ContentBuilder::new().schema(Some(binary())).build(),
        )
        .build();
    let infer = user(
        OperationBuilder::new()
            .operation_id(Some("model_infer"))
            .tag("oip")
            .parameter(name_parameter())
            .parameter(
                ParameterBuilder::new()
                    .name(oip::HEADER_LENGTH_HEADER)
                    .parameter_in(ParameterIn::Header)
                    .required(Required::False)
                    .description(Some("Binary extension: the JSON header's length in bytes."))
                    .schema(Some(u64::schema()))
                    .build(),
            )
            .request_body(Some(infer_body))
            .response(
                "200",
                ResponseBuilder::new()
                    .description(tensors("The outputs"))
                    .content(
                        oip::JSON_CONTENT_TYPE,
                        ContentBuilder::new()
                            .schema(Some(reference::<InferResponse>()))
                            .build(),
                    )
                    .content(
                        oip::BINARY_CONTENT_TYPE,
                        ContentBuilder::new().schema(Some(binary())).build(),
                    )
                    .build(),
            )
            .response(
                "400",
                error("`invalid_input` (with `expected`, the model's signature) or `bad_request`."),
            )
            .response("404", model_missing())
            .response(
                "409",
                error("`model_hash_mismatch`: the served model is not the one the client expects."),
            )
            .response(
                "413",
                error("An input tensor exceeds `--max-tensor-elements`."),
            )
            .response(
                "500",
                error("`inference_failed`: the engine failed on a valid request."),
            )
            .response(
                "503",
                error("The model's inference queue is full (`Retry-After: 1`)."),
            ),
    );
    let index = || {
        user(
            OperationBuilder::new()
                .operation_id(Some("repository_index"))
                .tag("repository")
                .response(
                    "200",
                    ResponseBuilder::new()
                        .description("Every served model.")
                        .content(
                            JSON,
                            ContentBuilder::new()
                                .schema(Some(RefOr::T(Schema::Array(
                                    utoipa::openapi::schema::ArrayBuilder::new()
                                        .items(reference::<RepositoryEntry>())
                                        .build(),
                                ))))
                                .build(),
                        )
                        .build(),
                ),
        )
    };
    let owner = |op: OperationBuilder| {
        op.securities(Some(bearer("owner_token", false)))
            .response("401", error("The call needs a valid owner token."))
    };
    let upload = owner(
        OperationBuilder::new()
            .operation_id(Some("repository_upload"))
            .tag("repository")
            .description(Some(
                "Stores and loads an ONNX model under `name`, replacing any model of that name. \
                 Send it through chunked OHTTP so it streams; it is written atomically and \
                 never stored when the stream is cut.",
            ))
            .parameter(name_parameter())
            .request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::True))
                    .content(
                        oip::BINARY_CONTENT_TYPE,
                        ContentBuilder::new().schema(Some(binary())).build(),
                    )
                    .build(),
            ))
            .response("200", json_response::<ModelInfo>("The model is served."))
            .response(
                "400",
                error("`invalid_model` (the engine cannot load it) or `bad_request` (bad name, cut-off upload)."),
            )
            .response("413", error("The model exceeds `--max-model-bytes`.")),
    );
    let delete = owner(
        OperationBuilder::new()
            .operation_id(Some("repository_delete"))
            .tag("repository")
            .parameter(name_parameter())
            .response(
                "200",
                json_response::<Deleted>("The model is no longer served."),
            )
            .response("404", model_missing()),
    );
    PathsBuilder::new()
        .path("/v2", PathItem::new(HttpMethod::Get, server_metadata))
        .path("/v2/health/live", PathItem::new(HttpMethod::Get, live))
        .path("/v2/health/ready", PathItem::new(HttpMethod::Get, ready))
        .path(
            "/v2/models/{name}",
            PathItem::new(HttpMethod::Get, model_metadata),
        )
        .path(
            "/v2/models/{name}/ready",
            PathItem::new(HttpMethod::Get, model_ready),
        )
        .path(
            "/v2/models/{name}/infer",
            PathItem::new(HttpMethod::Post, infer),
        )
        .path(
            "/v2/repository/index",
            PathItemBuilder::new()
                .operation(HttpMethod::Get, index())
                .operation(
                    HttpMethod::Post,
                    index().operation_id(Some("repository_index_post")),
                )
                .build(),
        )
        .path(
            "/v2/repository/models/{name}",
            PathItemBuilder::new()
                .operation(HttpMethod::Put, upload)
                .operation(HttpMethod::Delete, delete)
                .build(),
        )
}

/// The OpenAPI 3.1 document of the inner API, as seen inside the channel.
pub fn inner_document() -> OpenApi {
    use schema::*;
    let components = [
        with_schema::<ServerMetadata>,
        with_schema::<InnerLive>,
        with_schema::<InnerReady>,
        with_schema::<ModelMetadata>,
        with_schema::<ModelReady>,
        with_schema::<RepositoryEntry>,
        with_schema::<ModelInfo>,
        with_schema::<Deleted>,
        with_schema::<InferRequest>,
        with_schema::<InferResponse>,
        with_schema::<ErrorBody>,
    ]
    .into_iter()
    .fold(ComponentsBuilder::new(), |c, add| add(c))
    .security_scheme(
        "owner_token",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "An owner token (the server keeps its SHA-256): uploads and deletes.",
                ))
                .build(),
        ),
    )
    .security_scheme(
        "api_key",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "An API key, or an owner token: needed for inference and metadata only when \
                     the server was started with `--api-key-sha256`.",
                ))
                .build(),
        ),
    );
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Veil inner API (inside the OHTTP channel)")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "The Open Inference Protocol (KServe v2 REST, with the binary tensor \
                     extension) and Veil's model repository calls. These requests exist only \
                     inside the channel: a client verifies the evidence bundle from \
                     `GET /v1/attestation`, encodes each request as binary HTTP (RFC 9292), \
                     encapsulates it to the attested key (RFC 9458) and posts it to \
                     `/v1/ohttp`; the answer comes back encapsulated. Tokens travel only \
                     inside the channel. Every response also carries `x-request-id`. Unknown \
                     paths answer `404 not_found`, known paths with another method \
                     `405 method_not_allowed`.",
                )),
        )
        .paths(inner_operations())
        .components(Some(components.build()))
        .build()
}

fn serve(document: OpenApi) -> Response {
    Json(document).into_response()
}

/// `GET /v1/openapi.json`.
pub async fn serve_outer() -> Response {
    serve(outer_document())
}

/// `GET /v1/openapi-inner.json`.
pub async fn serve_inner() -> Response {
    serve(inner_document())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;

    use axum::body::{Body, to_bytes};
    use http::{Method, Request, StatusCode};
    use serde_json::Value;
    use tower::ServiceExt;
    use veil_attest::{Measurement, SimulatedProducer};
    use veil_engine::{Engine, EngineError, LoadedModel};
    use veil_protocol::ErrorCode;

    use super::*;
    use crate::{AppState, ServerConfig};

    /// No engine: these tests never load a model.
    struct NoEngine;
    impl Engine for NoEngine {
        fn name(&self) -> &'static str {
            "none"
        }
        fn load(&self, _model: &[u8]) -> Result<Arc<dyn LoadedModel>, EngineError> {
            Err(EngineError::InvalidModel("no engine in this test".into()))
        }
    }

    fn state(dir: &std::path::Path) -> AppState {
        let config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), dir.to_path_buf());
        let producer = SimulatedProducer::generate(Measurement::sha384_of(b"openapi test"));
        AppState::new(config, Arc::new(NoEngine), Box::new(producer)).unwrap()
    }

    fn committed(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../docs")
            .join(name)
    }

    fn pretty(document: &OpenApi) -> String {
        let mut text = document.to_pretty_json().unwrap();
        text.push('\n');
        text
    }

    #[test]
    fn committed_documents_are_what_the_code_generates() {
        for (name, document) in [
            ("openapi.json", outer_document()),
            ("openapi-inner.json", inner_document()),
        ] {
            let path = committed(name);
            let generated = pretty(&document);
            if std::env::var_os("VEIL_BLESS").is_some_and(|v| v == "1") {
                std::fs::write(&path, &generated).unwrap();
                continue;
            }
            let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                on_disk == generated,
                "docs/{name} differs from the document the code generates; regenerate it with \
                 `VEIL_BLESS=1 cargo test -p veil-server --lib openapi` and commit it"
            );
        }
    }

    #[test]
    fn documents_are_openapi_3_1() {
        for document in [outer_document(), inner_document()] {
            let json: Value = serde_json::to_value(&document).unwrap();
            assert_eq!(json["openapi"], "3.1.0");
        }
    }

    /// Every (path, method) the document names, with the statuses it lists.
    fn operations(document: &OpenApi) -> Vec<(String, Method, Vec<u16>)> {
        let json = serde_json::to_value(document).unwrap();
        let mut out = Vec::new();
        for (path, item) in json["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let statuses = operation["responses"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .map(|s| s.parse().unwrap())
                    .collect();
                out.push((path.clone(), method, statuses));
            }
        }
        out
    }

    async fn call(
        router: &axum::Router,
        request: Request<Body>,
    ) -> (StatusCode, Option<ErrorCode>, Vec<u8>) {
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let code = response.extensions().get::<ErrorCode>().copied();
        let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, code, body.to_vec())
    }

    /// A request the handler of `path` accepts far enough to answer itself.
    fn outer_request(path: &str, method: &Method) -> Request<Body> {
        let builder = Request::builder().method(method.clone());
        match path {
            path::ATTESTATION => builder
                .uri(format!("{path}?nonce={}", "ab".repeat(32)))
                .body(Body::empty()),
            path::OHTTP => builder
                .uri(path)
                .header("content-type", REQUEST_MEDIA_TYPE)
                .body(Body::from(vec![0u8; 64])),
            _ => builder.uri(path).body(Body::empty()),
        }
        .unwrap()
    }

    #[tokio::test]
    async fn every_documented_outer_operation_is_routed_and_answers_a_documented_status() {
        let dir = tempfile::tempdir().unwrap();
        let app = crate::app(state(dir.path()));
        let documented = operations(&outer_document());
        assert_eq!(documented.len(), 8);
        for (path, method, statuses) in documented {
            let (status, code, _) = call(&app, outer_request(&path, &method)).await;
            assert_ne!(
                code,
                Some(ErrorCode::NotFound),
                "{method} {path} is not routed"
            );
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert!(
                statuses.contains(&status.as_u16()),
                "{method} {path} answered {status}, which the document does not list"
            );
        }
    }

    #[tokio::test]
    async fn undocumented_outer_paths_hit_the_fallback() {
        let dir = tempfile::tempdir().unwrap();
        let app = crate::app(state(dir.path()));
        let documented: Vec<String> = operations(&outer_document())
            .into_iter()
            .map(|(p, _, _)| p)
            .collect();
        for path in [
            "/",
            "/v1",
            "/v2",
            "/v2/health/ready",
            "/v2/models/m/infer",
            "/v2/repository/index",
            "/v1/health/x",
            "/v1/openapi",
            "/openapi.json",
            "/metrics/x",
            "/v1/ohttp/x",
        ] {
            assert!(!documented.iter().any(|d| d == path));
            for method in [Method::GET, Method::POST] {
                let request = Request::builder()
                    .method(method.clone())
                    .uri(path)
                    .body(Body::empty())
                    .unwrap();
                let (status, code, body) = call(&app, request).await;
                assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
                assert_eq!(code, Some(ErrorCode::NotFound), "{method} {path}");
                let body: Value = serde_json::from_slice(&body).unwrap();
                assert_eq!(body["code"], "not_found");
            }
        }
    }

    #[tokio::test]
    async fn every_documented_inner_operation_is_routed() {
        let dir = tempfile::tempdir().unwrap();
        let inner = state(dir.path()).inner;
        for (path, method, _) in operations(&inner_document()) {
            let uri = path.replace("{name}", "m");
            let request = Request::builder()
                .method(method.clone())
                .uri(&uri)
                .body(Body::empty())
                .unwrap();
            let (status, code, _) = call(&inner, request).await;
            assert_ne!(
                code,
                Some(ErrorCode::NotFound),
                "{method} {path} is not routed"
            );
            assert_ne!(code, Some(ErrorCode::MethodNotAllowed), "{method} {path}");
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        }
    }

    #[tokio::test]
    async fn the_served_documents_are_the_generated_ones() {
        let dir = tempfile::tempdir().unwrap();
        let app = crate::app(state(dir.path()));
        for (path, document) in [
            (path::OPENAPI, outer_document()),
            (path::OPENAPI_INNER, inner_document()),
        ] {
            let (status, _, body) = call(&app, outer_request(path, &Method::GET)).await;
            assert_eq!(status, StatusCode::OK);
            let served: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(served, serde_json::to_value(&document).unwrap());
        }
    }

    /// Checks `value` against the schema `schema` of `document` (a JSON
    /// document): every key is a property, every required property is there,
    /// enumerations and primitive types hold, recursively through `$ref`s.
    fn assert_fits(value: &Value, schema: &Value, document: &Value, at: &str) {
        if let Some(reference) = schema["$ref"].as_str() {
            let name = reference.trim_start_matches("#/components/schemas/");
            let target = &document["components"]["schemas"][name];
            assert!(!target.is_null(), "{at}: no schema {name}");
            return assert_fits(value, target, document, at);
        }
        if let Some(values) = schema["enum"].as_array() {
            assert!(
                values.contains(value),
                "{at}: {value} is not one of {values:?}"
            );
        }
        match schema["type"].as_str() {
            Some("object") => {
                let object = value
                    .as_object()
                    .unwrap_or_else(|| panic!("{at}: not an object"));
                let properties = schema["properties"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                for (key, field) in object {
                    let property = properties
                        .get(key)
                        .unwrap_or_else(|| panic!("{at}: `{key}` is not in the schema"));
                    assert_fits(field, property, document, &format!("{at}.{key}"));
                }
                for required in schema["required"].as_array().into_iter().flatten() {
                    let required = required.as_str().unwrap();
                    assert!(
                        object.contains_key(required),
                        "{at}: `{required}` is missing"
                    );
                }
            }
            Some("array") => {
                for (i, item) in value.as_array().unwrap().iter().enumerate() {
                    assert_fits(item, &schema["items"], document, &format!("{at}[{i}]"));
                }
            }
            Some("string") => assert!(value.is_string(), "{at}: not a string"),
            Some("integer") => assert!(value.is_i64() || value.is_u64(), "{at}: not an integer"),
            Some("boolean") => assert!(value.is_boolean(), "{at}: not a boolean"),
            _ => {}
        }
    }

    fn component(document: &Value, name: &str) -> Value {
        serde_json::json!({ "$ref": format!("#/components/schemas/{name}") })
            .as_object()
            .map(|_| document["components"]["schemas"][name].clone())
            .unwrap()
    }

    #[tokio::test]
    async fn real_outer_bodies_fit_their_schemas() {
        let dir = tempfile::tempdir().unwrap();
        let app = crate::app(state(dir.path()));
        let document = serde_json::to_value(outer_document()).unwrap();
        for (path, schema) in [
            (path::HEALTH, "Health"),
            (path::HEALTH_LIVE, "Probe"),
            (path::HEALTH_READY, "Probe"),
            (path::ATTESTATION, "EvidenceBundle"),
            ("/no/such/route", "ErrorBody"),
        ] {
            let (_, _, body) = call(&app, outer_request(path, &Method::GET)).await;
            let body: Value = serde_json::from_slice(&body).unwrap();
            assert_fits(&body, &component(&document, schema), &document, path);
        }
        // The bundle's closed schema lists exactly its fields.
        let bundle = &document["components"]["schemas"]["EvidenceBundle"];
        assert_eq!(bundle["additionalProperties"], false);
        // An error with the model's signature, as `invalid_input` has.
        let mut error = crate::error::ApiError::new(ErrorCode::InvalidInput, "bad shape");
        error.expected = Some(veil_tensor::ModelSignature {
            inputs: vec![veil_tensor::TensorSpec {
                name: "x".into(),
                datatype: veil_tensor::DataType::F32,
                shape: vec![
                    veil_tensor::Dimension::Dynamic,
                    veil_tensor::Dimension::Fixed(16),
                ],
            }],
            outputs: Vec::new(),
        });
        let body = serde_json::to_value(error.body()).unwrap();
        assert_fits(
            &body,
            &component(&document, "ErrorBody"),
            &document,
            "error",
        );
    }

    #[test]
    fn every_error_code_and_platform_is_in_the_schemas() {
        let document = serde_json::to_value(outer_document()).unwrap();
        let codes = &document["components"]["schemas"]["ErrorCode"]["enum"];
        assert_eq!(codes.as_array().unwrap().len(), ErrorCode::ALL.len());
        for code in ErrorCode::ALL {
            assert!(
                codes
                    .as_array()
                    .unwrap()
                    .contains(&serde_json::to_value(code).unwrap())
            );
        }
        let platforms = &document["components"]["schemas"]["PlatformKind"]["enum"];
        for platform in veil_attest::PlatformKind::ALL {
            let name = serde_json::to_value(platform).unwrap();
            assert!(platforms.as_array().unwrap().contains(&name), "{name}");
        }
    }

    #[test]
    fn real_inner_bodies_fit_their_schemas() {
        use veil_protocol::oip::{ModelInfo, ModelMetadata, RepositoryEntry, ServerMetadata};
        let document = serde_json::to_value(inner_document()).unwrap();
        let spec = veil_tensor::TensorSpec {
            name: "y".into(),
            datatype: veil_tensor::DataType::I64,
            shape: vec![veil_tensor::Dimension::Fixed(4)],
        };
        let cases = [
            (
                "ServerMetadata",
                serde_json::to_value(ServerMetadata {
                    name: "veil".into(),
                    version: "0".into(),
                    extensions: vec!["binary_tensor_data".into()],
                }),
            ),
            (
                "ModelMetadata",
                serde_json::to_value(ModelMetadata {
                    name: "m".into(),
                    versions: vec!["1".into()],
                    platform: "onnxruntime_onnx".into(),
                    inputs: vec![spec.clone()],
                    outputs: vec![spec.clone()],
                    sha256: "00".into(),
                }),
            ),
            (
                "ModelInfo",
                serde_json::to_value(ModelInfo {
                    name: "m".into(),
                    sha256: "00".into(),
                    size_bytes: 3,
                    signature: veil_tensor::ModelSignature {
                        inputs: vec![spec.clone()],
                        outputs: vec![spec],
                    },
                }),
            ),
            (
                "RepositoryEntry",
                serde_json::to_value(RepositoryEntry {
                    name: "m".into(),
                    state: "READY".into(),
                    sha256: Some("00".into()),
                    size_bytes: Some(3),
                }),
            ),
        ];
        for (schema, value) in cases {
            assert_fits(
                &value.unwrap(),
                &component(&document, schema),
                &document,
                schema,
            );
        }
    }
}

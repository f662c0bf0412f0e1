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

use std::collections::BTreeMap;

use axum::Json;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::content::{Content, ContentBuilder};
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
use veil_protocol::ErrorCode;
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

mod schema;

/// Adds `T` and every schema it references to `components`.
fn with_schema<T: ToSchema>(components: ComponentsBuilder) -> ComponentsBuilder {
    let mut nested = Vec::new();
    T::schemas(&mut nested);
    components
        .schema(T::name(), T::schema())
        .schemas_from_iter(nested)
}

/// As [`with_schema`], with every object schema closed
/// (`additionalProperties: false`): the outer API's bodies, where a field the
/// server adds without documenting it breaks the schema-driven tests.
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

fn binary_content() -> Content {
    ContentBuilder::new().schema(Some(binary())).build()
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
        .content(REQUEST_MEDIA_TYPE, binary_content())
        .content(CHUNKED_REQUEST_MEDIA_TYPE, binary_content())
        .build();
    let sealed = ResponseBuilder::new()
        .description(
            "The inner response, encapsulated to this request only: `message/ohttp-res` for \
             `message/ohttp-req`, `message/ohttp-chunked-res` for the chunked request. Inner \
             errors (unknown model, bad input, unauthorized, ...) travel inside it.",
        )
        .content(RESPONSE_MEDIA_TYPE, binary_content())
        .content(CHUNKED_RESPONSE_MEDIA_TYPE, binary_content())
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

/// Adds the error responses of `codes` to `op`: one response per HTTP status,
/// the status being each code's own ([`ErrorCode::http_status`]), its
/// description naming the codes it carries and why.
fn errors(mut op: OperationBuilder, codes: &[(ErrorCode, &str)]) -> OperationBuilder {
    let mut by_status: BTreeMap<u16, Vec<String>> = BTreeMap::new();
    for (code, why) in codes {
        by_status
            .entry(code.http_status())
            .or_default()
            .push(format!("`{code}`: {why}."));
    }
    for (status, reasons) in by_status {
        op = op.response(status.to_string(), error(&reasons.join(" ")));
    }
    op
}

fn inner_operations() -> PathsBuilder {
    use schema::{
        Deleted, InferRequest, InferResponse, InnerLive, InnerReady, IssuedChallenge, JoinRequest,
        ModelInfo, ModelKeyInfo, ModelMetadata, ModelReady, RepositoryEntry, SealedSealingKey,
        ServerMetadata,
    };
    let user = |op: OperationBuilder| {
        errors(
            op.securities(Some(bearer("api_key", true))),
            &[
                (
                    ErrorCode::Unauthorized,
                    "API keys are configured and the request carries none of them",
                ),
                (
                    ErrorCode::TooManyRequests,
                    "too many failed authentications: no token is checked until `Retry-After`",
                ),
            ],
        )
    };
    let model_missing = (ErrorCode::ModelNotFound, "no model of that name is served");
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
        .response("200", json_response::<InnerReady>("`{\"ready\": true}`"))
        .response(
            "503",
            json_response::<InnerReady>("`{\"ready\": false}` while the server drains."),
        );
    let model_metadata = user(
        OperationBuilder::new()
            .operation_id(Some("model_metadata"))
            .tag("oip")
            .parameter(name_parameter())
            .response(
                "200",
                json_response::<ModelMetadata>("The model's signature and hash."),
            ),
    );
    let model_metadata = errors(model_metadata, &[model_missing]);
    let model_ready = user(
        OperationBuilder::new()
            .operation_id(Some("model_ready"))
            .tag("oip")
            .parameter(name_parameter())
            .response("200", json_response::<ModelReady>("The model is served.")),
    );
    let model_ready = errors(model_ready, &[model_missing]);
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
        .content(oip::BINARY_CONTENT_TYPE, binary_content())
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
                    .content(oip::BINARY_CONTENT_TYPE, binary_content())
                    .build(),
            ),
    );
    let infer = errors(
        infer,
        &[
            (
                ErrorCode::InvalidInput,
                "the inputs do not match the model's signature (`expected` carries it)",
            ),
            (
                ErrorCode::BadRequest,
                "the body is not an inference request (bad JSON, bad binary header)",
            ),
            model_missing,
            (
                ErrorCode::ModelHashMismatch,
                "the served model is not the one the client expects (`veil_model_sha256`)",
            ),
            (
                ErrorCode::PayloadTooLarge,
                "an input tensor exceeds `--max-tensor-elements`",
            ),
            (
                ErrorCode::InferenceFailed,
                "the engine failed on a valid request",
            ),
            (
                ErrorCode::Unavailable,
                "the model's inference queue is full; retry after `Retry-After`",
            ),
        ],
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
        errors(
            op.securities(Some(bearer("owner_token", false))),
            &[
                (
                    ErrorCode::Unauthorized,
                    "the call needs a valid owner token",
                ),
                (
                    ErrorCode::TooManyRequests,
                    "too many failed authentications: no token is checked until `Retry-After`",
                ),
            ],
        )
    };
    // Uploads and deletes carry a fresh single-use challenge (replay binding).
    let challenged = |op: OperationBuilder| {
        let header = ParameterBuilder::new()
            .name(veil_protocol::challenge::CHALLENGE_HEADER)
            .parameter_in(ParameterIn::Header)
            .required(Required::True)
            .description(Some(
                "A challenge from `POST /veil/v1/challenge` (64 hex digits), good for one call within 60 s.",
            ))
            .schema(Some(String::schema()))
            .build();
        errors(
            op.parameter(header),
            &[(
                ErrorCode::InvalidChallenge,
                "the challenge is missing, malformed, unknown, expired or already used (a replay)",
            )],
        )
    };
    let challenge = owner(
        OperationBuilder::new()
            .operation_id(Some("repository_challenge"))
            .tag("repository")
            .description(Some(
                "Issues a single-use challenge for one upload or delete: \
                 `{\"challenge\": \"<64 hex>\", \"expires_in_seconds\": 60}`.",
            ))
            .response(
                "200",
                json_response::<IssuedChallenge>("A fresh challenge."),
            ),
    );
    let model_key = user(
        OperationBuilder::new()
            .operation_id(Some("repository_model_key"))
            .tag("repository")
            .description(Some(
                "The public key owners encrypt models to before upload (`veil encrypt-model`), \
                 so that an encrypted model file can pass through other hands: derived from the \
                 sealing key, the same on every start with the same sealing key. Served only \
                 inside the channel, which is what shows it belongs to the attested TEE.",
            ))
            .response("200", json_response::<ModelKeyInfo>("The model key.")),
    );
    let replica_key = errors(
        OperationBuilder::new()
            .operation_id(Some("replica_sealing_key"))
            .tag("replica")
            .description(Some(
                "Hands this server's sealing key to a replica of itself (`veil serve \
                 --join-replica`), sealed with HPKE to the public key its evidence binds. No \
                 token: the evidence is the credential, checked against the policy that pins \
                 this server's own evidence (same platform and measurements, a TCB at least \
                 as recent).",
            ))
            .request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::True))
                    .content(
                        JSON,
                        ContentBuilder::new()
                            .schema(Some(reference::<JoinRequest>()))
                            .build(),
                    )
                    .build(),
            ))
            .response(
                "200",
                json_response::<SealedSealingKey>("The sealing key, sealed to the replica."),
            ),
        &[
            (
                ErrorCode::ReplicaRefused,
                "the evidence does not verify under the policy pinning this server's own evidence, \
                 or does not bind the public key, or this server shares its key with no replica",
            ),
            (ErrorCode::BadRequest, "the body is not a join request"),
        ],
    );
    let upload = challenged(owner(
        OperationBuilder::new()
            .operation_id(Some("repository_upload"))
            .tag("repository")
            .description(Some(
                "Stores and loads an ONNX model under `name`, replacing any model of that name. \
                 Send it through chunked OHTTP so it streams; it is written atomically and \
                 never stored when the stream is cut. The body is the ONNX file, or (with \
                 content type `application/vnd.veil.owner-encrypted-model`) the ONNX file \
                 encrypted to the model key, which the server opens inside the TEE.",
            ))
            .parameter(name_parameter())
            .request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::True))
                    .content(oip::BINARY_CONTENT_TYPE, binary_content())
                    .content(veil_model_crypto::owner::MEDIA_TYPE, binary_content())
                    .build(),
            ))
            .response("200", json_response::<ModelInfo>("The model is served.")),
    ));
    let upload = errors(
        upload,
        &[
            (
                ErrorCode::InvalidModel,
                "the engine cannot load the bytes (or they are empty), or an owner-encrypted model \
                 was encrypted to another key, changed or cut",
            ),
            (
                ErrorCode::BadRequest,
                "the name is not a valid model name, or the upload was cut off",
            ),
            (
                ErrorCode::PayloadTooLarge,
                "the model exceeds `--max-model-bytes`",
            ),
        ],
    );
    let delete = challenged(owner(
        OperationBuilder::new()
            .operation_id(Some("repository_delete"))
            .tag("repository")
            .parameter(name_parameter())
            .response(
                "200",
                json_response::<Deleted>("The model is no longer served."),
            ),
    ));
    let delete = errors(delete, &[model_missing]);
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
        .path(
            veil_protocol::challenge::CHALLENGE_PATH,
            PathItem::new(HttpMethod::Post, challenge),
        )
        .path(
            veil_protocol::model_key::MODEL_KEY_PATH,
            PathItem::new(HttpMethod::Get, model_key),
        )
        .path(
            veil_protocol::replica::SEALING_KEY_PATH,
            PathItem::new(HttpMethod::Post, replica_key),
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
        with_schema::<IssuedChallenge>,
        with_schema::<ModelKeyInfo>,
        with_schema::<JoinRequest>,
        with_schema::<SealedSealingKey>,
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
mod tests;

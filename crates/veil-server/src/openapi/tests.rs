//! The documents against the code: committed files, routers, real bodies.

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
    document["components"]["schemas"][name].clone()
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
    use veil_protocol::challenge::IssuedChallenge;
    use veil_protocol::oip::{ModelInfo, ModelMetadata, RepositoryEntry, ServerMetadata};
    let document = serde_json::to_value(inner_document()).unwrap();
    let spec = veil_tensor::TensorSpec {
        name: "y".into(),
        datatype: veil_tensor::DataType::I64,
        shape: vec![veil_tensor::Dimension::Fixed(4)],
    };
    let cases = [
        (
            "IssuedChallenge",
            serde_json::to_value(IssuedChallenge {
                challenge: "ab".repeat(32),
                expires_in_seconds: 60,
            }),
        ),
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

//! The inner Open Inference Protocol bodies: `POST /v2/models/{name}/infer`
//! requests (JSON tensors and the binary tensor extension) as the server
//! decodes them, then the engine-independent check against a model
//! signature that runs before any engine sees the tensors; and responses as
//! the client decodes them.
//!
//! Input: one byte of flags, two bytes of little-endian header length, the
//! body. Flag bit 0: the `Inference-Header-Content-Length` header is present
//! (the binary extension); bit 1: decode as a response instead of a request.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use veil_protocol::oip::{InferRequest, InferResponse};
use veil_tensor::{DataType, Dimension, ModelSignature, TensorSpec};

/// A signature with fixed and dynamic dimensions and two data types.
static SIGNATURE: LazyLock<ModelSignature> = LazyLock::new(|| ModelSignature {
    inputs: vec![
        TensorSpec {
            name: "x".into(),
            datatype: DataType::F32,
            shape: vec![Dimension::Dynamic, Dimension::Fixed(16)],
        },
        TensorSpec {
            name: "ids".into(),
            datatype: DataType::I64,
            shape: vec![Dimension::Fixed(1), Dimension::Dynamic],
        },
    ],
    outputs: vec![TensorSpec {
        name: "y".into(),
        datatype: DataType::F32,
        shape: vec![Dimension::Dynamic, Dimension::Fixed(4)],
    }],
});

fuzz_target!(|data: &[u8]| {
    let [flags, l0, l1, body @ ..] = data else {
        return;
    };
    let header_length = (flags & 1 == 1).then(|| usize::from(u16::from_le_bytes([*l0, *l1])));
    if flags & 2 == 2 {
        if let Ok(response) = InferResponse::decode(body, header_length) {
            let encoded = response
                .encode(|_| true)
                .expect("a decoded response encodes");
            let again = InferResponse::decode(&encoded.body, encoded.header_length)
                .expect("its binary encoding decodes");
            assert!(again == response, "response round trip differs");
        }
        return;
    }
    let Ok(request) = InferRequest::decode(body, header_length) else {
        return;
    };
    // Binary encoding is exact: what decodes must come back the same.
    let encoded = request.encode(true).expect("a decoded request encodes");
    let again = InferRequest::decode(&encoded.body, encoded.header_length)
        .expect("its binary encoding decodes");
    assert!(again == request, "request round trip differs");
    let outputs: Option<Vec<String>> = request
        .outputs
        .as_ref()
        .map(|o| o.iter().map(|r| r.name.clone()).collect());
    let _ = veil_engine::validate::select_outputs(&SIGNATURE, outputs.as_deref());
    let _ = veil_engine::validate::order_inputs(&SIGNATURE, request.inputs);
});

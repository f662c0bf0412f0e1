//! Open Inference Protocol (KServe v2) REST bodies: inference requests and
//! responses with JSON tensors and the binary tensor data extension, and the
//! metadata documents.
//!
//! Binary extension: the body is a JSON header followed by raw little-endian
//! tensor bytes; the header's length travels in
//! `Inference-Header-Content-Length`, each binary tensor's size in its
//! `parameters.binary_data_size`.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};
use veil_tensor::{DataType, Element, ModelSignature, Tensor, TensorSpec, element_count, f16};

use crate::ProtocolError;

/// Header naming the JSON header's length in a binary-extension body.
pub const HEADER_LENGTH_HEADER: &str = "inference-header-content-length";
/// Content type of a binary-extension body.
pub const BINARY_CONTENT_TYPE: &str = "application/octet-stream";
/// Content type of a pure JSON body.
pub const JSON_CONTENT_TYPE: &str = "application/json";
/// Request parameter carrying the model SHA-256 the client expects (hex).
pub const EXPECTED_SHA256_PARAMETER: &str = "veil_model_sha256";

const BINARY_DATA_SIZE: &str = "binary_data_size";
const BINARY_DATA: &str = "binary_data";
const BINARY_DATA_OUTPUT: &str = "binary_data_output";

#[derive(Debug, Serialize, Deserialize)]
struct RequestHeader {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    parameters: Map<String, Value>,
    inputs: Vec<TensorHeader>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    outputs: Option<Vec<OutputRequestHeader>>,
}

#[derive(Debug, Serialize, Deserialize)]
struct OutputRequestHeader {
    name: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    parameters: Map<String, Value>,
}

#[derive(Debug, Serialize, Deserialize)]
struct TensorHeader {
    name: String,
    shape: Vec<u64>,
    datatype: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    parameters: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data: Option<Value>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ResponseHeader {
    model_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    model_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    parameters: Map<String, Value>,
    outputs: Vec<TensorHeader>,
}

/// One output a client asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedOutput {
    /// Output name.
    pub name: String,
    /// Per-output choice of binary encoding, overriding the request default.
    pub binary: Option<bool>,
}

/// An inference request, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct InferRequest {
    /// Client-chosen request id, echoed in the response.
    pub id: Option<String>,
    /// Named input tensors.
    pub inputs: Vec<(String, Tensor)>,
    /// Outputs wanted; `None` for all.
    pub outputs: Option<Vec<RequestedOutput>>,
    /// Whether outputs come back in binary unless an output says otherwise.
    pub binary_outputs: bool,
    /// The model SHA-256 (hex) the client requires; a mismatch is refused.
    pub expected_sha256: Option<String>,
}

/// An encoded body and, for the binary extension, its JSON header length.
#[derive(Debug, Clone)]
pub struct EncodedBody {
    /// The body bytes.
    pub body: Vec<u8>,
    /// Value of `Inference-Header-Content-Length`, if binary parts follow.
    pub header_length: Option<usize>,
}

impl EncodedBody {
    /// The content type that fits this body.
    pub fn content_type(&self) -> &'static str {
        content_type(self.header_length)
    }
}

fn content_type(header_length: Option<usize>) -> &'static str {
    if header_length.is_some() {
        BINARY_CONTENT_TYPE
    } else {
        JSON_CONTENT_TYPE
    }
}

/// An encoded body in pieces: the JSON header, then the binary tensor data
/// borrowed from the tensors. Written piece by piece straight into the buffer
/// that is encrypted, the tensors are copied once on their way out, with no
/// whole body assembled in between.
#[derive(Debug, Clone)]
pub struct BodyParts<'a> {
    /// The JSON header; the whole body when nothing is binary.
    pub json: Vec<u8>,
    /// Binary tensor data, in the order the header lists it.
    pub binary: Vec<&'a [u8]>,
    /// Value of `Inference-Header-Content-Length`, if binary parts follow.
    pub header_length: Option<usize>,
}

impl BodyParts<'_> {
    /// The content type that fits this body.
    pub fn content_type(&self) -> &'static str {
        content_type(self.header_length)
    }

    /// The body's length in bytes.
    pub fn len(&self) -> usize {
        self.json.len() + self.binary.iter().map(|p| p.len()).sum::<usize>()
    }

    /// Whether the body is empty (never, for a valid request or response).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The pieces of the body, in order.
    pub fn pieces(&self) -> Vec<&[u8]> {
        std::iter::once(self.json.as_slice())
            .chain(self.binary.iter().copied())
            .collect()
    }

    /// Joins the pieces into one body.
    pub fn concat(self) -> EncodedBody {
        let mut body = self.json;
        body.reserve(self.binary.iter().map(|p| p.len()).sum());
        for p in &self.binary {
            body.extend_from_slice(p);
        }
        EncodedBody {
            body,
            header_length: self.header_length,
        }
    }
}

impl InferRequest {
    /// A request for all outputs, binary both ways.
    pub fn new(inputs: Vec<(String, Tensor)>) -> Self {
        InferRequest {
            id: None,
            inputs,
            outputs: None,
            binary_outputs: true,
            expected_sha256: None,
        }
    }

    /// Whether output `name` should be encoded in binary.
    pub fn wants_binary(&self, name: &str) -> bool {
        self.outputs
            .as_ref()
            .and_then(|o| o.iter().find(|r| r.name == name))
            .and_then(|r| r.binary)
            .unwrap_or(self.binary_outputs)
    }

    /// Encodes the request; `binary_inputs` selects the binary extension.
    pub fn encode(&self, binary_inputs: bool) -> Result<EncodedBody, ProtocolError> {
        Ok(self.encode_parts(binary_inputs)?.concat())
    }

    /// Encodes the request in pieces that borrow the input tensors' bytes,
    /// for writing straight into an encrypted request ([`BodyParts`]).
    pub fn encode_parts(&self, binary_inputs: bool) -> Result<BodyParts<'_>, ProtocolError> {
        let mut parameters = Map::new();
        if self.binary_outputs {
            parameters.insert(BINARY_DATA_OUTPUT.into(), Value::Bool(true));
        }
        if let Some(h) = &self.expected_sha256 {
            parameters.insert(EXPECTED_SHA256_PARAMETER.into(), Value::String(h.clone()));
        }
        let header = RequestHeader {
            id: self.id.clone(),
            parameters,
            inputs: self
                .inputs
                .iter()
                .map(|(name, t)| tensor_header(name, t, binary_inputs))
                .collect::<Result<_, _>>()?,
            outputs: self.outputs.as_ref().map(|outs| {
                outs.iter()
                    .map(|o| {
                        let mut parameters = Map::new();
                        if let Some(b) = o.binary {
                            parameters.insert(BINARY_DATA.into(), Value::Bool(b));
                        }
                        OutputRequestHeader {
                            name: o.name.clone(),
                            parameters,
                        }
                    })
                    .collect()
            }),
        };
        let binary: Vec<&[u8]> = if binary_inputs {
            self.inputs.iter().map(|(_, t)| t.bytes()).collect()
        } else {
            Vec::new()
        };
        encode_parts(&header, binary, binary_inputs)
    }

    /// Decodes a request body; `header_length` is the value of
    /// `Inference-Header-Content-Length`, if present. Copies the binary
    /// tensor data out of `body`; [`InferRequest::decode_shared`] does not.
    pub fn decode(body: &[u8], header_length: Option<usize>) -> Result<Self, ProtocolError> {
        let (json, binary) = split_body(body, header_length)?;
        Self::decode_split(json, Binary::Borrowed(binary))
    }

    /// Decodes a request body that the caller owns: the input tensors are
    /// views of `body` (its binary part), not copies of it.
    pub fn decode_shared(body: Bytes, header_length: Option<usize>) -> Result<Self, ProtocolError> {
        let json_len = split_body(&body, header_length)?.0.len();
        Self::decode_split(&body[..json_len], Binary::Shared(body.slice(json_len..)))
    }

    fn decode_split(json: &[u8], mut binary: Binary<'_>) -> Result<Self, ProtocolError> {
        let header: RequestHeader = serde_json::from_slice(json)
            .map_err(|e| ProtocolError::malformed("inference request", e))?;
        let mut inputs = Vec::with_capacity(header.inputs.len());
        for input in header.inputs {
            let tensor = decode_tensor(&input, &mut binary)?;
            inputs.push((input.name, tensor));
        }
        if !binary.is_empty() {
            return Err(ProtocolError::malformed(
                "inference request",
                format!(
                    "{} bytes of binary data follow the last tensor",
                    binary.len()
                ),
            ));
        }
        let outputs = header.outputs.map(|outs| {
            outs.into_iter()
                .map(|o| RequestedOutput {
                    binary: o.parameters.get(BINARY_DATA).and_then(Value::as_bool),
                    name: o.name,
                })
                .collect()
        });
        Ok(InferRequest {
            id: header.id,
            inputs,
            outputs,
            binary_outputs: header
                .parameters
                .get(BINARY_DATA_OUTPUT)
                .and_then(Value::as_bool)
                .unwrap_or(false),
            expected_sha256: header
                .parameters
                .get(EXPECTED_SHA256_PARAMETER)
                .map(|v| v.as_str().map(str::to_owned).ok_or(()))
                .transpose()
                .map_err(|()| {
                    ProtocolError::malformed(
                        "inference request",
                        "veil_model_sha256 must be a string",
                    )
                })?,
        })
    }
}

/// An inference response, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct InferResponse {
    /// The model that answered.
    pub model_name: String,
    /// The request id, echoed.
    pub id: Option<String>,
    /// Named output tensors.
    pub outputs: Vec<(String, Tensor)>,
}

impl InferResponse {
    /// Encodes the response; `binary(name)` chooses the encoding per output.
    pub fn encode(&self, binary: impl Fn(&str) -> bool) -> Result<EncodedBody, ProtocolError> {
        let mut parts = Vec::new();
        let mut outputs = Vec::with_capacity(self.outputs.len());
        for (name, t) in &self.outputs {
            let b = binary(name);
            outputs.push(tensor_header(name, t, b)?);
            if b {
                parts.push(t.bytes());
            }
        }
        let header = ResponseHeader {
            model_name: self.model_name.clone(),
            model_version: None,
            id: self.id.clone(),
            parameters: Map::new(),
            outputs,
        };
        let any_binary = !parts.is_empty();
        Ok(encode_parts(&header, parts, any_binary)?.concat())
    }

    /// Decodes a response body.
    pub fn decode(body: &[u8], header_length: Option<usize>) -> Result<Self, ProtocolError> {
        let (json, binary) = split_body(body, header_length)?;
        Self::decode_split(json, Binary::Borrowed(binary))
    }

    /// Decodes a response body that the caller owns: the output tensors are
    /// views of `body` (its binary part), not copies of it.
    pub fn decode_shared(body: Bytes, header_length: Option<usize>) -> Result<Self, ProtocolError> {
        let json_len = split_body(&body, header_length)?.0.len();
        Self::decode_split(&body[..json_len], Binary::Shared(body.slice(json_len..)))
    }

    fn decode_split(json: &[u8], mut binary: Binary<'_>) -> Result<Self, ProtocolError> {
        let header: ResponseHeader = serde_json::from_slice(json)
            .map_err(|e| ProtocolError::malformed("inference response", e))?;
        let mut outputs = Vec::with_capacity(header.outputs.len());
        for o in header.outputs {
            let tensor = decode_tensor(&o, &mut binary)?;
            outputs.push((o.name, tensor));
        }
        Ok(InferResponse {
            model_name: header.model_name,
            id: header.id,
            outputs,
        })
    }
}

/// Alignment, in bytes, of the binary section of an encoded body (from the
/// start of the body): enough for every element type and for SIMD loads.
pub const BINARY_ALIGNMENT: usize = 64;

fn encode_parts<'a, H: Serialize>(
    header: &H,
    binary: Vec<&'a [u8]>,
    is_binary: bool,
) -> Result<BodyParts<'a>, ProtocolError> {
    let mut json =
        serde_json::to_vec(header).map_err(|e| ProtocolError::malformed("JSON header", e))?;
    if is_binary {
        // Trailing spaces (valid JSON whitespace) put the first tensor's
        // bytes at a multiple of BINARY_ALIGNMENT in the body, so that a
        // receiver can hand them to an engine as typed values without a copy.
        json.resize(json.len().next_multiple_of(BINARY_ALIGNMENT), b' ');
    }
    let header_length = is_binary.then_some(json.len());
    Ok(BodyParts {
        json,
        binary,
        header_length,
    })
}

fn split_body(body: &[u8], header_length: Option<usize>) -> Result<(&[u8], &[u8]), ProtocolError> {
    match header_length {
        None => Ok((body, &[])),
        Some(n) if n <= body.len() => Ok(body.split_at(n)),
        Some(n) => Err(ProtocolError::malformed(
            "inference body",
            format!(
                "Inference-Header-Content-Length {n} exceeds the body length {}",
                body.len()
            ),
        )),
    }
}

fn tensor_header(name: &str, t: &Tensor, binary: bool) -> Result<TensorHeader, ProtocolError> {
    let mut parameters = Map::new();
    let data = if binary {
        parameters.insert(BINARY_DATA_SIZE.into(), Value::from(t.bytes().len()));
        None
    } else {
        Some(
            tensor_to_json(t)
                .map_err(|e| ProtocolError::Tensor(format!("tensor `{name}`: {e}")))?,
        )
    };
    Ok(TensorHeader {
        name: name.to_owned(),
        shape: t.shape().iter().map(|&d| d as u64).collect(),
        datatype: t.dtype().oip_name().to_owned(),
        parameters,
        data,
    })
}

/// The binary part of a body, from which tensors are taken in order.
enum Binary<'a> {
    /// An owned body: each tensor is a view of it.
    Shared(Bytes),
    /// A borrowed body: each tensor gets its own copy, so that it owns its
    /// buffer alone and `Tensor::into_bytes` does not copy again.
    Borrowed(&'a [u8]),
}

impl Binary<'_> {
    fn len(&self) -> usize {
        match self {
            Binary::Shared(b) => b.len(),
            Binary::Borrowed(b) => b.len(),
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The next `n` bytes; `n` is at most `self.len()`.
    fn take(&mut self, n: usize) -> Bytes {
        match self {
            Binary::Shared(b) => b.split_to(n),
            Binary::Borrowed(b) => {
                let (mine, rest) = b.split_at(n);
                *b = rest;
                Bytes::copy_from_slice(mine)
            }
        }
    }
}

fn decode_tensor(h: &TensorHeader, binary: &mut Binary<'_>) -> Result<Tensor, ProtocolError> {
    let bad = |reason: String| ProtocolError::Tensor(format!("tensor `{}`: {reason}", h.name));
    let dtype: DataType = h.datatype.parse().map_err(|e| bad(format!("{e}")))?;
    let shape: Vec<usize> = h
        .shape
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<Result<_, _>>()
        .map_err(|_| bad("shape dimension too large".into()))?;
    match (h.parameters.get(BINARY_DATA_SIZE), &h.data) {
        (Some(size), None) => {
            let size = size
                .as_u64()
                .and_then(|s| usize::try_from(s).ok())
                .ok_or_else(|| bad("binary_data_size must be a non-negative integer".into()))?;
            if size > binary.len() {
                return Err(bad(format!(
                    "binary_data_size {size} exceeds the {} bytes of binary data left",
                    binary.len()
                )));
            }
            let mine = binary.take(size);
            Tensor::from_shared_bytes(dtype, shape, mine).map_err(|e| bad(e.to_string()))
        }
        (None, Some(data)) => json_to_tensor(dtype, shape, data).map_err(bad),
        (Some(_), Some(_)) => Err(bad("has both binary_data_size and data".into())),
        (None, None) => Err(bad("has neither data nor binary_data_size".into())),
    }
}

fn finite(x: f64) -> Result<Value, String> {
    Number::from_f64(x).map(Value::Number).ok_or_else(|| {
        "NaN and infinity cannot be sent as JSON; use the binary tensor extension".to_owned()
    })
}

/// Converts a tensor to a flat JSON array.
pub fn tensor_to_json(t: &Tensor) -> Result<Value, String> {
    fn ints<T: Element + Into<Value>>(t: &Tensor) -> Result<Value, String> {
        Ok(Value::Array(
            t.to_values::<T>()
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(Into::into)
                .collect(),
        ))
    }
    fn floats<T: Element>(t: &Tensor, f: impl Fn(T) -> f64) -> Result<Value, String> {
        let v = t.to_values::<T>().map_err(|e| e.to_string())?;
        Ok(Value::Array(
            v.into_iter()
                .map(|x| finite(f(x)))
                .collect::<Result<_, _>>()?,
        ))
    }
    match t.dtype() {
        DataType::Bool => ints::<bool>(t),
        DataType::U8 => ints::<u8>(t),
        DataType::U16 => ints::<u16>(t),
        DataType::U32 => ints::<u32>(t),
        DataType::U64 => ints::<u64>(t),
        DataType::I8 => ints::<i8>(t),
        DataType::I16 => ints::<i16>(t),
        DataType::I32 => ints::<i32>(t),
        DataType::I64 => ints::<i64>(t),
        DataType::F16 => floats::<f16>(t, f64::from),
        DataType::F32 => floats::<f32>(t, f64::from),
        DataType::F64 => floats::<f64>(t, |x| x),
        other => Err(format!("datatype {other} has no JSON encoding")),
    }
}

fn flatten<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| flatten(i, out)),
        other => out.push(other),
    }
}

/// Converts a JSON array (flat or nested, row-major) to a tensor.
pub fn json_to_tensor(dtype: DataType, shape: Vec<usize>, data: &Value) -> Result<Tensor, String> {
    let expected = element_count(&shape).ok_or("shape is too large")?;
    let mut flat = Vec::new();
    flatten(data, &mut flat);
    if flat.len() != expected {
        return Err(format!(
            "shape {shape:?} needs {expected} elements, data has {}",
            flat.len()
        ));
    }
    fn collect<T: Element>(
        shape: Vec<usize>,
        flat: &[&Value],
        dtype: DataType,
        f: impl Fn(&Value) -> Option<T>,
    ) -> Result<Tensor, String> {
        let values = flat
            .iter()
            .enumerate()
            .map(|(i, v)| f(v).ok_or_else(|| format!("element {i} is not a valid {dtype}")))
            .collect::<Result<Vec<T>, _>>()?;
        Tensor::from_values(shape, values).map_err(|e| e.to_string())
    }
    fn int<T: TryFrom<i64> + TryFrom<u64>>(v: &Value) -> Option<T> {
        match v.as_i64() {
            Some(i) => T::try_from(i).ok(),
            None => v.as_u64().and_then(|u| T::try_from(u).ok()),
        }
    }
    match dtype {
        DataType::Bool => collect(shape, &flat, dtype, Value::as_bool),
        DataType::U8 => collect(shape, &flat, dtype, int::<u8>),
        DataType::U16 => collect(shape, &flat, dtype, int::<u16>),
        DataType::U32 => collect(shape, &flat, dtype, int::<u32>),
        DataType::U64 => collect(shape, &flat, dtype, int::<u64>),
        DataType::I8 => collect(shape, &flat, dtype, int::<i8>),
        DataType::I16 => collect(shape, &flat, dtype, int::<i16>),
        DataType::I32 => collect(shape, &flat, dtype, int::<i32>),
        DataType::I64 => collect(shape, &flat, dtype, int::<i64>),
        DataType::F16 => collect(shape, &flat, dtype, |v| v.as_f64().map(f16::from_f64)),
        DataType::F32 => collect(shape, &flat, dtype, |v| v.as_f64().map(|x| x as f32)),
        DataType::F64 => collect(shape, &flat, dtype, Value::as_f64),
        other => Err(format!("datatype {other} has no JSON encoding")),
    }
}

/// `GET /v2/models/{name}`: model metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMetadata {
    /// Model name.
    pub name: String,
    /// Available versions (Veil keeps one per name).
    #[serde(default)]
    pub versions: Vec<String>,
    /// The engine platform, e.g. `onnxruntime_onnx`.
    pub platform: String,
    /// Inputs: name, datatype, shape with `-1` for dynamic dimensions.
    pub inputs: Vec<TensorSpec>,
    /// Outputs.
    pub outputs: Vec<TensorSpec>,
    /// Veil's extension: SHA-256 of the model bytes (hex).
    pub sha256: String,
}

/// Response to an upload: what the server now serves under the name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Model name.
    pub name: String,
    /// SHA-256 of the model bytes (hex).
    pub sha256: String,
    /// Size of the model in bytes.
    pub size_bytes: u64,
    /// The model's inputs and outputs.
    #[serde(flatten)]
    pub signature: ModelSignature,
}

/// One entry of `GET /v2/repository/index`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepositoryEntry {
    /// Model name.
    pub name: String,
    /// `READY` for a loaded model.
    pub state: String,
    /// SHA-256 of the model bytes (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
}

/// `GET /v2`: server metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerMetadata {
    /// Server name (`veil`).
    pub name: String,
    /// Server version.
    pub version: String,
    /// Supported protocol extensions.
    pub extensions: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<(String, Tensor)> {
        vec![
            (
                "x".into(),
                Tensor::from_values(vec![2, 2], vec![1.5f32, -2.0, 3.25, 0.0]).unwrap(),
            ),
            (
                "ids".into(),
                Tensor::from_values(vec![3], vec![i64::MIN, 0, i64::MAX]).unwrap(),
            ),
            (
                "mask".into(),
                Tensor::from_values(vec![2], vec![true, false]).unwrap(),
            ),
            (
                "u".into(),
                Tensor::from_values(vec![1], vec![u64::MAX]).unwrap(),
            ),
            (
                "h".into(),
                Tensor::from_values(vec![1], vec![f16::from_f32(0.5)]).unwrap(),
            ),
        ]
    }

    #[test]
    fn request_round_trips_in_binary_and_in_json() {
        let mut req = InferRequest::new(sample());
        req.expected_sha256 = Some("ab".repeat(32));
        req.id = Some("r1".into());
        for binary in [true, false] {
            let enc = req.encode(binary).unwrap();
            assert_eq!(enc.header_length.is_some(), binary);
            let dec = InferRequest::decode(&enc.body, enc.header_length).unwrap();
            assert_eq!(dec, req, "binary={binary}");
        }
    }

    #[test]
    fn a_shared_body_is_decoded_into_views_of_it() {
        let req = InferRequest::new(sample());
        let parts = req.encode_parts(true).unwrap();
        let joined = parts.pieces().concat();
        assert_eq!(parts.len(), joined.len());
        let enc = parts.concat();
        assert_eq!(enc.body, joined);
        let body = Bytes::from(enc.body);
        let dec = InferRequest::decode_shared(body.clone(), enc.header_length).unwrap();
        assert_eq!(dec, req);
        // The first tensor's bytes are the body's, right after the JSON
        // header, which is padded so that they start aligned.
        let header_length = enc.header_length.unwrap();
        assert_eq!(header_length % BINARY_ALIGNMENT, 0);
        assert!(body[..header_length].ends_with(b" "));
        assert_eq!(
            dec.inputs[0].1.bytes().as_ptr(),
            body[header_length..].as_ptr()
        );
        let err = InferRequest::decode_shared(body.slice(..body.len() - 1), enc.header_length)
            .unwrap_err()
            .to_string();
        assert!(err.contains("exceeds"), "{err}");
    }

    #[test]
    fn a_shared_response_body_is_decoded_into_views_of_it() {
        let resp = InferResponse {
            model_name: "m".into(),
            id: Some("r1".into()),
            outputs: sample(),
        };
        let enc = resp.encode(|_| true).unwrap();
        let header_length = enc.header_length.unwrap();
        assert_eq!(header_length % BINARY_ALIGNMENT, 0);
        let body = Bytes::from(enc.body);
        let dec = InferResponse::decode_shared(body.clone(), enc.header_length).unwrap();
        assert_eq!(dec, resp);
        assert_eq!(
            dec.outputs[0].1.bytes().as_ptr(),
            body[header_length..].as_ptr()
        );
        let err = InferResponse::decode_shared(body.slice(..body.len() - 1), enc.header_length)
            .unwrap_err()
            .to_string();
        assert!(err.contains("exceeds"), "{err}");
    }

    #[test]
    fn tensors_decoded_from_a_borrowed_body_own_their_bytes() {
        let resp = InferResponse {
            model_name: "m".into(),
            id: None,
            outputs: sample(),
        };
        let enc = resp.encode(|_| true).unwrap();
        let dec = InferResponse::decode(&enc.body, enc.header_length).unwrap();
        for (name, t) in dec.outputs {
            // Taking the bytes reuses the tensor's own buffer: no second copy.
            let at = t.bytes().as_ptr();
            let owned = t.into_bytes();
            assert_eq!(owned.as_ptr(), at, "output {name}");
        }
    }

    #[test]
    fn response_round_trips_with_mixed_encodings() {
        let resp = InferResponse {
            model_name: "m".into(),
            id: None,
            outputs: sample(),
        };
        let enc = resp.encode(|n| n != "ids").unwrap();
        assert_eq!(
            InferResponse::decode(&enc.body, enc.header_length).unwrap(),
            resp
        );
    }

    #[test]
    fn accepts_nested_json_data_as_kserve_clients_send_it() {
        let body =
            br#"{"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[[1,2],[3,4]]}]}"#;
        let req = InferRequest::decode(body, None).unwrap();
        assert_eq!(
            req.inputs[0].1.to_values::<f32>().unwrap(),
            vec![1.0, 2.0, 3.0, 4.0]
        );
        assert!(!req.binary_outputs);
    }

    #[test]
    fn refuses_malformed_bodies_with_a_reason() {
        let cases: &[(&[u8], Option<usize>, &str)] = &[
            (b"not json", None, "inference request"),
            (
                br#"{"inputs":[{"name":"x","shape":[3],"datatype":"FP32","data":[1,2]}]}"#,
                None,
                "needs 3",
            ),
            (
                br#"{"inputs":[{"name":"x","shape":[1],"datatype":"FP99","data":[1]}]}"#,
                None,
                "unsupported datatype",
            ),
            (
                br#"{"inputs":[{"name":"x","shape":[1],"datatype":"INT8","data":[300]}]}"#,
                None,
                "not a valid INT8",
            ),
            (
                br#"{"inputs":[{"name":"x","shape":[1],"datatype":"BOOL","data":[1]}]}"#,
                None,
                "not a valid BOOL",
            ),
            (
                br#"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32"}]}"#,
                None,
                "neither",
            ),
            (br#"{"inputs":[]}"#, Some(999), "exceeds the body"),
        ];
        for (body, hl, needle) in cases {
            let err = InferRequest::decode(body, *hl).unwrap_err().to_string();
            assert!(err.contains(needle), "{err} lacks {needle}");
        }
    }

    #[test]
    fn refuses_binary_sizes_that_do_not_add_up() {
        let header = br#"{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":8}}]}"#;
        let mut body = header.to_vec();
        body.extend_from_slice(&[0; 4]);
        let err = InferRequest::decode(&body, Some(header.len()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("exceeds"), "{err}");
        body.extend_from_slice(&[0; 8]);
        let err = InferRequest::decode(&body, Some(header.len()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("follow the last tensor"), "{err}");
    }

    #[test]
    fn error_messages_do_not_echo_tensor_values() {
        let body = br#"{"inputs":[{"name":"x","shape":[1],"datatype":"INT8","data":[123456789]}]}"#;
        let err = InferRequest::decode(body, None).unwrap_err().to_string();
        assert!(!err.contains("123456789"), "{err}");
    }

    #[test]
    fn nan_is_refused_in_json_but_carried_in_binary() {
        let t = Tensor::from_values(vec![1], vec![f32::NAN]).unwrap();
        let req = InferRequest::new(vec![("x".into(), t)]);
        assert!(req.encode(false).is_err());
        let enc = req.encode(true).unwrap();
        let dec = InferRequest::decode(&enc.body, enc.header_length).unwrap();
        assert!(dec.inputs[0].1.to_values::<f32>().unwrap()[0].is_nan());
    }
}

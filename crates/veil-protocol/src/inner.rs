//! Binary HTTP (RFC 9292) messages: the ordinary HTTP requests and responses
//! that travel inside the OHTTP channel.
//!
//! Small messages use known-length encoding through the `bhttp` crate. Large
//! uploads use indeterminate-length encoding written incrementally
//! ([`StreamingRequestHead`], [`write_body_chunk`], [`write_body_end`]), so a
//! model is never held in memory whole; the server reads them with `bhttp`'s
//! own streaming parser.

use std::io::Cursor;

use bhttp::{Message, Mode, StatusCode};

use crate::ProtocolError;

/// Scheme and authority are meaningless inside the channel (the gateway is
/// the only origin); they are fixed so that they carry no client data.
const SCHEME: &[u8] = b"https";
const AUTHORITY: &[u8] = b"veil.inner";

/// An inner HTTP request.
#[derive(Clone, PartialEq, Eq)]
pub struct InnerRequest {
    /// Method, e.g. `POST`.
    pub method: String,
    /// Path and query, e.g. `/v2/models/mnist/infer`.
    pub path: String,
    /// Header fields, names lowercase.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for InnerRequest {
    // Paths, headers (tokens) and bodies are request data: print only sizes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InnerRequest")
            .field("method", &self.method)
            .field("headers", &self.headers.len())
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

/// An inner HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InnerResponse {
    /// Status code.
    pub status: u16,
    /// Header fields, names lowercase.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl InnerResponse {
    /// The value of header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

impl InnerRequest {
    /// The value of header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// Encodes as a known-length binary HTTP request.
    pub fn encode(&self) -> Result<Vec<u8>, ProtocolError> {
        let mut m = Message::request(
            self.method.as_bytes().to_vec(),
            SCHEME.to_vec(),
            AUTHORITY.to_vec(),
            self.path.as_bytes().to_vec(),
        );
        for (k, v) in &self.headers {
            m.put_header(k.as_bytes(), v.as_bytes());
        }
        m.write_content(&self.body);
        let mut out = Vec::with_capacity(self.body.len() + 256);
        m.write_bhttp(Mode::KnownLength, &mut out)?;
        Ok(out)
    }

    /// Decodes a binary HTTP request (either length mode). The body is
    /// copied out of `bytes` once.
    pub fn decode(bytes: &[u8]) -> Result<Self, ProtocolError> {
        let mut m = Message::read_bhttp::<_, Cursor<&[u8]>>(&mut Cursor::new(bytes))?;
        let control = m.control();
        let (Some(method), Some(path)) = (control.method(), control.path()) else {
            return Err(ProtocolError::malformed("inner request", "not a request"));
        };
        let (method, path) = (utf8("method", method)?, utf8("path", path)?);
        let headers = fields(m.header().fields())?;
        Ok(InnerRequest {
            method,
            path,
            headers,
            body: m.take_content(),
        })
    }

    /// This request as an [`InnerRequestRef`], for encoding straight into
    /// an encrypted request.
    pub fn view(&self) -> InnerRequestRef<'_> {
        InnerRequestRef {
            method: &self.method,
            path: &self.path,
            headers: &self.headers,
            body: vec![&self.body],
        }
    }
}

impl InnerResponse {
    /// Encodes as a known-length binary HTTP response.
    pub fn encode(&self) -> Result<Vec<u8>, ProtocolError> {
        let status = StatusCode::try_from(self.status)?;
        let mut m = Message::response(status);
        for (k, v) in &self.headers {
            m.put_header(k.as_bytes(), v.as_bytes());
        }
        m.write_content(&self.body);
        let mut out = Vec::with_capacity(self.body.len() + 128);
        m.write_bhttp(Mode::KnownLength, &mut out)?;
        Ok(out)
    }

    /// Decodes a binary HTTP response. The body is copied out of `bytes` once.
    pub fn decode(bytes: &[u8]) -> Result<Self, ProtocolError> {
        let mut m = Message::read_bhttp::<_, Cursor<&[u8]>>(&mut Cursor::new(bytes))?;
        let Some(status) = m.control().status() else {
            return Err(ProtocolError::malformed("inner response", "not a response"));
        };
        let headers = fields(m.header().fields())?;
        Ok(InnerResponse {
            status: status.code(),
            headers,
            body: m.take_content(),
        })
    }
}

/// An inner request whose body is borrowed, possibly in pieces (an OIP JSON
/// header and the tensors' bytes): encoded without first joining them.
#[derive(Clone)]
pub struct InnerRequestRef<'a> {
    /// Method, e.g. `POST`.
    pub method: &'a str,
    /// Path and query, e.g. `/v2/models/mnist/infer`.
    pub path: &'a str,
    /// Header fields, names lowercase.
    pub headers: &'a [(String, String)],
    /// The body's pieces, in order.
    pub body: Vec<&'a [u8]>,
}

impl std::fmt::Debug for InnerRequestRef<'_> {
    // As for `InnerRequest`: sizes only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InnerRequestRef")
            .field("method", &self.method)
            .field("headers", &self.headers.len())
            .field("body_bytes", &self.body_len())
            .finish()
    }
}

impl InnerRequestRef<'_> {
    /// The body's length in bytes.
    pub fn body_len(&self) -> usize {
        self.body.iter().map(|p| p.len()).sum()
    }

    /// Appends the request to `out` as an indeterminate-length binary HTTP
    /// request whose body is one chunk: the head from `bhttp`
    /// ([`StreamingRequestHead`]), then each body piece copied once.
    /// [`InnerRequest::decode`] reads it like any other request.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), ProtocolError> {
        out.extend_from_slice(&StreamingRequestHead::encode(
            self.method,
            self.path,
            self.headers,
        )?);
        let len = self.body_len();
        if len > 0 {
            write_chunk_length(len, out);
            for piece in &self.body {
                out.extend_from_slice(piece);
            }
        }
        write_body_end(out);
        Ok(())
    }
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn utf8(what: &'static str, b: &[u8]) -> Result<String, ProtocolError> {
    String::from_utf8(b.to_vec()).map_err(|_| ProtocolError::malformed(what, "not UTF-8"))
}

/// Converts binary HTTP fields to lowercase-name string pairs.
pub fn fields(fields: &[bhttp::Field]) -> Result<Vec<(String, String)>, ProtocolError> {
    fields
        .iter()
        .map(|f| {
            Ok((
                utf8("header name", f.name())?.to_ascii_lowercase(),
                utf8("header value", f.value())?,
            ))
        })
        .collect()
}

/// The head of an indeterminate-length binary HTTP request whose body
/// follows in chunks.
pub struct StreamingRequestHead;

impl StreamingRequestHead {
    /// Encodes the framing indicator, control data and header fields.
    ///
    /// Produced by `bhttp` itself: the encoding of the same request with an
    /// empty body and trailer, minus those two terminators.
    pub fn encode(
        method: &str,
        path: &str,
        headers: &[(String, String)],
    ) -> Result<Vec<u8>, ProtocolError> {
        let mut m = Message::request(
            method.as_bytes().to_vec(),
            SCHEME.to_vec(),
            AUTHORITY.to_vec(),
            path.as_bytes().to_vec(),
        );
        for (k, v) in headers {
            m.put_header(k.as_bytes(), v.as_bytes());
        }
        let mut out = Vec::new();
        m.write_bhttp(Mode::IndeterminateLength, &mut out)?;
        // Empty content is one zero-length chunk terminator; an empty trailer
        // is one terminator: both are a single 0x00 byte.
        match out.as_slice() {
            [.., 0, 0] => {
                out.truncate(out.len() - 2);
                Ok(out)
            }
            _ => Err(ProtocolError::malformed(
                "streaming request head",
                "unexpected encoding",
            )),
        }
    }
}

/// Appends one body chunk (a QUIC variable-length integer length, RFC 9000
/// §16, then the bytes). Empty chunks are skipped: a zero length ends the body.
pub fn write_body_chunk(chunk: &[u8], out: &mut Vec<u8>) {
    if chunk.is_empty() {
        return;
    }
    write_chunk_length(chunk.len(), out);
    out.extend_from_slice(chunk);
}

/// Appends a chunk's length (a QUIC variable-length integer, RFC 9000 §16).
fn write_chunk_length(len: usize, out: &mut Vec<u8>) {
    let len = len as u64;
    match len {
        0..=0x3f => out.push(len as u8),
        0x40..=0x3fff => out.extend_from_slice(&((len as u16) | 0x4000).to_be_bytes()),
        0x4000..=0x3fff_ffff => out.extend_from_slice(&((len as u32) | 0x8000_0000).to_be_bytes()),
        _ => out.extend_from_slice(&(len | 0xc000_0000_0000_0000).to_be_bytes()),
    }
}

/// Appends the end of the body and an empty trailer.
pub fn write_body_end(out: &mut Vec<u8>) {
    out.extend_from_slice(&[0, 0]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trips() {
        let r = InnerRequest {
            method: "POST".into(),
            path: "/v2/models/m/infer".into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: b"{}".to_vec(),
        };
        assert_eq!(InnerRequest::decode(&r.encode().unwrap()).unwrap(), r);
    }

    #[test]
    fn response_round_trips() {
        let r = InnerResponse {
            status: 404,
            headers: vec![("content-type".into(), "application/json".into())],
            body: b"{\"error\":\"x\"}".to_vec(),
        };
        assert_eq!(InnerResponse::decode(&r.encode().unwrap()).unwrap(), r);
    }

    #[test]
    fn streamed_request_parses_with_bhttp_for_every_length_class() {
        // Chunk sizes cross each varint length boundary.
        let chunks: Vec<Vec<u8>> = [0usize, 1, 63, 64, 16383, 16384, 70000]
            .iter()
            .map(|&n| (0..n).map(|i| (i % 251) as u8).collect())
            .collect();
        let headers = vec![("authorization".to_string(), "Bearer t".to_string())];
        let mut wire =
            StreamingRequestHead::encode("PUT", "/v2/repository/models/m", &headers).unwrap();
        for c in &chunks {
            write_body_chunk(c, &mut wire);
        }
        write_body_end(&mut wire);
        let decoded = InnerRequest::decode(&wire).unwrap();
        assert_eq!(decoded.method, "PUT");
        assert_eq!(decoded.path, "/v2/repository/models/m");
        assert_eq!(decoded.header("Authorization"), Some("Bearer t"));
        assert_eq!(decoded.body, chunks.concat());
    }

    #[test]
    fn a_request_encoded_from_pieces_decodes_as_the_joined_request() {
        let headers = vec![(
            "content-type".to_string(),
            "application/octet-stream".to_string(),
        )];
        let pieces: [&[u8]; 3] = [b"{\"inputs\":[]}", &[7u8; 70_000], b""];
        for body in [pieces.to_vec(), vec![], vec![&b""[..]]] {
            let r = InnerRequestRef {
                method: "POST",
                path: "/v2/models/m/infer",
                headers: &headers,
                body: body.clone(),
            };
            let mut wire = b"prefix".to_vec();
            r.encode_into(&mut wire).unwrap();
            assert_eq!(&wire[..6], b"prefix", "encode_into appends");
            let decoded = InnerRequest::decode(&wire[6..]).unwrap();
            assert_eq!(decoded.method, "POST");
            assert_eq!(decoded.path, "/v2/models/m/infer");
            assert_eq!(decoded.headers, headers);
            assert_eq!(decoded.body, body.concat());
            // The owned request's view encodes the same request.
            let mut again = Vec::new();
            decoded.view().encode_into(&mut again).unwrap();
            assert_eq!(InnerRequest::decode(&again).unwrap(), decoded);
        }
    }

    #[test]
    fn garbage_and_truncation_are_errors() {
        assert!(InnerRequest::decode(b"").is_err());
        assert!(InnerRequest::decode(&[0xff; 9]).is_err());
        let full = InnerRequest {
            method: "GET".into(),
            path: "/v2".into(),
            headers: vec![],
            body: vec![1, 2, 3],
        }
        .encode()
        .unwrap();
        assert!(InnerRequest::decode(&full[..full.len() - 2]).is_err());
        // A response is not a request.
        let resp = InnerResponse {
            status: 200,
            headers: vec![],
            body: vec![],
        }
        .encode()
        .unwrap();
        assert!(InnerRequest::decode(&resp).is_err());
    }
}

//! Oblivious HTTP (RFC 9458): the server's key configuration and the
//! encapsulation of requests and responses.
//!
//! This module is the seam behind which HPKE and the AEAD live: today the
//! `ohttp` crate with its pure-Rust HPKE backend (DHKEM(X25519, HKDF-SHA256),
//! HKDF-SHA256, AES-128-GCM). Nothing outside it names a primitive.
//!
//! The request path copies the request once on each side: the client writes
//! the binary HTTP request straight into the buffer it encrypts in place
//! ([`ClientKey::encapsulate_request`]), and the gateway decrypts in place
//! ([`GatewayKey::decapsulate_in_place`]). Both use in-place variants of
//! `ohttp`'s calls that Veil adds to its vendored copy (`vendor/README.md`);
//! what is on the wire is unchanged RFC 9458.

use ohttp::hpke::{Aead, Kdf, Kem};
use ohttp::{ClientRequest, KeyConfig, SymmetricSuite};

use crate::ProtocolError;
use crate::inner::InnerRequestRef;

/// Room for an AEAD tag after the sealed request (16 bytes for AES-GCM).
const TAG_ROOM: usize = 16;

/// Media type of an encapsulated request.
pub const REQUEST_MEDIA_TYPE: &str = "message/ohttp-req";
/// Media type of an encapsulated response.
pub const RESPONSE_MEDIA_TYPE: &str = "message/ohttp-res";
/// Media type of a chunked encapsulated request (draft-ietf-ohai-chunked-ohttp).
pub const CHUNKED_REQUEST_MEDIA_TYPE: &str = "message/ohttp-chunked-req";
/// Media type of a chunked encapsulated response.
pub const CHUNKED_RESPONSE_MEDIA_TYPE: &str = "message/ohttp-chunked-res";

/// The key identifier of the gateway's single key configuration.
const KEY_ID: u8 = 1;

/// The HPKE suite every Veil key configuration offers.
fn suites() -> Vec<SymmetricSuite> {
    // AES-128-GCM: `ohttp`'s rust-hpke backend drops AES-256-GCM, and
    // AES-GCM is 2.6x faster than ChaCha20-Poly1305 on AES-NI hardware.
    vec![SymmetricSuite::new(Kdf::HkdfSha256, Aead::Aes128Gcm)]
}

/// The gateway's private key: decapsulates requests inside the TEE.
///
/// Generated fresh at start-up; it never leaves the process.
#[derive(Debug, Clone)]
pub struct GatewayKey {
    server: ohttp::Server,
    encoded_config: Vec<u8>,
}

impl GatewayKey {
    /// Generates a fresh key pair.
    pub fn generate() -> Result<Self, ProtocolError> {
        let config = KeyConfig::new(KEY_ID, Kem::X25519Sha256, suites())?;
        let encoded_config = KeyConfig::encode_list(&[&config])?;
        Ok(GatewayKey {
            server: ohttp::Server::new(config)?,
            encoded_config,
        })
    }

    /// The key configuration list (`application/ohttp-keys`) to attest and publish.
    pub fn encoded_config(&self) -> &[u8] {
        &self.encoded_config
    }

    /// The underlying OHTTP server, for streaming decapsulation.
    pub fn ohttp_server(&self) -> &ohttp::Server {
        &self.server
    }

    /// Decapsulates a request where it lies: decrypts `enc_request` in
    /// place and returns the inner message (a slice of it), and the means to
    /// encrypt the response to this request only. No copy of the request.
    pub fn decapsulate_in_place<'a>(
        &self,
        enc_request: &'a mut [u8],
    ) -> Result<(&'a [u8], ResponseSealer), ProtocolError> {
        let (inner, response) = self.server.decapsulate_in_place(enc_request)?;
        Ok((inner, ResponseSealer(response)))
    }

    /// Decapsulates a request; returns the inner message and the means to
    /// encrypt the response to this request only.
    pub fn decapsulate(
        &self,
        enc_request: &[u8],
    ) -> Result<(Vec<u8>, ResponseSealer), ProtocolError> {
        let (inner, response) = self.server.decapsulate(enc_request)?;
        Ok((inner, ResponseSealer(response)))
    }
}

/// Encrypts the response to one decapsulated request.
pub struct ResponseSealer(ohttp::ServerResponse);

impl ResponseSealer {
    /// Encapsulates the inner response.
    pub fn seal(self, inner_response: &[u8]) -> Result<Vec<u8>, ProtocolError> {
        Ok(self.0.encapsulate(inner_response)?)
    }
}

/// A client's view of an attested key configuration.
#[derive(Debug, Clone)]
pub struct ClientKey {
    encoded_config: Vec<u8>,
}

impl ClientKey {
    /// Wraps an attested key configuration list. Pass only the list that
    /// [`crate::bundle::verify_bundle`] returned.
    pub fn new(attested_config_list: Vec<u8>) -> Result<Self, ProtocolError> {
        KeyConfig::decode_list(&attested_config_list)?;
        Ok(ClientKey {
            encoded_config: attested_config_list,
        })
    }

    /// Starts a request: a fresh HPKE context for this request only.
    pub fn request(&self) -> Result<ClientRequest, ProtocolError> {
        Ok(ClientRequest::from_encoded_config_list(
            &self.encoded_config,
        )?)
    }

    /// Encapsulates one encoded inner request; returns the ciphertext and
    /// the means to open its response. Copies the request once.
    pub fn encapsulate(
        &self,
        inner_request: &[u8],
    ) -> Result<(Vec<u8>, ResponseOpener), ProtocolError> {
        self.seal_with(inner_request.len(), |buf| {
            buf.extend_from_slice(inner_request);
            Ok(())
        })
    }

    /// Encodes `request` as binary HTTP straight into the buffer that is
    /// then encrypted in place: its body pieces (an OIP header, the tensors'
    /// bytes) are copied once, into the ciphertext's place, and nowhere else.
    pub fn encapsulate_request(
        &self,
        request: &InnerRequestRef<'_>,
    ) -> Result<(Vec<u8>, ResponseOpener), ProtocolError> {
        let head: usize = request.method.len()
            + request.path.len()
            + request
                .headers
                .iter()
                .map(|(k, v)| k.len() + v.len() + 16)
                .sum::<usize>()
            + 64;
        self.seal_with(head + request.body_len(), |buf| request.encode_into(buf))
    }

    /// Starts a request, lets `write` append the inner request after room
    /// for the OHTTP header, and encrypts it in place.
    fn seal_with(
        &self,
        size_hint: usize,
        write: impl FnOnce(&mut Vec<u8>) -> Result<(), ProtocolError>,
    ) -> Result<(Vec<u8>, ResponseOpener), ProtocolError> {
        let request = self.request()?;
        let header_len = request.header_len();
        let mut buf = Vec::with_capacity(header_len + size_hint + TAG_ROOM);
        buf.resize(header_len, 0);
        write(&mut buf)?;
        let response = request.encapsulate_in_place(&mut buf)?;
        Ok((buf, ResponseOpener(response)))
    }
}

/// Opens the response to one encapsulated request.
pub struct ResponseOpener(ohttp::ClientResponse);

impl ResponseOpener {
    /// Decapsulates the encrypted response.
    pub fn open(self, enc_response: &[u8]) -> Result<Vec<u8>, ProtocolError> {
        Ok(self.0.decapsulate(enc_response)?)
    }

    /// Decapsulates the encrypted response where it lies: decrypted in
    /// place, the inner message is a slice of `enc_response`. No copy.
    pub fn open_in_place(self, enc_response: &mut [u8]) -> Result<&[u8], ProtocolError> {
        Ok(self.0.decapsulate_in_place(enc_response)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_through_the_attested_key() {
        let gateway = GatewayKey::generate().unwrap();
        let client = ClientKey::new(gateway.encoded_config().to_vec()).unwrap();
        let (enc, opener) = client.encapsulate(b"inner request").unwrap();
        let (inner, sealer) = gateway.decapsulate(&enc).unwrap();
        assert_eq!(inner, b"inner request");
        let enc_resp = sealer.seal(b"inner response").unwrap();
        assert_eq!(opener.open(&enc_resp).unwrap(), b"inner response");
    }

    #[test]
    fn in_place_calls_interoperate_with_the_copying_ones() {
        let gateway = GatewayKey::generate().unwrap();
        let client = ClientKey::new(gateway.encoded_config().to_vec()).unwrap();
        let body = vec![0x5a; 100_000];
        let headers = vec![("content-type".to_string(), "application/json".to_string())];
        let request = InnerRequestRef {
            method: "POST",
            path: "/v2/models/m/infer",
            headers: &headers,
            body: vec![b"{}", &body],
        };
        // In-place client, copying server.
        let (enc, opener) = client.encapsulate_request(&request).unwrap();
        let (inner, sealer) = gateway.decapsulate(&enc).unwrap();
        let decoded = crate::inner::InnerRequest::decode(&inner).unwrap();
        assert_eq!(decoded.body, [&b"{}"[..], &body].concat());
        assert_eq!(opener.open(&sealer.seal(b"ok").unwrap()).unwrap(), b"ok");
        // `ohttp`'s own encapsulation, in-place server.
        let (mut enc, response) = client.request().unwrap().encapsulate(b"plain").unwrap();
        let (inner, sealer) = gateway.decapsulate_in_place(&mut enc).unwrap();
        assert_eq!(inner, b"plain");
        let sealed = sealer.seal(b"answer").unwrap();
        assert_eq!(response.decapsulate(&sealed).unwrap(), b"answer");
    }

    #[test]
    fn responses_open_in_place_as_they_open_by_copy() {
        let gateway = GatewayKey::generate().unwrap();
        let client = ClientKey::new(gateway.encoded_config().to_vec()).unwrap();
        let exchange = |body: &[u8]| {
            let (enc, opener) = client.encapsulate(b"request").unwrap();
            let (_, sealer) = gateway.decapsulate(&enc).unwrap();
            (sealer.seal(body).unwrap(), opener)
        };
        for len in [0usize, 1, 15, 16, 17, 4096, 200_001] {
            let body: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let (mut sealed, opener) = exchange(&body);
            assert_eq!(opener.open_in_place(&mut sealed).unwrap(), body.as_slice());
            let (sealed, opener) = exchange(&body);
            assert_eq!(opener.open(&sealed).unwrap(), body);
        }
        // Every flipped byte (nonce, ciphertext, tag) and every truncation
        // is refused.
        let (sealed, _) = exchange(b"inner response");
        for i in 0..sealed.len() {
            let (mut bad, opener) = exchange(b"inner response");
            bad[i] ^= 0x01;
            assert!(
                opener.open_in_place(&mut bad).is_err(),
                "byte {i} flipped was accepted"
            );
        }
        for cut in 0..sealed.len() {
            let (mut bad, opener) = exchange(b"inner response");
            bad.truncate(cut);
            assert!(
                opener.open_in_place(&mut bad).is_err(),
                "truncated to {cut} was accepted"
            );
        }
    }

    #[test]
    fn refuses_every_flipped_byte_of_a_request() {
        let gateway = GatewayKey::generate().unwrap();
        let client = ClientKey::new(gateway.encoded_config().to_vec()).unwrap();
        let (enc, _) = client.encapsulate(b"secret").unwrap();
        for i in 0..enc.len() {
            let mut bad = enc.clone();
            bad[i] ^= 0x01;
            assert!(
                gateway.decapsulate(&bad).is_err(),
                "byte {i} flipped was accepted"
            );
            assert!(
                gateway.decapsulate_in_place(&mut bad).is_err(),
                "byte {i} flipped was accepted in place"
            );
        }
    }

    #[test]
    fn refuses_a_tampered_response() {
        let gateway = GatewayKey::generate().unwrap();
        let client = ClientKey::new(gateway.encoded_config().to_vec()).unwrap();
        let (enc, opener) = client.encapsulate(b"q").unwrap();
        let (_, sealer) = gateway.decapsulate(&enc).unwrap();
        let mut resp = sealer.seal(b"answer").unwrap();
        let last = resp.len() - 1;
        resp[last] ^= 0x80;
        assert!(opener.open(&resp).is_err());
    }

    #[test]
    fn another_servers_key_cannot_open_a_request() {
        let gateway = GatewayKey::generate().unwrap();
        let other = GatewayKey::generate().unwrap();
        let client = ClientKey::new(gateway.encoded_config().to_vec()).unwrap();
        let (enc, _) = client.encapsulate(b"secret").unwrap();
        assert!(other.decapsulate(&enc).is_err());
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        let gateway = GatewayKey::generate().unwrap();
        for garbage in [&b""[..], b"\x01", &[0u8; 100], &[0xff; 7]] {
            assert!(gateway.decapsulate(garbage).is_err());
            assert!(gateway.decapsulate_in_place(&mut garbage.to_vec()).is_err());
        }
        assert!(ClientKey::new(b"nonsense".to_vec()).is_err());
    }
}

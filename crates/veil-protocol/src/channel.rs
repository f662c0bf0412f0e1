//! Oblivious HTTP (RFC 9458): the server's key configuration and the
//! encapsulation of requests and responses.
//!
//! This module is the seam behind which HPKE and the AEAD live: today the
//! `ohttp` crate with its pure-Rust HPKE backend (DHKEM(X25519, HKDF-SHA256),
//! HKDF-SHA256, AES-128-GCM). Nothing outside it names a primitive.

use ohttp::hpke::{Aead, Kdf, Kem};
use ohttp::{ClientRequest, KeyConfig, SymmetricSuite};

use crate::ProtocolError;

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

    /// Encapsulates one inner request; returns the ciphertext and the means
    /// to open its response.
    pub fn encapsulate(
        &self,
        inner_request: &[u8],
    ) -> Result<(Vec<u8>, ResponseOpener), ProtocolError> {
        let (enc, response) = self.request()?.encapsulate(inner_request)?;
        Ok((enc, ResponseOpener(response)))
    }
}

/// Opens the response to one encapsulated request.
pub struct ResponseOpener(ohttp::ClientResponse);

impl ResponseOpener {
    /// Decapsulates the encrypted response.
    pub fn open(self, enc_response: &[u8]) -> Result<Vec<u8>, ProtocolError> {
        Ok(self.0.decapsulate(enc_response)?)
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
        }
        assert!(ClientKey::new(b"nonsense".to_vec()).is_err());
    }
}

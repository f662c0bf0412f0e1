//! Replicas of one server share its sealing key, and only with each other.
//!
//! A new replica (the *joiner*) asks a running one (the *sharer*) for the
//! sealing key, so that both read the same sealed models and derive the
//! same model key:
//!
//! 1. The joiner makes an ephemeral X25519 key pair ([`JoinerKey`]) and
//!    evidence whose report data is [`report_data`] of its public key.
//! 2. It verifies the sharer as any client does, under the policy that pins
//!    *its own* evidence (`veil_attest::PinnedPolicy`): a sharer running
//!    other code is never asked.
//! 3. Inside that channel it posts a [`JoinRequest`] to [`SEALING_KEY_PATH`].
//! 4. The sharer verifies the joiner's evidence under the policy that pins
//!    *its own* evidence, and the report data against the public key in the
//!    request, then answers a [`SealedSealingKey`]: the key sealed with HPKE
//!    (base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM) to
//!    that public key, the report data as associated data.
//!
//! So the key goes only to code with the same measurement on the same kind
//! of platform, and only into that code's memory. Replaying a request gets a
//! key sealed to a public key whose private half never left the joiner.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hpke::aead::AesGcm256;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha512};
use veil_attest::{AttestationError, Evidence, PlatformKind, ReportData};

use crate::ProtocolError;
use crate::bundle::{decode_b64, decode_evidence, encode_evidence, format_error};

type Kem = X25519HkdfSha256;

/// Where a running server hands its sealing key to a replica (`POST`,
/// inside the channel).
pub const SEALING_KEY_PATH: &str = "/veil/v1/replica/sealing-key";
/// Domain separation label of a joiner's report data.
pub const REPORT_DATA_LABEL: &[u8] = b"veil/v1 replica-join";
/// HPKE `info` of the sealed sealing key.
pub const HPKE_INFO: &[u8] = b"veil/v1 replica sealing key";

/// The report data of a joiner holding `public_key`:
/// `SHA-512("veil/v1 replica-join" ‖ 0x00 ‖ public_key)`. The label keeps
/// it apart from the report data that binds a serving key to a client's
/// nonce, so neither can stand in for the other.
pub fn report_data(public_key: &[u8; 32]) -> ReportData {
    let mut h = Sha512::new();
    h.update(REPORT_DATA_LABEL);
    h.update([0u8]);
    h.update(public_key);
    ReportData(h.finalize().into())
}

/// A joiner's request: its evidence and the public key the evidence binds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    /// Which platform produced the evidence.
    pub platform: PlatformKind,
    /// The attestation report, base64.
    pub report: String,
    /// Endorsement certificates, DER in base64, leaf first.
    pub certificates: Vec<String>,
    /// Platform collateral, base64 (Intel PCS collateral for `tdx`/`sgx`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub collateral: String,
    /// The joiner's X25519 public key, base64 (32 bytes).
    pub public_key: String,
}

impl JoinRequest {
    /// A request carrying `evidence` over [`report_data`] of `public_key`.
    pub fn new(evidence: &Evidence, public_key: &[u8; 32]) -> Self {
        let (report, certificates, collateral) = encode_evidence(evidence);
        JoinRequest {
            platform: evidence.platform,
            report,
            certificates,
            collateral,
            public_key: B64.encode(public_key),
        }
    }

    /// The evidence and public key, decoded but not verified.
    pub fn decode(&self) -> Result<(Evidence, [u8; 32]), AttestationError> {
        let public_key: [u8; 32] = decode_b64("public_key", &self.public_key)?
            .try_into()
            .map_err(|k: Vec<u8>| {
                format_error(format!(
                    "the joiner's public key is {} bytes, not 32",
                    k.len()
                ))
            })?;
        let evidence = decode_evidence(
            self.platform,
            &self.report,
            &self.certificates,
            &self.collateral,
        )?;
        Ok((evidence, public_key))
    }
}

/// The sharer's answer: the sealing key, sealed to the joiner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedSealingKey {
    /// HPKE encapsulated key (32 bytes) followed by the ciphertext, base64.
    pub sealed: String,
}

/// Seals `sealing_key` to the joiner's `public_key`, bound to its
/// `report_data` (the associated data).
pub fn seal_sealing_key(
    public_key: &[u8; 32],
    sealing_key: &[u8; 32],
) -> Result<SealedSealingKey, ProtocolError> {
    let recipient = <Kem as hpke::Kem>::PublicKey::from_bytes(public_key)
        .map_err(|e| ProtocolError::malformed("joiner public key", e))?;
    let aad = report_data(public_key);
    let (enc, ciphertext) = hpke::single_shot_seal::<AesGcm256, HkdfSha256, Kem>(
        &OpModeS::Base,
        &recipient,
        HPKE_INFO,
        sealing_key,
        &aad.0,
    )
    .map_err(|e| ProtocolError::malformed("sealed sealing key", e))?;
    let mut sealed = enc.to_bytes().to_vec();
    sealed.extend_from_slice(&ciphertext);
    Ok(SealedSealingKey {
        sealed: B64.encode(sealed),
    })
}

/// A joiner's ephemeral key pair: made fresh for one join, never stored.
pub struct JoinerKey {
    private: <Kem as hpke::Kem>::PrivateKey,
    public: [u8; 32],
}

impl std::fmt::Debug for JoinerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JoinerKey(..)")
    }
}

impl JoinerKey {
    /// A fresh key pair from the OS's randomness.
    pub fn generate() -> Self {
        let (private, public) = Kem::gen_keypair();
        JoinerKey {
            private,
            public: public.to_bytes().into(),
        }
    }

    /// The public key, which the joiner's evidence binds.
    pub fn public_key(&self) -> &[u8; 32] {
        &self.public
    }

    /// Opens the sharer's answer: the 32-byte sealing key, or an error if
    /// it was not sealed to this key (or was changed).
    pub fn open(&self, answer: &SealedSealingKey) -> Result<[u8; 32], ProtocolError> {
        let sealed = B64
            .decode(&answer.sealed)
            .map_err(|e| ProtocolError::malformed("sealed sealing key", e))?;
        if sealed.len() < 32 {
            return Err(ProtocolError::malformed(
                "sealed sealing key",
                "shorter than its encapsulated key",
            ));
        }
        let (enc, ciphertext) = sealed.split_at(32);
        let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(enc)
            .map_err(|e| ProtocolError::malformed("sealed sealing key", e))?;
        let aad = report_data(&self.public);
        let key = hpke::single_shot_open::<AesGcm256, HkdfSha256, Kem>(
            &OpModeR::Base,
            &self.private,
            &enc,
            HPKE_INFO,
            ciphertext,
            &aad.0,
        )
        .map_err(|_| {
            ProtocolError::malformed(
                "sealed sealing key",
                "it does not open with this replica's key (changed, or sealed to another key)",
            )
        })?;
        key.try_into().map_err(|k: Vec<u8>| {
            ProtocolError::malformed(
                "sealed sealing key",
                format!("it holds {} bytes, not 32", k.len()),
            )
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_sealed_key_opens_only_for_its_joiner_and_unchanged() {
        let joiner = JoinerKey::generate();
        let answer = seal_sealing_key(joiner.public_key(), &[7; 32]).unwrap();
        assert_eq!(joiner.open(&answer).unwrap(), [7; 32]);
        assert!(!answer.sealed.contains(&B64.encode([7u8; 32])[..20]));

        let other = JoinerKey::generate();
        assert!(other.open(&answer).is_err(), "another joiner's key");
        let mut bytes = B64.decode(&answer.sealed).unwrap();
        for at in [0, 31, 32, bytes.len() - 1] {
            bytes[at] ^= 1;
            let changed = SealedSealingKey {
                sealed: B64.encode(&bytes),
            };
            assert!(joiner.open(&changed).is_err(), "flipped byte {at}");
            bytes[at] ^= 1;
        }
        let short = SealedSealingKey {
            sealed: B64.encode(&bytes[..20]),
        };
        assert!(joiner.open(&short).is_err());
    }

    #[test]
    fn report_data_is_separated_from_the_serving_key_transcript() {
        let key = [3u8; 32];
        assert_ne!(
            report_data(&key),
            crate::transcript::report_data(&key, &[0; 32])
        );
        let mut other = key;
        other[31] ^= 1;
        assert_ne!(report_data(&key), report_data(&other));
    }

    #[test]
    fn a_request_round_trips_and_refuses_a_short_key() {
        let evidence = Evidence::new(PlatformKind::Simulated, vec![1, 2, 3], vec![vec![4, 5]]);
        let request = JoinRequest::new(&evidence, &[9; 32]);
        let (decoded, key) = request.decode().unwrap();
        assert_eq!(
            (decoded.report, decoded.certificates, key),
            (vec![1, 2, 3], vec![vec![4, 5]], [9; 32])
        );
        let mut short = request.clone();
        short.public_key = B64.encode([9u8; 31]);
        assert!(short.decode().unwrap_err().detail.contains("31 bytes"));
    }
}

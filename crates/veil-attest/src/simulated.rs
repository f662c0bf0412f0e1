//! The simulated platform: SEV-SNP-format reports signed by a P-384 key the
//! server generated, so that every line of the real verification path runs
//! without hardware. Only the trust anchor differs, and a verifier accepts
//! it only when its policy says `allow_simulation`.
//!
//! Evidence: `report` is a version-2 SEV-SNP report; `certificates` holds
//! exactly one entry, the signing key as a DER `SubjectPublicKeyInfo`.

use std::fmt;

use p384::ecdsa::{SigningKey, VerifyingKey};
use p384::pkcs8::{DecodePublicKey, EncodePublicKey};
use rand::rngs::OsRng;

use crate::error::{AttestationError, Check};
use crate::evidence::{Evidence, EvidenceProducer, PlatformKind};
use crate::fields::{Measurement, ReportData, TcbVersion};
use crate::report::{POLICY_DEBUG_BIT, UnsignedReport};
use crate::signature::sign_report;

/// Guest policy of simulated reports: bit 17 (reserved, must be one) and
/// bit 16 (SMT allowed), as a typical SEV-SNP guest has; debug (bit 19) clear.
const SIMULATED_GUEST_POLICY: u64 = 0x3_0000;

/// Produces simulated evidence: no protection at all, for development and CI.
///
/// Its reports say `measurement`, the caller's report data, a zero chip ID,
/// VMPL 0 and (unless changed) a zero TCB and a guest policy with debugging
/// off.
pub struct SimulatedProducer {
    key: SigningKey,
    measurement: Measurement,
    debug: bool,
    tcb: TcbVersion,
}

impl SimulatedProducer {
    /// A producer with a fresh P-384 signing key from the OS's random source.
    pub fn generate(measurement: Measurement) -> Self {
        SimulatedProducer {
            key: SigningKey::random(&mut OsRng),
            measurement,
            debug: false,
            tcb: TcbVersion::default(),
        }
    }

    /// The measurement its reports carry.
    pub fn measurement(&self) -> Measurement {
        self.measurement
    }

    /// Sets the debug bit of the guest policy in its reports, so that a
    /// verifier's refusal of debug guests can be tested.
    pub fn with_debug(mut self, debug: bool) -> Self {
        self.debug = debug;
        self
    }

    /// Sets the TCB version its reports claim (current, reported, committed
    /// and launch TCB alike).
    pub fn with_tcb(mut self, tcb: TcbVersion) -> Self {
        self.tcb = tcb;
        self
    }

    /// The trust anchor clients must accept to verify its evidence: the
    /// signing key as a DER `SubjectPublicKeyInfo`.
    pub fn public_key_der(&self) -> Result<Vec<u8>, AttestationError> {
        self.key
            .verifying_key()
            .to_public_key_der()
            .map(|der| der.into_vec())
            .map_err(|e| {
                AttestationError::new(
                    Check::Format,
                    format!("cannot encode the simulated key: {e}"),
                )
            })
    }
}

impl fmt::Debug for SimulatedProducer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimulatedProducer")
            .field("measurement", &self.measurement)
            .field("debug", &self.debug)
            .field("tcb", &self.tcb)
            .finish_non_exhaustive()
    }
}

impl EvidenceProducer for SimulatedProducer {
    fn platform(&self) -> PlatformKind {
        PlatformKind::Simulated
    }

    fn produce(&self, report_data: &ReportData) -> Result<Evidence, AttestationError> {
        let guest_policy = if self.debug {
            SIMULATED_GUEST_POLICY | POLICY_DEBUG_BIT
        } else {
            SIMULATED_GUEST_POLICY
        };
        let mut report = UnsignedReport {
            guest_policy,
            tcb: self.tcb,
            report_data: *report_data,
            measurement: self.measurement,
        }
        .encode();
        sign_report(&mut report, &self.key);
        Ok(Evidence::new(
            PlatformKind::Simulated,
            report.to_vec(),
            vec![self.public_key_der()?],
        ))
    }
}

/// The key simulated evidence is signed with, taken from the evidence
/// itself. Only a policy with `allow_simulation` may trust it.
pub(crate) fn simulated_signing_key(
    certificates: &[Vec<u8>],
) -> Result<VerifyingKey, AttestationError> {
    let [spki] = certificates else {
        return Err(AttestationError::new(
            Check::Format,
            format!(
                "simulated evidence needs exactly one key, got {} certificates",
                certificates.len()
            ),
        ));
    };
    VerifyingKey::from_public_key_der(spki).map_err(|e| {
        AttestationError::new(
            Check::Chain,
            format!("simulated signing key is not a DER P-384 public key: {e}"),
        )
    })
}

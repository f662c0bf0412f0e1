//! The conformance table every platform's verifier runs: a fixture that
//! verifies, and helpers that change one thing and name the check expected
//! to refuse it.

#![allow(dead_code)] // each test file uses a different subset
#![allow(clippy::unwrap_used, clippy::expect_used)]

use veil_attest::{
    AttestationError, Check, Evidence, Measurement, Policy, ReportData, VerifiedClaims,
    verify_evidence,
};

/// Offsets of the report fields the tests touch.
pub const MEASUREMENT_OFFSET: usize = 0x90;
pub const SIGNATURE_R_OFFSET: usize = 0x2A0;
pub const SIGNATURE_S_OFFSET: usize = 0x2E8;

/// Evidence that verifies under `policy` at `now` with `report_data`.
#[derive(Clone)]
pub struct Fixture {
    pub evidence: Evidence,
    pub report_data: ReportData,
    pub policy: Policy,
    pub now: u64,
}

impl Fixture {
    pub fn verify(&self) -> Result<VerifiedClaims, AttestationError> {
        verify_evidence(&self.evidence, &self.report_data, &self.policy, self.now)
    }

    /// The check that refuses this fixture; panics if it verifies.
    pub fn refusal(&self) -> Check {
        match self.verify() {
            Ok(claims) => panic!("expected a refusal, got {claims:?}"),
            Err(e) => e.check,
        }
    }

    pub fn with_report_byte_flipped(&self, at: usize) -> Self {
        let mut changed = self.clone();
        changed.evidence.report[at] ^= 0x01;
        changed
    }

    pub fn with_certificate_byte_flipped(&self, certificate: usize, at: usize) -> Self {
        let mut changed = self.clone();
        changed.evidence.certificates[certificate][at] ^= 0x01;
        changed
    }

    pub fn with_report(&self, report: Vec<u8>) -> Self {
        let mut changed = self.clone();
        changed.evidence.report = report;
        changed
    }

    pub fn with_certificates(&self, certificates: Vec<Vec<u8>>) -> Self {
        let mut changed = self.clone();
        changed.evidence.certificates = certificates;
        changed
    }

    pub fn with_policy(&self, edit: impl FnOnce(&mut Policy)) -> Self {
        let mut changed = self.clone();
        edit(&mut changed.policy);
        changed
    }

    pub fn with_expected_report_data(&self, report_data: ReportData) -> Self {
        let mut changed = self.clone();
        changed.report_data = report_data;
        changed
    }

    pub fn at(&self, now: u64) -> Self {
        let mut changed = self.clone();
        changed.now = now;
        changed
    }
}

// Cases shared by every platform.

pub fn wrong_report_data_is_refused(fixture: &Fixture) {
    let mut other = fixture.report_data;
    other.0[0] ^= 0xff;
    assert_eq!(
        fixture.with_expected_report_data(other).refusal(),
        Check::ReportData
    );
}

pub fn measurement_outside_policy_is_refused(fixture: &Fixture) {
    let changed = fixture.with_policy(|p| p.measurements = vec![Measurement::from([0xee; 48])]);
    assert_eq!(changed.refusal(), Check::Measurement);
}

pub fn flipped_signature_bytes_are_refused(fixture: &Fixture) {
    for at in [
        SIGNATURE_R_OFFSET,      // lowest byte of r
        SIGNATURE_R_OFFSET + 47, // highest byte of r
        SIGNATURE_R_OFFSET + 48, // zero padding above r
        SIGNATURE_S_OFFSET,      // lowest byte of s
        SIGNATURE_S_OFFSET + 71, // zero padding above s
        0x330,                   // reserved rest of the signature field
        fixture.evidence.report.len() - 1,
    ] {
        assert_eq!(
            fixture.with_report_byte_flipped(at).refusal(),
            Check::Signature,
            "flip at {at:#x}"
        );
    }
}

pub fn garbage_and_short_reports_are_refused_as_format(fixture: &Fixture) {
    let full = &fixture.evidence.report;
    for report in [
        Vec::new(),
        vec![0xff; 16],
        full[..full.len() - 1].to_vec(),
        [full.as_slice(), &[0]].concat(),
        vec![0; full.len()], // version 0
    ] {
        let len = report.len();
        assert_eq!(
            fixture.with_report(report).refusal(),
            Check::Format,
            "{len} bytes"
        );
    }
}

/// Every single-byte change in the signed region is refused, each by the
/// check `expected_check(offset)` names (the first check that can see it).
pub fn every_signed_byte_flip_is_refused(
    fixture: &Fixture,
    expected_check: impl Fn(usize) -> Check,
) {
    for at in 0..veil_attest::SIGNED_LEN {
        let check = match fixture.with_report_byte_flipped(at).verify() {
            Ok(_) => panic!("flip at {at:#x} verified"),
            Err(e) => e.check,
        };
        assert_eq!(check, expected_check(at), "flip at {at:#x}");
    }
}

impl Fixture {
    /// The check that refuses this fixture when `anchors` are the trusted roots.
    pub fn refusal_under(&self, anchors: &veil_attest::TrustAnchors) -> Check {
        match veil_attest::verify_evidence_with_trust_anchors(
            &self.evidence,
            &self.report_data,
            &self.policy,
            self.now,
            anchors,
        ) {
            Ok(claims) => panic!("expected a refusal, got {claims:?}"),
            Err(e) => e.check,
        }
    }

    pub fn with_collateral(&self, collateral: Vec<u8>) -> Self {
        let mut changed = self.clone();
        changed.evidence.collateral = collateral;
        changed
    }
}

/// `root_der` with its public key replaced by `other_key` (same length): the
/// same name and self-signature, a different key. A trust anchor's own
/// signature is not checked, so only the key makes it a different root.
pub fn root_with_key_replaced(root_der: &[u8], other_key: &[u8]) -> Vec<u8> {
    use x509_cert::der::Decode;
    let root = x509_cert::Certificate::from_der(root_der).unwrap();
    let key = root
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    assert_eq!(
        key.len(),
        other_key.len(),
        "replacement key must have the same length"
    );
    assert_ne!(key, other_key);
    let at = root_der
        .windows(key.len())
        .position(|w| w == key)
        .expect("the key's bytes are in the DER");
    let mut changed = root_der.to_vec();
    changed[at..at + key.len()].copy_from_slice(other_key);
    changed
}

/// The raw public key (SEC1 point) of a DER certificate.
pub fn public_key_of(der: &[u8]) -> Vec<u8> {
    use x509_cert::der::Decode;
    x509_cert::Certificate::from_der(der)
        .unwrap()
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes()
        .to_vec()
}

/// The DER certificates of a PEM chain.
pub fn pem_chain_to_der(pem: &str) -> Vec<Vec<u8>> {
    use x509_cert::der::Encode;
    x509_cert::Certificate::load_pem_chain(pem.as_bytes())
        .unwrap()
        .iter()
        .map(|c| c.to_der().unwrap())
        .collect()
}

//! AWS Nitro Enclaves: the real attestation document in `testdata/nitro/`
//! (evervault/attestation-doc-validation test data) verifies at its own
//! `timestamp`, and every tampering, a different root, a time outside the
//! certificates' validity, another PCR0 and debug are refused, naming the
//! check.
//!
//! The document comes from a debug enclave (PCR0–2 all zero) and its
//! `user_data` is a 91-byte key, not Veil's 64-byte report data: through
//! [`verify_evidence`] it gets as far as the report-data check and no
//! further, which is what these tests show.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Fixture, public_key_of, root_with_key_replaced};
use veil_attest::{
    AWS_NITRO_ROOT_DER, Check, Evidence, Measurement, NitroPolicy, PlatformKind, Policy,
    ReportData, TrustAnchors, verify_nitro_document,
};

const DOCUMENT: &[u8] = include_bytes!("../testdata/nitro/attestation_doc.cbor");

/// The document's own `timestamp` (2023-09-07), in seconds: its leaf
/// certificate is valid for a few hours around it.
const NOW: u64 = 1_694_102_161;

fn offset_of(needle: &[u8]) -> usize {
    DOCUMENT
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap()
}

fn nitro() -> Fixture {
    let mut policy = Policy::nitro(NitroPolicy::new([Measurement::from([0; 48])]));
    policy.allow_debug = true;
    Fixture {
        evidence: Evidence::new(PlatformKind::Nitro, DOCUMENT.to_vec(), Vec::new()),
        report_data: ReportData([0; 64]),
        policy,
        now: NOW,
    }
}

/// The DER of cabundle[1], the first intermediate (for a valid P-384 key
/// that is not the root's).
fn first_intermediate_der() -> Vec<u8> {
    let at = offset_of(b"cabundle") + b"cabundle".len() + 1; // array header
    assert_eq!(DOCUMENT[at], 0x59, "a bstr with a 2-byte length");
    let root_len = usize::from(u16::from_be_bytes([DOCUMENT[at + 1], DOCUMENT[at + 2]]));
    let next = at + 3 + root_len;
    assert_eq!(DOCUMENT[next], 0x59);
    let len = usize::from(u16::from_be_bytes([DOCUMENT[next + 1], DOCUMENT[next + 2]]));
    DOCUMENT[next + 3..next + 3 + len].to_vec()
}

#[test]
fn verifies_nitro_document_at_its_timestamp_with_right_claims() {
    let claims = verify_nitro_document(DOCUMENT, AWS_NITRO_ROOT_DER, NOW).unwrap();
    assert!(claims.module_id.starts_with("i-"), "{}", claims.module_id);
    assert_eq!(claims.timestamp_ms / 1000, NOW);
    assert_eq!(claims.pcrs.len(), 16);
    assert!(claims.pcr(0).unwrap().is_zero());
    assert!(claims.is_debug(), "the vector comes from a debug enclave");
    assert_eq!(claims.user_data.as_ref().map(Vec::len), Some(91));
    assert_eq!(claims.nonce.as_ref().map(Vec::len), Some(256));
}

#[test]
fn nitro_document_gets_to_the_report_data_check_and_is_refused_there() {
    // Chain, signature, PCR0 policy and (allowed) debug all pass; the
    // document's user_data is not 64 bytes of Veil report data.
    let error = nitro().verify().unwrap_err();
    assert_eq!(error.check, Check::ReportData, "{error}");
}

#[test]
fn refuses_debug_nitro_enclave_when_debug_is_not_allowed() {
    let fixture = nitro().with_policy(|p| p.allow_debug = false);
    assert_eq!(fixture.refusal(), Check::Debug);
}

#[test]
fn refuses_nitro_document_with_another_pcr0() {
    let fixture = nitro().with_policy(|p| {
        p.nitro.as_mut().unwrap().pcr0 = vec![Measurement::from([0x77; 48])];
    });
    assert_eq!(fixture.refusal(), Check::Measurement);
}

#[test]
fn refuses_nitro_document_with_another_pcr8() {
    let fixture = nitro().with_policy(|p| {
        p.nitro.as_mut().unwrap().pcr8 = vec![Measurement::from([0x78; 48])];
    });
    assert_eq!(fixture.refusal(), Check::Measurement);
}

#[test]
fn refuses_nitro_document_with_flipped_byte_in_signed_payload() {
    // Inside module_id's text and inside PCR0's value.
    for at in [offset_of(b"module_id") + 12, offset_of(b"pcrs") + 10] {
        assert_eq!(
            nitro().with_report_byte_flipped(at).refusal(),
            Check::Signature,
            "byte {at}"
        );
    }
}

#[test]
fn refuses_nitro_document_with_flipped_signature_byte() {
    for back in [1, 50, 96] {
        let at = DOCUMENT.len() - back;
        assert_eq!(
            nitro().with_report_byte_flipped(at).refusal(),
            Check::Signature,
            "byte {at}"
        );
    }
}

#[test]
fn refuses_nitro_document_with_flipped_byte_in_a_certificate() {
    let leaf = offset_of(b"certificate") + b"certificate".len() + 3;
    let intermediate = offset_of(&first_intermediate_der()[..64]);
    for at in [leaf + 300, leaf + 600, intermediate + 200] {
        assert_eq!(
            nitro().with_report_byte_flipped(at).refusal(),
            Check::Chain,
            "byte {at}"
        );
    }
}

#[test]
fn refuses_nitro_document_under_a_root_with_another_key() {
    let wrong_root = root_with_key_replaced(
        AWS_NITRO_ROOT_DER,
        &public_key_of(&first_intermediate_der()),
    );
    let anchors = TrustAnchors::pinned().with_nitro_root_der(wrong_root.clone());
    assert_eq!(nitro().refusal_under(&anchors), Check::Chain);
    assert_eq!(
        verify_nitro_document(DOCUMENT, &wrong_root, NOW)
            .unwrap_err()
            .check,
        Check::Chain
    );
}

#[test]
fn refuses_nitro_document_outside_its_certificates_validity() {
    assert_eq!(nitro().at(NOW + 86_400).refusal(), Check::Freshness);
    assert_eq!(nitro().at(NOW - 86_400).refusal(), Check::Freshness);
}

#[test]
fn refuses_garbage_and_tagged_or_truncated_documents_as_format() {
    assert_eq!(nitro().with_report(Vec::new()).refusal(), Check::Format);
    assert_eq!(
        nitro().with_report(DOCUMENT[..100].to_vec()).refusal(),
        Check::Format
    );
    assert_eq!(nitro().with_report(vec![0xa0]).refusal(), Check::Format);
}

#[test]
fn refuses_nitro_evidence_under_a_policy_without_pcr0() {
    let fixture = nitro().with_policy(|p| p.nitro.as_mut().unwrap().pcr0.clear());
    assert_eq!(fixture.refusal(), Check::Policy);
}

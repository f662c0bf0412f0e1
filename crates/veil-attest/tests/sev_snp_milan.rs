//! The SEV-SNP verifier against a real report from an AMD Milan CPU
//! (testdata/README.md says where it comes from).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use common::*;
use p384::ecdsa::VerifyingKey;
use p384::pkcs8::DecodePublicKey;
use veil_attest::{
    Check, Evidence, Measurement, PlatformKind, Policy, ReportData, SIGNED_LEN, TcbVersion,
    verify_evidence, verify_report_signature,
};
use x509_cert::Certificate;
use x509_cert::der::{Decode, DecodePem, Encode};

const REPORT_HEX: &str = include_str!("../testdata/sev-snp/report_milan.hex");
const VCEK_DER: &[u8] = include_bytes!("../testdata/sev-snp/vcek_milan.der");
const ASK_PEM: &[u8] = include_bytes!("../testdata/sev-snp/ask.pem");
const ARK_PEM: &[u8] = include_bytes!("../testdata/sev-snp/ark.pem");

/// 2024-01-01, inside the VCEK's validity (2023-04-03 19:23:43 … 2030-04-03 19:23:43 UTC).
const INSIDE_VCEK_VALIDITY: u64 = 1_704_067_200;
const VCEK_NOT_BEFORE: u64 = 1_680_549_823;
const VCEK_NOT_AFTER: u64 = 1_901_474_623;

/// Fields of the report, read from it with the ABI's offsets.
const REPORT_DATA_OFFSET: usize = 0x50;
const GUEST_POLICY_OFFSET: usize = 0x08;
const MILAN_TCB: TcbVersion = TcbVersion {
    fmc: None,
    bootloader: 3,
    tee: 0,
    snp: 8,
    microcode: 115,
};

fn report_bytes() -> Vec<u8> {
    let hex: String = REPORT_HEX.split_whitespace().collect();
    hex::decode(hex).unwrap()
}

fn pem_to_der(pem: &[u8]) -> Vec<u8> {
    Certificate::from_pem(pem).unwrap().to_der().unwrap()
}

fn field<const N: usize>(report: &[u8], at: usize) -> [u8; N] {
    report[at..at + N].try_into().unwrap()
}

fn milan() -> Fixture {
    let report = report_bytes();
    // Guest policy 0x30000: bit 19 (DEBUG) is clear, so the default
    // allow_debug = false accepts it.
    let guest_policy = u64::from_le_bytes(field(&report, GUEST_POLICY_OFFSET));
    assert_eq!(guest_policy & (1 << 19), 0);
    let measurement = Measurement::from(field::<48>(&report, MEASUREMENT_OFFSET));
    let report_data = ReportData(field(&report, REPORT_DATA_OFFSET));
    Fixture {
        evidence: Evidence::new(
            PlatformKind::SevSnp,
            report,
            vec![VCEK_DER.to_vec(), pem_to_der(ASK_PEM)],
        ),
        report_data,
        policy: Policy::sev_snp([measurement]),
        now: INSIDE_VCEK_VALIDITY,
    }
}

fn vcek_key() -> VerifyingKey {
    let vcek = Certificate::from_der(VCEK_DER).unwrap();
    let spki = vcek
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .unwrap();
    VerifyingKey::from_public_key_der(&spki).unwrap()
}

#[test]
fn accepts_milan_report_inside_vcek_validity() {
    let fixture = milan();
    let claims = fixture.verify().unwrap();
    assert_eq!(claims.platform, PlatformKind::SevSnp);
    assert!(!claims.simulated);
    assert_eq!(
        claims.measurement.to_string(),
        "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f"
    );
    assert_eq!(claims.report_data, fixture.report_data);
    assert!(!claims.debug);
    assert_eq!(claims.sev_snp().unwrap().reported_tcb, MILAN_TCB);
    assert_eq!(
        claims.sev_snp().unwrap().chip_id,
        field::<64>(&fixture.evidence.report, 0x1A0)
    );
    assert_ne!(claims.sev_snp().unwrap().chip_id, [0; 64]);
    assert_eq!(claims.sev_snp().unwrap().vmpl, 0);
    assert_eq!(claims.sev_snp().unwrap().report_version, 2);
    assert_eq!(claims.verified_at, INSIDE_VCEK_VALIDITY);
}

#[test]
fn accepts_at_both_ends_of_vcek_validity() {
    milan().at(VCEK_NOT_BEFORE).verify().unwrap();
    milan().at(VCEK_NOT_AFTER).verify().unwrap();
}

#[test]
fn accepts_the_pinned_ark_appended_to_the_chain() {
    let fixture = milan();
    let mut certificates = fixture.evidence.certificates.clone();
    certificates.push(pem_to_der(ARK_PEM));
    fixture.with_certificates(certificates).verify().unwrap();
}

#[test]
fn refuses_after_vcek_expiry_as_freshness() {
    assert_eq!(milan().at(VCEK_NOT_AFTER + 1).refusal(), Check::Freshness);
    assert_eq!(milan().at(1_924_992_000).refusal(), Check::Freshness); // 2031-01-01
}

#[test]
fn refuses_before_vcek_issue_as_freshness() {
    assert_eq!(milan().at(VCEK_NOT_BEFORE - 1).refusal(), Check::Freshness);
}

/// The `sev` crate's own check hashes a re-encoding of the parsed report and
/// lets 16 of these flips through; ours hashes the bytes received.
#[test]
fn report_signature_refuses_every_flipped_signed_byte() {
    let report = report_bytes();
    let key = vcek_key();
    verify_report_signature(&report, &key).unwrap();
    for at in 0..SIGNED_LEN {
        let mut flipped = report.clone();
        flipped[at] ^= 0x01;
        let err = verify_report_signature(&flipped, &key).unwrap_err();
        assert_eq!(err.check, Check::Signature, "flip at {at:#x}");
    }
}

#[test]
fn verify_evidence_refuses_every_flipped_signed_byte() {
    every_signed_byte_flip_is_refused(&milan(), |at| match at {
        0x00..=0x03 | 0x34..=0x37 => Check::Format, // version, signature algorithm
        0x180 | 0x181 | 0x186 | 0x187 | 0x1A0..=0x1DF => Check::Chain, // reported TCB, chip ID vs VCEK
        _ => Check::Signature,
    });
}

#[test]
fn refuses_flipped_bytes_in_signature_fields() {
    flipped_signature_bytes_are_refused(&milan());
}

/// Includes the "unused bits" byte of the signature BIT STRING, which the
/// `sev` crate's check ignores.
#[test]
fn refuses_every_flipped_byte_of_the_vcek() {
    let fixture = milan();
    for at in 0..VCEK_DER.len() {
        let check = fixture.with_certificate_byte_flipped(0, at).refusal();
        assert_eq!(check, Check::Chain, "flip at {at}");
    }
}

#[test]
fn refuses_every_flipped_byte_of_the_ask() {
    let fixture = milan();
    for at in 0..fixture.evidence.certificates[1].len() {
        let check = fixture.with_certificate_byte_flipped(1, at).refusal();
        assert_eq!(check, Check::Chain, "flip at {at}");
    }
}

#[test]
fn refuses_ask_of_another_product_family() {
    let genoa_ask = pem_to_der(sev::certs::snp::builtin::genoa::ASK);
    let fixture = milan();
    let changed = fixture.with_certificates(vec![VCEK_DER.to_vec(), genoa_ask]);
    assert_eq!(changed.refusal(), Check::Chain);
}

#[test]
fn refuses_certificates_in_the_wrong_order() {
    let fixture = milan();
    let mut swapped = fixture.evidence.certificates.clone();
    swapped.swap(0, 1);
    assert_eq!(fixture.with_certificates(swapped).refusal(), Check::Chain);
}

#[test]
fn refuses_an_appended_ark_other_than_the_pinned_one() {
    let fixture = milan();
    for wrong_root in [
        pem_to_der(sev::certs::snp::builtin::genoa::ARK),
        pem_to_der(ASK_PEM),
    ] {
        let mut certificates = fixture.evidence.certificates.clone();
        certificates.push(wrong_root);
        assert_eq!(
            fixture.with_certificates(certificates).refusal(),
            Check::Chain
        );
    }
}

#[test]
fn refuses_wrong_number_of_certificates_as_format() {
    let fixture = milan();
    let vcek = VCEK_DER.to_vec();
    let ask = pem_to_der(ASK_PEM);
    let ark = pem_to_der(ARK_PEM);
    for certificates in [
        vec![],
        vec![vcek.clone()],
        vec![vcek, ask, ark.clone(), ark],
    ] {
        let n = certificates.len();
        assert_eq!(
            fixture.with_certificates(certificates).refusal(),
            Check::Format,
            "{n}"
        );
    }
}

#[test]
fn refuses_wrong_measurement() {
    measurement_outside_policy_is_refused(&milan());
}

#[test]
fn refuses_wrong_expected_report_data() {
    wrong_report_data_is_refused(&milan());
}

#[test]
fn refuses_tcb_floor_above_reported_in_any_component() {
    let fixture = milan();
    let floors = [
        TcbVersion {
            bootloader: 4,
            ..MILAN_TCB
        },
        TcbVersion {
            tee: 1,
            ..MILAN_TCB
        },
        TcbVersion {
            snp: 9,
            ..MILAN_TCB
        },
        TcbVersion {
            microcode: 116,
            ..MILAN_TCB
        },
    ];
    for floor in floors {
        let changed = fixture.with_policy(|p| p.min_tcb = Some(floor));
        assert_eq!(changed.refusal(), Check::Tcb, "{floor}");
    }
}

#[test]
fn accepts_tcb_floor_equal_to_reported() {
    milan()
        .with_policy(|p| p.min_tcb = Some(MILAN_TCB))
        .verify()
        .unwrap();
}

#[test]
fn refuses_real_evidence_under_a_policy_without_measurements() {
    let changed = milan().with_policy(|p| p.measurements.clear());
    assert_eq!(changed.refusal(), Check::Policy);
    let fixture = milan();
    let default = verify_evidence(
        &fixture.evidence,
        &fixture.report_data,
        &Policy::default(),
        fixture.now,
    );
    assert_eq!(default.unwrap_err().check, Check::Policy);
}

#[test]
fn refuses_platform_not_in_policy() {
    let changed = milan().with_policy(|p| {
        *p = Policy::insecure_simulation_any_measurement();
    });
    assert_eq!(changed.refusal(), Check::Platform);
}

#[test]
fn refuses_garbage_and_short_reports_as_format() {
    garbage_and_short_reports_are_refused_as_format(&milan());
}

#[test]
fn relabelling_real_evidence_as_simulated_does_not_verify() {
    let mut fixture = milan();
    fixture.evidence.platform = PlatformKind::Simulated;
    fixture.policy = Policy::insecure_simulation_any_measurement();
    assert_eq!(fixture.refusal(), Check::Format); // two certificates, not one key
    // The VCEK certificate alone is not a bare public key either.
    fixture.evidence.certificates.truncate(1);
    assert_eq!(fixture.refusal(), Check::Chain);
}

#[test]
fn accepts_policy_pinning_the_reports_host_data_and_id_key_digest() {
    let fixture = milan();
    let report = &fixture.evidence.report;
    let host_data = Measurement::from(field::<32>(report, 0xC0));
    let id_key_digest = Measurement::from(field::<48>(report, 0xE0));
    let claims = fixture
        .with_policy(|p| {
            p.host_data = vec![Measurement::from([0xab; 32]), host_data];
            p.id_key_digests = vec![id_key_digest];
        })
        .verify()
        .unwrap();
    let snp = claims.sev_snp().unwrap();
    assert_eq!(snp.host_data, host_data);
    assert_eq!(snp.id_key_digest, id_key_digest);
}

#[test]
fn refuses_another_host_data() {
    let fixture = milan().with_policy(|p| p.host_data = vec![Measurement::from([0xab; 32])]);
    assert_eq!(fixture.refusal(), Check::Measurement);
}

#[test]
fn refuses_another_id_key_digest() {
    let fixture = milan().with_policy(|p| p.id_key_digests = vec![Measurement::from([0xcd; 48])]);
    assert_eq!(fixture.refusal(), Check::Measurement);
}

//! The simulated platform through the same verification path as SEV-SNP.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use common::*;
use veil_attest::{
    Check, EvidenceProducer, Measurement, PlatformKind, Policy, ReportData, SimulatedProducer,
    TcbVersion, verify_evidence,
};

const MEASUREMENT: Measurement = Measurement::from_sha384([0x42; 48]);
const NOW: u64 = 1_750_000_000;

fn report_data() -> ReportData {
    ReportData([0x17; 64])
}

fn simulated_from(producer: &SimulatedProducer) -> Fixture {
    Fixture {
        evidence: producer.produce(&report_data()).unwrap(),
        report_data: report_data(),
        policy: Policy::insecure_simulation_any_measurement(),
        now: NOW,
    }
}

fn simulated() -> Fixture {
    simulated_from(&SimulatedProducer::generate(MEASUREMENT))
}

#[test]
fn round_trip_is_accepted_with_allow_simulation_and_says_simulated() {
    let producer = SimulatedProducer::generate(MEASUREMENT);
    assert_eq!(producer.platform(), PlatformKind::Simulated);
    let fixture = simulated_from(&producer);
    assert_eq!(fixture.evidence.report.len(), veil_attest::REPORT_LEN);
    assert_eq!(
        fixture.evidence.certificates,
        [producer.public_key_der().unwrap()]
    );
    let claims = fixture.verify().unwrap();
    assert_eq!(claims.platform, PlatformKind::Simulated);
    assert!(claims.simulated);
    assert_eq!(claims.measurement, MEASUREMENT);
    assert_eq!(claims.report_data, report_data());
    assert!(!claims.debug);
    assert_eq!(
        claims.sev_snp().unwrap().reported_tcb,
        TcbVersion::default()
    );
    assert_eq!(claims.sev_snp().unwrap().chip_id, [0; 64]);
    assert_eq!(claims.sev_snp().unwrap().report_version, 2);
    assert_eq!(claims.verified_at, NOW);
}

#[test]
fn accepts_a_policy_naming_its_measurement() {
    simulated()
        .with_policy(|p| p.measurements = vec![Measurement::from([0; 48]), MEASUREMENT])
        .verify()
        .unwrap();
}

#[test]
fn refuses_without_allow_simulation() {
    let fixture = simulated();
    for policy in [Policy::default(), Policy::sev_snp([MEASUREMENT]), {
        let mut listed_but_not_allowed = Policy::insecure_simulation_any_measurement();
        listed_but_not_allowed.allow_simulation = false;
        listed_but_not_allowed
    }] {
        let changed = fixture.with_policy(|p| *p = policy);
        assert_eq!(changed.refusal(), Check::SimulationNotAllowed);
    }
}

#[test]
fn simulation_check_comes_before_any_parsing() {
    let changed = simulated()
        .with_report(vec![0xff; 3])
        .with_certificates(vec![])
        .with_policy(|p| *p = Policy::default());
    assert_eq!(changed.refusal(), Check::SimulationNotAllowed);
}

#[test]
fn refuses_when_simulated_is_not_among_the_policy_platforms() {
    let changed = simulated().with_policy(|p| {
        *p = Policy::sev_snp([MEASUREMENT]);
        p.allow_simulation = true;
    });
    assert_eq!(changed.refusal(), Check::Platform);
}

#[test]
fn refuses_flipped_report_body_byte() {
    let fixture = simulated();
    for at in [MEASUREMENT_OFFSET, 0x50, 0x08, 0x180] {
        assert_eq!(
            fixture.with_report_byte_flipped(at).refusal(),
            Check::Signature,
            "flip at {at:#x}"
        );
    }
}

#[test]
fn refuses_every_flipped_signed_byte() {
    every_signed_byte_flip_is_refused(&simulated(), |at| match at {
        0x00..=0x03 | 0x34..=0x37 => Check::Format, // version, signature algorithm
        _ => Check::Signature,
    });
}

#[test]
fn refuses_flipped_signature_byte() {
    flipped_signature_bytes_are_refused(&simulated());
}

#[test]
fn refuses_wrong_report_data() {
    wrong_report_data_is_refused(&simulated());
}

#[test]
fn refuses_measurement_outside_policy() {
    measurement_outside_policy_is_refused(&simulated());
}

#[test]
fn refuses_debug_guest_unless_policy_allows_debug() {
    let debug = simulated_from(&SimulatedProducer::generate(MEASUREMENT).with_debug(true));
    assert_eq!(debug.refusal(), Check::Debug);
    let claims = debug
        .with_policy(|p| p.allow_debug = true)
        .verify()
        .unwrap();
    assert!(claims.debug);
}

#[test]
fn refuses_garbage_and_short_reports_as_format() {
    garbage_and_short_reports_are_refused_as_format(&simulated());
}

#[test]
fn refuses_report_signed_by_another_simulated_key() {
    let other = SimulatedProducer::generate(MEASUREMENT);
    let changed = simulated().with_certificates(vec![other.public_key_der().unwrap()]);
    assert_eq!(changed.refusal(), Check::Signature);
}

#[test]
fn refuses_wrong_number_of_keys_as_format() {
    let fixture = simulated();
    let key = fixture.evidence.certificates[0].clone();
    for certificates in [vec![], vec![key.clone(), key]] {
        assert_eq!(
            fixture.with_certificates(certificates).refusal(),
            Check::Format
        );
    }
}

#[test]
fn refuses_a_key_that_is_not_a_p384_public_key() {
    let changed = simulated().with_certificates(vec![b"not a key".to_vec()]);
    assert_eq!(changed.refusal(), Check::Chain);
}

#[test]
fn every_flipped_byte_of_the_key_is_refused() {
    let fixture = simulated();
    for at in 0..fixture.evidence.certificates[0].len() {
        let check = fixture.with_certificate_byte_flipped(0, at).refusal();
        assert!(
            matches!(check, Check::Chain | Check::Signature),
            "flip at {at}: {check}"
        );
    }
}

#[test]
fn simulated_evidence_labelled_sev_snp_is_refused() {
    let mut fixture = simulated();
    fixture.evidence.platform = PlatformKind::SevSnp;
    fixture.policy = Policy::sev_snp([MEASUREMENT]);
    assert_eq!(fixture.refusal(), Check::Format); // one key where [VCEK, ASK] belong
}

#[test]
fn tcb_floor_applies_to_sev_snp_only() {
    let floor = TcbVersion {
        fmc: None,
        bootloader: 1,
        tee: 1,
        snp: 1,
        microcode: 1,
    };
    let claims = simulated()
        .with_policy(|p| p.min_tcb = Some(floor))
        .verify()
        .unwrap();
    assert_eq!(
        claims.sev_snp().unwrap().reported_tcb,
        TcbVersion::default()
    );
    let producer = SimulatedProducer::generate(MEASUREMENT).with_tcb(floor);
    assert_eq!(
        simulated_from(&producer)
            .verify()
            .unwrap()
            .sev_snp()
            .unwrap()
            .reported_tcb,
        floor
    );
}

#[test]
fn claims_serialise_with_hex_values_and_the_simulated_flag() {
    let fixture = simulated();
    let claims = verify_evidence(
        &fixture.evidence,
        &fixture.report_data,
        &fixture.policy,
        NOW,
    )
    .unwrap();
    let text = toml::to_string(&claims).unwrap();
    assert!(text.contains("simulated = true"), "{text}");
    assert!(text.contains("platform = \"simulated\""), "{text}");
    assert!(
        text.contains(&format!("measurement = \"{MEASUREMENT}\"")),
        "{text}"
    );
    assert!(
        text.contains(&format!("chip_id = \"{}\"", "00".repeat(64))),
        "{text}"
    );
}

#[test]
fn producer_debug_output_does_not_contain_the_key() {
    let producer = SimulatedProducer::generate(MEASUREMENT);
    let text = format!("{producer:?}");
    assert!(text.contains("SimulatedProducer"));
    assert!(!text.to_lowercase().contains("key"));
}

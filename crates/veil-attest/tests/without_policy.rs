//! `verify_evidence_without_policy`: the evidence's own checks run and name
//! their failure; nothing a policy would judge (measurement, debug, Intel
//! TCB status) refuses it. Also the AMD ARK override of `TrustAnchors`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use veil_attest::{
    Check, Evidence, Measurement, PlatformKind, ReportData, SimulatedProducer, TrustAnchors,
    decode_certificates, decode_snp_report, verify_evidence_without_policy,
};

const SNP_AT: u64 = 1_704_067_200;

fn milan() -> Evidence {
    let report = decode_snp_report(include_bytes!("../testdata/sev-snp/report_milan.hex")).unwrap();
    let vcek = include_bytes!("../testdata/sev-snp/vcek_milan.der").to_vec();
    let ask = decode_certificates(include_bytes!("../testdata/sev-snp/ask.pem")).unwrap();
    Evidence::new(PlatformKind::SevSnp, report, vec![vcek, ask[0].clone()])
}

#[test]
fn accepts_authentic_evidence_and_reports_what_a_policy_would_judge() {
    let claims =
        verify_evidence_without_policy(&milan(), None, false, SNP_AT, &TrustAnchors::pinned())
            .unwrap();
    assert_eq!(claims.platform, PlatformKind::SevSnp);
    assert!(!claims.simulated);
    assert!(claims.report_data.is_some());

    // A debug Nitro enclave whose user_data is not Veil's report data.
    let nitro = Evidence::new(
        PlatformKind::Nitro,
        include_bytes!("../testdata/nitro/attestation_doc.cbor").to_vec(),
        Vec::new(),
    );
    let claims =
        verify_evidence_without_policy(&nitro, None, false, 1_694_102_161, &TrustAnchors::pinned())
            .unwrap();
    assert!(claims.debug);
    assert_eq!(claims.report_data, None);
}

#[test]
fn still_refuses_tampering_expiry_and_a_wrong_report_data() {
    let anchors = TrustAnchors::pinned();
    let mut flipped = milan();
    flipped.report[0x90] ^= 1;
    let check = |e: &Evidence, rd: Option<&ReportData>, at| {
        verify_evidence_without_policy(e, rd, false, at, &anchors)
            .unwrap_err()
            .check
    };
    assert_eq!(check(&flipped, None, SNP_AT), Check::Signature);
    assert_eq!(check(&milan(), None, 1_901_474_623 + 1), Check::Freshness);
    assert_eq!(
        check(&milan(), Some(&ReportData([0; 64])), SNP_AT),
        Check::ReportData
    );
}

#[test]
fn refuses_simulated_evidence_unless_allowed_by_name() {
    let producer = SimulatedProducer::generate(Measurement::sha384_of(b"x"));
    let report_data = ReportData([7; 64]);
    let evidence = veil_attest::EvidenceProducer::produce(&producer, &report_data).unwrap();
    let anchors = TrustAnchors::pinned();
    let refused = verify_evidence_without_policy(&evidence, Some(&report_data), false, 0, &anchors);
    assert_eq!(refused.unwrap_err().check, Check::SimulationNotAllowed);
    let claims =
        verify_evidence_without_policy(&evidence, Some(&report_data), true, 0, &anchors).unwrap();
    assert!(claims.simulated);
}

#[test]
fn an_amd_ark_override_replaces_the_pinned_arks() {
    let milan_ark = decode_certificates(sev::certs::snp::builtin::milan::ARK).unwrap();
    let genoa_ark = decode_certificates(sev::certs::snp::builtin::genoa::ARK).unwrap();
    let with = |ark: &[u8]| TrustAnchors::pinned().with_amd_ark_der(ark.to_vec());
    verify_evidence_without_policy(&milan(), None, false, SNP_AT, &with(&milan_ark[0])).unwrap();
    let refused =
        verify_evidence_without_policy(&milan(), None, false, SNP_AT, &with(&genoa_ark[0]));
    assert_eq!(refused.unwrap_err().check, Check::Chain);
}

//! Intel TDX: the real quotes in `testdata/tdx/` (dcap-qvl 0.7.1 samples)
//! verify at their stated time with the right claims, and every tampering,
//! a different root, a time outside the collateral's validity, another
//! MRTD or RTMR, and the outdated-TCB quote are refused, naming the check.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Fixture, pem_chain_to_der, public_key_of, root_with_key_replaced};
use veil_attest::{
    Check, Evidence, INTEL_SGX_ROOT_CA_DER, IntelTcbStatus, Measurement, PlatformClaims,
    PlatformKind, Policy, ReportData, TdxPolicy, TrustAnchors,
};

const QUOTE: &[u8] = include_bytes!("../testdata/tdx/tdx_quote");
const COLLATERAL: &[u8] = include_bytes!("../testdata/tdx/tdx_quote_collateral.json");
const OUTDATED_QUOTE: &[u8] = include_bytes!("../testdata/tdx/tdx_quote_outdated");
const OUTDATED_COLLATERAL: &[u8] =
    include_bytes!("../testdata/tdx/tdx_quote_outdated_collateral.json");

/// dcap-qvl's own test time for this vector: inside the TCB info, QE
/// identity and CRL windows (2025-06-19 … 2025-07-19).
const NOW: u64 = 1_750_332_747;

/// Quote v4 layout: 48-byte header, then the TD report body.
const BODY: usize = 48;
const MRTD: usize = BODY + 136;
const RTMR0: usize = BODY + 328;
const REPORT_DATA: usize = BODY + 520;
/// After the 584-byte body: 4-byte auth data size, then the 64-byte ECDSA signature.
const SIGNATURE: usize = BODY + 584 + 4;

fn digest48(quote: &[u8], at: usize) -> Measurement {
    Measurement::from_slice(&quote[at..at + 48]).unwrap()
}

fn evidence(quote: &[u8], collateral: &[u8]) -> Evidence {
    let mut evidence = Evidence::new(PlatformKind::Tdx, quote.to_vec(), Vec::new());
    evidence.collateral = collateral.to_vec();
    evidence
}

fn policy_pinning(quote: &[u8]) -> Policy {
    let mut tdx = TdxPolicy::new([digest48(quote, MRTD)]);
    tdx.rtmr0 = vec![digest48(quote, RTMR0)];
    tdx.rtmr1 = vec![digest48(quote, RTMR0 + 48)];
    tdx.rtmr2 = vec![digest48(quote, RTMR0 + 96)];
    tdx.rtmr3 = vec![digest48(quote, RTMR0 + 144)];
    Policy::tdx(tdx)
}

fn tdx() -> Fixture {
    Fixture {
        evidence: evidence(QUOTE, COLLATERAL),
        report_data: ReportData(QUOTE[REPORT_DATA..REPORT_DATA + 64].try_into().unwrap()),
        policy: policy_pinning(QUOTE),
        now: NOW,
    }
}

fn collateral_with(edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) -> Vec<u8> {
    let mut json: serde_json::Value = serde_json::from_slice(COLLATERAL).unwrap();
    edit(json.as_object_mut().unwrap());
    serde_json::to_vec(&json).unwrap()
}

fn flip_hex_char(s: &str, at: usize) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    chars[at] = if chars[at] == '0' { '1' } else { '0' };
    chars.into_iter().collect()
}

#[test]
fn accepts_tdx_quote_at_its_stated_time_with_right_claims() {
    let fixture = tdx();
    let claims = fixture.verify().unwrap();
    assert_eq!(claims.platform, PlatformKind::Tdx);
    assert!(!claims.simulated);
    assert!(!claims.debug);
    assert_eq!(claims.measurement, digest48(QUOTE, MRTD));
    assert_eq!(claims.report_data, fixture.report_data);
    assert_eq!(claims.verified_at, NOW);
    let PlatformClaims::Tdx(tdx) = &claims.details else {
        panic!("expected TDX claims, got {:?}", claims.details);
    };
    assert_eq!(tdx.quote_version, 4);
    assert_eq!(tdx.mrtd, claims.measurement);
    assert_eq!(tdx.rtmr[3], digest48(QUOTE, RTMR0 + 144));
    assert_eq!(tdx.tcb.status, IntelTcbStatus::UpToDate);
    assert!(tdx.tcb.advisory_ids.is_empty());
    assert_eq!(
        claims.measurement.to_string(),
        hex::encode(&QUOTE[MRTD..MRTD + 48])
    );
    // The claims serialise for `veil attest --json`.
    let json = serde_json::to_value(&claims).unwrap();
    assert_eq!(json["details"]["tdx"]["tcb"]["status"], "UpToDate");
}

#[test]
fn accepts_tdx_quote_with_only_mrtd_pinned() {
    let fixture = tdx().with_policy(|p| *p = Policy::tdx(TdxPolicy::new([digest48(QUOTE, MRTD)])));
    fixture.verify().unwrap();
}

#[test]
fn refuses_tdx_quote_with_flipped_byte_in_signed_body() {
    for at in [30, MRTD, RTMR0 + 100, REPORT_DATA + 63] {
        assert_eq!(
            tdx().with_report_byte_flipped(at).refusal(),
            Check::Signature,
            "byte {at}"
        );
    }
}

#[test]
fn refuses_tdx_quote_with_flipped_signature_byte() {
    for at in [SIGNATURE, SIGNATURE + 40, SIGNATURE + 63] {
        assert_eq!(
            tdx().with_report_byte_flipped(at).refusal(),
            Check::Signature,
            "byte {at}"
        );
    }
}

#[test]
fn refuses_tdx_quote_with_flipped_byte_in_pck_certificate() {
    // The PCK chain is PEM inside the quote's certification data: flip a
    // base64 character inside the leaf's signed part.
    let begin = QUOTE.windows(11).position(|w| w == b"-----BEGIN ").unwrap();
    let at = begin + 28 + 400;
    let mut quote = QUOTE.to_vec();
    quote[at] = if quote[at] == b'A' { b'B' } else { b'A' };
    assert_eq!(tdx().with_report(quote).refusal(), Check::Chain);
}

#[test]
fn refuses_tdx_quote_with_flipped_tcb_info_signature() {
    let collateral = collateral_with(|c| {
        let sig = c["tcb_info_signature"].as_str().unwrap().to_owned();
        c["tcb_info_signature"] = flip_hex_char(&sig, 10).into();
    });
    assert_eq!(tdx().with_collateral(collateral).refusal(), Check::Chain);
}

#[test]
fn refuses_tdx_quote_with_flipped_byte_in_tcb_info() {
    let collateral = collateral_with(|c| {
        let tcb_info =
            c["tcb_info"]
                .as_str()
                .unwrap()
                .replacen("\"version\":3", "\"version\":3 ", 1);
        c["tcb_info"] = tcb_info.into();
    });
    assert_eq!(tdx().with_collateral(collateral).refusal(), Check::Chain);
}

#[test]
fn refuses_tdx_quote_with_flipped_qe_identity_signature() {
    let collateral = collateral_with(|c| {
        let sig = c["qe_identity_signature"].as_str().unwrap().to_owned();
        c["qe_identity_signature"] = flip_hex_char(&sig, 70).into();
    });
    assert_eq!(tdx().with_collateral(collateral).refusal(), Check::Chain);
}

#[test]
fn refuses_tdx_quote_under_a_root_with_another_key() {
    let collateral: serde_json::Value = serde_json::from_slice(COLLATERAL).unwrap();
    let chain = pem_chain_to_der(collateral["tcb_info_issuer_chain"].as_str().unwrap());
    // The TCB signing certificate's key: a valid P-256 key that is not the root's.
    let wrong_root = root_with_key_replaced(INTEL_SGX_ROOT_CA_DER, &public_key_of(&chain[0]));
    let anchors = TrustAnchors::pinned().with_intel_root_der(wrong_root);
    assert_eq!(tdx().refusal_under(&anchors), Check::Chain);
}

#[test]
fn refuses_tdx_quote_after_its_collateral_expires() {
    assert_eq!(tdx().at(NOW + 40 * 86_400).refusal(), Check::Freshness);
}

#[test]
fn refuses_tdx_quote_before_its_collateral_is_issued() {
    assert_eq!(tdx().at(NOW - 10 * 86_400).refusal(), Check::Freshness);
}

#[test]
fn refuses_tdx_quote_with_another_mrtd() {
    let fixture = tdx().with_policy(|p| {
        p.tdx.as_mut().unwrap().mrtd = vec![Measurement::from([0x11; 48])];
    });
    assert_eq!(fixture.refusal(), Check::Measurement);
}

#[test]
fn refuses_tdx_quote_with_another_rtmr() {
    for index in 0..4 {
        let fixture = tdx().with_policy(|p| {
            let tdx = p.tdx.as_mut().unwrap();
            let rtmr = [
                &mut tdx.rtmr0,
                &mut tdx.rtmr1,
                &mut tdx.rtmr2,
                &mut tdx.rtmr3,
            ];
            *rtmr.into_iter().nth(index).unwrap() = vec![Measurement::from([0x22; 48])];
        });
        assert_eq!(fixture.refusal(), Check::Measurement, "RTMR{index}");
    }
}

#[test]
fn refuses_tdx_quote_with_wrong_expected_report_data() {
    let fixture = tdx().with_expected_report_data(ReportData([0x33; 64]));
    assert_eq!(fixture.refusal(), Check::ReportData);
}

#[test]
fn refuses_outdated_tdx_quote_with_no_matching_tcb_level() {
    // Inside its collateral's window (2026-02-18 … 2026-03-20).
    let now = 1_771_412_400 + 86_400;
    let fixture = Fixture {
        evidence: evidence(OUTDATED_QUOTE, OUTDATED_COLLATERAL),
        report_data: ReportData([0; 64]),
        policy: policy_pinning(OUTDATED_QUOTE),
        now,
    };
    let error = fixture.verify().unwrap_err();
    assert_eq!(error.check, Check::TcbStatus, "{error}");
    assert!(
        error.detail.contains("No matching TCB level found"),
        "{error}"
    );
}

#[test]
fn refuses_outdated_tdx_quote_even_when_the_policy_accepts_out_of_date() {
    let now = 1_771_412_400 + 86_400;
    let mut policy = policy_pinning(OUTDATED_QUOTE);
    policy.tdx.as_mut().unwrap().tcb_statuses =
        vec![IntelTcbStatus::UpToDate, IntelTcbStatus::OutOfDate];
    let fixture = Fixture {
        evidence: evidence(OUTDATED_QUOTE, OUTDATED_COLLATERAL),
        report_data: ReportData([0; 64]),
        policy,
        now,
    };
    assert_eq!(fixture.refusal(), Check::TcbStatus);
}

#[test]
fn refuses_tdx_quote_with_garbage_or_missing_collateral_as_format() {
    assert_eq!(tdx().with_collateral(Vec::new()).refusal(), Check::Format);
    assert_eq!(
        tdx().with_collateral(b"{}".to_vec()).refusal(),
        Check::Format
    );
    assert_eq!(
        tdx().with_report(QUOTE[..100].to_vec()).refusal(),
        Check::Format
    );
}

#[test]
fn refuses_tdx_quote_labelled_as_sgx() {
    let mut fixture = tdx();
    fixture.evidence.platform = PlatformKind::Sgx;
    fixture.policy = Policy::sgx(veil_attest::SgxPolicy::new([Measurement::from([0; 32])]));
    assert_eq!(fixture.refusal(), Check::Format);
}

#[test]
fn refuses_tdx_evidence_under_a_policy_without_a_tdx_section() {
    let fixture = tdx().with_policy(|p| p.tdx = None);
    assert_eq!(fixture.refusal(), Check::Policy);
}

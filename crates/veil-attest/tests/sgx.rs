//! Intel SGX: the real quote v3 in `testdata/sgx/` (dcap-qvl 0.7.1 sample,
//! TCB status ConfigurationAndSWHardeningNeeded with two advisories)
//! verifies at its stated time with the right claims under a policy that
//! accepts that status, and is refused, naming the check, otherwise.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Fixture, pem_chain_to_der, public_key_of, root_with_key_replaced};
use veil_attest::{
    Check, Evidence, INTEL_SGX_ROOT_CA_DER, IntelTcbStatus, Measurement, PlatformClaims,
    PlatformKind, Policy, ReportData, SgxPolicy, TrustAnchors,
};

const QUOTE: &[u8] = include_bytes!("../testdata/sgx/sgx_quote");
const COLLATERAL: &[u8] = include_bytes!("../testdata/sgx/sgx_quote_collateral.json");

/// dcap-qvl's own test time for this vector.
const NOW: u64 = 1_750_334_171;

/// Quote v3 layout: 48-byte header, then the 384-byte enclave report.
const BODY: usize = 48;
const MRENCLAVE: usize = BODY + 64;
const MRSIGNER: usize = BODY + 128;
const ISV_PROD_ID: usize = BODY + 256;
const ISV_SVN: usize = BODY + 258;
const REPORT_DATA: usize = BODY + 320;
/// After the body: 4-byte auth data size, then the 64-byte ECDSA signature.
const SIGNATURE: usize = BODY + 384 + 4;

const ADVISORIES: [&str; 2] = ["INTEL-SA-00289", "INTEL-SA-00615"];

fn digest32(at: usize) -> Measurement {
    Measurement::from_slice(&QUOTE[at..at + 32]).unwrap()
}

fn u16_at(at: usize) -> u16 {
    u16::from_le_bytes([QUOTE[at], QUOTE[at + 1]])
}

/// Pins MRENCLAVE and accepts exactly the vector's TCB status and advisories.
fn accepting_policy() -> SgxPolicy {
    let mut sgx = SgxPolicy::new([digest32(MRENCLAVE)]);
    sgx.tcb_statuses = vec![IntelTcbStatus::ConfigurationAndSwHardeningNeeded];
    sgx.allowed_advisory_ids = ADVISORIES.map(String::from).to_vec();
    sgx
}

fn sgx() -> Fixture {
    let mut evidence = Evidence::new(PlatformKind::Sgx, QUOTE.to_vec(), Vec::new());
    evidence.collateral = COLLATERAL.to_vec();
    Fixture {
        evidence,
        report_data: ReportData(QUOTE[REPORT_DATA..REPORT_DATA + 64].try_into().unwrap()),
        policy: Policy::sgx(accepting_policy()),
        now: NOW,
    }
}

fn with_sgx_policy(edit: impl FnOnce(&mut SgxPolicy)) -> Fixture {
    sgx().with_policy(|p| edit(p.sgx.as_mut().unwrap()))
}

#[test]
fn accepts_sgx_quote_at_its_stated_time_with_right_claims() {
    let fixture = sgx();
    let claims = fixture.verify().unwrap();
    assert_eq!(claims.platform, PlatformKind::Sgx);
    assert!(!claims.simulated);
    assert!(!claims.debug);
    assert_eq!(claims.measurement, digest32(MRENCLAVE));
    assert_eq!(claims.measurement.as_bytes().len(), 32);
    assert_eq!(claims.report_data, fixture.report_data);
    let PlatformClaims::Sgx(sgx) = &claims.details else {
        panic!("expected SGX claims, got {:?}", claims.details);
    };
    assert_eq!(sgx.mrsigner, digest32(MRSIGNER));
    assert_eq!(sgx.isv_prod_id, u16_at(ISV_PROD_ID));
    assert_eq!(sgx.isv_svn, u16_at(ISV_SVN));
    assert_eq!(
        sgx.tcb.status,
        IntelTcbStatus::ConfigurationAndSwHardeningNeeded
    );
    assert_eq!(sgx.tcb.advisory_ids, ADVISORIES);
}

#[test]
fn accepts_sgx_quote_pinned_by_signer_product_and_svn() {
    let fixture = with_sgx_policy(|sgx| {
        sgx.mrenclave.clear();
        sgx.mrsigner = vec![digest32(MRSIGNER)];
        sgx.isv_prod_id = Some(u16_at(ISV_PROD_ID));
        sgx.min_isv_svn = Some(u16_at(ISV_SVN));
    });
    fixture.verify().unwrap();
}

#[test]
fn refuses_sgx_quote_whose_tcb_status_the_default_policy_does_not_accept() {
    let fixture = sgx().with_policy(|p| *p = Policy::sgx(SgxPolicy::new([digest32(MRENCLAVE)])));
    assert_eq!(fixture.refusal(), Check::TcbStatus);
}

#[test]
fn refuses_sgx_quote_with_an_advisory_the_policy_does_not_allow() {
    let fixture = with_sgx_policy(|sgx| sgx.allowed_advisory_ids.truncate(1));
    assert_eq!(fixture.refusal(), Check::Advisory);
}

#[test]
fn refuses_sgx_quote_with_flipped_byte_in_signed_body() {
    for at in [30, MRENCLAVE, MRSIGNER + 31, REPORT_DATA + 10] {
        assert_eq!(
            sgx().with_report_byte_flipped(at).refusal(),
            Check::Signature,
            "byte {at}"
        );
    }
}

#[test]
fn refuses_sgx_quote_with_flipped_signature_byte() {
    for at in [SIGNATURE, SIGNATURE + 63] {
        assert_eq!(
            sgx().with_report_byte_flipped(at).refusal(),
            Check::Signature,
            "byte {at}"
        );
    }
}

#[test]
fn refuses_sgx_quote_with_flipped_tcb_info_signature() {
    let mut json: serde_json::Value = serde_json::from_slice(COLLATERAL).unwrap();
    let sig = json["tcb_info_signature"].as_str().unwrap().to_owned();
    let flipped = format!(
        "{}{}",
        if sig.starts_with('0') { "1" } else { "0" },
        &sig[1..]
    );
    json["tcb_info_signature"] = flipped.into();
    let fixture = sgx().with_collateral(serde_json::to_vec(&json).unwrap());
    assert_eq!(fixture.refusal(), Check::Chain);
}

#[test]
fn refuses_sgx_quote_under_a_root_with_another_key() {
    let json: serde_json::Value = serde_json::from_slice(COLLATERAL).unwrap();
    let chain = pem_chain_to_der(json["tcb_info_issuer_chain"].as_str().unwrap());
    let wrong_root = root_with_key_replaced(INTEL_SGX_ROOT_CA_DER, &public_key_of(&chain[0]));
    let anchors = TrustAnchors::pinned().with_intel_root_der(wrong_root);
    assert_eq!(sgx().refusal_under(&anchors), Check::Chain);
}

#[test]
fn refuses_sgx_quote_outside_its_collateral_validity() {
    assert_eq!(sgx().at(NOW + 40 * 86_400).refusal(), Check::Freshness);
    assert_eq!(sgx().at(NOW - 10 * 86_400).refusal(), Check::Freshness);
}

#[test]
fn refuses_sgx_quote_with_another_mrenclave() {
    let fixture = with_sgx_policy(|sgx| sgx.mrenclave = vec![Measurement::from([0x44; 32])]);
    assert_eq!(fixture.refusal(), Check::Measurement);
}

#[test]
fn refuses_sgx_quote_with_another_mrsigner_or_product() {
    let fixture = with_sgx_policy(|sgx| sgx.mrsigner = vec![Measurement::from([0x55; 32])]);
    assert_eq!(fixture.refusal(), Check::Measurement);
    let fixture = with_sgx_policy(|sgx| sgx.isv_prod_id = Some(u16_at(ISV_PROD_ID) ^ 1));
    assert_eq!(fixture.refusal(), Check::Measurement);
}

#[test]
fn refuses_sgx_quote_below_the_minimum_isv_svn() {
    let fixture = with_sgx_policy(|sgx| sgx.min_isv_svn = Some(u16_at(ISV_SVN) + 1));
    assert_eq!(fixture.refusal(), Check::Tcb);
}

#[test]
fn refuses_sgx_quote_with_wrong_expected_report_data() {
    let fixture = sgx().with_expected_report_data(ReportData([0x66; 64]));
    assert_eq!(fixture.refusal(), Check::ReportData);
}

#[test]
fn refuses_sgx_quote_labelled_as_tdx() {
    let mut fixture = sgx();
    fixture.evidence.platform = PlatformKind::Tdx;
    fixture.policy = Policy::tdx(veil_attest::TdxPolicy::new([Measurement::from([0; 48])]));
    assert_eq!(fixture.refusal(), Check::Format);
}

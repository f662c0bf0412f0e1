//! Turin (EPYC family 1Ah): its ARK is pinned so that a Turin chain is
//! recognised, but reports are refused until a Turin VCEK can be bound to
//! its report (TCB layout with FMC, 8-byte hwID). No Turin report exists in
//! the vectors; this proves only that a Turin chain fails closed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use veil_attest::{
    Check, Evidence, PlatformKind, TrustAnchors, decode_certificates, decode_snp_report,
    verify_evidence_without_policy,
};

fn testdata(path: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata")
            .join(path),
    )
    .unwrap()
}

#[test]
fn a_chain_under_the_turin_ark_is_recognised_and_refused() {
    let report = decode_snp_report(&testdata("sev-snp/report_milan.hex")).unwrap();
    let turin_ask = decode_certificates(sev_turin_ask()).unwrap().remove(0);
    let evidence = Evidence::new(
        PlatformKind::SevSnp,
        report,
        vec![testdata("sev-snp/vcek_milan.der"), turin_ask],
    );
    let err = verify_evidence_without_policy(
        &evidence,
        None,
        false,
        1_704_067_200,
        &TrustAnchors::pinned(),
    )
    .unwrap_err();
    assert_eq!(err.check, Check::Chain);
    assert!(err.detail.contains("Turin"), "{}", err.detail);
}

/// The `sev` crate's built-in Turin ASK (the same bytes AMD KDS serves).
fn sev_turin_ask() -> &'static [u8] {
    sev::certs::snp::builtin::turin::ASK
}

//! Turin (EPYC family 1Ah) under AMD's real, pinned ARK-Turin. No Turin
//! report exists in the vectors, so this proves only that AMD's Turin chain
//! is recognised and that a report which cannot be in Turin's TCB layout
//! (here the Milan vector, version 2, no CPUID) is refused on it. Turin
//! reports themselves are verified on synthetic chains in
//! `sev_snp_synthetic.rs`.

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

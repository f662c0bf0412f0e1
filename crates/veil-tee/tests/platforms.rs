//! `open_producer` for every platform against what this machine can lay out:
//! a Gramine `/dev/attestation` tree in a temporary directory (SGX), a fake
//! configfs-tsm tree, and missing devices (`/dev/sev-guest`, `/dev/nsm`),
//! whose errors must name every interface tried. `auto` never simulates.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::*;
use veil_attest::{PlatformKind, ReportData, TrustAnchors, verify_evidence_without_policy};
use veil_tee::{
    ConfigfsTsm, GramineAttestation, GramineSgxProducer, HardwarePlatform, LiveEndorsement,
    PlatformOptions, TeeError, open_producer,
};

const SGX_AT: u64 = 1_750_334_171;
/// REPORTDATA of an SGX quote v3: header 48 + report body offset 320.
const SGX_REPORT_DATA: usize = 48 + 320;

fn testdata(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../veil-attest/testdata")
        .join(path)
}

fn sgx_quote() -> Vec<u8> {
    veil_attest::trim_dcap_quote(&std::fs::read(testdata("sgx/sgx_quote")).unwrap()).unwrap()
}

/// A directory laid out like Gramine's `/dev/attestation` whose `quote`
/// file holds `quote`.
fn gramine_dir(attestation_type: &str, quote: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("attestation_type"),
        format!("{attestation_type}\n"),
    )
    .unwrap();
    std::fs::write(dir.path().join("user_report_data"), [0u8; 64]).unwrap();
    std::fs::write(dir.path().join("quote"), quote).unwrap();
    dir
}

/// Options where no interface exists (every path under an empty temp dir).
fn nothing_here(platform: HardwarePlatform, empty: &Path) -> PlatformOptions {
    let mut opts = PlatformOptions::new(platform);
    opts.configfs = ConfigfsTsm::new(empty.join("config"));
    opts.sev_guest_device = empty.join("sev-guest");
    opts.gramine_dir = empty.join("attestation");
    opts.nsm_device = empty.join("nsm");
    opts
}

#[tokio::test]
async fn auto_without_any_tee_names_every_interface_it_tried() {
    let empty = tempfile::tempdir().unwrap();
    let err = open_producer(&nothing_here(HardwarePlatform::Auto, empty.path()), 0)
        .await
        .unwrap_err();
    assert!(matches!(err, TeeError::NoTee { .. }), "{err}");
    let msg = err.to_string();
    for tried in [
        "configfs-tsm",
        "sev-guest",
        "attestation_type",
        "nsm",
        "never falls back to simulation",
    ] {
        assert!(msg.contains(tried), "{tried}: {msg}");
    }
}

#[tokio::test]
async fn sev_snp_without_configfs_or_sev_guest_names_both() {
    let empty = tempfile::tempdir().unwrap();
    let err = open_producer(&nothing_here(HardwarePlatform::SevSnp, empty.path()), 0)
        .await
        .unwrap_err();
    assert!(matches!(err, TeeError::NoSevSnpInterface { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("configfs-tsm"), "{msg}");
    assert!(msg.contains("configfs is not mounted"), "{msg}");
    assert!(
        msg.contains(&empty.path().join("sev-guest").display().to_string()),
        "{msg}"
    );
    assert!(msg.contains("modprobe sev-guest"), "{msg}");
}

#[tokio::test]
async fn nitro_without_nsm_names_the_device() {
    let empty = tempfile::tempdir().unwrap();
    let err = open_producer(&nothing_here(HardwarePlatform::Nitro, empty.path()), 0)
        .await
        .unwrap_err();
    assert!(matches!(err, TeeError::NsmMissing { .. }), "{err}");
    assert!(err.to_string().contains("Nitro Enclave"), "{err}");
}

#[tokio::test]
async fn sgx_without_gramine_says_to_run_inside_gramine() {
    let empty = tempfile::tempdir().unwrap();
    let err = open_producer(&nothing_here(HardwarePlatform::Sgx, empty.path()), 0)
        .await
        .unwrap_err();
    assert!(matches!(err, TeeError::GramineMissing { .. }), "{err}");
    assert!(err.to_string().contains("sgx.remote_attestation"), "{err}");
}

#[test]
fn gramine_refuses_a_non_dcap_attestation_type() {
    let dir = gramine_dir("epid", &sgx_quote());
    let err = GramineSgxProducer::new(
        GramineAttestation::new(dir.path()),
        LiveEndorsement::default(),
    )
    .unwrap_err();
    assert!(matches!(err, TeeError::GramineNotDcap { .. }), "{err}");
}

#[test]
fn gramine_quote_writes_user_report_data_and_verifies_with_collateral() {
    let quote = sgx_quote();
    let carried = ReportData(
        quote[SGX_REPORT_DATA..SGX_REPORT_DATA + 64]
            .try_into()
            .unwrap(),
    );
    let dir = gramine_dir("dcap", &quote);
    let collateral =
        veil_tee::TdxCollateral::from_file(&testdata("sgx/sgx_quote_collateral.json")).unwrap();
    let producer = GramineSgxProducer::new(
        GramineAttestation::new(dir.path()),
        LiveEndorsement::fixed(veil_tee::Endorsement::Intel(collateral)),
    )
    .unwrap();

    // The real quote carries the vector's report data: asking for exactly
    // that, the evidence is the real quote with its collateral, and verifies.
    let evidence = producer.produce_evidence(&carried).unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("user_report_data")).unwrap(),
        carried.0
    );
    assert_eq!(evidence.platform, PlatformKind::Sgx);
    assert_eq!(evidence.report, quote);
    let claims = verify_evidence_without_policy(
        &evidence,
        Some(&carried),
        false,
        SGX_AT,
        &TrustAnchors::pinned(),
    )
    .unwrap();
    assert_eq!(claims.platform, PlatformKind::Sgx);

    // Other report data: written, but the quote does not carry it: refused.
    let ours = ReportData([0x42; 64]);
    let err = producer.produce_evidence(&ours).unwrap_err();
    assert!(matches!(err, TeeError::ReportDataMismatch { .. }), "{err}");
    assert_eq!(
        std::fs::read(dir.path().join("user_report_data")).unwrap(),
        ours.0
    );
}

/// The SGX vector with REPORTDATA zeroed: what the start-up probe (report
/// data all zero) reads back. Its signature no longer verifies; it is only
/// read, never verified, here.
fn sgx_quote_for_probe() -> Vec<u8> {
    let mut quote = sgx_quote();
    quote[SGX_REPORT_DATA..SGX_REPORT_DATA + 64].fill(0);
    quote
}

#[tokio::test]
async fn auto_detects_gramine_and_ships_the_operator_collateral() {
    let empty = tempfile::tempdir().unwrap();
    let gramine = gramine_dir("dcap", &sgx_quote_for_probe());
    let mut opts = nothing_here(HardwarePlatform::Auto, empty.path());
    opts.gramine_dir = gramine.path().to_path_buf();
    opts.intel_collateral = Some(testdata("sgx/sgx_quote_collateral.json"));
    let opened = open_producer(&opts, SGX_AT).await.unwrap();
    assert_eq!(opened.producer.platform(), PlatformKind::Sgx);
    assert_eq!(opened.interface, "Gramine /dev/attestation");
    assert!(opened.endorser.is_none(), "operator files: nothing fetched");
    assert_eq!(
        opened.probe.collateral,
        std::fs::read(testdata("sgx/sgx_quote_collateral.json")).unwrap()
    );
}

#[tokio::test]
async fn sgx_without_collateral_or_fetching_is_refused_at_start() {
    let empty = tempfile::tempdir().unwrap();
    let gramine = gramine_dir("dcap", &sgx_quote_for_probe());
    let mut opts = nothing_here(HardwarePlatform::Sgx, empty.path());
    opts.gramine_dir = gramine.path().to_path_buf();
    let err = open_producer(&opts, SGX_AT).await.unwrap_err();
    assert!(matches!(err, TeeError::MissingEndorsement(_)), "{err}");
    assert!(
        err.to_string()
            .contains("fetching endorsements is turned off"),
        "{err}"
    );
}

#[tokio::test]
async fn tdx_on_a_sev_snp_tree_is_the_wrong_provider() {
    let fs = FakeConfigfs::new(FakeKernel::new("sev_guest", |_| milan_report()));
    let empty = tempfile::tempdir().unwrap();
    let mut opts = nothing_here(HardwarePlatform::Tdx, empty.path());
    opts.configfs = fs.tsm();
    let err = open_producer(&opts, 0).await.unwrap_err();
    assert!(matches!(err, TeeError::WrongProvider { .. }), "{err}");
}

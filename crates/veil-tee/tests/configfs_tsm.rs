//! The configfs-tsm producer against a temporary directory laid out like
//! the kernel's, with a fake kernel filling `outblob` and advancing
//! `generation` the way `Documentation/ABI/testing/configfs-tsm-report` says.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::*;
use veil_attest::{
    Check, EvidenceProducer, PlatformKind, Policy, ReportData, TdxPolicy, verify_evidence,
};
use veil_tee::{
    ConfigfsTsm, ConfigfsTsmProducer, MAX_ATTEMPTS, SnpCertKind, SnpCertificates, TdxCollateral,
    TeeError, TsmProvider, parse_cert_table, unverified_measurement,
};

const OUR_REPORT_DATA: ReportData = ReportData([0x42; 64]);

/// A Milan-format report carrying whatever was written to inblob (its
/// signature no longer verifies: the fake kernel is not an AMD chip).
fn milan_with_inblob(inblob: &[u8]) -> Vec<u8> {
    let mut report = milan_report();
    report[SNP_REPORT_DATA_OFFSET..SNP_REPORT_DATA_OFFSET + 64].copy_from_slice(inblob);
    report
}

fn milan_chain() -> SnpCertificates {
    SnpCertificates::from_dir(milan_chain_dir().path()).unwrap()
}

fn milan_cert_table() -> Vec<u8> {
    let chain = milan_chain();
    cert_table(&[
        (SnpCertKind::Ark.guid(), chain.ark.as_deref().unwrap()),
        (SnpCertKind::Vcek.guid(), &chain.leaf),
        (SnpCertKind::Ask.guid(), &chain.ask),
    ])
}

fn milan_report_data() -> ReportData {
    let report = milan_report();
    ReportData(
        report[SNP_REPORT_DATA_OFFSET..SNP_REPORT_DATA_OFFSET + 64]
            .try_into()
            .unwrap(),
    )
}

#[test]
fn snp_evidence_carries_our_report_data_and_the_auxblob_chain() {
    let fs = FakeConfigfs::new(
        FakeKernel::new("sev_guest", milan_with_inblob).with_auxblob(milan_cert_table()),
    );
    let producer = ConfigfsTsmProducer::sev_snp(fs.tsm(), None).unwrap();
    assert_eq!(producer.platform(), PlatformKind::SevSnp);

    let evidence = producer.produce(&OUR_REPORT_DATA).unwrap();

    assert_eq!(evidence.platform, PlatformKind::SevSnp);
    assert_eq!(
        evidence.report[SNP_REPORT_DATA_OFFSET..SNP_REPORT_DATA_OFFSET + 64],
        OUR_REPORT_DATA.0
    );
    assert_eq!(evidence.certificates, milan_chain().to_chain());
    assert_eq!(evidence.certificates[0], MILAN_VCEK_DER);
    assert!(evidence.collateral.is_empty());
    assert_eq!(fs.leftover_entries(), 0, "every report entry is removed");
}

#[test]
fn real_milan_report_from_the_fake_tree_verifies_and_is_refused_only_for_report_data() {
    // The fake kernel hands out the real Milan report unchanged, so the
    // producer is asked for the report data that report carries.
    let fs = FakeConfigfs::new(
        FakeKernel::new("sev_guest", |_| milan_report()).with_auxblob(milan_cert_table()),
    );
    let producer = ConfigfsTsmProducer::sev_snp(fs.tsm(), None).unwrap();
    let evidence = producer.produce(&milan_report_data()).unwrap();
    let measurement = unverified_measurement(PlatformKind::SevSnp, &evidence.report).unwrap();
    let policy = Policy::sev_snp([measurement]);

    // Chain to the pinned Milan ARK, signature, freshness, measurement,
    // debug and report data all pass.
    let claims = verify_evidence(
        &evidence,
        &milan_report_data(),
        &policy,
        INSIDE_MILAN_VCEK_VALIDITY,
    )
    .unwrap();
    assert!(!claims.simulated);
    assert_eq!(claims.measurement, measurement);

    // A client expecting our report data refuses exactly on that check.
    let refusal = verify_evidence(
        &evidence,
        &OUR_REPORT_DATA,
        &policy,
        INSIDE_MILAN_VCEK_VALIDITY,
    )
    .unwrap_err();
    assert_eq!(refusal.check, Check::ReportData, "{refusal}");
}

#[test]
fn refuses_an_outblob_that_does_not_carry_our_report_data() {
    let fs = FakeConfigfs::new(
        FakeKernel::new("sev_guest", |_| milan_report()).with_auxblob(milan_cert_table()),
    );
    let producer = ConfigfsTsmProducer::sev_snp(fs.tsm(), None).unwrap();
    let err = producer.produce_evidence(&OUR_REPORT_DATA).unwrap_err();
    assert!(matches!(err, TeeError::ReportDataMismatch { .. }), "{err}");
    let err = producer.produce(&OUR_REPORT_DATA).unwrap_err();
    assert!(
        err.detail.contains("does not carry the report data"),
        "{err}"
    );
}

#[test]
fn generation_race_is_retried_with_a_fresh_entry() {
    let fs = FakeConfigfs::new(
        FakeKernel::new("sev_guest", milan_with_inblob)
            .with_auxblob(milan_cert_table())
            .with_races(1),
    );
    let producer = ConfigfsTsmProducer::sev_snp(fs.tsm(), None).unwrap();
    let created_by_setup = fs
        .kernel
        .entries_created
        .load(std::sync::atomic::Ordering::SeqCst);

    let evidence = producer.produce(&OUR_REPORT_DATA).unwrap();

    assert_eq!(
        evidence.report[SNP_REPORT_DATA_OFFSET..SNP_REPORT_DATA_OFFSET + 64],
        OUR_REPORT_DATA.0
    );
    let created = fs
        .kernel
        .entries_created
        .load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        created - created_by_setup,
        2,
        "one raced attempt, one clean one"
    );
    assert_eq!(fs.leftover_entries(), 0);
}

#[test]
fn generation_that_keeps_changing_is_refused_after_bounded_retries() {
    let fs = FakeConfigfs::new(
        FakeKernel::new("sev_guest", milan_with_inblob)
            .with_auxblob(milan_cert_table())
            .with_races(u32::MAX),
    );
    let producer = ConfigfsTsmProducer::sev_snp(fs.tsm(), None).unwrap();

    let err = producer.produce_evidence(&OUR_REPORT_DATA).unwrap_err();

    match &err {
        TeeError::GenerationRace {
            attempts,
            before,
            expected,
            found,
        } => {
            assert_eq!(*attempts, MAX_ATTEMPTS);
            assert_eq!((*before, *expected, *found), (0, 1, 2));
        }
        other => panic!("expected a generation race, got {other}"),
    }
    assert!(err.to_string().contains("another writer"), "{err}");
    assert_eq!(fs.leftover_entries(), 0);
}

#[test]
fn privlevel_is_written_and_counted_in_the_generation_check() {
    let fs = FakeConfigfs::new(
        FakeKernel::new("sev_guest", milan_with_inblob).with_auxblob(milan_cert_table()),
    );
    let tsm = fs.tsm().with_privlevel(2).unwrap();
    let report = tsm.request(&OUR_REPORT_DATA.0).unwrap();
    assert_eq!(report.provider, "sev_guest");
    assert_eq!(*fs.kernel.privlevels_written.lock().unwrap(), vec!["2\n"]);
    assert!(
        fs.tsm().with_privlevel(4).is_err(),
        "TSM_PRIVLEVEL_MAX is 3"
    );
}

#[test]
fn missing_configfs_mount_is_named_with_how_to_mount_it() {
    let dir = tempfile::tempdir().unwrap();
    let tsm = ConfigfsTsm::new(dir.path().join("no-such-mount"));
    let err = tsm.request(&[0; 64]).unwrap_err();
    assert!(matches!(err, TeeError::ConfigfsNotMounted { .. }), "{err}");
    assert!(err.to_string().contains("mount -t configfs"), "{err}");
}

#[test]
fn missing_tsm_reports_name_the_kernel_requirement() {
    let dir = tempfile::tempdir().unwrap(); // configfs "mounted", no tsm/report
    let tsm = ConfigfsTsm::new(dir.path());
    for err in [
        tsm.provider().unwrap_err(),
        ConfigfsTsmProducer::sev_snp(tsm.clone(), None).unwrap_err(),
    ] {
        assert!(matches!(err, TeeError::TsmMissing { .. }), "{err}");
        let msg = err.to_string();
        assert!(msg.contains("tsm/report"), "{msg}");
        assert!(
            msg.contains("6.7") && msg.contains("CONFIG_TSM_REPORTS"),
            "{msg}"
        );
    }
}

#[test]
fn detects_the_provider_and_refuses_the_wrong_platform() {
    let fs = FakeConfigfs::new(FakeKernel::new("tdx_guest", |_| TDX_QUOTE.to_vec()));
    assert_eq!(fs.tsm().provider().unwrap(), TsmProvider::TdxGuest);
    let err = ConfigfsTsmProducer::sev_snp(fs.tsm(), None).unwrap_err();
    assert!(matches!(err, TeeError::WrongProvider { .. }), "{err}");
    assert_eq!(fs.leftover_entries(), 0, "the probe entry is removed");

    let odd = FakeConfigfs::new(FakeKernel::new("arm_cca_guest", |_| vec![]));
    let err = odd.tsm().provider().unwrap_err();
    assert!(matches!(err, TeeError::UnsupportedProvider { .. }), "{err}");
}

#[test]
fn auxblob_certificate_table_is_parsed_per_the_ghcb_layout() {
    let unknown = [0x11; 16];
    let table = cert_table(&[
        (SnpCertKind::Vcek.guid(), MILAN_VCEK_DER),
        (unknown, b"opaque"),
        (SnpCertKind::Ask.guid(), b"ask bytes"),
    ]);
    let entries = parse_cert_table(&table).unwrap();
    let kinds: Vec<_> = entries.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            SnpCertKind::Vcek,
            SnpCertKind::Other(unknown),
            SnpCertKind::Ask
        ]
    );
    assert_eq!(entries[0].data, MILAN_VCEK_DER);
    assert_eq!(entries[1].data, b"opaque");
    assert_eq!(entries[2].data, b"ask bytes");

    // A truncated table (its terminator cut off) is refused, not guessed at.
    let header_only = &table[..24 * 2];
    assert!(parse_cert_table(header_only).is_err());
}

#[test]
fn without_auxblob_the_operator_chain_is_used_and_without_either_it_says_kds_is_not_fetched() {
    let fs = FakeConfigfs::new(FakeKernel::new("sev_guest", milan_with_inblob));

    let producer = ConfigfsTsmProducer::sev_snp(fs.tsm(), Some(milan_chain())).unwrap();
    let evidence = producer.produce(&OUR_REPORT_DATA).unwrap();
    assert_eq!(evidence.certificates, milan_chain().to_chain());

    let producer = ConfigfsTsmProducer::sev_snp(fs.tsm(), None).unwrap();
    let err = producer.produce_evidence(&OUR_REPORT_DATA).unwrap_err();
    assert!(matches!(err, TeeError::MissingEndorsement(_)), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("--snp-certs") && msg.contains("AMD KDS"),
        "{msg}"
    );
}

#[test]
fn operator_chain_directory_must_hold_a_vcek_and_an_ask() {
    let empty = tempfile::tempdir().unwrap();
    let err = SnpCertificates::from_dir(empty.path()).unwrap_err();
    assert!(err.to_string().contains("vcek.der"), "{err}");

    let garbage = tempfile::tempdir().unwrap();
    std::fs::write(garbage.path().join("vcek.der"), b"not a certificate").unwrap();
    std::fs::write(garbage.path().join("ask.pem"), MILAN_ASK_PEM).unwrap();
    let err = SnpCertificates::from_dir(garbage.path()).unwrap_err();
    assert!(err.to_string().contains("not a DER certificate"), "{err}");
}

#[test]
fn tdx_quote_from_the_fake_tree_verifies_with_operator_collateral() {
    let quote_report_data = veil_tee::outblob_report_data(PlatformKind::Tdx, TDX_QUOTE).unwrap();
    let fs = FakeConfigfs::new(FakeKernel::new("tdx_guest", |_| TDX_QUOTE.to_vec()));
    let collateral = TdxCollateral::from_file(Path::new(TDX_COLLATERAL_PATH)).unwrap();
    let producer = ConfigfsTsmProducer::tdx(fs.tsm(), collateral).unwrap();
    assert_eq!(producer.platform(), PlatformKind::Tdx);

    let evidence = producer.produce(&ReportData(quote_report_data)).unwrap();
    let mrtd = unverified_measurement(PlatformKind::Tdx, &evidence.report).unwrap();
    let policy = Policy::tdx(TdxPolicy::new([mrtd]));

    // The offsets this crate reads MRTD and REPORTDATA at are the ones the
    // verifier (dcap-qvl) parses: pinning them verifies.
    let claims = verify_evidence(
        &evidence,
        &ReportData(quote_report_data),
        &policy,
        TDX_VERIFY_AT,
    )
    .unwrap();
    assert_eq!(claims.measurement, mrtd);
    let refusal = verify_evidence(&evidence, &OUR_REPORT_DATA, &policy, TDX_VERIFY_AT).unwrap_err();
    assert_eq!(refusal.check, Check::ReportData, "{refusal}");

    // The same quote handed back for other report data is refused at the source.
    let err = producer.produce_evidence(&OUR_REPORT_DATA).unwrap_err();
    assert!(matches!(err, TeeError::ReportDataMismatch { .. }), "{err}");
}

#[test]
fn tdx_collateral_file_must_be_a_json_object() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("collateral.json");
    std::fs::write(&path, b"[1, 2]").unwrap();
    assert!(TdxCollateral::from_file(&path).is_err());
    std::fs::write(&path, b"{not json").unwrap();
    assert!(TdxCollateral::from_file(&path).is_err());
    assert!(TdxCollateral::from_file(&dir.path().join("absent.json")).is_err());
}

//! Fetching, caching and refreshing endorsements against a local mock of
//! AMD KDS and Intel PCS (an axum server on 127.0.0.1 serving the real
//! vectors' certificates and collateral in the services' formats). The real
//! hosts are never contacted.
//!
//! Proves: the first start fetches, and what it assembles verifies the real
//! vectors; a restart with the services down uses the cache; a cached
//! endorsement near expiry is fetched again (time injected); a stale but
//! valid cache survives a failed fetch; neither cache nor service is a clear
//! error naming both.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::get;
use common::{
    FakeConfigfs, FakeKernel, INSIDE_MILAN_VCEK_VALIDITY, SNP_REPORT_DATA_OFFSET, TDX_VERIFY_AT,
    milan_report, vector,
};
use veil_attest::{Evidence, PlatformKind, TrustAnchors, verify_evidence_without_policy};
use veil_tee::{
    Endorsement, EndorsementCache, EndorsementOrigin, EndorsementSources, EndorsementTarget,
    Endorser, FetchOptions, Fetcher, HardwarePlatform, PcsRequest, PlatformOptions,
    REFRESH_MARGIN_SECS, SnpProduct, TeeError, VcekRequest, open_producer,
};

fn tdx_quote() -> Vec<u8> {
    veil_attest::trim_dcap_quote(&vector("tdx/tdx_quote")).unwrap()
}

/// What the mock serves, from the TDX vector's collateral JSON.
struct Mock {
    requests: AtomicUsize,
    paths: std::sync::Mutex<Vec<String>>,
    collateral: serde_json::Value,
}

fn bytes_field(mock: &Mock, field: &str) -> Vec<u8> {
    hex::decode(mock.collateral[field].as_str().unwrap()).unwrap()
}

fn str_field<'a>(mock: &'a Mock, field: &str) -> &'a str {
    mock.collateral[field].as_str().unwrap()
}

fn chain_header(name: &'static str, pem: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let encoded =
        percent_encoding::utf8_percent_encode(pem, percent_encoding::NON_ALPHANUMERIC).to_string();
    headers.insert(name, HeaderValue::from_str(&encoded).unwrap());
    headers
}

fn record(mock: &Mock, path: String) {
    mock.requests.fetch_add(1, Ordering::SeqCst);
    mock.paths.lock().unwrap().push(path);
}

async fn vcek(
    State(mock): State<Arc<Mock>>,
    axum::extract::Path(hwid): axum::extract::Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> (StatusCode, Vec<u8>) {
    record(&mock, format!("vcek/{hwid}"));
    for spl in ["blSPL", "teeSPL", "snpSPL", "ucodeSPL"] {
        if !query.contains_key(spl) {
            return (StatusCode::BAD_REQUEST, Vec::new());
        }
    }
    (StatusCode::OK, vector("sev-snp/vcek_milan.der"))
}

async fn cert_chain(State(mock): State<Arc<Mock>>) -> Vec<u8> {
    record(&mock, "cert_chain".into());
    vector("sev-snp/cert_chain_milan")
}

async fn pck_crl(State(mock): State<Arc<Mock>>) -> (HeaderMap, Vec<u8>) {
    record(&mock, "pckcrl".into());
    (
        chain_header(
            "SGX-PCK-CRL-Issuer-Chain",
            str_field(&mock, "pck_crl_issuer_chain"),
        ),
        bytes_field(&mock, "pck_crl"),
    )
}

async fn tcb_info(State(mock): State<Arc<Mock>>) -> (HeaderMap, String) {
    record(&mock, "tcb".into());
    let body = format!(
        r#"{{"tcbInfo":{},"signature":"{}"}}"#,
        str_field(&mock, "tcb_info"),
        str_field(&mock, "tcb_info_signature")
    );
    (
        chain_header(
            "TCB-Info-Issuer-Chain",
            str_field(&mock, "tcb_info_issuer_chain"),
        ),
        body,
    )
}

async fn qe_identity(State(mock): State<Arc<Mock>>) -> (HeaderMap, String) {
    record(&mock, "qe".into());
    let body = format!(
        r#"{{"enclaveIdentity":{},"signature":"{}"}}"#,
        str_field(&mock, "qe_identity"),
        str_field(&mock, "qe_identity_signature")
    );
    (
        chain_header(
            "SGX-Enclave-Identity-Issuer-Chain",
            str_field(&mock, "qe_identity_issuer_chain"),
        ),
        body,
    )
}

async fn root_crl(State(mock): State<Arc<Mock>>) -> Vec<u8> {
    record(&mock, "rootcrl".into());
    bytes_field(&mock, "root_ca_crl")
}

struct Running {
    mock: Arc<Mock>,
    sources: EndorsementSources,
    task: tokio::task::JoinHandle<()>,
}

async fn start_mock() -> Running {
    start_mock_serving("tdx", "tdx/tdx_quote_collateral.json").await
}

/// A mock whose PCS side serves the collateral in `collateral_json` at the
/// paths of `tee` (`tdx` or `sgx`) only.
async fn start_mock_serving(tee: &str, collateral_json: &str) -> Running {
    let mock = Arc::new(Mock {
        requests: AtomicUsize::new(0),
        paths: Default::default(),
        collateral: serde_json::from_slice(&vector(collateral_json)).unwrap(),
    });
    let app = Router::new()
        .route("/vcek/v1/Milan/cert_chain", get(cert_chain))
        .route("/vcek/v1/Milan/{hwid}", get(vcek))
        .route("/sgx/certification/v4/pckcrl", get(pck_crl))
        .route(&format!("/{tee}/certification/v4/tcb"), get(tcb_info))
        .route(
            &format!("/{tee}/certification/v4/qe/identity"),
            get(qe_identity),
        )
        .route("/IntelSGXRootCA.der", get(root_crl))
        .with_state(mock.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Running {
        mock,
        sources: sources_at(&format!("http://{addr}")),
        task,
    }
}

fn sources_at(base: &str) -> EndorsementSources {
    let mut sources = EndorsementSources::default();
    sources.kds_url = base.to_owned();
    sources.pcs_url = base.to_owned();
    sources.intel_root_crl_url = format!("{base}/IntelSGXRootCA.der");
    sources
}

/// Sources where nothing listens (a port just freed).
async fn dead_sources() -> EndorsementSources {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    sources_at(&format!("http://{addr}"))
}

fn endorser(cache: &Path, sources: EndorsementSources, target: EndorsementTarget) -> Endorser {
    Endorser::new(
        EndorsementCache::new(cache),
        Fetcher::new(sources, Duration::from_secs(10)).unwrap(),
        target,
    )
}

fn snp_target() -> EndorsementTarget {
    // The vector is a version 2 report (no CPUID): the product is configured.
    EndorsementTarget::Snp(
        VcekRequest::for_report(&milan_report(), Some(SnpProduct::Milan)).unwrap(),
    )
}

fn tdx_target() -> EndorsementTarget {
    EndorsementTarget::Intel(PcsRequest::for_quote(PlatformKind::Tdx, &tdx_quote()).unwrap())
}

fn verifies(endorsement: Endorsement) {
    let (evidence, at) = match endorsement {
        Endorsement::Snp(certs) => (
            Evidence::new(PlatformKind::SevSnp, milan_report(), certs.to_chain()),
            INSIDE_MILAN_VCEK_VALIDITY,
        ),
        Endorsement::Intel(collateral) => {
            let mut evidence = Evidence::new(PlatformKind::Tdx, tdx_quote(), Vec::new());
            evidence.collateral = collateral.as_bytes().to_vec();
            (evidence, TDX_VERIFY_AT)
        }
    };
    verify_evidence_without_policy(&evidence, None, false, at, &TrustAnchors::pinned()).unwrap();
}

/// Same certificates or collateral bytes (wherever they were read from).
fn same(a: &Endorsement, b: &Endorsement) -> bool {
    match (a, b) {
        (Endorsement::Snp(a), Endorsement::Snp(b)) => a == b,
        (Endorsement::Intel(a), Endorsement::Intel(b)) => a.as_bytes() == b.as_bytes(),
        _ => false,
    }
}

#[tokio::test]
async fn first_start_fetches_then_a_restart_uses_the_cache_with_the_services_down() {
    let running = start_mock().await;
    let cache = tempfile::tempdir().unwrap();
    for (target, at) in [
        (snp_target(), INSIDE_MILAN_VCEK_VALIDITY),
        (tdx_target(), TDX_VERIFY_AT),
    ] {
        let before = running.mock.requests.load(Ordering::SeqCst);
        let first = endorser(cache.path(), running.sources.clone(), target.clone());
        assert_eq!(first.load(at).await.unwrap(), EndorsementOrigin::Fetched);
        assert!(first.cache_path().is_file());
        assert!(running.mock.requests.load(Ordering::SeqCst) > before);
        let fetched = first.live().get().unwrap();
        verifies(fetched.clone());
        // The metrics' view: obtained now, expiring when the endorsement says.
        let times = first.live().times().unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(now.abs_diff(times.obtained_at) < 600, "{times:?}");
        assert_eq!(times.expires_at, Some(fetched.expires_at().unwrap()));

        let restarted = endorser(cache.path(), dead_sources().await, target);
        assert_eq!(restarted.load(at).await.unwrap(), EndorsementOrigin::Cache);
        assert!(
            same(&restarted.live().get().unwrap(), &fetched),
            "the cached one"
        );
    }
    let paths = running.mock.paths.lock().unwrap().clone();
    let hwid = hex::encode(&milan_report()[0x1A0..0x1E0]);
    assert!(paths.contains(&format!("vcek/{hwid}")), "{paths:?}");
    running.task.abort();
}

#[tokio::test]
async fn endorsement_near_expiry_is_fetched_again() {
    let running = start_mock().await;
    let cache = tempfile::tempdir().unwrap();
    let e = endorser(cache.path(), running.sources.clone(), tdx_target());
    e.load(TDX_VERIFY_AT).await.unwrap();
    let expires = e.live().get().unwrap().expires_at().unwrap();

    let before = running.mock.requests.load(Ordering::SeqCst);
    assert!(
        !e.refresh_if_due(expires - REFRESH_MARGIN_SECS - 1)
            .await
            .unwrap()
    );
    assert_eq!(
        running.mock.requests.load(Ordering::SeqCst),
        before,
        "not due: no request"
    );
    assert!(e.refresh_if_due(expires - 3600).await.unwrap());
    assert!(running.mock.requests.load(Ordering::SeqCst) > before);

    // At start-up too: a cache entry within the margin is fetched again.
    let restarted = endorser(cache.path(), running.sources.clone(), tdx_target());
    assert_eq!(
        restarted.load(expires - 3600).await.unwrap(),
        EndorsementOrigin::Fetched
    );
    running.task.abort();
}

#[tokio::test]
async fn stale_cache_survives_a_failed_fetch_until_it_expires() {
    let running = start_mock().await;
    let cache = tempfile::tempdir().unwrap();
    let e = endorser(cache.path(), running.sources.clone(), tdx_target());
    e.load(TDX_VERIFY_AT).await.unwrap();
    let expires = e.live().get().unwrap().expires_at().unwrap();
    running.task.abort();

    let offline = endorser(cache.path(), dead_sources().await, tdx_target());
    assert_eq!(
        offline.load(expires - 3600).await.unwrap(),
        EndorsementOrigin::StaleCache
    );
    assert!(offline.refresh_if_due(expires - 3600).await.is_err());
    assert!(offline.live().get().is_some(), "the current one stays");

    let err = offline.load(expires + 1).await.unwrap_err();
    assert!(matches!(err, TeeError::MissingEndorsement(_)), "{err}");
}

#[tokio::test]
async fn neither_cache_nor_service_is_a_clear_error() {
    let cache = tempfile::tempdir().unwrap();
    for target in [snp_target(), tdx_target()] {
        let e = endorser(cache.path(), dead_sources().await, target);
        let msg = e.load(TDX_VERIFY_AT).await.unwrap_err().to_string();
        assert!(msg.contains(&e.cache_path().display().to_string()), "{msg}");
        assert!(msg.contains("cannot fetch http://127.0.0.1:"), "{msg}");
        assert!(
            msg.contains("--snp-certs DIR or --tdx-collateral FILE"),
            "{msg}"
        );
    }
}

#[tokio::test]
async fn a_service_error_status_is_reported_with_its_url() {
    let running = start_mock().await;
    let mut sources = running.sources.clone();
    sources.kds_url.push_str("/nothing-here");
    let cache = tempfile::tempdir().unwrap();
    let msg = endorser(cache.path(), sources, snp_target())
        .load(INSIDE_MILAN_VCEK_VALIDITY)
        .await
        .unwrap_err()
        .to_string();
    assert!(msg.contains("/nothing-here/vcek/v1/Milan/"), "{msg}");
    assert!(msg.contains("HTTP 404"), "{msg}");
    running.task.abort();
}

/// TDX quote v4: REPORTDATA at header 48 + body offset 520.
const TDX_REPORT_DATA: usize = 48 + 520;

fn fetching(
    platform: HardwarePlatform,
    fs: &FakeConfigfs,
    sources: EndorsementSources,
    cache: &Path,
) -> PlatformOptions {
    let mut opts = PlatformOptions::new(platform);
    opts.configfs = fs.tsm();
    let mut fetch = FetchOptions::new(cache);
    fetch.sources = sources;
    opts.fetch = Some(fetch);
    opts
}

#[tokio::test]
async fn tdx_server_without_collateral_fetches_it_at_start_and_ships_it() {
    let running = start_mock().await;
    let cache = tempfile::tempdir().unwrap();
    let fs = FakeConfigfs::new(FakeKernel::new("tdx_guest", |inblob| {
        let mut quote = tdx_quote();
        quote[TDX_REPORT_DATA..TDX_REPORT_DATA + 64].copy_from_slice(inblob);
        quote
    }));
    let opts = fetching(
        HardwarePlatform::Tdx,
        &fs,
        running.sources.clone(),
        cache.path(),
    );
    let opened = open_producer(&opts, TDX_VERIFY_AT).await.unwrap();
    assert_eq!(opened.interface, "configfs-tsm");
    let endorser = opened
        .endorser
        .expect("fetched, so refreshed in the background");
    assert!(endorser.cache_path().is_file());
    // What the server ships verifies the real quote.
    let collateral =
        veil_tee::TdxCollateral::from_json(opened.probe.collateral.clone(), "probe".into())
            .unwrap();
    verifies(Endorsement::Intel(collateral));
    running.task.abort();
}

#[tokio::test]
async fn sev_snp_server_without_host_certificates_fetches_the_vcek_at_start() {
    let running = start_mock().await;
    let cache = tempfile::tempdir().unwrap();
    let fs = FakeConfigfs::new(FakeKernel::new("sev_guest", |inblob| {
        let mut report = milan_report();
        report[SNP_REPORT_DATA_OFFSET..SNP_REPORT_DATA_OFFSET + 64].copy_from_slice(inblob);
        report
    }));
    let mut opts = fetching(
        HardwarePlatform::SevSnp,
        &fs,
        running.sources.clone(),
        cache.path(),
    );
    opts.snp_product = Some(SnpProduct::Milan);
    let opened = open_producer(&opts, INSIDE_MILAN_VCEK_VALIDITY)
        .await
        .unwrap();
    assert!(opened.endorser.is_some());
    let chain = opened.probe.certificates.clone();
    assert_eq!(chain[0], vector("sev-snp/vcek_milan.der"));
    verifies(Endorsement::Snp(veil_tee::SnpCertificates {
        leaf: chain[0].clone(),
        ask: chain[1].clone(),
        ark: chain.get(2).cloned(),
    }));

    // Operator files win: nothing is fetched, even with fetching on.
    let dir = common::milan_chain_dir();
    let mut opts = fetching(
        HardwarePlatform::SevSnp,
        &fs,
        dead_sources().await,
        cache.path(),
    );
    opts.snp_certs = Some(dir.path().to_path_buf());
    let before = running.mock.requests.load(Ordering::SeqCst);
    let opened = open_producer(&opts, INSIDE_MILAN_VCEK_VALIDITY)
        .await
        .unwrap();
    assert!(opened.endorser.is_none());
    assert_eq!(running.mock.requests.load(Ordering::SeqCst), before);
    running.task.abort();
}

/// SGX quote v3: REPORTDATA at header 48 + report body offset 320.
const SGX_REPORT_DATA: usize = 48 + 320;
const SGX_AT: u64 = 1_750_334_171;

#[tokio::test]
async fn gramine_sgx_server_fetches_its_collateral_from_the_sgx_paths() {
    let running = start_mock_serving("sgx", "sgx/sgx_quote_collateral.json").await;
    let cache = tempfile::tempdir().unwrap();
    let real = veil_attest::trim_dcap_quote(&vector("sgx/sgx_quote")).unwrap();
    // What Gramine would return for the start-up probe (report data zero).
    let mut probe_quote = real.clone();
    probe_quote[SGX_REPORT_DATA..SGX_REPORT_DATA + 64].fill(0);
    let gramine = tempfile::tempdir().unwrap();
    std::fs::write(gramine.path().join("attestation_type"), "dcap").unwrap();
    std::fs::write(gramine.path().join("user_report_data"), [0u8; 64]).unwrap();
    std::fs::write(gramine.path().join("quote"), &probe_quote).unwrap();

    let mut opts = PlatformOptions::new(HardwarePlatform::Sgx);
    opts.gramine_dir = gramine.path().to_path_buf();
    let mut fetch = FetchOptions::new(cache.path());
    fetch.sources = running.sources.clone();
    opts.fetch = Some(fetch);
    let opened = open_producer(&opts, SGX_AT).await.unwrap();
    assert!(opened.endorser.is_some());
    let paths = running.mock.paths.lock().unwrap().clone();
    assert!(paths.contains(&"tcb".to_owned()), "{paths:?}");

    let mut evidence = Evidence::new(PlatformKind::Sgx, real, Vec::new());
    evidence.collateral = opened.probe.collateral.clone();
    verify_evidence_without_policy(&evidence, None, false, SGX_AT, &TrustAnchors::pinned())
        .unwrap();
    running.task.abort();
}

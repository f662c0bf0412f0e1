//! The client's decision, end to end on real bytes: a simulated server's
//! bundle verifies only when simulation is allowed, only for the nonce the
//! client sent, only for the key it binds, and only for a policy's measurement.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns count as non-test code

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use veil_attest::{Check, EvidenceProducer, Measurement, Policy, SimulatedProducer};
use veil_protocol::bundle::{EvidenceBundle, verify_bundle};
use veil_protocol::channel::GatewayKey;
use veil_protocol::transcript;

const NOW: u64 = 1_800_000_000;
const NONCE: [u8; 32] = [0x42; 32];

fn server() -> (SimulatedProducer, GatewayKey) {
    (
        SimulatedProducer::generate(Measurement::from([0x11; 48])),
        GatewayKey::generate().unwrap(),
    )
}

fn bundle_for(producer: &SimulatedProducer, key: &GatewayKey, nonce: &[u8; 32]) -> EvidenceBundle {
    let rd = transcript::report_data(key.encoded_config(), nonce);
    EvidenceBundle::new(
        &producer.produce(&rd).unwrap(),
        key.encoded_config(),
        nonce,
        "test",
    )
}

fn allow_sim() -> Policy {
    Policy::insecure_simulation_any_measurement()
}

fn flip_b64(field: &str, index: usize) -> String {
    let mut raw = B64.decode(field).unwrap();
    raw[index] ^= 0x01;
    B64.encode(raw)
}

fn check_of(
    result: Result<veil_protocol::bundle::VerifiedServer, veil_attest::AttestationError>,
) -> Check {
    result.expect_err("verification must fail").check
}

#[test]
fn accepts_an_untampered_simulated_bundle_when_simulation_is_allowed() {
    let (p, k) = server();
    let v = verify_bundle(&bundle_for(&p, &k, &NONCE), &NONCE, &allow_sim(), NOW).unwrap();
    assert!(v.claims.simulated);
    assert_eq!(v.claims.measurement, Measurement::from([0x11; 48]));
    assert_eq!(v.key_config, k.encoded_config());
}

#[test]
fn refuses_simulated_evidence_without_allow_simulation() {
    let (p, k) = server();
    let policy = Policy::sev_snp([Measurement::from([0x11; 48])]);
    assert_eq!(
        check_of(verify_bundle(
            &bundle_for(&p, &k, &NONCE),
            &NONCE,
            &policy,
            NOW
        )),
        Check::SimulationNotAllowed
    );
}

#[test]
fn refuses_a_flipped_byte_in_the_report_body() {
    let (p, k) = server();
    let mut b = bundle_for(&p, &k, &NONCE);
    // MEASUREMENT lives at 0x90 in the SEV-SNP layout.
    b.report = flip_b64(&b.report, 0x90);
    assert_eq!(
        check_of(verify_bundle(&b, &NONCE, &allow_sim(), NOW)),
        Check::Signature
    );
}

#[test]
fn refuses_a_flipped_byte_in_the_signature() {
    let (p, k) = server();
    let mut b = bundle_for(&p, &k, &NONCE);
    b.report = flip_b64(&b.report, 0x2A0 + 5);
    assert_eq!(
        check_of(verify_bundle(&b, &NONCE, &allow_sim(), NOW)),
        Check::Signature
    );
}

#[test]
fn refuses_a_flipped_byte_in_the_key_configuration() {
    let (p, k) = server();
    let good = bundle_for(&p, &k, &NONCE);
    let len = B64.decode(&good.key_config).unwrap().len();
    for i in 0..len {
        let mut b = good.clone();
        b.key_config = flip_b64(&b.key_config, i);
        assert_eq!(
            check_of(verify_bundle(&b, &NONCE, &allow_sim(), NOW)),
            Check::ReportData,
            "byte {i}"
        );
    }
}

#[test]
fn refuses_a_key_configuration_swapped_for_another_servers() {
    let (p, k) = server();
    let mut b = bundle_for(&p, &k, &NONCE);
    b.key_config = B64.encode(GatewayKey::generate().unwrap().encoded_config());
    assert_eq!(
        check_of(verify_bundle(&b, &NONCE, &allow_sim(), NOW)),
        Check::ReportData
    );
}

#[test]
fn refuses_evidence_for_another_nonce() {
    let (p, k) = server();
    // A replayed bundle: it truthfully names the old nonce.
    let old = bundle_for(&p, &k, &[0x01; 32]);
    assert_eq!(
        check_of(verify_bundle(&old, &NONCE, &allow_sim(), NOW)),
        Check::Freshness
    );
    // A bundle that claims our nonce but whose report answers another one.
    let mut forged = old.clone();
    forged.nonce = hex::encode(NONCE);
    assert_eq!(
        check_of(verify_bundle(&forged, &NONCE, &allow_sim(), NOW)),
        Check::ReportData
    );
}

#[test]
fn refuses_a_measurement_outside_the_policy() {
    let (p, k) = server();
    let mut policy = allow_sim();
    policy.measurements = vec![Measurement::from([0x22; 48])];
    assert_eq!(
        check_of(verify_bundle(
            &bundle_for(&p, &k, &NONCE),
            &NONCE,
            &policy,
            NOW
        )),
        Check::Measurement
    );
    policy.measurements.push(Measurement::from([0x11; 48]));
    assert!(verify_bundle(&bundle_for(&p, &k, &NONCE), &NONCE, &policy, NOW).is_ok());
}

#[test]
fn refuses_a_debug_report_unless_the_policy_allows_debug() {
    let p = SimulatedProducer::generate(Measurement::from([0x11; 48])).with_debug(true);
    let k = GatewayKey::generate().unwrap();
    let b = bundle_for(&p, &k, &NONCE);
    assert_eq!(
        check_of(verify_bundle(&b, &NONCE, &allow_sim(), NOW)),
        Check::Debug
    );
    let mut policy = allow_sim();
    policy.allow_debug = true;
    assert!(
        verify_bundle(&b, &NONCE, &policy, NOW)
            .unwrap()
            .claims
            .debug
    );
}

#[test]
fn refuses_malformed_bundles_as_format_errors() {
    let (p, k) = server();
    let good = bundle_for(&p, &k, &NONCE);
    let mut b = good.clone();
    b.report = "***".into();
    assert_eq!(
        check_of(verify_bundle(&b, &NONCE, &allow_sim(), NOW)),
        Check::Format
    );
    let mut b = good.clone();
    b.version = 99;
    assert_eq!(
        check_of(verify_bundle(&b, &NONCE, &allow_sim(), NOW)),
        Check::Format
    );
    let mut b = good;
    b.report = B64.encode([0u8; 100]);
    assert_eq!(
        check_of(verify_bundle(&b, &NONCE, &allow_sim(), NOW)),
        Check::Format
    );
}

#[test]
fn bundle_without_collateral_serialises_without_the_field() {
    let (p, k) = server();
    let json = serde_json::to_value(bundle_for(&p, &k, &NONCE)).unwrap();
    assert!(json.get("collateral").is_none(), "{json}");
}

#[test]
fn bundle_carries_intel_collateral_to_the_verifier() {
    // A real TDX quote and its collateral, through JSON and back: the quote
    // verifies to Intel's root only with the collateral, so reaching the
    // report-data check (the quote does not bind this bundle's key) proves
    // the collateral arrived intact.
    let quote = include_bytes!("../../veil-attest/testdata/tdx/tdx_quote");
    let collateral = include_bytes!("../../veil-attest/testdata/tdx/tdx_quote_collateral.json");
    let mut evidence =
        veil_attest::Evidence::new(veil_attest::PlatformKind::Tdx, quote.to_vec(), Vec::new());
    evidence.collateral = collateral.to_vec();
    let key = GatewayKey::generate().unwrap();
    let bundle = EvidenceBundle::new(&evidence, key.encoded_config(), &NONCE, "test");
    let json = serde_json::to_string(&bundle).unwrap();
    let bundle: EvidenceBundle = serde_json::from_str(&json).unwrap();

    let mrtd = Measurement::from_slice(&quote[184..232]).unwrap();
    let policy = Policy::tdx(veil_attest::TdxPolicy::new([mrtd]));
    let at = 1_750_332_747;
    assert_eq!(
        check_of(verify_bundle(&bundle, &NONCE, &policy, at)),
        Check::ReportData
    );
    let mut without = bundle.clone();
    without.collateral.clear();
    assert_eq!(
        check_of(verify_bundle(&without, &NONCE, &policy, at)),
        Check::Format
    );
}

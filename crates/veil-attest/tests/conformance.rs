//! The conformance table: every real vector runs the same cases and must be
//! refused by the same named checks. Adding a platform means adding a row.
//! (Each platform's own file has the cases only it can express.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Fixture, public_key_of, root_with_key_replaced};
use veil_attest::{
    AWS_NITRO_ROOT_DER, Check, Evidence, INTEL_SGX_ROOT_CA_DER, IntelTcbStatus, Measurement,
    NitroPolicy, PlatformKind, Policy, ReportData, SgxPolicy, TdxPolicy, TrustAnchors,
};
use x509_cert::der::{DecodePem, Encode};

/// One real vector and where to tamper with it.
struct Row {
    name: &'static str,
    fixture: Fixture,
    /// What verifying the untouched fixture gives: `None` = accepted; the
    /// Nitro vector has no Veil report data, so it stops at that check.
    untouched: Option<Check>,
    /// A byte of the signed body and one of the signature, in `report`.
    body_byte: usize,
    signature_byte: usize,
    /// The fixture with one byte of an endorsing certificate flipped.
    certificate_flipped: Fixture,
    /// Roots with the platform's root key replaced (None: pinned in the
    /// SEV-SNP module, covered by `refuses_ask_of_another_product_family`).
    wrong_anchors: Option<TrustAnchors>,
    /// Verification times just outside the validity of what endorses it.
    outside_validity: [u64; 2],
    /// Another measurement for the policy to pin.
    other_measurement: fn(&mut Policy),
}

fn tdx() -> Row {
    const QUOTE: &[u8] = include_bytes!("../testdata/tdx/tdx_quote");
    const COLLATERAL: &[u8] = include_bytes!("../testdata/tdx/tdx_quote_collateral.json");
    const NOW: u64 = 1_750_332_747;
    let mut evidence = Evidence::new(PlatformKind::Tdx, QUOTE.to_vec(), Vec::new());
    evidence.collateral = COLLATERAL.to_vec();
    let fixture = Fixture {
        evidence,
        report_data: ReportData(QUOTE[568..632].try_into().unwrap()),
        policy: Policy::tdx(TdxPolicy::new([
            Measurement::from_slice(&QUOTE[184..232]).unwrap()
        ])),
        now: NOW,
    };
    let pck = QUOTE.windows(11).position(|w| w == b"-----BEGIN ").unwrap() + 428;
    let mut certificate_flipped = fixture.clone();
    certificate_flipped.evidence.report[pck] ^= 0x02;
    Row {
        name: "tdx",
        untouched: None,
        body_byte: 184,
        signature_byte: 636,
        certificate_flipped,
        wrong_anchors: Some(intel_wrong_anchors(COLLATERAL)),
        outside_validity: [NOW - 10 * 86_400, NOW + 40 * 86_400],
        other_measurement: |p| p.tdx.as_mut().unwrap().mrtd = vec![Measurement::from([1; 48])],
        fixture,
    }
}

fn sgx() -> Row {
    const QUOTE: &[u8] = include_bytes!("../testdata/sgx/sgx_quote");
    const COLLATERAL: &[u8] = include_bytes!("../testdata/sgx/sgx_quote_collateral.json");
    const NOW: u64 = 1_750_334_171;
    let mut evidence = Evidence::new(PlatformKind::Sgx, QUOTE.to_vec(), Vec::new());
    evidence.collateral = COLLATERAL.to_vec();
    let mut sgx = SgxPolicy::new([Measurement::from_slice(&QUOTE[112..144]).unwrap()]);
    sgx.tcb_statuses = vec![IntelTcbStatus::ConfigurationAndSwHardeningNeeded];
    sgx.allowed_advisory_ids = vec!["INTEL-SA-00289".into(), "INTEL-SA-00615".into()];
    let fixture = Fixture {
        evidence,
        report_data: ReportData(QUOTE[368..432].try_into().unwrap()),
        policy: Policy::sgx(sgx),
        now: NOW,
    };
    let pck = QUOTE.windows(11).position(|w| w == b"-----BEGIN ").unwrap() + 428;
    let mut certificate_flipped = fixture.clone();
    certificate_flipped.evidence.report[pck] ^= 0x02;
    Row {
        name: "sgx",
        untouched: None,
        body_byte: 112,
        signature_byte: 436,
        certificate_flipped,
        wrong_anchors: Some(intel_wrong_anchors(COLLATERAL)),
        outside_validity: [NOW - 10 * 86_400, NOW + 40 * 86_400],
        other_measurement: |p| p.sgx.as_mut().unwrap().mrenclave = vec![Measurement::from([1; 32])],
        fixture,
    }
}

fn nitro() -> Row {
    const DOCUMENT: &[u8] = include_bytes!("../testdata/nitro/attestation_doc.cbor");
    const NOW: u64 = 1_694_102_161;
    let mut policy = Policy::nitro(NitroPolicy::new([Measurement::from([0; 48])]));
    policy.allow_debug = true; // the vector is a debug enclave
    let fixture = Fixture {
        evidence: Evidence::new(PlatformKind::Nitro, DOCUMENT.to_vec(), Vec::new()),
        report_data: ReportData([0; 64]),
        policy,
        now: NOW,
    };
    let leaf = DOCUMENT
        .windows(11)
        .position(|w| w == b"certificate")
        .unwrap()
        + 14;
    // cabundle[1]'s key: a valid P-384 key that is not the root's.
    let bundle = DOCUMENT.windows(8).position(|w| w == b"cabundle").unwrap() + 9;
    let root_len = usize::from(u16::from_be_bytes([
        DOCUMENT[bundle + 1],
        DOCUMENT[bundle + 2],
    ]));
    let first = bundle + 3 + root_len;
    let len = usize::from(u16::from_be_bytes([
        DOCUMENT[first + 1],
        DOCUMENT[first + 2],
    ]));
    let intermediate = &DOCUMENT[first + 3..first + 3 + len];
    Row {
        name: "nitro",
        untouched: Some(Check::ReportData),
        body_byte: DOCUMENT.windows(9).position(|w| w == b"module_id").unwrap() + 12,
        signature_byte: DOCUMENT.len() - 1,
        certificate_flipped: fixture.with_report_byte_flipped(leaf + 600),
        wrong_anchors: Some(
            TrustAnchors::pinned().with_nitro_root_der(root_with_key_replaced(
                AWS_NITRO_ROOT_DER,
                &public_key_of(intermediate),
            )),
        ),
        outside_validity: [NOW - 86_400, NOW + 86_400],
        other_measurement: |p| p.nitro.as_mut().unwrap().pcr0 = vec![Measurement::from([1; 48])],
        fixture,
    }
}

fn sev_snp_milan() -> Row {
    const REPORT_HEX: &str = include_str!("../testdata/sev-snp/report_milan.hex");
    const VCEK_DER: &[u8] = include_bytes!("../testdata/sev-snp/vcek_milan.der");
    const ASK_PEM: &[u8] = include_bytes!("../testdata/sev-snp/ask.pem");
    let report = hex::decode(REPORT_HEX.split_whitespace().collect::<String>()).unwrap();
    let ask = x509_cert::Certificate::from_pem(ASK_PEM)
        .unwrap()
        .to_der()
        .unwrap();
    let fixture = Fixture {
        report_data: ReportData(report[0x50..0x90].try_into().unwrap()),
        policy: Policy::sev_snp([Measurement::from_slice(&report[0x90..0xC0]).unwrap()]),
        evidence: Evidence::new(PlatformKind::SevSnp, report, vec![VCEK_DER.to_vec(), ask]),
        now: 1_704_067_200,
    };
    Row {
        name: "sev-snp (Milan)",
        untouched: None,
        body_byte: 0x90,
        signature_byte: 0x2A0,
        certificate_flipped: fixture.with_certificate_byte_flipped(0, 500),
        wrong_anchors: None,
        outside_validity: [1_680_549_823 - 1, 1_901_474_623 + 1],
        other_measurement: |p| p.measurements = vec![Measurement::from([1; 48])],
        fixture,
    }
}

fn intel_wrong_anchors(collateral: &[u8]) -> TrustAnchors {
    let json: serde_json::Value = serde_json::from_slice(collateral).unwrap();
    let chain = common::pem_chain_to_der(json["tcb_info_issuer_chain"].as_str().unwrap());
    TrustAnchors::pinned().with_intel_root_der(root_with_key_replaced(
        INTEL_SGX_ROOT_CA_DER,
        &public_key_of(&chain[0]),
    ))
}

fn table() -> [Row; 4] {
    [sev_snp_milan(), tdx(), sgx(), nitro()]
}

#[test]
fn every_vector_verifies_at_its_stated_time() {
    for row in table() {
        match (row.fixture.verify(), row.untouched) {
            (Ok(claims), None) => assert_eq!(claims.platform, row.fixture.evidence.platform),
            (Err(e), Some(check)) => assert_eq!(e.check, check, "{}: {e}", row.name),
            (result, expected) => panic!("{}: {result:?}, expected {expected:?}", row.name),
        }
    }
}

#[test]
fn every_vector_refuses_a_flipped_body_byte_as_signature() {
    for row in table() {
        let check = row
            .fixture
            .with_report_byte_flipped(row.body_byte)
            .refusal();
        assert_eq!(check, Check::Signature, "{}", row.name);
    }
}

#[test]
fn every_vector_refuses_a_flipped_signature_byte_as_signature() {
    for row in table() {
        let check = row
            .fixture
            .with_report_byte_flipped(row.signature_byte)
            .refusal();
        assert_eq!(check, Check::Signature, "{}", row.name);
    }
}

#[test]
fn every_vector_refuses_a_flipped_certificate_byte_as_chain() {
    for row in table() {
        assert_eq!(
            row.certificate_flipped.refusal(),
            Check::Chain,
            "{}",
            row.name
        );
    }
}

#[test]
fn every_vector_refuses_a_root_with_another_key_as_chain() {
    for row in table() {
        if let Some(anchors) = &row.wrong_anchors {
            assert_eq!(
                row.fixture.refusal_under(anchors),
                Check::Chain,
                "{}",
                row.name
            );
        }
    }
}

#[test]
fn every_vector_refuses_times_outside_validity_as_freshness() {
    for row in table() {
        for at in row.outside_validity {
            assert_eq!(
                row.fixture.at(at).refusal(),
                Check::Freshness,
                "{} at {at}",
                row.name
            );
        }
    }
}

#[test]
fn every_vector_refuses_a_policy_with_another_measurement() {
    for row in table() {
        let check = row.fixture.with_policy(row.other_measurement).refusal();
        assert_eq!(check, Check::Measurement, "{}", row.name);
    }
}

#[test]
fn every_vector_refuses_a_policy_for_another_platform() {
    for row in table() {
        let check = row
            .fixture
            .with_policy(|p| *p = Policy::insecure_simulation_any_measurement())
            .refusal();
        assert_eq!(check, Check::Platform, "{}", row.name);
    }
}

/// What a server uses to recognise replicas of itself: the policy pinning
/// its own evidence accepts that evidence, and still refuses it with another
/// measurement pinned or a flipped body byte.
#[test]
fn the_policy_pinning_a_vectors_own_evidence_accepts_it_and_nothing_changed() {
    for row in table() {
        let f = &row.fixture;
        let pinned = veil_attest::PinnedPolicy::of_own_evidence(&f.evidence, &f.report_data, f.now);
        let Some(expected) = row.untouched else {
            let pinned = pinned.unwrap_or_else(|e| panic!("{}: {e}", row.name));
            let own = f.with_policy(|p| *p = pinned.policy.clone());
            own.verify().unwrap_or_else(|e| panic!("{}: {e}", row.name));
            assert_eq!(
                own.with_report_byte_flipped(row.body_byte).refusal(),
                Check::Signature,
                "{}",
                row.name
            );
            assert_eq!(
                own.with_policy(row.other_measurement).refusal(),
                Check::Measurement,
                "{}",
                row.name
            );
            assert!(!pinned.policy.allow_simulation, "{}", row.name);
            continue;
        };
        // Evidence that does not verify without a policy pins nothing.
        assert_eq!(pinned.unwrap_err().check, expected, "{}", row.name);
    }
}

//! SEV-SNP Turin reports (family 1Ah: TCB layout with FMC, 8-byte hwID) and
//! VLEK-signed reports (VLEK → ASVK → ARK), on SYNTHETIC chains.
//!
//! No real Turin or VLEK evidence exists here. The chains in
//! `tests/data/synthetic-turin/` were made by its `make.sh` under a made-up
//! `ARK-Turin`, trusted only through `TrustAnchors::with_amd_ark_der`; the
//! tests build reports and sign them with the synthetic VCEK or VLEK key.
//! What this proves is that the verifier's Turin and VLEK checks do what
//! they say on certificates shaped like AMD's, not that real AMD evidence
//! of these kinds verifies.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use p384::ecdsa::signature::Signer;
use p384::ecdsa::{Signature, SigningKey};
use p384::pkcs8::DecodePrivateKey;
use veil_attest::{
    AttestationError, Check, Evidence, Measurement, PlatformKind, Policy, REPORT_LEN, ReportData,
    SIGNED_LEN, SnpSigningKey, TcbVersion, TrustAnchors, VerifiedClaims,
    verify_evidence_with_trust_anchors,
};

/// 2027-01-15: inside every synthetic certificate's validity (2026-12-01 … 2046-11-26).
const AT: u64 = 1_800_000_000;
/// The TCB the synthetic VCEK and VLEK are certified for, in the Turin
/// layout: FMC 1, bootloader 2, TEE 3, SNP 4, microcode 72.
const TURIN_TCB_BYTES: [u8; 8] = [1, 2, 3, 4, 0, 0, 0, 72];
const TURIN_TCB: TcbVersion = TcbVersion {
    fmc: Some(1),
    bootloader: 2,
    tee: 3,
    snp: 4,
    microcode: 72,
};
/// The synthetic VCEK's hwID: the first 8 bytes of the chip ID.
const HW_ID: [u8; 8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
const MEASUREMENT: [u8; 48] = [0x4d; 48];
const REPORT_DATA: [u8; 64] = [0x2a; 64];

/// Report offsets (AMD SEV-SNP ABI, ATTESTATION_REPORT).
mod at {
    pub const VERSION: usize = 0x000;
    pub const GUEST_POLICY: usize = 0x008;
    pub const SIGNATURE_ALGO: usize = 0x034;
    pub const CURRENT_TCB: usize = 0x038;
    pub const KEY_INFO: usize = 0x048;
    pub const REPORT_DATA: usize = 0x050;
    pub const MEASUREMENT: usize = 0x090;
    pub const REPORTED_TCB: usize = 0x180;
    pub const CPUID_FAM_ID: usize = 0x188;
    pub const CPUID_MOD_ID: usize = 0x189;
    pub const CHIP_ID: usize = 0x1A0;
    pub const COMMITTED_TCB: usize = 0x1E0;
    pub const LAUNCH_TCB: usize = 0x1F0;
    pub const SIGNATURE_R: usize = 0x2A0;
    pub const SIGNATURE_S: usize = 0x2E8;
}

fn data(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/synthetic-turin")
            .join(name),
    )
    .unwrap()
}

fn key(name: &str) -> SigningKey {
    SigningKey::from_pkcs8_der(&data(name)).unwrap()
}

/// Which key the report names (KEY_INFO.SIGNING_KEY) and signs with.
#[derive(Clone, Copy)]
enum Leaf {
    Vcek,
    Vlek,
}

/// An unsigned report: fields set, signature field zero.
#[derive(Clone)]
struct Body {
    version: u32,
    cpu_family: u8,
    selector: u32,
    reported_tcb: [u8; 8],
    chip_id: [u8; 64],
}

impl Body {
    /// A version-3 Turin report naming `signer`, at the certified TCB, from
    /// the VCEK's chip.
    fn turin(signer: Leaf) -> Self {
        let mut chip_id = [0x5c; 64];
        chip_id[..8].copy_from_slice(&HW_ID);
        Body {
            version: 3,
            cpu_family: 0x1A,
            selector: match signer {
                Leaf::Vcek => 0,
                Leaf::Vlek => 1,
            },
            reported_tcb: TURIN_TCB_BYTES,
            chip_id,
        }
    }

    fn encode(&self) -> Vec<u8> {
        let mut r = vec![0u8; REPORT_LEN];
        let mut put = |offset: usize, value: &[u8]| {
            r[offset..offset + value.len()].copy_from_slice(value);
        };
        put(at::VERSION, &self.version.to_le_bytes());
        put(at::GUEST_POLICY, &0x30000u64.to_le_bytes());
        put(at::SIGNATURE_ALGO, &1u32.to_le_bytes());
        put(at::KEY_INFO, &(self.selector << 2).to_le_bytes());
        put(at::REPORT_DATA, &REPORT_DATA);
        put(at::MEASUREMENT, &MEASUREMENT);
        for offset in [at::CURRENT_TCB, at::COMMITTED_TCB, at::LAUNCH_TCB] {
            put(offset, &TURIN_TCB_BYTES);
        }
        put(at::REPORTED_TCB, &self.reported_tcb);
        if self.version >= 3 {
            put(at::CPUID_FAM_ID, &[self.cpu_family]);
            put(at::CPUID_MOD_ID, &[0x02]);
        }
        put(at::CHIP_ID, &self.chip_id);
        r
    }

    /// The report signed by `key`: ECDSA P-384/SHA-384 over bytes
    /// `[0, 0x2A0)`, r and s little-endian in 72-byte fields.
    fn signed_by(&self, key: &SigningKey) -> Vec<u8> {
        let mut report = self.encode();
        let signature: Signature = key.sign(&report[..SIGNED_LEN]);
        let (r, s) = signature.split_bytes();
        for (offset, scalar) in [(at::SIGNATURE_R, r), (at::SIGNATURE_S, s)] {
            for (i, byte) in scalar.iter().rev().enumerate() {
                report[offset + i] = *byte;
            }
        }
        report
    }
}

/// Signed evidence, the anchors that trust the synthetic ARK, and a policy.
#[derive(Clone)]
struct Case {
    evidence: Evidence,
    anchors: TrustAnchors,
    policy: Policy,
    now: u64,
}

impl Case {
    /// `body` signed by `signer`'s key, with `signer`'s chain.
    fn new(body: &Body, signer: Leaf) -> Self {
        let (leaf, intermediate, key) = match signer {
            Leaf::Vcek => ("vcek.der", "ask.der", key("vcek.pk8.der")),
            Leaf::Vlek => ("vlek.der", "asvk.der", key("vlek.pk8.der")),
        };
        Case {
            evidence: Evidence::new(
                PlatformKind::SevSnp,
                body.signed_by(&key),
                vec![data(leaf), data(intermediate)],
            ),
            anchors: TrustAnchors::pinned().with_amd_ark_der(data("ark.der")),
            policy: Policy::sev_snp([Measurement::from(MEASUREMENT)]),
            now: AT,
        }
    }

    fn turin(signer: Leaf) -> Self {
        Case::new(&Body::turin(signer), signer)
    }

    fn verify(&self) -> Result<VerifiedClaims, AttestationError> {
        verify_evidence_with_trust_anchors(
            &self.evidence,
            &ReportData(REPORT_DATA),
            &self.policy,
            self.now,
            &self.anchors,
        )
    }

    /// The refusal; panics if the case verifies.
    fn refused(&self) -> AttestationError {
        match self.verify() {
            Ok(claims) => panic!("expected a refusal, got {claims:?}"),
            Err(e) => e,
        }
    }
}

/// Asserts `case` is refused by `check` with a detail containing `says`.
fn assert_refused(case: &Case, check: Check, says: &str) {
    let err = case.refused();
    assert_eq!(err.check, check, "{err}");
    assert!(err.detail.contains(says), "{err}");
}

#[test]
fn accepts_turin_vcek_signed_report_and_decodes_its_tcb_with_fmc() {
    let claims = Case::turin(Leaf::Vcek).verify().unwrap();
    assert_eq!(claims.measurement, Measurement::from(MEASUREMENT));
    assert!(!claims.simulated);
    let snp = claims.sev_snp().unwrap();
    assert_eq!(snp.reported_tcb, TURIN_TCB);
    assert_eq!(snp.current_tcb, TURIN_TCB);
    assert_eq!(snp.committed_tcb, TURIN_TCB);
    assert_eq!(snp.launch_tcb, TURIN_TCB);
    assert_eq!(snp.signing_key, Some(SnpSigningKey::Vcek));
    assert_eq!(snp.csp_id, None);
    assert_eq!(snp.report_version, 3);
    let json = serde_json::to_value(&claims).unwrap();
    assert_eq!(json["details"]["sev_snp"]["signing_key"], "vcek");
    assert_eq!(json["details"]["sev_snp"]["reported_tcb"]["fmc"], 1);
}

#[test]
fn accepts_turin_vlek_signed_report_and_names_its_cloud_provider() {
    let claims = Case::turin(Leaf::Vlek).verify().unwrap();
    let snp = claims.sev_snp().unwrap();
    assert_eq!(snp.reported_tcb, TURIN_TCB);
    assert_eq!(snp.signing_key, Some(SnpSigningKey::Vlek));
    assert_eq!(snp.csp_id.as_deref(), Some("synthetic-csp"));
}

#[test]
fn a_vlek_is_not_bound_to_a_chip_id() {
    // A VLEK has no hwID: any chip ID (here one the VCEK was not issued
    // for) is accepted, the TCB binding still applies.
    let mut body = Body::turin(Leaf::Vlek);
    body.chip_id = [0x77; 64];
    Case::new(&body, Leaf::Vlek).verify().unwrap();
}

#[test]
fn turin_hwid_is_the_first_8_bytes_of_the_chip_id() {
    // Bytes past the 8-byte hwID are not certified by a Turin VCEK.
    let mut body = Body::turin(Leaf::Vcek);
    body.chip_id[8..].fill(0x99);
    Case::new(&body, Leaf::Vcek).verify().unwrap();
    // A masked (all-zero) chip ID is not compared, as on Milan.
    body.chip_id = [0; 64];
    Case::new(&body, Leaf::Vcek).verify().unwrap();
}

#[test]
fn refuses_turin_vcek_of_another_chip_naming_the_hwid() {
    for at in [0, 7] {
        let mut body = Body::turin(Leaf::Vcek);
        body.chip_id[at] ^= 0x01;
        assert_refused(&Case::new(&body, Leaf::Vcek), Check::Chain, "hwID");
    }
}

#[test]
fn refuses_reported_tcb_other_than_the_certified_one_in_any_component_including_fmc() {
    // Turin layout: byte 0 FMC, 1 bootloader, 2 TEE, 3 SNP, 7 microcode.
    for (byte, component) in [
        (0, "fmc"),
        (1, "bootloader"),
        (2, "tee"),
        (3, "snp"),
        (7, "microcode"),
    ] {
        for signer in [Leaf::Vcek, Leaf::Vlek] {
            let mut body = Body::turin(signer);
            body.reported_tcb[byte] += 1;
            let err = Case::new(&body, signer).refused();
            assert_eq!(err.check, Check::Chain, "{component}: {err}");
            assert!(err.detail.contains("is certified for TCB fmc=1"), "{err}");
        }
    }
}

#[test]
fn refuses_vlek_chain_for_a_report_that_names_the_vcek() {
    // The report's KEY_INFO says VCEK; the chain and the signature are the VLEK's.
    let body = Body::turin(Leaf::Vcek);
    let mut case = Case::new(&body, Leaf::Vlek);
    case.evidence.report = body.signed_by(&key("vlek.pk8.der"));
    assert_refused(
        &case,
        Check::Chain,
        "must be the Turin ASK (SEV-Turin), not SEV-VLEK-Turin",
    );
}

#[test]
fn refuses_vcek_chain_for_a_report_that_names_the_vlek() {
    let body = Body::turin(Leaf::Vlek);
    let mut case = Case::new(&body, Leaf::Vcek);
    case.evidence.report = body.signed_by(&key("vcek.pk8.der"));
    assert_refused(
        &case,
        Check::Chain,
        "must be the Turin ASVK (SEV-VLEK-Turin), not SEV-Turin",
    );
}

#[test]
fn refuses_vlek_leaf_under_the_ask_and_vcek_leaf_under_the_asvk() {
    // Right intermediate for the selector, wrong leaf role.
    let mut case = Case::turin(Leaf::Vcek);
    case.evidence.certificates[0] = data("vlek.der");
    assert_refused(
        &case,
        Check::Chain,
        "the leaf must be a SEV-VCEK, not SEV-VLEK",
    );
    let mut case = Case::turin(Leaf::Vlek);
    case.evidence.certificates[0] = data("vcek.der");
    assert_refused(
        &case,
        Check::Chain,
        "the leaf must be a SEV-VLEK, not SEV-VCEK",
    );
}

#[test]
fn refuses_an_unknown_signing_key_selector() {
    for selector in [2, 7] {
        let mut body = Body::turin(Leaf::Vcek);
        body.selector = selector;
        assert_refused(
            &Case::new(&body, Leaf::Vcek),
            Check::Chain,
            &format!("signing key selector {selector}"),
        );
    }
}

#[test]
fn refuses_asvk_from_another_root() {
    let mut case = Case::turin(Leaf::Vlek);
    case.evidence.certificates[1] = data("other_asvk.der");
    assert_refused(
        &case,
        Check::Chain,
        "the ASVK is not signed by the Turin ARK",
    );
}

#[test]
fn refuses_synthetic_chain_under_the_pinned_amd_roots() {
    // Without the override only AMD's ARKs are trusted: the synthetic ASK
    // names ARK-Turin but AMD's ARK-Turin did not sign it.
    for signer in [Leaf::Vcek, Leaf::Vlek] {
        let mut case = Case::turin(signer);
        case.anchors = TrustAnchors::pinned();
        assert_eq!(case.refused().check, Check::Chain);
    }
}

#[test]
fn refuses_a_supplied_ark_other_than_the_trusted_one() {
    let mut case = Case::turin(Leaf::Vcek);
    case.evidence.certificates.push(data("other_ark.der"));
    assert_refused(&case, Check::Chain, "supplied ARK");
    let mut case = Case::turin(Leaf::Vcek);
    case.evidence.certificates.push(data("ark.der"));
    case.verify().unwrap();
}

#[test]
fn refuses_flipped_signature_byte_and_flipped_body_byte() {
    for signer in [Leaf::Vcek, Leaf::Vlek] {
        for at in [at::SIGNATURE_R, at::SIGNATURE_S + 47, at::MEASUREMENT] {
            let mut case = Case::turin(signer);
            case.evidence.report[at] ^= 0x01;
            assert_eq!(case.refused().check, Check::Signature, "flip at {at:#x}");
        }
    }
}

#[test]
fn refuses_flipped_byte_in_each_certificate() {
    for signer in [Leaf::Vcek, Leaf::Vlek] {
        for certificate in 0..2 {
            let mut case = Case::turin(signer);
            let der = &mut case.evidence.certificates[certificate];
            // The last byte is part of the issuer's RSA-PSS signature.
            let last = der.len() - 1;
            der[last] ^= 0x01;
            assert_refused(&case, Check::Chain, "is not signed by");
        }
    }
}

#[test]
fn refuses_version_2_report_on_a_turin_chain() {
    // Version 2 carries no CPUID, so its TCB would be read in the
    // Milan/Genoa layout: on a Turin chain that is refused, not guessed.
    for signer in [Leaf::Vcek, Leaf::Vlek] {
        let mut body = Body::turin(signer);
        body.version = 2;
        assert_refused(
            &Case::new(&body, signer),
            Check::Chain,
            "version 2, which carries no CPUID",
        );
    }
}

#[test]
fn refuses_family_19h_report_on_a_turin_chain() {
    let mut body = Body::turin(Leaf::Vcek);
    body.cpu_family = 0x19;
    assert_refused(
        &Case::new(&body, Leaf::Vcek),
        Check::Chain,
        "CPU family 0x19",
    );
}

#[test]
fn refuses_turin_report_outside_certificate_validity() {
    for now in [1_700_000_000, 2_500_000_000] {
        let mut case = Case::turin(Leaf::Vlek);
        case.now = now;
        assert_eq!(case.refused().check, Check::Freshness);
    }
}

#[test]
fn min_tcb_fmc_is_checked_against_turin_evidence() {
    let mut case = Case::turin(Leaf::Vcek);
    case.policy.min_tcb = Some(TURIN_TCB);
    case.verify().unwrap();
    case.policy.min_tcb = Some(TcbVersion {
        fmc: Some(2),
        ..TURIN_TCB
    });
    assert_refused(&case, Check::Tcb, "fmc=1");
    // A floor without fmc does not look at it.
    case.policy.min_tcb = Some(TcbVersion {
        fmc: None,
        ..TURIN_TCB
    });
    case.verify().unwrap();
}

#[test]
fn policy_signing_keys_can_require_the_vcek() {
    let vcek_only = |mut case: Case| {
        case.policy = Policy::from_toml_str(&format!(
            "platforms = [\"sev-snp\"]\nmeasurements = [\"{}\"]\nsigning_keys = [\"vcek\"]\n",
            Measurement::from(MEASUREMENT)
        ))
        .unwrap();
        case
    };
    vcek_only(Case::turin(Leaf::Vcek)).verify().unwrap();
    assert_refused(
        &vcek_only(Case::turin(Leaf::Vlek)),
        Check::Chain,
        "signing_keys",
    );
}

#[test]
fn refuses_turin_family_report_on_amds_real_milan_chain() {
    // The real Milan vector relabelled as a version-3 family-1Ah report: its
    // TCB would be read in Turin's layout, which the Milan chain does not
    // certify. Refused before the (now broken) signature is looked at.
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/sev-snp");
    let hex: String = std::fs::read_to_string(testdata.join("report_milan.hex"))
        .unwrap()
        .split_whitespace()
        .collect();
    let mut report = hex::decode(hex).unwrap();
    report[at::VERSION..at::VERSION + 4].copy_from_slice(&3u32.to_le_bytes());
    report[at::CPUID_FAM_ID] = 0x1A;
    let ask = veil_attest::decode_certificates(sev::certs::snp::builtin::milan::ASK)
        .unwrap()
        .remove(0);
    let evidence = Evidence::new(
        PlatformKind::SevSnp,
        report,
        vec![std::fs::read(testdata.join("vcek_milan.der")).unwrap(), ask],
    );
    let err = veil_attest::verify_evidence_without_policy(
        &evidence,
        None,
        false,
        1_704_067_200,
        &TrustAnchors::pinned(),
    )
    .unwrap_err();
    assert_eq!(err.check, Check::Chain, "{err}");
    assert!(
        err.detail
            .contains("the chain is Milan's, but the report says CPU family 0x1a"),
        "{err}"
    );
}

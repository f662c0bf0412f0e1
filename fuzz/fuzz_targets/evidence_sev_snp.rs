//! AMD SEV-SNP evidence through `verify_evidence`, with the Milan vector's
//! certificates, a policy pinning its measurement, and a time inside the
//! VCEK's validity. The first byte chooses what the rest replaces: 0 = the
//! report, 1 = the VCEK (DER), 2 = the ASK (DER), 3 = the input helpers of
//! `veil verify` (report hex, certificate files, platform detection).
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use veil_attest::{Evidence, Measurement, PlatformKind, Policy, ReportData, verify_evidence};

const REPORT_HEX: &[u8] =
    include_bytes!("../../crates/veil-attest/testdata/sev-snp/report_milan.hex");
const VCEK_DER: &[u8] = include_bytes!("../../crates/veil-attest/testdata/sev-snp/vcek_milan.der");
const ASK_PEM: &[u8] = include_bytes!("../../crates/veil-attest/testdata/sev-snp/ask.pem");
/// 2024-01-01, inside the VCEK's validity.
const NOW: u64 = 1_704_067_200;
const MEASUREMENT_OFFSET: usize = 0x90;
const REPORT_DATA_OFFSET: usize = 0x50;

struct Fixture {
    evidence: Evidence,
    report_data: ReportData,
    policy: Policy,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let report = veil_attest::decode_snp_report(REPORT_HEX).expect("the vector's hex");
    let ask = veil_attest::decode_certificates(ASK_PEM).expect("the vector's ASK");
    let measurement = Measurement::from_slice(&report[MEASUREMENT_OFFSET..MEASUREMENT_OFFSET + 48])
        .expect("48 bytes");
    let report_data = ReportData(
        report[REPORT_DATA_OFFSET..REPORT_DATA_OFFSET + 64]
            .try_into()
            .expect("64 bytes"),
    );
    let mut certificates = vec![VCEK_DER.to_vec()];
    certificates.extend(ask);
    Fixture {
        evidence: Evidence::new(PlatformKind::SevSnp, report, certificates),
        report_data,
        policy: Policy::sev_snp([measurement]),
    }
});

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let f = &*FIXTURE;
    let mut evidence = f.evidence.clone();
    match mode % 4 {
        0 => evidence.report = rest.to_vec(),
        1 => evidence.certificates[0] = rest.to_vec(),
        2 => evidence.certificates[1] = rest.to_vec(),
        _ => {
            let _ = veil_attest::decode_snp_report(rest);
            let _ = veil_attest::decode_certificates(rest);
            let _ = veil_attest::detect_platform(rest);
            return;
        }
    }
    let _ = verify_evidence(&evidence, &f.report_data, &f.policy, NOW);
});

//! Intel TDX evidence (DCAP quote v4/v5 + PCS collateral JSON) through
//! `verify_evidence`, with a policy pinning the vector's MRTD and a time
//! inside its collateral's windows. The first byte chooses what the rest
//! replaces: 0 = the quote, 1 = the collateral, 2 = the quote-trimming
//! input helper of `veil verify`.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use veil_attest::{
    Evidence, Measurement, PlatformKind, Policy, ReportData, TdxPolicy, verify_evidence,
};

const QUOTE: &[u8] = include_bytes!("../../crates/veil-attest/testdata/tdx/tdx_quote");
const COLLATERAL: &[u8] =
    include_bytes!("../../crates/veil-attest/testdata/tdx/tdx_quote_collateral.json");
/// Inside the vector's TCB info, QE identity and CRL windows.
const NOW: u64 = 1_750_332_747;
const MRTD: usize = 48 + 136;
const REPORT_DATA: usize = 48 + 520;

static POLICY: LazyLock<Policy> = LazyLock::new(|| {
    Policy::tdx(TdxPolicy::new([Measurement::from_slice(
        &QUOTE[MRTD..MRTD + 48],
    )
    .expect("48 bytes")]))
});

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut evidence = Evidence::new(PlatformKind::Tdx, QUOTE.to_vec(), Vec::new());
    evidence.collateral = COLLATERAL.to_vec();
    match mode % 3 {
        0 => evidence.report = rest.to_vec(),
        1 => evidence.collateral = rest.to_vec(),
        _ => {
            let _ = veil_attest::trim_dcap_quote(rest);
            let _ = veil_attest::detect_platform(rest);
            return;
        }
    }
    let report_data = ReportData(
        QUOTE[REPORT_DATA..REPORT_DATA + 64]
            .try_into()
            .expect("64 bytes"),
    );
    let _ = verify_evidence(&evidence, &report_data, &POLICY, NOW);
});

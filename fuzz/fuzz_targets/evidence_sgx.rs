//! Intel SGX evidence (DCAP quote v3 + PCS collateral JSON) through
//! `verify_evidence`, with a policy pinning the vector's MRENCLAVE and
//! accepting its TCB status and advisories, at a time inside its
//! collateral's windows. The first byte chooses what the rest replaces:
//! 0 = the quote, 1 = the collateral.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use veil_attest::{
    Evidence, IntelTcbStatus, Measurement, PlatformKind, Policy, ReportData, SgxPolicy,
    verify_evidence,
};

const QUOTE: &[u8] = include_bytes!("../../crates/veil-attest/testdata/sgx/sgx_quote");
const COLLATERAL: &[u8] =
    include_bytes!("../../crates/veil-attest/testdata/sgx/sgx_quote_collateral.json");
const NOW: u64 = 1_750_334_171;
const MRENCLAVE: usize = 48 + 64;
const REPORT_DATA: usize = 48 + 320;

static POLICY: LazyLock<Policy> = LazyLock::new(|| {
    let mut sgx = SgxPolicy::new([
        Measurement::from_slice(&QUOTE[MRENCLAVE..MRENCLAVE + 32]).expect("32 bytes")
    ]);
    sgx.tcb_statuses = vec![IntelTcbStatus::ConfigurationAndSwHardeningNeeded];
    sgx.allowed_advisory_ids = vec!["INTEL-SA-00289".into(), "INTEL-SA-00615".into()];
    Policy::sgx(sgx)
});

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut evidence = Evidence::new(PlatformKind::Sgx, QUOTE.to_vec(), Vec::new());
    evidence.collateral = COLLATERAL.to_vec();
    match mode % 2 {
        0 => evidence.report = rest.to_vec(),
        _ => evidence.collateral = rest.to_vec(),
    }
    let report_data = ReportData(
        QUOTE[REPORT_DATA..REPORT_DATA + 64]
            .try_into()
            .expect("64 bytes"),
    );
    let _ = verify_evidence(&evidence, &report_data, &POLICY, NOW);
});

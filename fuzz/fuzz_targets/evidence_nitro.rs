//! AWS Nitro evidence (a COSE_Sign1 attestation document over CBOR, its
//! certificate chain inside) through `verify_evidence`, with a policy
//! listing the platform and a time inside the vector's leaf validity. The
//! input is the document.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use veil_attest::{
    Evidence, Measurement, NitroPolicy, PlatformKind, Policy, ReportData, verify_evidence,
};

/// The vector document's own timestamp (2023-09-07).
const NOW: u64 = 1_694_102_161;

static POLICY: LazyLock<Policy> = LazyLock::new(|| {
    let mut policy = Policy::nitro(NitroPolicy::new([Measurement::from([0; 48])]));
    policy.allow_debug = true;
    policy
});

fuzz_target!(|data: &[u8]| {
    let evidence = Evidence::new(PlatformKind::Nitro, data.to_vec(), Vec::new());
    let _ = verify_evidence(&evidence, &ReportData([0; 64]), &POLICY, NOW);
});

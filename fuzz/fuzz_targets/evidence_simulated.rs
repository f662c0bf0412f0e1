//! Simulated evidence (the SEV-SNP report format signed by a server key),
//! through `verify_evidence` with a policy that allows simulation. The
//! input is the report; the signing key is fixed for the run. The first
//! byte chooses: 0 = fuzz the report, 1 = fuzz the key certificate.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use veil_attest::{
    Evidence, EvidenceProducer, Measurement, Policy, ReportData, SimulatedProducer, verify_evidence,
};

const NOW: u64 = 1_750_000_000;
const REPORT_DATA: ReportData = ReportData([0x17; 64]);

static EVIDENCE: LazyLock<Evidence> = LazyLock::new(|| {
    SimulatedProducer::generate(Measurement::from_sha384([0x42; 48]))
        .produce(&REPORT_DATA)
        .expect("the simulated producer signs")
});

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut evidence = EVIDENCE.clone();
    match mode % 2 {
        0 => evidence.report = rest.to_vec(),
        _ => evidence.certificates = vec![rest.to_vec()],
    }
    let policy = Policy::insecure_simulation_any_measurement();
    let _ = verify_evidence(&evidence, &REPORT_DATA, &policy, NOW);
    let _ = veil_attest::decode_snp_report(rest);
});

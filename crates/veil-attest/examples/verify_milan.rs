//! Verifies the real Milan SEV-SNP vector from `testdata/` and times it.
//!
//! `cargo run -p veil-attest --release --example verify_milan`

use std::time::Instant;

use veil_attest::{Evidence, Measurement, PlatformKind, Policy, ReportData, verify_evidence};
use x509_cert::Certificate;
use x509_cert::der::{DecodePem, Encode};

const REPORT_HEX: &str = include_str!("../testdata/sev-snp/report_milan.hex");
const VCEK_DER: &[u8] = include_bytes!("../testdata/sev-snp/vcek_milan.der");
const ASK_PEM: &[u8] = include_bytes!("../testdata/sev-snp/ask.pem");
/// 2024-01-01, inside the VCEK's validity.
const NOW_UNIX: u64 = 1_704_067_200;
const ROUNDS: usize = 200;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let report = hex::decode(REPORT_HEX.split_whitespace().collect::<String>())?;
    let ask = Certificate::from_pem(ASK_PEM)?.to_der()?;
    let evidence = Evidence::new(PlatformKind::SevSnp, report, vec![VCEK_DER.to_vec(), ask]);
    // This vector's report data and measurement; a real client computes the
    // former from its nonce and reads the latter from its policy file.
    let report_data = ReportData::from_hex(
        "d447b55d197491bfe15cf298f9de9986b7a7c4be2468b4f6e2d53b71d7c64581\
         0b0f2cdfca0040433be063fc1a8293f0f3f8dae7b79fecb3d1cd82bd6a93ebfd",
    )?;
    let measurement: Measurement = "7a1e5c266c0108dbc9bb94fa926951320940915d\
         0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f"
        .parse()?;
    let policy = Policy::sev_snp([measurement]);

    let claims = verify_evidence(&evidence, &report_data, &policy, NOW_UNIX)?;
    println!("verified: {claims:?}");

    let mut times = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let start = Instant::now();
        verify_evidence(&evidence, &report_data, &policy, NOW_UNIX)?;
        times.push(start.elapsed());
    }
    times.sort();
    println!(
        "verify_evidence over {ROUNDS} rounds: median {:?}, min {:?}, max {:?}",
        times[ROUNDS / 2],
        times[0],
        times[ROUNDS - 1]
    );
    Ok(())
}

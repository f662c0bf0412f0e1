//! Reading fields out of the kernel's `outblob` by the platforms' published
//! offsets — for the producer's own consistency check and for the operator's
//! log, never as a verification: a client verifies the signed report.

use veil_attest::{Measurement, PlatformKind, REPORT_LEN};

/// SEV-SNP report (AMD SEV-SNP ABI, `ATTESTATION_REPORT`).
const SNP_REPORT_DATA: usize = 0x50;
const SNP_MEASUREMENT: usize = 0x90;

/// TDX quote: a 48-byte header, then (v5 only) a 2-byte body type and a
/// 4-byte body size, then the TD report body, whose MRTD sits at 136 and
/// REPORTDATA at 520.
const TDX_HEADER: usize = 48;
const TDX_V5_BODY_PREFIX: usize = 6;
const TDX_MRTD: usize = 136;
const TDX_REPORT_DATA: usize = 520;

/// SGX quote v3: a 48-byte header, then the enclave report body, whose
/// MRENCLAVE sits at 64 and REPORTDATA at 320.
const SGX_HEADER: usize = 48;
const SGX_MRENCLAVE: usize = 64;
const SGX_REPORT_DATA: usize = 320;

fn tdx_body_start(quote: &[u8]) -> Option<usize> {
    let version = u16::from_le_bytes(quote.get(..2)?.try_into().ok()?);
    match version {
        4 => Some(TDX_HEADER),
        5 => Some(TDX_HEADER + TDX_V5_BODY_PREFIX),
        _ => None,
    }
}

fn field<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// The 64 bytes of report data an `outblob` carries, if `platform` has a
/// known layout and the blob is long enough. Unverified.
pub fn outblob_report_data(platform: PlatformKind, outblob: &[u8]) -> Option<[u8; 64]> {
    match platform {
        PlatformKind::SevSnp if outblob.len() == REPORT_LEN => field(outblob, SNP_REPORT_DATA),
        PlatformKind::Tdx => field(outblob, tdx_body_start(outblob)? + TDX_REPORT_DATA),
        PlatformKind::Sgx => field(outblob, SGX_HEADER + SGX_REPORT_DATA),
        _ => None,
    }
}

/// The measurement an `outblob` claims (SEV-SNP MEASUREMENT, TDX MRTD, SGX
/// MRENCLAVE), for
/// the operator's log and policy. Unverified: it is what the hardware
/// report *says*; only a client's verification makes it a fact.
pub fn unverified_measurement(platform: PlatformKind, outblob: &[u8]) -> Option<Measurement> {
    let bytes: [u8; 48] = match platform {
        PlatformKind::SevSnp if outblob.len() == REPORT_LEN => field(outblob, SNP_MEASUREMENT)?,
        PlatformKind::Tdx => field(outblob, tdx_body_start(outblob)? + TDX_MRTD)?,
        PlatformKind::Sgx => {
            let mrenclave: [u8; 32] = field(outblob, SGX_HEADER + SGX_MRENCLAVE)?;
            return Measurement::from_slice(&mrenclave).ok();
        }
        _ => return None,
    };
    Some(Measurement::from(bytes))
}

//! The simulated platform's measurement: SHA-384 of the running executable.

use sha2::{Digest, Sha384};
use veil_attest::Measurement;

/// Hashes the executable this process runs from.
pub fn executable_measurement() -> std::io::Result<Measurement> {
    let exe = std::env::current_exe()?;
    let mut file = std::fs::File::open(exe)?;
    let mut h = Sha384::new();
    std::io::copy(&mut file, &mut h)?;
    Ok(Measurement::from_sha384(h.finalize().into()))
}

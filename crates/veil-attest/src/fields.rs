//! The fixed-size values a report carries and a policy pins: report data,
//! measurement, TCB version. Newtypes, so that one is never passed for another.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha384};

use crate::error::{AttestationError, Check};
use crate::product::TcbLayout;

/// The 64 bytes of caller-chosen data the hardware signs into a report.
///
/// Veil puts a hash of the serving key and the client's nonce here; that is
/// what binds the key to the attested code.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ReportData(pub [u8; 64]);

impl ReportData {
    /// Lowercase hex, 128 characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses exactly 128 hex characters.
    pub fn from_hex(s: &str) -> Result<Self, AttestationError> {
        decode_fixed_hex(s, "report data").map(ReportData)
    }
}

impl fmt::Debug for ReportData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReportData({})", self.to_hex())
    }
}

impl Serialize for ReportData {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for ReportData {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        ReportData::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// A launch digest: which code is running. This is what a policy pins.
///
/// Platform-neutral: SEV-SNP `MEASUREMENT`, TDX `MRTD` and `RTMR`s and Nitro
/// `PCR`s are 48-byte SHA-384 digests, SGX `MRENCLAVE`/`MRSIGNER` are
/// 32-byte SHA-256 digests. Displays and parses as lowercase hex (96 or 64
/// characters); two measurements of different lengths are never equal.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Measurement {
    /// The digest, zero-padded past `len` (so derived equality is exact).
    bytes: [u8; 48],
    len: u8,
}

impl Measurement {
    /// SHA-384 of `bytes`: the measurement the simulated platform reports for
    /// a server executable.
    pub fn sha384_of(bytes: &[u8]) -> Self {
        let digest: [u8; 48] = Sha384::digest(bytes).into();
        Measurement::from(digest)
    }

    /// A 48-byte (SHA-384) measurement, usable in `const` items.
    pub const fn from_sha384(bytes: [u8; 48]) -> Self {
        Measurement { bytes, len: 48 }
    }

    /// A measurement from a 32- or 48-byte digest; any other length is refused.
    pub fn from_slice(digest: &[u8]) -> Result<Self, AttestationError> {
        match digest.len() {
            32 | 48 => {
                let mut bytes = [0u8; 48];
                bytes[..digest.len()].copy_from_slice(digest);
                Ok(Measurement {
                    bytes,
                    // 32 or 48: always fits.
                    len: digest.len() as u8,
                })
            }
            n => Err(AttestationError::new(
                Check::Format,
                format!("a measurement is 32 or 48 bytes, not {n}"),
            )),
        }
    }

    /// The digest bytes (32 or 48 of them).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Whether every byte is zero (Nitro debug enclaves report all-zero PCRs).
    pub fn is_zero(&self) -> bool {
        self.as_bytes().iter().all(|b| *b == 0)
    }
}

impl From<[u8; 48]> for Measurement {
    fn from(bytes: [u8; 48]) -> Self {
        Measurement::from_sha384(bytes)
    }
}

impl From<[u8; 32]> for Measurement {
    fn from(digest: [u8; 32]) -> Self {
        let mut bytes = [0u8; 48];
        bytes[..32].copy_from_slice(&digest);
        Measurement { bytes, len: 32 }
    }
}

impl fmt::Display for Measurement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.as_bytes()))
    }
}

impl fmt::Debug for Measurement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Measurement({self})")
    }
}

impl FromStr for Measurement {
    type Err = AttestationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = hex::decode(s).map_err(|e| {
            AttestationError::new(
                Check::Format,
                format!("a measurement must be 64 or 96 hex characters: {e}"),
            )
        })?;
        Measurement::from_slice(&bytes)
    }
}

impl Serialize for Measurement {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Measurement {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The security version numbers of the platform's firmware components, as
/// a SEV-SNP `TCB_VERSION` carries them (decoded per CPU family: see
/// [`TcbLayout`]).
///
/// A policy floor is compared componentwise: every component must be at
/// least the floor's; a floor with an `fmc` also requires the evidence to
/// have one (Turin).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcbVersion {
    /// SVN of the FMC (first mutable code of the PSP), Turin (family 1Ah)
    /// only; `None` for Milan and Genoa, whose TCB has no FMC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fmc: Option<u8>,
    /// SVN of the PSP bootloader.
    pub bootloader: u8,
    /// SVN of the PSP operating system (TEE).
    pub tee: u8,
    /// SVN of the SNP firmware.
    pub snp: u8,
    /// Lowest patch level of all cores' microcode.
    pub microcode: u8,
}

impl TcbVersion {
    /// Decodes an 8-byte `TCB_VERSION` laid out as `layout` says; reserved
    /// bytes are not read.
    pub fn decode(layout: TcbLayout, bytes: [u8; 8]) -> Self {
        match layout {
            TcbLayout::MilanGenoa => TcbVersion {
                fmc: None,
                bootloader: bytes[0],
                tee: bytes[1],
                snp: bytes[6],
                microcode: bytes[7],
            },
            TcbLayout::Turin => TcbVersion {
                fmc: Some(bytes[0]),
                bootloader: bytes[1],
                tee: bytes[2],
                snp: bytes[3],
                microcode: bytes[7],
            },
        }
    }

    /// Encodes the 8-byte `TCB_VERSION` in `layout`, reserved bytes zero.
    /// The Milan/Genoa layout has no FMC byte, so `fmc` is not encoded
    /// there; the Turin layout encodes a missing `fmc` as 0.
    pub fn encode(self, layout: TcbLayout) -> [u8; 8] {
        match layout {
            TcbLayout::MilanGenoa => [
                self.bootloader,
                self.tee,
                0,
                0,
                0,
                0,
                self.snp,
                self.microcode,
            ],
            TcbLayout::Turin => [
                self.fmc.unwrap_or(0),
                self.bootloader,
                self.tee,
                self.snp,
                0,
                0,
                0,
                self.microcode,
            ],
        }
    }

    /// Whether every component is at least `floor`'s. A floor's `fmc`, when
    /// set, is met only by a TCB that has an FMC at least that high.
    pub fn meets(&self, floor: &TcbVersion) -> bool {
        let fmc_meets = match (floor.fmc, self.fmc) {
            (None, _) => true,
            (Some(min), Some(fmc)) => fmc >= min,
            (Some(_), None) => false,
        };
        fmc_meets
            && self.bootloader >= floor.bootloader
            && self.tee >= floor.tee
            && self.snp >= floor.snp
            && self.microcode >= floor.microcode
    }
}

impl fmt::Display for TcbVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(fmc) = self.fmc {
            write!(f, "fmc={fmc} ")?;
        }
        write!(
            f,
            "bootloader={} tee={} snp={} microcode={}",
            self.bootloader, self.tee, self.snp, self.microcode
        )
    }
}

/// Serialises bytes as a lowercase hex string (for fixed arrays serde lacks).
pub(crate) fn serialize_hex<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&hex::encode(bytes))
}

fn decode_fixed_hex<const N: usize>(s: &str, what: &str) -> Result<[u8; N], AttestationError> {
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).map_err(|e| {
        AttestationError::new(
            Check::Format,
            format!("{what} must be {} hex characters: {e}", 2 * N),
        )
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measurement_hex_round_trips() {
        let m = Measurement::from([0xab; 48]);
        let s = m.to_string();
        assert_eq!(s.len(), 96);
        assert_eq!(s.parse::<Measurement>().unwrap(), m);
        assert_eq!(s.to_uppercase().parse::<Measurement>().unwrap(), m);
        let short = Measurement::from([0xab; 32]);
        assert_eq!(short.to_string().len(), 64);
        assert_eq!(short.to_string().parse::<Measurement>().unwrap(), short);
        assert_ne!(short, m);
    }

    #[test]
    fn measurement_of_wrong_length_or_alphabet_is_refused() {
        assert!("ab".parse::<Measurement>().is_err());
        assert!("zz".repeat(48).parse::<Measurement>().is_err());
        assert!("ab".repeat(49).parse::<Measurement>().is_err());
        assert!("ab".repeat(40).parse::<Measurement>().is_err());
    }

    #[test]
    fn report_data_hex_round_trips() {
        let rd = ReportData([7; 64]);
        assert_eq!(ReportData::from_hex(&rd.to_hex()).unwrap(), rd);
        assert!(ReportData::from_hex("07").is_err());
    }

    #[test]
    fn tcb_layout_round_trips_and_floor_is_componentwise() {
        let t = TcbVersion {
            fmc: None,
            bootloader: 3,
            tee: 0,
            snp: 8,
            microcode: 115,
        };
        let layout = TcbLayout::MilanGenoa;
        assert_eq!(TcbVersion::decode(layout, t.encode(layout)), t);
        assert_eq!(t.encode(layout), [3, 0, 0, 0, 0, 0, 8, 115]);
        assert!(t.meets(&t));
        assert!(t.meets(&TcbVersion::default()));
        assert!(!t.meets(&TcbVersion {
            tee: 1,
            ..TcbVersion::default()
        }));
    }

    #[test]
    fn turin_layout_puts_fmc_first_and_snp_at_byte_3() {
        let bytes = [1, 2, 3, 4, 0, 0, 0, 72];
        let t = TcbVersion::decode(TcbLayout::Turin, bytes);
        assert_eq!(
            t,
            TcbVersion {
                fmc: Some(1),
                bootloader: 2,
                tee: 3,
                snp: 4,
                microcode: 72,
            }
        );
        assert_eq!(t.encode(TcbLayout::Turin), bytes);
        assert_eq!(t.to_string(), "fmc=1 bootloader=2 tee=3 snp=4 microcode=72");
        // The same bytes read as Milan/Genoa mean something else entirely.
        assert_eq!(TcbVersion::decode(TcbLayout::MilanGenoa, bytes).snp, 0);
    }

    #[test]
    fn a_floor_with_fmc_needs_an_fmc_at_least_as_high() {
        let floor = TcbVersion {
            fmc: Some(2),
            ..TcbVersion::default()
        };
        let turin = |fmc| TcbVersion {
            fmc,
            ..TcbVersion::default()
        };
        assert!(turin(Some(2)).meets(&floor));
        assert!(!turin(Some(1)).meets(&floor));
        assert!(!turin(None).meets(&floor), "a Milan TCB has no FMC");
        assert!(turin(Some(0)).meets(&TcbVersion::default()));
    }
}

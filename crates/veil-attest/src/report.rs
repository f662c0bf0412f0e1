//! The SEV-SNP attestation report byte layout (AMD SEV-SNP ABI specification,
//! table "ATTESTATION_REPORT"): parsing the fields the verifier uses, and
//! encoding the reports the simulated platform signs.
//!
//! Only what verification needs is read. Versions 2, 3 and 5 share the
//! offsets of every field read here. The TCB fields are decoded in the
//! layout of the report's CPU family (`CPUID_FAM_ID`, from version 3): 19h
//! (Milan, Genoa) or 1Ah (Turin); other families are refused. Version 2
//! carries no CPUID and is decoded in the Milan/Genoa layout; the verifier
//! refuses such a report on a Turin chain.

use crate::error::{AttestationError, Check};
use crate::fields::{Measurement, ReportData, TcbVersion};
use crate::product::TcbLayout;

/// Length of an attestation report.
pub const REPORT_LEN: usize = 0x4A0;
/// The signature covers bytes `[0, SIGNED_LEN)`.
pub const SIGNED_LEN: usize = 0x2A0;
/// `SIGNATURE_ALGO` value for ECDSA P-384 with SHA-384.
pub const SIGNATURE_ALGO_ECDSA_P384_SHA384: u32 = 1;
/// Guest policy bit 19: the guest may be debugged by the hypervisor.
pub const POLICY_DEBUG_BIT: u64 = 1 << 19;

/// Report versions whose fields sit where this module reads them.
const SUPPORTED_VERSIONS: [u32; 3] = [2, 3, 5];
/// The first version whose reports carry `CPUID_FAM_ID` and `CPUID_MOD_ID`.
const FIRST_VERSION_WITH_CPUID: u32 = 3;

/// Byte offsets of the fields used here.
pub(crate) mod offset {
    pub const VERSION: usize = 0x000;
    pub const GUEST_POLICY: usize = 0x008;
    pub const VMPL: usize = 0x030;
    pub const SIGNATURE_ALGO: usize = 0x034;
    pub const CURRENT_TCB: usize = 0x038;
    /// KEY_INFO: bits 4:2 name the signing key (0 = VCEK, 1 = VLEK).
    pub const KEY_INFO: usize = 0x048;
    pub const REPORT_DATA: usize = 0x050;
    pub const MEASUREMENT: usize = 0x090;
    pub const HOST_DATA: usize = 0x0C0;
    pub const ID_KEY_DIGEST: usize = 0x0E0;
    pub const AUTHOR_KEY_DIGEST: usize = 0x110;
    pub const REPORTED_TCB: usize = 0x180;
    pub const CPUID_FAM_ID: usize = 0x188;
    pub const CPUID_MOD_ID: usize = 0x189;
    pub const CHIP_ID: usize = 0x1A0;
    pub const COMMITTED_TCB: usize = 0x1E0;
    pub const LAUNCH_TCB: usize = 0x1F0;
    /// Little-endian, 72 bytes, the top 24 zero.
    pub const SIGNATURE_R: usize = 0x2A0;
    /// Little-endian, 72 bytes, the top 24 zero.
    pub const SIGNATURE_S: usize = 0x2E8;
    /// Reserved bytes of the signature field, up to the end of the report.
    pub const SIGNATURE_RESERVED: usize = 0x330;
}

/// Which key signed a report (`KEY_INFO.SIGNING_KEY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SigningKey {
    /// 0: the chip- and TCB-specific VCEK.
    Vcek,
    /// 1: the VLEK AMD issued to a cloud provider.
    Vlek,
    /// Anything else (7: no key, the rest reserved).
    Other(u8),
}

/// The fields of a report the verifier uses, borrowed from the raw bytes.
///
/// Parsing checks only the shape; nothing here is trusted before the
/// signature over [`Report::bytes`] has been verified.
#[derive(Debug)]
pub(crate) struct Report<'a> {
    /// The raw bytes as received (the signature is checked over these).
    pub bytes: &'a [u8; REPORT_LEN],
    pub version: u32,
    pub guest_policy: u64,
    pub vmpl: u32,
    pub signing_key: SigningKey,
    /// `(CPUID_FAM_ID, CPUID_MOD_ID)`, from version 3 on.
    pub cpuid: Option<(u8, u8)>,
    /// The layout the TCB fields were decoded in.
    pub tcb_layout: TcbLayout,
    pub current_tcb: TcbVersion,
    pub reported_tcb: TcbVersion,
    pub committed_tcb: TcbVersion,
    pub launch_tcb: TcbVersion,
    pub report_data: ReportData,
    pub measurement: Measurement,
    pub host_data: [u8; 32],
    pub id_key_digest: [u8; 48],
    pub author_key_digest: [u8; 48],
    pub chip_id: [u8; 64],
}

impl<'a> Report<'a> {
    /// Parses a received report: length, version, signature algorithm and
    /// CPU family (which decides the TCB layout) are checked; everything
    /// else is read as is.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, AttestationError> {
        let bytes: &[u8; REPORT_LEN] = bytes.try_into().map_err(|_| {
            format_error(format!(
                "report is {} bytes, expected {REPORT_LEN}",
                bytes.len()
            ))
        })?;
        let version = u32::from_le_bytes(field(bytes, offset::VERSION));
        if !SUPPORTED_VERSIONS.contains(&version) {
            return Err(format_error(format!(
                "report version {version} is not supported (supported: {SUPPORTED_VERSIONS:?})"
            )));
        }
        let signature_algo = u32::from_le_bytes(field(bytes, offset::SIGNATURE_ALGO));
        if signature_algo != SIGNATURE_ALGO_ECDSA_P384_SHA384 {
            return Err(format_error(format!(
                "signature algorithm {signature_algo} is not supported (expected 1, ECDSA P-384 with SHA-384)"
            )));
        }
        let cpuid = (version >= FIRST_VERSION_WITH_CPUID)
            .then(|| (bytes[offset::CPUID_FAM_ID], bytes[offset::CPUID_MOD_ID]));
        let tcb_layout = match cpuid {
            None => TcbLayout::MilanGenoa,
            Some((family, _)) => TcbLayout::from_cpuid_family(family).ok_or_else(|| {
                format_error(format!(
                    "CPU family {family:#04x} is not supported (expected 0x19, Milan/Genoa, \
                     or 0x1a, Turin: the TCB layout depends on it)"
                ))
            })?,
        };
        let key_info = u32::from_le_bytes(field(bytes, offset::KEY_INFO));
        // Bits 4:2, so the value fits in three bits.
        let signing_key = match ((key_info >> 2) & 0b111) as u8 {
            0 => SigningKey::Vcek,
            1 => SigningKey::Vlek,
            other => SigningKey::Other(other),
        };
        let tcb = |at| TcbVersion::decode(tcb_layout, field(bytes, at));
        Ok(Report {
            bytes,
            version,
            guest_policy: u64::from_le_bytes(field(bytes, offset::GUEST_POLICY)),
            vmpl: u32::from_le_bytes(field(bytes, offset::VMPL)),
            signing_key,
            cpuid,
            tcb_layout,
            current_tcb: tcb(offset::CURRENT_TCB),
            reported_tcb: tcb(offset::REPORTED_TCB),
            committed_tcb: tcb(offset::COMMITTED_TCB),
            launch_tcb: tcb(offset::LAUNCH_TCB),
            report_data: ReportData(field(bytes, offset::REPORT_DATA)),
            measurement: Measurement::from(field::<48>(bytes, offset::MEASUREMENT)),
            host_data: field(bytes, offset::HOST_DATA),
            id_key_digest: field(bytes, offset::ID_KEY_DIGEST),
            author_key_digest: field(bytes, offset::AUTHOR_KEY_DIGEST),
            chip_id: field(bytes, offset::CHIP_ID),
        })
    }

    /// Whether the guest policy allows the hypervisor to debug the guest.
    pub fn debug_allowed(&self) -> bool {
        self.guest_policy & POLICY_DEBUG_BIT != 0
    }
}

/// The fields the simulated platform chooses; the rest of its report is zero.
#[derive(Debug, Clone)]
pub(crate) struct UnsignedReport {
    pub guest_policy: u64,
    pub tcb: TcbVersion,
    pub report_data: ReportData,
    pub measurement: Measurement,
}

impl UnsignedReport {
    /// Version of the reports this encodes.
    pub const VERSION: u32 = 2;

    /// Encodes a version-2 report (Milan/Genoa TCB layout, so `tcb.fmc` is
    /// not encoded) with a zero signature field.
    pub fn encode(&self) -> [u8; REPORT_LEN] {
        let mut bytes = [0u8; REPORT_LEN];
        put(&mut bytes, offset::VERSION, &Self::VERSION.to_le_bytes());
        put(
            &mut bytes,
            offset::GUEST_POLICY,
            &self.guest_policy.to_le_bytes(),
        );
        put(
            &mut bytes,
            offset::SIGNATURE_ALGO,
            &SIGNATURE_ALGO_ECDSA_P384_SHA384.to_le_bytes(),
        );
        let tcb = self.tcb.encode(TcbLayout::MilanGenoa);
        for at in [
            offset::CURRENT_TCB,
            offset::REPORTED_TCB,
            offset::COMMITTED_TCB,
            offset::LAUNCH_TCB,
        ] {
            put(&mut bytes, at, &tcb);
        }
        put(&mut bytes, offset::REPORT_DATA, &self.report_data.0);
        put(&mut bytes, offset::MEASUREMENT, self.measurement.as_bytes());
        bytes
    }
}

fn format_error(detail: String) -> AttestationError {
    AttestationError::new(Check::Format, detail)
}

/// Copies the `N` bytes at `at` out of a report. `at` is one of the
/// constants above, all of which leave room for their field.
fn field<const N: usize>(bytes: &[u8; REPORT_LEN], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[at..at + N]);
    out
}

fn put(bytes: &mut [u8; REPORT_LEN], at: usize, value: &[u8]) {
    bytes[at..at + value.len()].copy_from_slice(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> UnsignedReport {
        UnsignedReport {
            guest_policy: 0x30000,
            tcb: TcbVersion {
                fmc: None,
                bootloader: 1,
                tee: 2,
                snp: 3,
                microcode: 4,
            },
            report_data: ReportData([5; 64]),
            measurement: Measurement::from([6; 48]),
        }
    }

    #[test]
    fn encoded_report_parses_back_to_its_fields() {
        let bytes = sample().encode();
        let report = Report::parse(&bytes).unwrap();
        assert_eq!(report.version, 2);
        assert_eq!(report.guest_policy, 0x30000);
        assert!(!report.debug_allowed());
        assert_eq!(report.reported_tcb, sample().tcb);
        assert_eq!(report.report_data, ReportData([5; 64]));
        assert_eq!(report.measurement, Measurement::from([6; 48]));
        assert_eq!(report.signing_key, SigningKey::Vcek);
        assert_eq!(report.chip_id, [0; 64]);
    }

    #[test]
    fn refuses_wrong_length() {
        let bytes = sample().encode();
        for len in [0, 4, REPORT_LEN - 1] {
            let err = Report::parse(&bytes[..len]).unwrap_err();
            assert_eq!(err.check, Check::Format);
        }
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert_eq!(Report::parse(&longer).unwrap_err().check, Check::Format);
    }

    #[test]
    fn refuses_unsupported_version_and_signature_algorithm() {
        for version in [0u32, 1, 4, 6, u32::MAX] {
            let mut bytes = sample().encode();
            put(&mut bytes, offset::VERSION, &version.to_le_bytes());
            assert_eq!(Report::parse(&bytes).unwrap_err().check, Check::Format);
        }
        let mut bytes = sample().encode();
        put(&mut bytes, offset::SIGNATURE_ALGO, &2u32.to_le_bytes());
        assert_eq!(Report::parse(&bytes).unwrap_err().check, Check::Format);
    }

    #[test]
    fn refuses_version_3_report_from_a_family_of_unknown_tcb_layout() {
        let mut bytes = sample().encode();
        put(&mut bytes, offset::VERSION, &3u32.to_le_bytes());
        for family in [0x00, 0x17, 0x1B] {
            bytes[offset::CPUID_FAM_ID] = family;
            assert_eq!(Report::parse(&bytes).unwrap_err().check, Check::Format);
        }
        bytes[offset::CPUID_FAM_ID] = 0x19;
        let report = Report::parse(&bytes).unwrap();
        assert_eq!(report.version, 3);
        assert_eq!(report.tcb_layout, TcbLayout::MilanGenoa);
        assert_eq!(report.cpuid, Some((0x19, 0)));
    }

    #[test]
    fn decodes_every_tcb_of_a_turin_report_in_the_turin_layout() {
        let mut bytes = sample().encode();
        put(&mut bytes, offset::VERSION, &3u32.to_le_bytes());
        bytes[offset::CPUID_FAM_ID] = 0x1A;
        bytes[offset::CPUID_MOD_ID] = 0x02;
        for (i, at) in [
            offset::CURRENT_TCB,
            offset::REPORTED_TCB,
            offset::COMMITTED_TCB,
            offset::LAUNCH_TCB,
        ]
        .into_iter()
        .enumerate()
        {
            let i = i as u8;
            put(&mut bytes, at, &[1 + i, 2, 3, 4 + i, 0, 0, 0, 72]);
        }
        let report = Report::parse(&bytes).unwrap();
        assert_eq!(report.tcb_layout, TcbLayout::Turin);
        assert_eq!(report.cpuid, Some((0x1A, 0x02)));
        let expect = |i: u8| TcbVersion {
            fmc: Some(1 + i),
            bootloader: 2,
            tee: 3,
            snp: 4 + i,
            microcode: 72,
        };
        assert_eq!(report.current_tcb, expect(0));
        assert_eq!(report.reported_tcb, expect(1));
        assert_eq!(report.committed_tcb, expect(2));
        assert_eq!(report.launch_tcb, expect(3));
    }

    #[test]
    fn version_2_report_has_no_cpuid_and_the_milan_genoa_layout() {
        let mut bytes = sample().encode();
        bytes[offset::CPUID_FAM_ID] = 0x1A; // reserved in version 2: not read
        let report = Report::parse(&bytes).unwrap();
        assert_eq!(report.cpuid, None);
        assert_eq!(report.tcb_layout, TcbLayout::MilanGenoa);
        assert_eq!(report.reported_tcb.fmc, None);
    }

    #[test]
    fn reads_debug_bit_and_signing_key_selector() {
        let mut unsigned = sample();
        unsigned.guest_policy |= POLICY_DEBUG_BIT;
        let mut bytes = unsigned.encode();
        bytes[offset::KEY_INFO] = 1 << 2; // VLEK
        let report = Report::parse(&bytes).unwrap();
        assert!(report.debug_allowed());
        assert_eq!(report.signing_key, SigningKey::Vlek);
        bytes[offset::KEY_INFO] = 7 << 2; // no key
        assert_eq!(
            Report::parse(&bytes).unwrap().signing_key,
            SigningKey::Other(7)
        );
    }
}

//! SEV-SNP EPYC product families: which one a report or a certificate chain
//! comes from, and how that family lays out a `TCB_VERSION`.
//!
//! The one place this knowledge lives: the verifier decodes reports with
//! it, and `veil-tee` builds AMD KDS requests with it.

use std::fmt;

/// An EPYC product family, as AMD names it in KDS URLs and in the common
/// names of its root (`ARK-Milan`) and intermediate (`SEV-Milan`,
/// `SEV-VLEK-Milan`) certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SnpProduct {
    /// 3rd generation EPYC (family 19h, models 00h–0Fh).
    Milan,
    /// 4th generation EPYC (family 19h, models 10h–1Fh and A0h–AFh).
    Genoa,
    /// 5th generation EPYC (family 1Ah, models 00h–1Fh).
    Turin,
}

impl SnpProduct {
    /// The name in KDS URLs and in AMD's certificate names.
    pub fn kds_name(self) -> &'static str {
        match self {
            SnpProduct::Milan => "Milan",
            SnpProduct::Genoa => "Genoa",
            SnpProduct::Turin => "Turin",
        }
    }

    /// The product of a CPUID family and model (as reports v3 and later
    /// carry them), or `None` for one KDS does not serve.
    pub fn from_cpuid(family: u8, model: u8) -> Option<Self> {
        match (family, model) {
            (0x19, 0x00..=0x0F) => Some(SnpProduct::Milan),
            (0x19, 0x10..=0x1F | 0xA0..=0xAF) => Some(SnpProduct::Genoa),
            (0x1A, 0x00..=0x1F) => Some(SnpProduct::Turin),
            _ => None,
        }
    }

    /// Parses `milan`, `genoa` or `turin` (any case).
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "milan" => Some(SnpProduct::Milan),
            "genoa" => Some(SnpProduct::Genoa),
            "turin" => Some(SnpProduct::Turin),
            _ => None,
        }
    }

    /// Length of the hwID a VCEK of this family carries (KDS extension
    /// `1.3.6.1.4.1.3704.1.4`, and the hwID in KDS URLs): the first bytes of
    /// the report's 64-byte CHIP_ID, all of them on Milan and Genoa, 8 on
    /// Turin.
    pub fn hw_id_len(self) -> usize {
        match self {
            SnpProduct::Milan | SnpProduct::Genoa => 64,
            SnpProduct::Turin => 8,
        }
    }

    /// How this family's firmware lays out a `TCB_VERSION`.
    pub fn tcb_layout(self) -> TcbLayout {
        match self {
            SnpProduct::Milan | SnpProduct::Genoa => TcbLayout::MilanGenoa,
            SnpProduct::Turin => TcbLayout::Turin,
        }
    }
}

impl fmt::Display for SnpProduct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kds_name())
    }
}

/// The byte layout of an 8-byte SEV-SNP `TCB_VERSION` (AMD SEV-SNP ABI
/// specification, "TCB_VERSION"), which depends on the CPU family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TcbLayout {
    /// Family 19h (Milan, Genoa): byte 0 bootloader, 1 TEE, 2–5 reserved,
    /// 6 SNP, 7 microcode.
    MilanGenoa,
    /// Family 1Ah (Turin): byte 0 FMC, 1 bootloader, 2 TEE, 3 SNP, 4–6
    /// reserved, 7 microcode.
    Turin,
}

impl TcbLayout {
    /// The layout of a report whose `CPUID_FAM_ID` is `family`, or `None`
    /// for a family whose layout this crate does not know.
    pub fn from_cpuid_family(family: u8) -> Option<Self> {
        match family {
            0x19 => Some(TcbLayout::MilanGenoa),
            0x1A => Some(TcbLayout::Turin),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpuid_families_map_to_products_and_layouts() {
        assert_eq!(SnpProduct::from_cpuid(0x19, 0x01), Some(SnpProduct::Milan));
        assert_eq!(SnpProduct::from_cpuid(0x19, 0xA1), Some(SnpProduct::Genoa));
        assert_eq!(SnpProduct::from_cpuid(0x1A, 0x02), Some(SnpProduct::Turin));
        assert_eq!(SnpProduct::from_cpuid(0x17, 0x31), None);
        for product in [SnpProduct::Milan, SnpProduct::Genoa, SnpProduct::Turin] {
            assert_eq!(SnpProduct::parse(product.kds_name()), Some(product));
        }
        assert_eq!(
            TcbLayout::from_cpuid_family(0x19),
            Some(TcbLayout::MilanGenoa)
        );
        assert_eq!(TcbLayout::from_cpuid_family(0x1A), Some(TcbLayout::Turin));
        assert_eq!(TcbLayout::from_cpuid_family(0x17), None);
        assert_eq!(SnpProduct::Turin.tcb_layout(), TcbLayout::Turin);
        assert_eq!(SnpProduct::Turin.hw_id_len(), 8);
        assert_eq!(SnpProduct::Genoa.hw_id_len(), 64);
    }
}

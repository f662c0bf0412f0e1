//! What a verifier accepts: platforms, measurements, debug, TCB floor, and
//! whether simulated evidence counts at all. Loaded from a small TOML file.

use serde::{Deserialize, Serialize};

use crate::claims::{PlatformClaims, SnpSigningKey};
use crate::error::{AttestationError, Check};
use crate::evidence::PlatformKind;
use crate::fields::{Measurement, TcbVersion};
use crate::nitro::NitroPolicy;
use crate::sgx::SgxPolicy;
use crate::tdx::TdxPolicy;
use crate::verify::check_allowed;

/// The verifier's policy.
///
/// As TOML (every key but `platforms` optional; unknown keys are refused):
///
/// ```toml
/// platforms = ["sev-snp"]
/// measurements = ["7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f"]
/// allow_debug = false
/// allow_simulation = false
///
/// [min_tcb]
/// bootloader = 3
/// tee = 0
/// snp = 8
/// microcode = 115
/// ```
///
/// Intel and AWS platforms are pinned in their own sections (`[tdx]`,
/// `[sgx]`, `[nitro]`: see [`TdxPolicy`], [`SgxPolicy`], [`NitroPolicy`] and
/// `docs/policy.md`); `measurements` and `min_tcb` are SEV-SNP's.
///
/// The default accepts nothing: it names the `sev-snp` platform but no
/// measurement, which [`verify_evidence`](crate::verify_evidence) refuses
/// with [`Check::Policy`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Platforms whose evidence is acceptable.
    pub platforms: Vec<PlatformKind>,
    /// Allowed SEV-SNP (and simulated) `MEASUREMENT`s, 48 bytes. Empty
    /// means "any", which only simulated evidence may use: `sev-snp` with no
    /// measurements is refused.
    #[serde(default)]
    pub measurements: Vec<Measurement>,
    /// Accept guests whose policy allows debugging (their memory is open to
    /// the host). Off by default.
    #[serde(default)]
    pub allow_debug: bool,
    /// Minimum reported TCB, compared componentwise (SEV-SNP only). Its
    /// `fmc`, if set, is met only by Turin evidence with an FMC SPL at least
    /// as high.
    #[serde(default)]
    pub min_tcb: Option<TcbVersion>,
    /// The AMD keys an SEV-SNP report may be signed by (`vcek`, `vlek`);
    /// empty (the default) accepts both. `["vcek"]` requires a
    /// chip-specific key and refuses VLEK-signed (cloud-provider) reports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signing_keys: Vec<SnpSigningKey>,
    /// Allowed SEV-SNP `HOST_DATA` values (32 bytes, hex); empty means not checked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_data: Vec<Measurement>,
    /// Allowed SEV-SNP `ID_KEY_DIGEST` values (48 bytes, hex: the key that
    /// signed the guest's ID block); empty means not checked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_key_digests: Vec<Measurement>,
    /// Accept simulated evidence, which proves nothing. Off by default; the
    /// only way simulated evidence is ever accepted.
    #[serde(default)]
    pub allow_simulation: bool,
    /// What Intel TDX evidence must show (required when `tdx` is listed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tdx: Option<TdxPolicy>,
    /// What Intel SGX evidence must show (required when `sgx` is listed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sgx: Option<SgxPolicy>,
    /// What AWS Nitro evidence must show (required when `nitro` is listed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nitro: Option<NitroPolicy>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            platforms: vec![PlatformKind::SevSnp],
            measurements: Vec::new(),
            allow_debug: false,
            min_tcb: None,
            signing_keys: Vec::new(),
            host_data: Vec::new(),
            id_key_digests: Vec::new(),
            allow_simulation: false,
            tdx: None,
            sgx: None,
            nitro: None,
        }
    }
}

impl Policy {
    /// Accepts SEV-SNP evidence of the given measurements, debug off, no TCB floor.
    pub fn sev_snp(measurements: impl IntoIterator<Item = Measurement>) -> Self {
        Policy {
            measurements: measurements.into_iter().collect(),
            ..Policy::default()
        }
    }

    /// Accepts simulated evidence of any measurement, and nothing else.
    ///
    /// For development and tests only: simulated evidence proves nothing.
    pub fn insecure_simulation_any_measurement() -> Self {
        Policy {
            platforms: vec![PlatformKind::Simulated],
            measurements: Vec::new(),
            allow_debug: false,
            min_tcb: None,
            signing_keys: Vec::new(),
            host_data: Vec::new(),
            id_key_digests: Vec::new(),
            allow_simulation: true,
            tdx: None,
            sgx: None,
            nitro: None,
        }
    }

    /// Accepts Intel TDX evidence as `tdx` says, and nothing else.
    pub fn tdx(tdx: TdxPolicy) -> Self {
        Policy {
            platforms: vec![PlatformKind::Tdx],
            tdx: Some(tdx),
            ..Policy::default()
        }
    }

    /// Accepts Intel SGX evidence as `sgx` says, and nothing else.
    pub fn sgx(sgx: SgxPolicy) -> Self {
        Policy {
            platforms: vec![PlatformKind::Sgx],
            sgx: Some(sgx),
            ..Policy::default()
        }
    }

    /// Accepts AWS Nitro evidence as `nitro` says, and nothing else.
    pub fn nitro(nitro: NitroPolicy) -> Self {
        Policy {
            platforms: vec![PlatformKind::Nitro],
            nitro: Some(nitro),
            ..Policy::default()
        }
    }

    /// Parses and [validates](Policy::validate) a TOML policy.
    pub fn from_toml_str(s: &str) -> Result<Self, AttestationError> {
        let policy: Policy = toml::from_str(s).map_err(|e| {
            AttestationError::new(Check::Policy, format!("policy does not parse: {e}"))
        })?;
        policy.validate()?;
        Ok(policy)
    }

    /// Refuses a policy that cannot mean what its author intended: no
    /// platforms, a hardware platform with nothing pinned, a pinned value of
    /// the wrong length, a platform section or SEV-SNP setting for a
    /// platform not listed, or `simulated` and `allow_simulation` without
    /// each other.
    pub fn validate(&self) -> Result<(), AttestationError> {
        if self.platforms.is_empty() {
            return Err(policy_error("the policy lists no platforms"));
        }
        for platform in &self.platforms {
            self.check_pins_measurements(*platform)?;
        }
        require_length("measurements", &self.measurements, 48)?;
        require_length("host_data", &self.host_data, 32)?;
        require_length("id_key_digests", &self.id_key_digests, 48)?;
        let lists = |p: PlatformKind| self.platforms.contains(&p);
        let snp_format = lists(PlatformKind::SevSnp) || lists(PlatformKind::Simulated);
        for (set, name, listed) in [
            (!self.measurements.is_empty(), "measurements", snp_format),
            (
                self.min_tcb.is_some(),
                "min_tcb",
                lists(PlatformKind::SevSnp),
            ),
            (
                !self.signing_keys.is_empty(),
                "signing_keys",
                lists(PlatformKind::SevSnp),
            ),
            (self.tdx.is_some(), "[tdx]", lists(PlatformKind::Tdx)),
            (self.sgx.is_some(), "[sgx]", lists(PlatformKind::Sgx)),
            (self.nitro.is_some(), "[nitro]", lists(PlatformKind::Nitro)),
        ] {
            if set && !listed {
                return Err(policy_error(format!(
                    "{name} has no effect: its platform is not in platforms"
                )));
            }
        }
        let lists_simulated = self.platforms.contains(&PlatformKind::Simulated);
        if lists_simulated && !self.allow_simulation {
            return Err(policy_error(
                "the policy lists `simulated` but does not set allow_simulation = true",
            ));
        }
        if self.allow_simulation && !lists_simulated {
            return Err(policy_error(
                "allow_simulation = true has no effect unless `simulated` is in platforms",
            ));
        }
        Ok(())
    }

    /// Evidence from a hardware platform is only checked against named measurements.
    pub(crate) fn check_pins_measurements(
        &self,
        platform: PlatformKind,
    ) -> Result<(), AttestationError> {
        let missing = |section: &str| {
            policy_error(format!(
                "a policy accepting `{platform}` must have a {section} section"
            ))
        };
        match platform {
            PlatformKind::Simulated => Ok(()),
            PlatformKind::SevSnp if self.measurements.is_empty() => Err(policy_error(format!(
                "a policy accepting `{platform}` must name at least one measurement"
            ))),
            PlatformKind::SevSnp => Ok(()),
            PlatformKind::Tdx => self
                .tdx
                .as_ref()
                .ok_or_else(|| missing("[tdx]"))?
                .validate(),
            PlatformKind::Sgx => self
                .sgx
                .as_ref()
                .ok_or_else(|| missing("[sgx]"))?
                .validate(),
            PlatformKind::Nitro => self
                .nitro
                .as_ref()
                .ok_or_else(|| missing("[nitro]"))?
                .validate(),
        }
    }

    /// The platform's measurements, TCB and (Intel) TCB status and advisories.
    pub(crate) fn check_claims(
        &self,
        platform: PlatformKind,
        measurement: &Measurement,
        details: &PlatformClaims,
    ) -> Result<(), AttestationError> {
        let unpinned = || policy_error(format!("the policy pins nothing for `{platform}`"));
        match details {
            PlatformClaims::SevSnp(snp) => {
                check_allowed("measurement", &self.measurements, measurement, false)?;
                check_allowed("HOST_DATA", &self.host_data, &snp.host_data, false)?;
                check_allowed(
                    "ID_KEY_DIGEST",
                    &self.id_key_digests,
                    &snp.id_key_digest,
                    false,
                )?;
                if platform == PlatformKind::SevSnp {
                    self.check_signing_key(snp.signing_key)?;
                    self.check_tcb(&snp.reported_tcb)?;
                }
                Ok(())
            }
            PlatformClaims::Tdx(tdx) => self.tdx.as_ref().ok_or_else(unpinned)?.check(tdx),
            PlatformClaims::Sgx(sgx) => self.sgx.as_ref().ok_or_else(unpinned)?.check(sgx),
            PlatformClaims::Nitro(nitro) => self.nitro.as_ref().ok_or_else(unpinned)?.check(nitro),
        }
    }

    pub(crate) fn check_debug(&self, debug_allowed: bool) -> Result<(), AttestationError> {
        if debug_allowed && !self.allow_debug {
            return Err(AttestationError::new(
                Check::Debug,
                "the evidence says debugging is enabled (SEV-SNP guest policy bit 19, TDX TUD, \
                 SGX ATTRIBUTES.DEBUG, Nitro all-zero PCRs) and the verifier's policy does not allow it",
            ));
        }
        Ok(())
    }

    /// The report's signer must be one the policy lists (any, if none).
    fn check_signing_key(&self, signer: Option<SnpSigningKey>) -> Result<(), AttestationError> {
        match signer {
            _ if self.signing_keys.is_empty() => Ok(()),
            Some(key) if self.signing_keys.contains(&key) => Ok(()),
            _ => Err(AttestationError::new(
                Check::Chain,
                format!(
                    "the report is signed by {}, and the policy's signing_keys allows only {:?}",
                    signer.map_or("no AMD key", SnpSigningKey::as_str),
                    self.signing_keys
                        .iter()
                        .map(|key| key.as_str())
                        .collect::<Vec<_>>()
                ),
            )),
        }
    }

    pub(crate) fn check_tcb(&self, reported: &TcbVersion) -> Result<(), AttestationError> {
        match &self.min_tcb {
            Some(floor) if !reported.meets(floor) => Err(AttestationError::new(
                Check::Tcb,
                format!("reported TCB ({reported}) is below the policy's floor ({floor})"),
            )),
            _ => Ok(()),
        }
    }
}

/// Every value of a policy list must have the digest length of its field.
pub(crate) fn require_length(
    name: &str,
    values: &[Measurement],
    len: usize,
) -> Result<(), AttestationError> {
    match values.iter().find(|m| m.as_bytes().len() != len) {
        Some(bad) => Err(policy_error(format!(
            "{name} value {bad} is not {len} bytes"
        ))),
        None => Ok(()),
    }
}

fn policy_error(detail: impl Into<String>) -> AttestationError {
    AttestationError::new(Check::Policy, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MILAN_MEASUREMENT: &str = "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f";

    fn good_toml() -> String {
        format!(
            r#"
platforms = ["sev-snp"]
measurements = ["{MILAN_MEASUREMENT}"]
allow_debug = false
allow_simulation = false

[min_tcb]
bootloader = 3
tee = 0
snp = 8
microcode = 115
"#
        )
    }

    #[test]
    fn parses_a_complete_policy_file() {
        let policy = Policy::from_toml_str(&good_toml()).unwrap();
        assert_eq!(policy.platforms, [PlatformKind::SevSnp]);
        assert_eq!(policy.measurements, [MILAN_MEASUREMENT.parse().unwrap()]);
        assert!(!policy.allow_debug);
        assert!(!policy.allow_simulation);
        assert_eq!(
            policy.min_tcb,
            Some(TcbVersion {
                fmc: None,
                bootloader: 3,
                tee: 0,
                snp: 8,
                microcode: 115
            })
        );
    }

    #[test]
    fn optional_keys_default_to_the_safe_value() {
        let policy = Policy::from_toml_str(&format!(
            "platforms = [\"sev-snp\"]\nmeasurements = [\"{MILAN_MEASUREMENT}\"]"
        ))
        .unwrap();
        assert!(!policy.allow_debug);
        assert!(!policy.allow_simulation);
        assert_eq!(policy.min_tcb, None);
    }

    #[test]
    fn serialised_policy_parses_back() {
        let policy = Policy::from_toml_str(&good_toml()).unwrap();
        let text = toml::to_string(&policy).unwrap();
        assert_eq!(Policy::from_toml_str(&text).unwrap(), policy);
    }

    #[test]
    fn refuses_unknown_field() {
        let text = good_toml().replace("allow_debug = false", "allow_debugging = true");
        assert_eq!(
            Policy::from_toml_str(&text).unwrap_err().check,
            Check::Policy
        );
    }

    #[test]
    fn refuses_unknown_field_in_min_tcb() {
        let text = good_toml().replace("microcode = 115", "microcode = 115\nspl4 = 1");
        assert_eq!(
            Policy::from_toml_str(&text).unwrap_err().check,
            Check::Policy
        );
    }

    #[test]
    fn min_tcb_may_require_an_fmc_and_signing_keys_parse() {
        let text = good_toml()
            .replace("microcode = 115", "microcode = 115\nfmc = 1")
            .replace(
                "allow_debug = false",
                "allow_debug = false\nsigning_keys = [\"vcek\"]",
            );
        let policy = Policy::from_toml_str(&text).unwrap();
        assert_eq!(policy.min_tcb.unwrap().fmc, Some(1));
        assert_eq!(policy.signing_keys, [SnpSigningKey::Vcek]);
        for bad in ["signing_keys = [\"VCEK\"]", "signing_keys = [\"ask\"]"] {
            let text = good_toml().replacen("allow_debug = false", bad, 1);
            assert_eq!(
                Policy::from_toml_str(&text).unwrap_err().check,
                Check::Policy
            );
        }
    }

    #[test]
    fn signing_keys_without_sev_snp_is_refused() {
        let policy = Policy {
            signing_keys: vec![SnpSigningKey::Vlek],
            ..Policy::insecure_simulation_any_measurement()
        };
        assert_eq!(policy.validate().unwrap_err().check, Check::Policy);
    }

    #[test]
    fn refuses_bad_measurement_hex() {
        for bad in [
            &MILAN_MEASUREMENT[..94],
            &MILAN_MEASUREMENT.replacen('7', "g", 1),
            &format!("{MILAN_MEASUREMENT}00"),
        ] {
            let text = good_toml().replace(MILAN_MEASUREMENT, bad);
            let err = Policy::from_toml_str(&text).unwrap_err();
            assert_eq!(err.check, Check::Policy, "{bad}");
        }
    }

    #[test]
    fn refuses_unknown_platform_name() {
        let text = good_toml().replace("\"sev-snp\"", "\"sev_snp\"");
        assert_eq!(
            Policy::from_toml_str(&text).unwrap_err().check,
            Check::Policy
        );
    }

    #[test]
    fn refuses_hardware_platform_without_measurements() {
        let err = Policy::from_toml_str("platforms = [\"sev-snp\"]").unwrap_err();
        assert_eq!(err.check, Check::Policy);
        assert_eq!(
            Policy::default().validate().unwrap_err().check,
            Check::Policy
        );
    }

    #[test]
    fn refuses_simulation_without_both_switches() {
        for text in [
            "platforms = [\"simulated\"]",
            &format!(
                "platforms = [\"sev-snp\"]\nmeasurements = [\"{MILAN_MEASUREMENT}\"]\nallow_simulation = true"
            ),
            "platforms = []\nallow_simulation = true",
        ] {
            assert_eq!(
                Policy::from_toml_str(text).unwrap_err().check,
                Check::Policy,
                "{text}"
            );
        }
        let ok =
            Policy::from_toml_str("platforms = [\"simulated\"]\nallow_simulation = true").unwrap();
        assert_eq!(ok, Policy::insecure_simulation_any_measurement());
    }

    const MRTD: &str = "11111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111f";
    const MRENCLAVE: &str = "2222222222222222222222222222222222222222222222222222222222222222";

    #[test]
    fn parses_a_section_per_platform() {
        let text = format!(
            r#"
platforms = ["sev-snp", "tdx", "sgx", "nitro"]
measurements = ["{MILAN_MEASUREMENT}"]
host_data = ["{MRENCLAVE}"]

[tdx]
mrtd = ["{MRTD}"]
rtmr3 = ["{MRTD}"]
tcb_statuses = ["UpToDate", "SWHardeningNeeded"]
allowed_advisory_ids = ["INTEL-SA-00615"]

[sgx]
mrenclave = ["{MRENCLAVE}"]
min_isv_svn = 2

[nitro]
pcr0 = ["{MRTD}"]
pcr8 = ["{MRTD}"]
"#
        );
        let policy = Policy::from_toml_str(&text).unwrap();
        let tdx = policy.tdx.as_ref().unwrap();
        assert_eq!(tdx.mrtd, [MRTD.parse().unwrap()]);
        assert!(tdx.rtmr0.is_empty());
        assert_eq!(tdx.tcb_statuses.len(), 2);
        let sgx = policy.sgx.as_ref().unwrap();
        assert_eq!(sgx.tcb_statuses, [crate::IntelTcbStatus::UpToDate]);
        assert_eq!(sgx.min_isv_svn, Some(2));
        assert_eq!(policy.nitro.as_ref().unwrap().pcr8.len(), 1);
        assert_eq!(policy.host_data, [MRENCLAVE.parse().unwrap()]);
        let text = toml::to_string(&policy).unwrap();
        assert_eq!(Policy::from_toml_str(&text).unwrap(), policy);
    }

    #[test]
    fn refuses_a_hardware_platform_with_nothing_pinned() {
        for text in [
            "platforms = [\"tdx\"]".to_string(),
            "platforms = [\"tdx\"]\n[tdx]\nmrtd = []".to_string(),
            "platforms = [\"sgx\"]\n[sgx]\nmin_isv_svn = 1".to_string(),
            format!("platforms = [\"sgx\"]\n[sgx]\nmrsigner = [\"{MRENCLAVE}\"]"),
            "platforms = [\"nitro\"]".to_string(),
            "platforms = [\"nitro\"]\n[nitro]\npcr0 = []".to_string(),
        ] {
            assert_eq!(
                Policy::from_toml_str(&text).unwrap_err().check,
                Check::Policy,
                "{text}"
            );
        }
        let signer =
            format!("platforms = [\"sgx\"]\n[sgx]\nmrsigner = [\"{MRENCLAVE}\"]\nisv_prod_id = 1");
        Policy::from_toml_str(&signer).unwrap();
    }

    #[test]
    fn refuses_pins_of_the_wrong_length_for_their_field() {
        for text in [
            format!("platforms = [\"tdx\"]\n[tdx]\nmrtd = [\"{MRENCLAVE}\"]"),
            format!("platforms = [\"sgx\"]\n[sgx]\nmrenclave = [\"{MRTD}\"]"),
            format!("platforms = [\"nitro\"]\n[nitro]\npcr0 = [\"{MRENCLAVE}\"]"),
            format!("platforms = [\"sev-snp\"]\nmeasurements = [\"{MRENCLAVE}\"]"),
        ] {
            assert_eq!(
                Policy::from_toml_str(&text).unwrap_err().check,
                Check::Policy,
                "{text}"
            );
        }
    }

    #[test]
    fn refuses_settings_for_a_platform_not_listed() {
        for text in [
            format!(
                "platforms = [\"sev-snp\"]\nmeasurements = [\"{MILAN_MEASUREMENT}\"]\n[tdx]\nmrtd = [\"{MRTD}\"]"
            ),
            format!(
                "platforms = [\"tdx\"]\nmeasurements = [\"{MILAN_MEASUREMENT}\"]\n[tdx]\nmrtd = [\"{MRTD}\"]"
            ),
            format!(
                "platforms = [\"tdx\"]\n[tdx]\nmrtd = [\"{MRTD}\"]\n[min_tcb]\nbootloader = 0\ntee = 0\nsnp = 0\nmicrocode = 0"
            ),
        ] {
            assert_eq!(
                Policy::from_toml_str(&text).unwrap_err().check,
                Check::Policy,
                "{text}"
            );
        }
    }

    #[test]
    fn refuses_unknown_field_in_a_platform_section_and_unknown_tcb_status() {
        for text in [
            format!("platforms = [\"tdx\"]\n[tdx]\nmrtd = [\"{MRTD}\"]\nrtmr4 = []"),
            format!(
                "platforms = [\"tdx\"]\n[tdx]\nmrtd = [\"{MRTD}\"]\ntcb_statuses = [\"Revoked\"]"
            ),
            format!(
                "platforms = [\"tdx\"]\n[tdx]\nmrtd = [\"{MRTD}\"]\ntcb_statuses = [\"uptodate\"]"
            ),
        ] {
            assert_eq!(
                Policy::from_toml_str(&text).unwrap_err().check,
                Check::Policy,
                "{text}"
            );
        }
    }

    #[test]
    fn every_example_in_docs_policy_md_parses() {
        let doc = include_str!("../../../docs/policy.md");
        let mut examples = 0;
        for block in doc.split("```toml").skip(1) {
            let text = block
                .split("```")
                .next()
                .unwrap()
                .replace("<96 hex characters>", MRTD)
                .replace("<64 hex characters>", MRENCLAVE);
            Policy::from_toml_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            examples += 1;
        }
        assert_eq!(examples, 6);
    }
}

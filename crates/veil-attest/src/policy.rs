//! What a verifier accepts: platforms, measurements, debug, TCB floor, and
//! whether simulated evidence counts at all. Loaded from a small TOML file.

use serde::{Deserialize, Serialize};

use crate::error::{AttestationError, Check};
use crate::evidence::PlatformKind;
use crate::fields::{Measurement, TcbVersion};

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
/// The default accepts nothing: it names the `sev-snp` platform but no
/// measurement, which [`verify_evidence`](crate::verify_evidence) refuses
/// with [`Check::Policy`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Platforms whose evidence is acceptable.
    pub platforms: Vec<PlatformKind>,
    /// Allowed measurements. Empty means "any", which only simulated
    /// evidence may use: a hardware platform with no measurements is refused.
    #[serde(default)]
    pub measurements: Vec<Measurement>,
    /// Accept guests whose policy allows debugging (their memory is open to
    /// the host). Off by default.
    #[serde(default)]
    pub allow_debug: bool,
    /// Minimum reported TCB, compared componentwise (SEV-SNP only).
    #[serde(default)]
    pub min_tcb: Option<TcbVersion>,
    /// Accept simulated evidence, which proves nothing. Off by default; the
    /// only way simulated evidence is ever accepted.
    #[serde(default)]
    pub allow_simulation: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            platforms: vec![PlatformKind::SevSnp],
            measurements: Vec::new(),
            allow_debug: false,
            min_tcb: None,
            allow_simulation: false,
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
            allow_simulation: true,
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
    /// platforms, a hardware platform without measurements, or `simulated`
    /// and `allow_simulation` without each other.
    pub fn validate(&self) -> Result<(), AttestationError> {
        if self.platforms.is_empty() {
            return Err(policy_error("the policy lists no platforms"));
        }
        if let Some(platform) = self.platforms.iter().find(|p| p.is_hardware()) {
            self.check_pins_measurements(*platform)?;
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
        if platform.is_hardware() && self.measurements.is_empty() {
            return Err(policy_error(format!(
                "a policy accepting `{platform}` must name at least one measurement"
            )));
        }
        Ok(())
    }

    pub(crate) fn check_measurement(
        &self,
        measurement: &Measurement,
    ) -> Result<(), AttestationError> {
        if self.measurements.is_empty() || self.measurements.contains(measurement) {
            return Ok(());
        }
        Err(AttestationError::new(
            Check::Measurement,
            format!("measurement {measurement} is not one the policy allows"),
        ))
    }

    pub(crate) fn check_debug(&self, debug_allowed: bool) -> Result<(), AttestationError> {
        if debug_allowed && !self.allow_debug {
            return Err(AttestationError::new(
                Check::Debug,
                "the guest policy allows debugging (bit 19) and the verifier's policy does not",
            ));
        }
        Ok(())
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
        let text = good_toml().replace("microcode = 115", "microcode = 115\nfmc = 1");
        assert_eq!(
            Policy::from_toml_str(&text).unwrap_err().check,
            Check::Policy
        );
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
}

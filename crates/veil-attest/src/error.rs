//! The one error type of this crate: which check failed, and why.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The verification step that refused the evidence (or the policy).
///
/// Callers branch on this, never on the human-readable detail.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// The evidence is malformed: wrong length, unsupported report version
    /// or signature algorithm, wrong number of certificates.
    Format,
    /// The evidence comes from a platform the policy does not list.
    Platform,
    /// Simulated evidence, and the policy does not say `allow_simulation`.
    SimulationNotAllowed,
    /// The key that signed the report is not endorsed by the pinned root.
    Chain,
    /// The report's signature does not verify under the endorsed key.
    Signature,
    /// A certificate of the chain is not valid at the verification time.
    Freshness,
    /// The report's measurement is not one the policy allows.
    Measurement,
    /// The guest was launched with debugging allowed, and the policy refuses it.
    Debug,
    /// The reported TCB is below the policy's floor.
    Tcb,
    /// Intel's collateral gives the platform's TCB a status the policy does
    /// not accept, or no status at all (its TCB is below every level the
    /// collateral lists, or revoked).
    TcbStatus,
    /// The platform's TCB is affected by a security advisory the policy does
    /// not allow.
    Advisory,
    /// The report data is not the value the verifier expected (wrong nonce or key).
    ReportData,
    /// The policy itself is unusable (unparsable, contradictory, or pins nothing).
    Policy,
}

impl Check {
    /// The stable snake_case name, as used in serde and `Display`.
    pub fn as_str(self) -> &'static str {
        match self {
            Check::Format => "format",
            Check::Platform => "platform",
            Check::SimulationNotAllowed => "simulation_not_allowed",
            Check::Chain => "chain",
            Check::Signature => "signature",
            Check::Freshness => "freshness",
            Check::Measurement => "measurement",
            Check::Debug => "debug",
            Check::Tcb => "tcb",
            Check::TcbStatus => "tcb_status",
            Check::Advisory => "advisory",
            Check::ReportData => "report_data",
            Check::Policy => "policy",
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Evidence (or a policy) was refused: `check` names the step, `detail` says why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("attestation check `{check}` failed: {detail}")]
pub struct AttestationError {
    /// The verification step that failed.
    pub check: Check,
    /// A human-readable explanation, for logs and error messages.
    pub detail: String,
}

impl AttestationError {
    /// An error for `check` with a human-readable `detail`.
    pub fn new(check: Check, detail: impl Into<String>) -> Self {
        AttestationError {
            check,
            detail: detail.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_check() {
        let e = AttestationError::new(Check::Signature, "bad r");
        assert_eq!(e.to_string(), "attestation check `signature` failed: bad r");
    }

    #[test]
    fn serde_names_match_display_names() {
        for check in [
            Check::Format,
            Check::Platform,
            Check::SimulationNotAllowed,
            Check::Chain,
            Check::Signature,
            Check::Freshness,
            Check::Measurement,
            Check::Debug,
            Check::Tcb,
            Check::TcbStatus,
            Check::Advisory,
            Check::ReportData,
            Check::Policy,
        ] {
            let toml_value = toml::Value::try_from(check).unwrap();
            assert_eq!(toml_value.as_str(), Some(check.as_str()));
        }
    }
}

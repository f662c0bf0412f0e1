//! What `veil verify` prints: the `veil-verify-report/1` JSON object and the
//! human summary, with every check and its result.

use serde::Serialize;
use veil_attest::{AttestationError, Check, PlatformKind, Policy};

use super::Job;
use super::saved::Provenance;
use crate::rfc3339;

/// The `format` of `veil verify --json` output. Bumped whenever a field
/// changes meaning or is added or removed.
pub const REPORT_FORMAT: &str = "veil-verify-report/1";

/// The result of one check, in the JSON report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckResult {
    /// Performed, and it held.
    Passed,
    /// Performed, and it refused the evidence.
    Failed,
    /// Verification stopped at the first failure; no result is claimed.
    NotReached,
    /// Not performed with these inputs (no policy, no expected report data,
    /// simulated evidence, a policy without that setting); see `detail`.
    NotChecked,
    /// Meaningless for this platform.
    NotApplicable,
}

/// One check of the JSON report.
#[derive(Debug, Clone, Serialize)]
pub struct CheckEntry {
    /// The stable check name (`veil_attest::Check`).
    pub name: Check,
    /// Its result.
    pub result: CheckResult,
    /// What was checked, or why not.
    pub detail: String,
}

/// The `veil verify --json` object (see `docs/verify.md`).
#[derive(Debug, Serialize)]
pub struct Report {
    /// [`REPORT_FORMAT`].
    pub format: &'static str,
    /// True if every performed check passed.
    pub accepted: bool,
    /// The platform the evidence is from.
    pub platform: PlatformKind,
    /// The verification time, unix seconds.
    pub verified_at: u64,
    /// The same, RFC 3339 (UTC).
    pub verified_at_rfc3339: String,
    /// `"given"` (`--at`) or `"now"` (the clock of this machine).
    pub time_source: &'static str,
    /// With `--bundle`: what the saved file says about its origin, else null.
    pub saved_bundle: Option<Provenance>,
    /// Whether a policy was applied.
    pub policy_applied: bool,
    /// The policy file, if one was applied.
    pub policy_file: Option<String>,
    /// The root trusted: `"pinned"` or the `--root` file.
    pub trust_anchor: String,
    /// The claims, if accepted (`veil_attest` `VerifiedClaims` or
    /// `UnpinnedClaims`; `report_data` is null when the evidence has none).
    pub claims: Option<serde_json::Value>,
    /// Every check, in order, with its result.
    pub checks: Vec<CheckEntry>,
    /// The check that refused the evidence, if rejected.
    pub failed_check: Option<Check>,
    /// Why it was refused, if rejected.
    pub error: Option<String>,
}

/// Every check, in the order `docs/verify.md` lists them.
const CHECK_ORDER: [Check; 13] = [
    Check::SimulationNotAllowed,
    Check::Platform,
    Check::Policy,
    Check::Format,
    Check::Chain,
    Check::Freshness,
    Check::Signature,
    Check::Measurement,
    Check::Tcb,
    Check::TcbStatus,
    Check::Advisory,
    Check::Debug,
    Check::ReportData,
];

/// Every check with its result. A check is `passed` only if the verifier
/// performed it and the whole verification succeeded; after a failure, the
/// checks that would have run are `not_reached`.
pub(super) fn check_list(
    job: &Job,
    outcome: &Result<serde_json::Value, AttestationError>,
) -> Vec<CheckEntry> {
    let platform = job.evidence.platform;
    let tcb_status = outcome
        .as_ref()
        .ok()
        .and_then(|claims| {
            claims.pointer(&format!("/details/{}/tcb/status", details_key(platform)))
        })
        .and_then(|status| status.as_str())
        .unwrap_or("?");
    let plan = Plan {
        job,
        platform,
        policy: job.policy.as_ref().map(|(_, p)| p),
        tcb_status,
    };
    CHECK_ORDER
        .into_iter()
        .map(|name| {
            let (planned, detail) = plan.on_success(name);
            let (result, detail) = match outcome {
                Ok(_) => (planned, detail),
                Err(e) if e.check == name => (CheckResult::Failed, e.detail.clone()),
                Err(_) if planned == CheckResult::Passed => (
                    CheckResult::NotReached,
                    "verification stopped at the failed check".to_owned(),
                ),
                Err(_) => (planned, detail),
            };
            CheckEntry {
                name,
                result,
                detail,
            }
        })
        .collect()
}

/// What a verification with these inputs does for each check.
struct Plan<'a> {
    job: &'a Job,
    platform: PlatformKind,
    policy: Option<&'a Policy>,
    tcb_status: &'a str,
}

impl Plan<'_> {
    /// The result of `check` if verification succeeds, and what it means.
    fn on_success(&self, check: Check) -> (CheckResult, String) {
        use CheckResult::{NotApplicable, NotChecked, Passed};
        let simulated = self.platform == PlatformKind::Simulated;
        let intel = matches!(self.platform, PlatformKind::Tdx | PlatformKind::Sgx);
        let has_policy = self.policy.is_some();
        let at = rfc3339::format(self.job.at);
        let (result, detail): (CheckResult, &str) = match check {
            Check::SimulationNotAllowed if simulated => (
                Passed,
                "simulated evidence, accepted because allow_simulation was given",
            ),
            Check::SimulationNotAllowed => (Passed, "not simulated evidence"),
            Check::Platform | Check::Policy if !has_policy => (NotChecked, "no policy"),
            Check::Platform => (Passed, "the policy lists this platform"),
            Check::Policy => (Passed, "the policy is valid and pins this platform"),
            Check::Format => (Passed, "the evidence parses"),
            Check::Chain | Check::Freshness if simulated => (
                NotChecked,
                "simulated evidence carries its own key: no certificates, no vendor root",
            ),
            Check::Chain => match &self.job.root_file {
                None => (Passed, "the signing key chains to the pinned vendor root"),
                Some(file) => {
                    return (
                        Passed,
                        format!("the signing key chains to the root in {file}"),
                    );
                }
            },
            Check::Freshness if intel => {
                let detail = format!("the PCK chain, TCB info and QE identity are valid at {at}");
                return (Passed, detail);
            }
            Check::Freshness => {
                return (Passed, format!("every certificate is valid at {at}"));
            }
            Check::Signature => (Passed, "the signature verifies over the signed bytes"),
            Check::Measurement | Check::Debug if !has_policy => {
                (NotChecked, "no policy: shown in the claims, not judged")
            }
            Check::Measurement => (Passed, "the measurements are ones the policy allows"),
            Check::Tcb if self.platform != PlatformKind::SevSnp => (NotApplicable, "SEV-SNP only"),
            Check::Tcb => match self.policy {
                Some(p) if p.min_tcb.is_some() => {
                    (Passed, "the reported TCB meets the policy's min_tcb")
                }
                Some(_) => (NotChecked, "the policy sets no min_tcb"),
                None => (
                    NotChecked,
                    "no policy: the reported TCB is shown, not judged (that the VCEK is certified for it is part of `chain`)",
                ),
            },
            Check::TcbStatus | Check::Advisory if !intel => {
                (NotApplicable, "Intel TDX and SGX only")
            }
            Check::TcbStatus => {
                let detail = if has_policy {
                    format!(
                        "Intel's TCB status {} is one the policy accepts",
                        self.tcb_status
                    )
                } else {
                    format!(
                        "Intel's collateral gives the TCB a status ({}: a matching level, not revoked); no policy judged whether it is acceptable",
                        self.tcb_status
                    )
                };
                return (Passed, detail);
            }
            Check::Advisory if has_policy => (Passed, "every advisory is one the policy allows"),
            Check::Advisory => (NotChecked, "no policy: advisories are shown, not judged"),
            Check::Debug if self.policy.is_some_and(|p| p.allow_debug) => {
                (Passed, "the policy allows debug")
            }
            Check::Debug => (Passed, "debugging is off"),
            Check::ReportData => match &self.job.expected_report_data {
                Some(expected) => {
                    return (
                        Passed,
                        format!("the report data equals {}", expected.to_hex()),
                    );
                }
                None => (
                    NotChecked,
                    "no expected report data given (--expect-report-data)",
                ),
            },
            _ => (NotApplicable, "not a check of this verifier"),
        };
        (result, detail.to_owned())
    }
}

/// The key `PlatformClaims` serialises a platform's details under.
fn details_key(platform: PlatformKind) -> &'static str {
    match platform {
        PlatformKind::Tdx => "tdx",
        PlatformKind::Sgx => "sgx",
        PlatformKind::Nitro => "nitro",
        _ => "sev_snp",
    }
}

pub(super) fn print_summary(report: &Report) {
    let verdict = if report.accepted {
        "ACCEPTED"
    } else {
        "REJECTED"
    };
    println!("{verdict}");
    println!("platform:      {}", report.platform);
    if report.platform == PlatformKind::Simulated {
        println!("WARNING:       simulated evidence proves nothing about any hardware");
    }
    println!(
        "time:          {} ({}, {})",
        report.verified_at,
        report.verified_at_rfc3339,
        if report.time_source == "now" {
            "now: this machine's clock"
        } else {
            "given with --at"
        }
    );
    println!("trust anchor:  {}", report.trust_anchor);
    if let Some(saved) = &report.saved_bundle {
        println!(
            "saved bundle:  from {}, nonce {}, verified by `veil attest` at {}",
            saved.server_url,
            saved.nonce,
            rfc3339::format(saved.verified_at)
        );
    }
    match &report.policy_file {
        Some(file) => println!("policy:        {file}"),
        None => println!(
            "policy:        NONE APPLIED: only the evidence itself was checked; measurements, debug, TCB floor, accepted TCB status and advisories were not"
        ),
    }
    if let Some(claims) = &report.claims {
        let field = |name: &str| claims.get(name).map(|v| v.to_string()).unwrap_or_default();
        println!("measurement:   {}", field("measurement").trim_matches('"'));
        println!("report data:   {}", field("report_data").trim_matches('"'));
        println!("debug:         {}", field("debug"));
        if let Some(details) = claims
            .get("details")
            .and_then(|d| serde_json::from_value::<serde_json::Value>(d.clone()).ok())
        {
            println!("details:       {details}");
        }
    }
    println!("checks:");
    for check in &report.checks {
        let result = serde_json::to_value(check.result)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        println!(
            "  {:<24}{:<16}{}",
            check.name.as_str(),
            result,
            check.detail
        );
    }
}

//! `veil verify`: check attestation evidence offline, and the saved-bundle
//! format `veil attest --save` writes (`docs/verify.md`).
//!
//! This module reads files and decodes the forms that evidence is published
//! in (`inputs`). It defines the saved-bundle file (`saved`) and reports the
//! outcome (`report`). Every check belongs to `veil-attest`: with a policy,
//! [`verify_evidence_with_trust_anchors`]; without one,
//! [`verify_evidence_without_policy`].

mod inputs;
mod report;
mod saved;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde::Serialize;
use veil_attest::{
    AttestationError, Check, Evidence, Policy, ReportData, TrustAnchors,
    verify_evidence_with_trust_anchors, verify_evidence_without_policy,
};

use crate::rfc3339;
pub use report::CheckEntry;
use report::{REPORT_FORMAT, Report, check_list, print_summary};
use saved::Provenance;
pub use saved::saved_bundle_json;

/// Arguments of `veil verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A bundle saved by `veil attest --save` (evidence, key config, nonce).
    #[arg(long, value_name = "FILE", required_unless_present = "evidence", conflicts_with_all = ["evidence", "expect_report_data"])]
    bundle: Option<PathBuf>,
    /// Raw evidence: an SEV-SNP report (1184 bytes, or hex), a TDX or SGX
    /// DCAP quote (trailing zero padding ignored), or a Nitro attestation
    /// document (COSE_Sign1 CBOR).
    #[arg(long, value_name = "FILE")]
    evidence: Option<PathBuf>,
    /// The platform of `--evidence`; `auto` detects it from the bytes.
    #[arg(long, value_enum, default_value_t = PlatformArg::Auto, requires = "evidence")]
    platform: PlatformArg,
    /// SEV-SNP: the VCEK that signed the report (PEM or DER).
    #[arg(long, value_name = "FILE", requires = "evidence")]
    vcek: Option<PathBuf>,
    /// SEV-SNP: the ASK (PEM or DER; a PEM chain ASK + ARK also works).
    #[arg(long, value_name = "FILE", requires = "evidence")]
    ask: Option<PathBuf>,
    /// SEV-SNP: the ARK; it must be the trusted one (pinned, or `--root`).
    #[arg(long, value_name = "FILE", requires = "evidence")]
    ark: Option<PathBuf>,
    /// TDX/SGX: Intel PCS collateral as JSON (`QuoteCollateralV3` layout).
    #[arg(long, value_name = "FILE", requires = "evidence")]
    collateral: Option<PathBuf>,
    /// Trust this root instead of the built-in vendor root of the evidence's
    /// platform (AMD ARK, Intel SGX Root CA, AWS Nitro root); PEM or DER.
    #[arg(long, value_name = "FILE")]
    root: Option<PathBuf>,
    /// Verification time: unix seconds or RFC 3339 (default: now).
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// Policy file (TOML, docs/policy.md). Without it only the evidence
    /// itself is checked, and the output says no policy was applied.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// DANGER: accept simulated evidence (it proves nothing about hardware).
    #[arg(long, conflicts_with = "policy")]
    allow_simulation: bool,
    /// The 64 bytes (128 hex characters) the report data must equal.
    #[arg(long, value_name = "HEX")]
    expect_report_data: Option<String>,
    /// With `--bundle`: the nonce (64 hex characters) the report data must
    /// bind with the bundle's key configuration (default: the saved nonce).
    #[arg(long, value_name = "HEX", requires = "bundle")]
    nonce: Option<String>,
    /// Print the documented JSON report instead of a summary.
    #[arg(long)]
    json: bool,
}

/// `--platform` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PlatformArg {
    Auto,
    SevSnp,
    Tdx,
    Sgx,
    Nitro,
}

/// What `veil verify` checks, decoded from the command line and files.
struct Job {
    evidence: Evidence,
    provenance: Option<Provenance>,
    expected_report_data: Option<ReportData>,
    policy: Option<(PathBuf, Policy)>,
    allow_simulation: bool,
    anchors: TrustAnchors,
    /// The `--root` file, if the vendor root was replaced.
    root_file: Option<String>,
    at: u64,
    time_source: &'static str,
}

/// Runs `veil verify`: exit code 0 accepted, 1 rejected, 2 unusable input.
pub fn run(args: &VerifyArgs) -> ExitCode {
    let job = match inputs::load(args) {
        Ok(job) => job,
        Err(e) => {
            eprintln!("error: unusable input: {e}");
            return ExitCode::from(2);
        }
    };
    let report = verify(&job);
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("error: cannot encode the report: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        print_summary(&report);
    }
    match (&report.failed_check, &report.error) {
        (Some(check), Some(detail)) => {
            eprintln!("rejected: check `{check}` failed: {detail}");
            ExitCode::from(1)
        }
        _ => ExitCode::SUCCESS,
    }
}

/// Runs the verifier and lists every check with its result.
fn verify(job: &Job) -> Report {
    let evidence = &job.evidence;
    let outcome = match &job.policy {
        Some((_, policy)) => {
            // The bundle path always expects report data; raw evidence
            // with a policy needs it too (the policy API checks it).
            match &job.expected_report_data {
                Some(expected) => verify_evidence_with_trust_anchors(
                    evidence,
                    expected,
                    policy,
                    job.at,
                    &job.anchors,
                )
                .and_then(|claims| to_value(&claims)),
                None => verify_with_policy_any_report_data(job, policy),
            }
        }
        None => verify_evidence_without_policy(
            evidence,
            job.expected_report_data.as_ref(),
            job.allow_simulation,
            job.at,
            &job.anchors,
        )
        .and_then(|claims| to_value(&claims)),
    };
    let checks = check_list(job, &outcome);
    let (claims, failed_check, error) = match outcome {
        Ok(claims) => (Some(claims), None, None),
        Err(e) => (None, Some(e.check), Some(e.detail)),
    };
    Report {
        format: REPORT_FORMAT,
        accepted: failed_check.is_none(),
        platform: evidence.platform,
        verified_at: job.at,
        verified_at_rfc3339: rfc3339::format(job.at),
        time_source: job.time_source,
        saved_bundle: job.provenance.clone(),
        policy_applied: job.policy.is_some(),
        policy_file: job.policy.as_ref().map(|(p, _)| p.display().to_string()),
        trust_anchor: job.root_file.clone().unwrap_or_else(|| "pinned".to_owned()),
        claims,
        checks,
        failed_check,
        error,
    }
}

/// A policy but no expected report data: the evidence's own report data is
/// what it is. Verify without a policy first (which reads it), then with the
/// policy expecting exactly that value; the report-data check is reported
/// as not checked.
fn verify_with_policy_any_report_data(
    job: &Job,
    policy: &Policy,
) -> Result<serde_json::Value, AttestationError> {
    let unpinned = verify_evidence_without_policy(
        &job.evidence,
        None,
        policy.allow_simulation,
        job.at,
        &job.anchors,
    )?;
    let report_data = unpinned.report_data.ok_or_else(|| {
        AttestationError::new(
            Check::ReportData,
            "the evidence carries no 64-byte report data, which a policy verification needs",
        )
    })?;
    let claims = verify_evidence_with_trust_anchors(
        &job.evidence,
        &report_data,
        policy,
        job.at,
        &job.anchors,
    )?;
    to_value(&claims)
}

fn to_value(claims: &impl Serialize) -> Result<serde_json::Value, AttestationError> {
    serde_json::to_value(claims)
        .map_err(|e| AttestationError::new(Check::Format, format!("claims do not encode: {e}")))
}

/// Every check of a bundle that `veil attest` verified, with its result:
/// the bundle is verified again offline, with the same policy at the same
/// time, so the list is the one the connection's verification went through.
pub fn checks_of_connection(
    bundle_json: &[u8],
    policy_source: PathBuf,
    policy: Policy,
    verified_at: u64,
) -> anyhow::Result<Vec<CheckEntry>> {
    let bundle: veil_protocol::bundle::EvidenceBundle = serde_json::from_slice(bundle_json)?;
    let nonce: veil_protocol::transcript::Nonce = hex::decode(&bundle.nonce)?
        .try_into()
        .map_err(|_| anyhow::anyhow!("the bundle's nonce is not 32 bytes"))?;
    let (evidence, key_config) = bundle.decode()?;
    let job = Job {
        evidence,
        provenance: None,
        expected_report_data: Some(veil_protocol::transcript::report_data(&key_config, &nonce)),
        allow_simulation: policy.allow_simulation,
        policy: Some((policy_source, policy)),
        anchors: TrustAnchors::pinned(),
        root_file: None,
        at: verified_at,
        time_source: "given",
    };
    Ok(verify(&job).checks)
}

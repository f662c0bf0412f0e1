//! `veil verify`: check attestation evidence offline, and the saved-bundle
//! format `veil attest --save` writes.
//!
//! Reading files and decoding their published forms is here; every check is
//! `veil-attest`'s (with a policy: [`verify_evidence_with_trust_anchors`];
//! without: [`verify_evidence_without_policy`]). `docs/verify.md` documents
//! the workflow, the saved-bundle format and the JSON report.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};
use veil_attest::{
    AttestationError, Check, Evidence, PlatformKind, Policy, ReportData, TrustAnchors,
    decode_certificates, decode_snp_report, detect_platform, trim_dcap_quote,
    verify_evidence_with_trust_anchors, verify_evidence_without_policy,
};
use veil_protocol::bundle::EvidenceBundle;
use veil_protocol::transcript::{self, Nonce};

use crate::rfc3339;

/// The `format` of a file `veil attest --save` writes. Bumped whenever a
/// field changes meaning or is added or removed.
pub const SAVED_BUNDLE_FORMAT: &str = "veil-saved-bundle/1";

/// The `format` of `veil verify --json` output. Bumped whenever a field
/// changes meaning or is added or removed.
pub const REPORT_FORMAT: &str = "veil-verify-report/1";

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

/// Input that cannot be verified at all (exit code 2): unreadable, in an
/// unknown format, or missing an endorsement the platform needs.
#[derive(Debug)]
pub struct UnusableInput(String);

impl fmt::Display for UnusableInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UnusableInput {}

fn unusable(detail: impl Into<String>) -> UnusableInput {
    UnusableInput(detail.into())
}

/// A file `veil attest --save` writes: the bundle exactly as the server sent
/// it, the nonce the client sent, and when it was verified.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedBundle {
    /// [`SAVED_BUNDLE_FORMAT`].
    pub format: String,
    /// The server URL the bundle came from (informational).
    pub server_url: String,
    /// The nonce the client sent, 64 hex characters.
    pub nonce: String,
    /// When `veil attest` verified the bundle (unix seconds).
    pub verified_at: u64,
    /// When the file was written (unix seconds).
    pub saved_at: u64,
    /// The server's `GET /v1/attestation` answer.
    pub bundle: EvidenceBundle,
}

/// Where a saved bundle came from, as its file says (unverified: shown so a
/// reader can compare it with their records).
#[derive(Debug, Clone, Serialize)]
pub struct Provenance {
    /// The server URL the bundle was fetched from.
    pub server_url: String,
    /// The nonce the client sent (hex).
    pub nonce: String,
    /// When `veil attest` verified it (unix seconds).
    pub verified_at: u64,
    /// When the file was written (unix seconds).
    pub saved_at: u64,
}

/// The saved-bundle file for `bundle_json` (the server's answer, byte for
/// byte: it is spliced in, not re-serialised).
pub fn saved_bundle_json(
    server_url: &str,
    bundle_json: &[u8],
    verified_at: u64,
    saved_at: u64,
) -> anyhow::Result<Vec<u8>> {
    let bundle: EvidenceBundle = serde_json::from_slice(bundle_json)?;
    let head = format!(
        "{{\n  \"format\": {},\n  \"server_url\": {},\n  \"nonce\": {},\n  \"verified_at\": {verified_at},\n  \"saved_at\": {saved_at},\n  \"bundle\": ",
        serde_json::to_string(SAVED_BUNDLE_FORMAT)?,
        serde_json::to_string(server_url)?,
        serde_json::to_string(&bundle.nonce)?,
    );
    let mut out = head.into_bytes();
    out.extend_from_slice(bundle_json);
    out.extend_from_slice(b"\n}\n");
    Ok(out)
}

/// What `veil verify` checks, decoded from the command line and files.
struct Job {
    evidence: Evidence,
    provenance: Option<Provenance>,
    expected_report_data: Option<ReportData>,
    policy: Option<(PathBuf, Policy)>,
    allow_simulation: bool,
    anchors: TrustAnchors,
    anchor: String,
    at: u64,
    time_source: &'static str,
}

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

/// Runs `veil verify`: exit code 0 accepted, 1 rejected, 2 unusable input.
pub fn run(args: &VerifyArgs) -> ExitCode {
    let job = match load(args) {
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

fn read(path: &Path, what: &str) -> Result<Vec<u8>, UnusableInput> {
    std::fs::read(path).map_err(|e| unusable(format!("cannot read {what} {}: {e}", path.display())))
}

fn decoded<T>(what: &str, result: Result<T, AttestationError>) -> Result<T, UnusableInput> {
    result.map_err(|e| unusable(format!("{what}: {}", e.detail)))
}

fn load(args: &VerifyArgs) -> Result<Job, UnusableInput> {
    let (evidence, expected_report_data, provenance) = match (&args.bundle, &args.evidence) {
        (Some(path), _) => {
            let (evidence, expected, provenance) = load_bundle(path, args.nonce.as_deref())?;
            (evidence, Some(expected), Some(provenance))
        }
        (None, Some(path)) => {
            let expected = args
                .expect_report_data
                .as_deref()
                .map(|hex| decoded("--expect-report-data", ReportData::from_hex(hex)))
                .transpose()?;
            (load_evidence(path, args)?, expected, None)
        }
        (None, None) => return Err(unusable("give --bundle FILE or --evidence FILE")),
    };
    let policy = match &args.policy {
        Some(path) => {
            let text = String::from_utf8(read(path, "policy")?)
                .map_err(|_| unusable(format!("policy {} is not UTF-8", path.display())))?;
            let policy = decoded("policy", Policy::from_toml_str(&text))?;
            Some((path.clone(), policy))
        }
        None => None,
    };
    let (anchors, anchor) = match &args.root {
        Some(path) => {
            let der = first_certificate(path, "root")?;
            let anchors = match evidence.platform {
                PlatformKind::SevSnp => TrustAnchors::pinned().with_amd_ark_der(der),
                PlatformKind::Tdx | PlatformKind::Sgx => {
                    TrustAnchors::pinned().with_intel_root_der(der)
                }
                PlatformKind::Nitro => TrustAnchors::pinned().with_nitro_root_der(der),
                _ => return Err(unusable("simulated evidence has no vendor root to replace")),
            };
            (anchors, path.display().to_string())
        }
        None => (TrustAnchors::pinned(), "pinned".to_owned()),
    };
    let (at, time_source) = match &args.at {
        Some(text) => (parse_time(text)?, "given"),
        None => (
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_err(|_| unusable("the system clock is before 1970"))?
                .as_secs(),
            "now",
        ),
    };
    Ok(Job {
        evidence,
        provenance,
        expected_report_data,
        policy,
        allow_simulation: args.allow_simulation,
        anchors,
        anchor,
        at,
        time_source,
    })
}

/// The evidence of a saved bundle and the report data it must carry: the
/// transcript of its key configuration and the nonce (`--nonce`, or the
/// saved one).
fn load_bundle(
    path: &Path,
    nonce: Option<&str>,
) -> Result<(Evidence, ReportData, Provenance), UnusableInput> {
    let saved: SavedBundle = serde_json::from_slice(&read(path, "bundle")?)
        .map_err(|e| unusable(format!("{} is not a saved bundle: {e}", path.display())))?;
    if saved.format != SAVED_BUNDLE_FORMAT {
        return Err(unusable(format!(
            "saved-bundle format `{}` is not supported (expected `{SAVED_BUNDLE_FORMAT}`)",
            saved.format
        )));
    }
    let nonce_hex = nonce.unwrap_or(&saved.nonce);
    let nonce: Nonce = hex::decode(nonce_hex)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| unusable("the nonce is not 64 hex characters"))?;
    let (evidence, key_config) = decoded("bundle", saved.bundle.decode())?;
    // Bound or not, the report data says: a bundle answering another nonce
    // fails `report_data`, whatever its `nonce` field claims.
    let provenance = Provenance {
        server_url: saved.server_url,
        nonce: saved.nonce,
        verified_at: saved.verified_at,
        saved_at: saved.saved_at,
    };
    Ok((
        evidence,
        transcript::report_data(&key_config, &nonce),
        provenance,
    ))
}

fn load_evidence(path: &Path, args: &VerifyArgs) -> Result<Evidence, UnusableInput> {
    let raw = read(path, "evidence")?;
    let platform = match args.platform {
        PlatformArg::Auto => detect_platform(&raw).ok_or_else(|| {
            unusable(format!(
                "{} is not an SNP report, DCAP quote or Nitro document: give --platform",
                path.display()
            ))
        })?,
        PlatformArg::SevSnp => PlatformKind::SevSnp,
        PlatformArg::Tdx => PlatformKind::Tdx,
        PlatformArg::Sgx => PlatformKind::Sgx,
        PlatformArg::Nitro => PlatformKind::Nitro,
    };
    let snp_flags = [
        ("--vcek", &args.vcek),
        ("--ask", &args.ask),
        ("--ark", &args.ark),
    ];
    let refuse_flag = |flag: &str| {
        unusable(format!(
            "{flag} does not apply to {platform} evidence (it would be ignored)"
        ))
    };
    match platform {
        PlatformKind::SevSnp => {
            if args.collateral.is_some() {
                return Err(refuse_flag("--collateral"));
            }
            let report = decoded("SNP report", decode_snp_report(&raw))?;
            let vcek = args
                .vcek
                .as_deref()
                .ok_or_else(|| unusable("sev-snp evidence needs --vcek FILE"))?;
            let ask = args
                .ask
                .as_deref()
                .ok_or_else(|| unusable("sev-snp evidence needs --ask FILE"))?;
            let mut certificates = vec![first_certificate(vcek, "VCEK")?];
            let ask_chain = decoded("ASK", decode_certificates(&read(ask, "ASK")?))?;
            match (ask_chain.as_slice(), &args.ark) {
                ([ask], Some(ark)) | ([ask, _], Some(ark)) => {
                    certificates.push(ask.clone());
                    certificates.push(first_certificate(ark, "ARK")?);
                }
                ([ask], None) => certificates.push(ask.clone()),
                ([ask, ark], None) => certificates.extend([ask.clone(), ark.clone()]),
                _ => return Err(unusable("the --ask file holds more than ASK + ARK")),
            }
            Ok(Evidence::new(platform, report, certificates))
        }
        PlatformKind::Tdx | PlatformKind::Sgx => {
            if let Some((flag, _)) = snp_flags.iter().find(|(_, v)| v.is_some()) {
                return Err(refuse_flag(flag));
            }
            let quote = decoded("quote", trim_dcap_quote(&raw))?;
            let path = args.collateral.as_deref().ok_or_else(|| {
                unusable(format!(
                    "{platform} evidence needs --collateral FILE (Intel PCS JSON)"
                ))
            })?;
            let collateral = read(path, "collateral")?;
            serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&collateral)
                .map_err(|e| unusable(format!("collateral is not a JSON object: {e}")))?;
            let mut evidence = Evidence::new(platform, quote, Vec::new());
            evidence.collateral = collateral;
            Ok(evidence)
        }
        _ => {
            if let Some((flag, _)) = snp_flags.iter().find(|(_, v)| v.is_some()) {
                return Err(refuse_flag(flag));
            }
            if args.collateral.is_some() {
                return Err(refuse_flag("--collateral"));
            }
            Ok(Evidence::new(platform, raw, Vec::new()))
        }
    }
}

fn first_certificate(path: &Path, what: &str) -> Result<Vec<u8>, UnusableInput> {
    let certificates = decoded(what, decode_certificates(&read(path, what)?))?;
    match <[Vec<u8>; 1]>::try_from(certificates) {
        Ok([der]) => Ok(der),
        Err(all) => Err(unusable(format!(
            "{what} file {} holds {} certificates, expected one",
            path.display(),
            all.len()
        ))),
    }
}

fn parse_time(text: &str) -> Result<u64, UnusableInput> {
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(seconds);
    }
    rfc3339::parse(text).ok_or_else(|| {
        unusable(format!(
            "--at {text}: expected unix seconds or an RFC 3339 time (2025-06-19T11:32:27Z)"
        ))
    })
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
        trust_anchor: job.anchor.clone(),
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

/// Every check in the order `docs/verify.md` lists them. A check is
/// `passed` only if the verifier performed it and verification succeeded.
fn check_list(job: &Job, outcome: &Result<serde_json::Value, AttestationError>) -> Vec<CheckEntry> {
    use CheckResult::{NotApplicable, NotChecked, Passed};
    let platform = job.evidence.platform;
    let simulated = platform == PlatformKind::Simulated;
    let policy = job.policy.as_ref().map(|(_, p)| p);
    let intel = matches!(platform, PlatformKind::Tdx | PlatformKind::Sgx);
    let no_policy = |what: &str| (NotChecked, format!("no policy: {what} shown, not judged"));
    let anchor = if job.anchor == "pinned" {
        "the pinned vendor root".to_owned()
    } else {
        format!("the root in {}", job.anchor)
    };
    let tcb_status = match outcome {
        Ok(claims) => claims
            .pointer(&format!("/details/{}/tcb/status", details_key(platform)))
            .and_then(|v| v.as_str())
            .unwrap_or("?")
            .to_owned(),
        Err(_) => "?".to_owned(),
    };
    let planned: Vec<(Check, CheckResult, String)> = vec![
        (
            Check::SimulationNotAllowed,
            Passed,
            if simulated {
                "simulated evidence, accepted because allow_simulation was given".into()
            } else {
                "not simulated evidence".into()
            },
        ),
        match policy {
            Some(_) => (
                Check::Platform,
                Passed,
                "the policy lists this platform".into(),
            ),
            None => (Check::Platform, NotChecked, "no policy".into()),
        },
        match policy {
            Some(_) => (
                Check::Policy,
                Passed,
                "the policy is valid and pins this platform".into(),
            ),
            None => (Check::Policy, NotChecked, "no policy".into()),
        },
        (Check::Format, Passed, "the evidence parses".into()),
        if simulated {
            (
                Check::Chain,
                NotChecked,
                "simulated evidence carries its own key: no vendor chain".into(),
            )
        } else {
            (
                Check::Chain,
                Passed,
                format!("the signing key chains to {anchor}"),
            )
        },
        if simulated {
            (
                Check::Freshness,
                NotChecked,
                "simulated evidence has no certificates".into(),
            )
        } else {
            (
                Check::Freshness,
                Passed,
                format!(
                    "every certificate{} valid at {}",
                    if intel {
                        ", CRL and collateral item"
                    } else {
                        ""
                    },
                    rfc3339::format(job.at)
                ),
            )
        },
        (
            Check::Signature,
            Passed,
            "the signature verifies over the signed bytes".into(),
        ),
        match policy {
            Some(_) => (
                Check::Measurement,
                Passed,
                "the measurements are ones the policy allows".into(),
            ),
            None => {
                let (r, d) = no_policy("measurements");
                (Check::Measurement, r, d)
            }
        },
        match (platform, policy) {
            (PlatformKind::SevSnp, Some(p)) if p.min_tcb.is_some() => (
                Check::Tcb,
                Passed,
                "the reported TCB meets the policy's min_tcb".into(),
            ),
            (PlatformKind::SevSnp, Some(_)) => {
                (Check::Tcb, NotChecked, "the policy sets no min_tcb".into())
            }
            (PlatformKind::SevSnp, None) => {
                let (r, d) = no_policy(
                    "the reported TCB (the VCEK's certified TCB must equal it: part of `chain`)",
                );
                (Check::Tcb, r, d)
            }
            _ => (Check::Tcb, NotApplicable, "SEV-SNP only".into()),
        },
        match (intel, policy) {
            (true, Some(_)) => (
                Check::TcbStatus,
                Passed,
                format!("Intel's TCB status {tcb_status} is one the policy accepts"),
            ),
            (true, None) => (
                Check::TcbStatus,
                Passed,
                format!(
                    "Intel's collateral gives the TCB a status ({tcb_status}: a matching level, not revoked); no policy judged which statuses are acceptable"
                ),
            ),
            _ => (
                Check::TcbStatus,
                NotApplicable,
                "Intel TDX and SGX only".into(),
            ),
        },
        match (intel, policy) {
            (true, Some(_)) => (
                Check::Advisory,
                Passed,
                "every advisory is one the policy allows".into(),
            ),
            (true, None) => {
                let (r, d) = no_policy("advisories");
                (Check::Advisory, r, d)
            }
            _ => (
                Check::Advisory,
                NotApplicable,
                "Intel TDX and SGX only".into(),
            ),
        },
        match policy {
            Some(p) if p.allow_debug => (Check::Debug, Passed, "the policy allows debug".into()),
            Some(_) => (Check::Debug, Passed, "debugging is off".into()),
            None => {
                let (r, d) = no_policy("the debug flag");
                (Check::Debug, r, d)
            }
        },
        match &job.expected_report_data {
            Some(expected) => (
                Check::ReportData,
                Passed,
                format!("the report data equals {}", expected.to_hex()),
            ),
            None => (
                Check::ReportData,
                NotChecked,
                "no expected report data given (--expect-report-data)".into(),
            ),
        },
    ];
    planned
        .into_iter()
        .map(|(name, planned_result, detail)| {
            let (result, detail) = match outcome {
                Ok(_) => (planned_result, detail),
                Err(e) if e.check == name => (CheckResult::Failed, e.detail.clone()),
                Err(_) if planned_result == Passed => (
                    CheckResult::NotReached,
                    "verification stopped at the failed check".to_owned(),
                ),
                Err(_) => (planned_result, detail),
            };
            CheckEntry {
                name,
                result,
                detail,
            }
        })
        .collect()
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

fn print_summary(report: &Report) {
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

//! `veil policy from-evidence`: print a policy that pins what a server's
//! evidence says now, for an operator to review and publish.
//!
//! The evidence is verified first with no policy
//! ([`verify_evidence_without_policy`]: chain to the pinned vendor root,
//! validity at the verification time, signature, report data bound to a
//! fresh nonce when fetched from a server). Only then are its claims turned
//! into a [`Policy`], which is printed as TOML after two self-checks: the
//! text parses back to the same policy, and that policy accepts the very
//! evidence it was made from.
//!
//! A generated policy is a starting point, not a decision: it trusts
//! whatever the server runs now. The header of the file says so.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use rand::RngCore;
use veil_attest::{
    Evidence, PinnedPolicy, PlatformKind, Policy, ReportData, TrustAnchors, decode_certificates,
    decode_snp_report, detect_platform, trim_dcap_quote, verify_evidence_with_trust_anchors,
    verify_evidence_without_policy,
};
use veil_protocol::bundle::EvidenceBundle;
use veil_protocol::transcript::{self, Nonce};

use crate::rfc3339;

/// `veil policy` subcommands.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Verify a server's evidence (or an evidence file) without a policy and
    /// print a TOML policy pinning what it reports now, to review before use.
    FromEvidence(FromEvidenceArgs),
}

/// Arguments of `veil policy from-evidence`.
#[derive(Debug, Args)]
pub struct FromEvidenceArgs {
    /// Server URL, e.g. https://veil.example:8443 (fetches its evidence with
    /// a fresh nonce).
    #[arg(required_unless_present = "evidence", conflicts_with = "evidence")]
    url: Option<String>,
    /// Raw evidence instead of a server: an SEV-SNP report (1184 bytes, or
    /// hex), a TDX or SGX DCAP quote, or a Nitro attestation document.
    #[arg(long, value_name = "FILE")]
    evidence: Option<PathBuf>,
    /// The platform of `--evidence`; `auto` detects it from the bytes.
    #[arg(long, value_enum, default_value_t = EvidencePlatform::Auto, requires = "evidence")]
    platform: EvidencePlatform,
    /// SEV-SNP `--evidence`: the VCEK that signed the report (PEM or DER).
    #[arg(long, value_name = "FILE", requires = "evidence")]
    vcek: Option<PathBuf>,
    /// SEV-SNP `--evidence`: the ASK (PEM or DER; a PEM chain ASK + ARK also works).
    #[arg(long, value_name = "FILE", requires = "evidence")]
    ask: Option<PathBuf>,
    /// TDX/SGX `--evidence`: Intel PCS collateral (QuoteCollateralV3 JSON).
    #[arg(long, value_name = "FILE", requires = "evidence")]
    collateral: Option<PathBuf>,
    /// Verification time: unix seconds or RFC 3339 (default: now).
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// DANGER: accept simulated evidence and print a policy that accepts the
    /// simulated platform (which proves nothing). For development only.
    #[arg(long)]
    allow_simulation: bool,
    /// Print a policy even if the evidence says debugging is on (the policy
    /// then sets allow_debug = true: the host can read the guest's memory).
    #[arg(long)]
    allow_debug: bool,
    /// Timeout of the request to the server, in seconds.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
}

/// `--platform` values of `--evidence`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum EvidencePlatform {
    Auto,
    SevSnp,
    Tdx,
    Sgx,
    Nitro,
}

/// Runs a `veil policy` subcommand.
pub async fn run(command: PolicyCommand) -> Result<()> {
    match command {
        PolicyCommand::FromEvidence(args) => {
            let text = from_evidence(&args).await?;
            print!("{text}");
            Ok(())
        }
    }
}

/// Evidence to turn into a policy: where it came from, and the report data
/// it must carry (a fresh nonce's transcript when fetched from a server).
struct Source {
    evidence: Evidence,
    expected_report_data: Option<ReportData>,
    description: String,
}

async fn from_evidence(args: &FromEvidenceArgs) -> Result<String> {
    let at = match &args.at {
        Some(text) => parse_time(text)?,
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .context("the system clock is before 1970")?
            .as_secs(),
    };
    let source = match (&args.url, &args.evidence) {
        (Some(url), _) => fetch(url, Duration::from_secs_f64(args.timeout)).await?,
        (None, Some(path)) => load_evidence(path, args)?,
        (None, None) => bail!("give a server URL or --evidence FILE"),
    };
    let anchors = TrustAnchors::pinned();
    let claims = verify_evidence_without_policy(
        &source.evidence,
        source.expected_report_data.as_ref(),
        args.allow_simulation,
        at,
        &anchors,
    )
    .map_err(|e| {
        anyhow::anyhow!(
            "the evidence does not verify (check `{}`): {}",
            e.check,
            e.detail
        )
    })?;
    if claims.debug && !args.allow_debug {
        bail!(
            "the evidence says debugging is enabled: the host can read this server's memory. \
             No policy printed (pass --allow-debug to pin it anyway, for a test deployment)"
        );
    }
    let generated = PinnedPolicy::of(&claims, args.allow_debug)?;
    let text = render(&generated, &source.description, at)?;

    // Self-checks: the text means this policy, and it accepts this evidence.
    let parsed = Policy::from_toml_str(&text)
        .map_err(|e| anyhow::anyhow!("generated policy does not parse back: {}", e.detail))?;
    if parsed != generated.policy {
        bail!("generated policy does not parse back to itself");
    }
    if let Some(report_data) = source
        .expected_report_data
        .as_ref()
        .or(claims.report_data.as_ref())
    {
        verify_evidence_with_trust_anchors(&source.evidence, report_data, &parsed, at, &anchors)
            .map_err(|e| {
                anyhow::anyhow!(
                    "generated policy refuses the evidence it was made from (check `{}`): {}",
                    e.check,
                    e.detail
                )
            })?;
    }
    Ok(text)
}

/// Fetches a server's evidence bundle with a fresh nonce; the report data
/// must bind the bundle's key configuration to that nonce.
async fn fetch(url: &str, timeout: Duration) -> Result<Source> {
    let base = url.trim_end_matches('/');
    let mut nonce: Nonce = [0; 32];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let http = reqwest::Client::builder()
        .connect_timeout(timeout)
        .timeout(timeout)
        .build()?;
    let response = http
        .get(format!(
            "{base}/v1/attestation?nonce={}",
            hex::encode(nonce)
        ))
        .send()
        .await
        .with_context(|| format!("cannot reach {base}"))?;
    let status = response.status();
    let body = response.bytes().await?;
    if !status.is_success() {
        bail!("{base}/v1/attestation answered {status}");
    }
    let bundle: EvidenceBundle =
        serde_json::from_slice(&body).context("the evidence bundle does not parse")?;
    if bundle.nonce != hex::encode(nonce) {
        bail!("the server's bundle answers another nonce than the one sent");
    }
    let (evidence, key_config) = bundle
        .decode()
        .map_err(|e| anyhow::anyhow!("the evidence bundle does not decode: {}", e.detail))?;
    Ok(Source {
        evidence,
        expected_report_data: Some(transcript::report_data(&key_config, &nonce)),
        description: format!("{base} (server version {})", bundle.server_version),
    })
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {what} {}", path.display()))
}

fn attest_error(what: &str) -> impl FnOnce(veil_attest::AttestationError) -> anyhow::Error + '_ {
    move |e| anyhow::anyhow!("{what}: {}", e.detail)
}

/// Decodes `--evidence` and its endorsements, as `veil verify` reads them.
fn load_evidence(path: &Path, args: &FromEvidenceArgs) -> Result<Source> {
    let raw = read(path, "evidence")?;
    let platform = match args.platform {
        EvidencePlatform::Auto => detect_platform(&raw).with_context(|| {
            format!(
                "{} is not an SNP report, DCAP quote or Nitro document: give --platform",
                path.display()
            )
        })?,
        EvidencePlatform::SevSnp => PlatformKind::SevSnp,
        EvidencePlatform::Tdx => PlatformKind::Tdx,
        EvidencePlatform::Sgx => PlatformKind::Sgx,
        EvidencePlatform::Nitro => PlatformKind::Nitro,
    };
    let evidence = match platform {
        PlatformKind::SevSnp => {
            let report = decode_snp_report(&raw).map_err(attest_error("SNP report"))?;
            let (Some(vcek), Some(ask)) = (&args.vcek, &args.ask) else {
                bail!("sev-snp evidence needs --vcek FILE and --ask FILE");
            };
            let mut certificates =
                decode_certificates(&read(vcek, "VCEK")?).map_err(attest_error("VCEK"))?;
            certificates.truncate(1);
            certificates
                .extend(decode_certificates(&read(ask, "ASK")?).map_err(attest_error("ASK"))?);
            Evidence::new(platform, report, certificates)
        }
        PlatformKind::Tdx | PlatformKind::Sgx => {
            let quote = trim_dcap_quote(&raw).map_err(attest_error("quote"))?;
            let collateral = args.collateral.as_deref().with_context(|| {
                format!("{platform} evidence needs --collateral FILE (Intel PCS JSON)")
            })?;
            let mut evidence = Evidence::new(platform, quote, Vec::new());
            evidence.collateral = read(collateral, "collateral")?;
            evidence
        }
        _ => Evidence::new(platform, raw, Vec::new()),
    };
    Ok(Source {
        evidence,
        expected_report_data: None,
        description: format!("evidence file {}", path.display()),
    })
}

fn parse_time(text: &str) -> Result<u64> {
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(seconds);
    }
    rfc3339::parse(text).with_context(|| {
        format!("--at {text}: expected unix seconds or an RFC 3339 time (2025-06-19T11:32:27Z)")
    })
}

/// The TOML text: a header saying where it came from and that it must be
/// reviewed, then the policy.
pub fn render(generated: &PinnedPolicy, source: &str, at: u64) -> Result<String> {
    let body = toml::to_string(&generated.policy).context("cannot encode the policy as TOML")?;
    let mut text = String::new();
    for line in [
        "# Veil attestation policy GENERATED by `veil policy from-evidence`: REVIEW IT BEFORE USE."
            .to_owned(),
        format!("# Source: {source}"),
        format!(
            "# Generated from evidence verified at {} (unix {at}) against the pinned vendor root, with no policy.",
            rfc3339::format(at)
        ),
        "# It pins exactly what the server reported at that time. That does not show it is".into(),
        "# the code you meant to trust: compare the measurements with your own build before".into(),
        "# publishing this file (docs/policy.md, docs/deploy/).".into(),
    ] {
        text.push_str(&line);
        text.push('\n');
    }
    for note in &generated.notes {
        text.push_str("# NOTE: ");
        text.push_str(note);
        text.push('\n');
    }
    text.push('\n');
    text.push_str(&body);
    Ok(text)
}

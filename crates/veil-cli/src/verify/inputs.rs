//! Reading `veil verify`'s files and decoding the forms that evidence is
//! published in. Every failure here is unusable input (exit code 2).

use std::fmt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use veil_attest::{
    AttestationError, Evidence, PlatformKind, Policy, ReportData, TrustAnchors,
    decode_certificates, decode_snp_report, detect_platform, trim_dcap_quote,
};
use veil_protocol::transcript::{self, Nonce};

use super::saved::{Provenance, SAVED_BUNDLE_FORMAT, SavedBundle};
use super::{Job, PlatformArg, VerifyArgs};
use crate::rfc3339;

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

fn read(path: &Path, what: &str) -> Result<Vec<u8>, UnusableInput> {
    std::fs::read(path).map_err(|e| unusable(format!("cannot read {what} {}: {e}", path.display())))
}

fn decoded<T>(what: &str, result: Result<T, AttestationError>) -> Result<T, UnusableInput> {
    result.map_err(|e| unusable(format!("{what}: {}", e.detail)))
}

pub(super) fn load(args: &VerifyArgs) -> Result<Job, UnusableInput> {
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
    let (anchors, root_file) = match &args.root {
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
            (anchors, Some(path.display().to_string()))
        }
        None => (TrustAnchors::pinned(), None),
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
        root_file,
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

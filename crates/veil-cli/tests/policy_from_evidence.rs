//! `veil policy from-evidence`, driven through the built binary: against a
//! live simulated server the printed policy parses and a client using it
//! connects; on every real vector the printed policy accepts that evidence
//! (`veil verify --policy`) and a tampered copy is refused; evidence that
//! does not verify prints no policy.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Output;

use veil_attest::{PlatformKind, Policy};
use veil_client::{Client, ConnectOptions};

use common::{testdata, veil};

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A real vector: how to give it to `veil`, and when it is valid.
struct Vector {
    platform: &'static str,
    evidence: String,
    endorsements: Vec<String>,
    at: &'static str,
    /// A byte of the signed body to flip (of the binary form).
    body_byte: usize,
}

fn vectors() -> Vec<Vector> {
    vec![
        Vector {
            platform: "sev-snp",
            evidence: testdata("sev-snp/report_milan.hex"),
            endorsements: vec![
                "--vcek".into(),
                testdata("sev-snp/vcek_milan.der"),
                "--ask".into(),
                testdata("sev-snp/cert_chain_milan"),
            ],
            at: "1704067200",
            body_byte: 0x90,
        },
        Vector {
            platform: "tdx",
            evidence: testdata("tdx/tdx_quote"),
            endorsements: vec![
                "--collateral".into(),
                testdata("tdx/tdx_quote_collateral.json"),
            ],
            at: "1750332747",
            body_byte: 184,
        },
        Vector {
            platform: "sgx",
            evidence: testdata("sgx/sgx_quote"),
            endorsements: vec![
                "--collateral".into(),
                testdata("sgx/sgx_quote_collateral.json"),
            ],
            at: "1750334171",
            body_byte: 112,
        },
    ]
}

impl Vector {
    fn evidence_bytes(&self) -> Vec<u8> {
        let raw = std::fs::read(&self.evidence).unwrap();
        if self.platform == "sev-snp" {
            let text: String = String::from_utf8(raw).unwrap().split_whitespace().collect();
            return hex::decode(text).unwrap();
        }
        raw
    }

    /// `veil <subcommand> --evidence FILE ENDORSEMENTS --at T EXTRA`.
    fn run(&self, subcommand: &[&str], evidence: &str, extra: &[&str]) -> Output {
        let mut args = subcommand.to_vec();
        args.extend(["--evidence", evidence, "--platform", self.platform]);
        args.extend(self.endorsements.iter().map(String::as_str));
        args.extend(["--at", self.at]);
        args.extend_from_slice(extra);
        veil(&args)
    }
}

#[test]
fn policy_from_each_real_vector_accepts_it_and_refuses_it_tampered() {
    for vector in vectors() {
        let out = vector.run(&["policy", "from-evidence"], &vector.evidence, &[]);
        assert!(
            out.status.success(),
            "{}: {}",
            vector.platform,
            stderr(&out)
        );
        let text = stdout(&out);
        assert!(
            text.starts_with("# Veil attestation policy GENERATED"),
            "{text}"
        );
        assert!(text.contains("REVIEW IT BEFORE USE"), "{text}");
        assert!(text.contains(vector.at), "header names the time: {text}");
        let policy = Policy::from_toml_str(&text).unwrap();
        assert_eq!(policy.platforms.len(), 1, "{text}");
        assert!(!policy.allow_simulation && !policy.allow_debug, "{text}");

        let dir = tempfile::tempdir().unwrap();
        let policy_path = dir.path().join("policy.toml");
        std::fs::write(&policy_path, &text).unwrap();
        let policy_arg = policy_path.to_str().unwrap();
        let accepted = vector.run(&["verify"], &vector.evidence, &["--policy", policy_arg]);
        assert!(
            accepted.status.success(),
            "{}: generated policy refuses its own evidence: {}{}",
            vector.platform,
            stdout(&accepted),
            stderr(&accepted)
        );

        let mut tampered = vector.evidence_bytes();
        tampered[vector.body_byte] ^= 0x01;
        let tampered_path = dir.path().join("tampered");
        std::fs::write(&tampered_path, &tampered).unwrap();
        let tampered_arg = tampered_path.to_str().unwrap();
        let refused = vector.run(&["verify"], tampered_arg, &["--policy", policy_arg]);
        assert_eq!(refused.status.code(), Some(1), "{}", vector.platform);

        // Tampered evidence never yields a policy.
        let none = vector.run(&["policy", "from-evidence"], tampered_arg, &[]);
        assert!(!none.status.success(), "{}", vector.platform);
        assert!(stdout(&none).is_empty(), "{}", vector.platform);
        assert!(
            stderr(&none).contains("does not verify"),
            "{}",
            stderr(&none)
        );
    }
}

#[test]
fn sev_snp_policy_pins_measurement_and_reported_tcb() {
    let vector = &vectors()[0];
    let out = vector.run(&["policy", "from-evidence"], &vector.evidence, &[]);
    let policy = Policy::from_toml_str(&stdout(&out)).unwrap();
    assert_eq!(policy.platforms, [PlatformKind::SevSnp]);
    assert_eq!(
        policy.measurements,
        ["7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f".parse().unwrap()]
    );
    assert!(policy.min_tcb.is_some());
    // The Milan vector is VCEK-signed: a VLEK-signed report would be refused.
    assert_eq!(policy.signing_keys, [veil_attest::SnpSigningKey::Vcek]);
}

#[test]
fn intel_policy_accepts_the_current_status_and_advisories_and_says_so() {
    let sgx = &vectors()[2];
    let out = sgx.run(&["policy", "from-evidence"], &sgx.evidence, &[]);
    let text = stdout(&out);
    let policy = Policy::from_toml_str(&text).unwrap();
    let pins = policy.sgx.unwrap();
    assert_eq!(
        pins.tcb_statuses.len(),
        2,
        "UpToDate and the current status"
    );
    assert!(
        pins.allowed_advisory_ids
            .contains(&"INTEL-SA-00615".to_owned())
    );
    assert!(
        text.contains("# NOTE: the platform's Intel TCB status is"),
        "{text}"
    );
}

#[test]
fn expired_evidence_prints_no_policy() {
    let vector = &vectors()[0];
    let mut args = vec!["policy", "from-evidence", "--evidence", &vector.evidence];
    args.extend(vector.endorsements.iter().map(String::as_str));
    args.extend(["--at", "1900000000000"]);
    let out = veil(&args);
    assert!(!out.status.success());
    assert!(stdout(&out).is_empty());
    assert!(stderr(&out).contains("freshness"), "{}", stderr(&out));
}

#[test]
fn debug_nitro_enclave_needs_allow_debug_and_then_says_so() {
    let doc = testdata("nitro/attestation_doc.cbor");
    let base = [
        "policy",
        "from-evidence",
        "--evidence",
        &doc,
        "--at",
        "1694102161",
    ];
    let refused = veil(&base);
    assert!(!refused.status.success());
    assert!(stdout(&refused).is_empty());
    assert!(
        stderr(&refused).contains("debugging is enabled"),
        "{}",
        stderr(&refused)
    );

    let mut args = base.to_vec();
    args.push("--allow-debug");
    let out = veil(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("debugging is ON"), "{text}");
    let policy = Policy::from_toml_str(&text).unwrap();
    assert!(policy.allow_debug);
    assert_eq!(policy.nitro.unwrap().pcr0.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_from_a_simulated_server_lets_a_client_connect() {
    let data = tempfile::tempdir().unwrap();
    let server = common::start(common::config(data.path())).await;
    let url = server.url.clone();

    let refused = {
        let url = url.clone();
        tokio::task::spawn_blocking(move || veil(&["policy", "from-evidence", &url]))
            .await
            .unwrap()
    };
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("simulation_not_allowed"),
        "{}",
        stderr(&refused)
    );

    let out = {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            veil(&["policy", "from-evidence", &url, "--allow-simulation"])
        })
        .await
        .unwrap()
    };
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(&format!("# Source: {url}")), "{text}");
    assert!(text.contains("SIMULATED platform"), "{text}");
    let policy = Policy::from_toml_str(&text).unwrap();
    assert_eq!(policy.platforms, [PlatformKind::Simulated]);
    assert_eq!(
        policy.measurements,
        [hex::encode([0x5a; 48]).parse().unwrap()]
    );

    let client = Client::connect(&url, ConnectOptions::new(policy.clone()))
        .await
        .unwrap();
    assert!(client.attestation().simulated);

    // `veil attest --policy` with it prints the claims and every check's result.
    let dir = tempfile::tempdir().unwrap();
    let policy_path = dir.path().join("policy.toml");
    std::fs::write(&policy_path, &text).unwrap();
    let attest = {
        let (url, path) = (url.clone(), policy_path.display().to_string());
        tokio::task::spawn_blocking(move || veil(&["attest", &url, "--policy", &path]))
            .await
            .unwrap()
    };
    assert!(attest.status.success(), "{}", stderr(&attest));
    let printed = stdout(&attest);
    assert!(printed.contains("verified:        yes"), "{printed}");
    assert!(
        printed.contains(&format!("checks (policy {})", policy_path.display())),
        "{printed}"
    );
    for (check, result) in [
        ("simulation_not_allowed", "passed"),
        ("platform", "passed"),
        ("policy", "passed"),
        ("signature", "passed"),
        ("measurement", "passed"),
        ("debug", "passed"),
        ("report_data", "passed"),
        ("chain", "not_checked"),
        ("tcb_status", "not_applicable"),
    ] {
        assert!(
            printed
                .lines()
                .any(|l| l.split_whitespace().take(2).eq([check, result])),
            "{check} {result}: {printed}"
        );
    }

    // The policy pins this measurement: a server built from other code is refused.
    let other_data = tempfile::tempdir().unwrap();
    let other = common::start_measured(
        common::config(other_data.path()),
        "127.0.0.1:0".parse().unwrap(),
        &hex::encode([0x6b; 48]),
    )
    .await;
    let err = Client::connect(&other.url, ConnectOptions::new(policy))
        .await
        .err()
        .expect("another measurement");
    assert!(format!("{err}").contains("measurement"), "{err}");
    server.stop();
    other.stop();
}

//! `veil verify` and `veil attest --save`, driven through the built binary:
//! every real vector verifies at its stated time with the right claims, each
//! tampering is rejected naming the check (exit 1), unusable input exits 2,
//! a bundle saved from a live simulated server verifies offline, and the
//! JSON report and saved-bundle file keep their documented shape.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use common::{testdata, veil};

fn root(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../veil-attest/roots")
        .join(name)
        .display()
        .to_string()
}

/// Runs `veil verify ARGS --json`: exit code, report, stderr.
fn verify_json(args: &[&str]) -> (i32, Value, String) {
    let mut all = vec!["verify"];
    all.extend_from_slice(args);
    all.push("--json");
    let out = veil(&all);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stderr}"));
    (out.status.code().unwrap(), report, stderr)
}

/// A file in a fresh temp dir (kept alive by the returned guard).
fn write_temp(name: &str, bytes: &[u8]) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    (dir, path.display().to_string())
}

/// One vector: its `veil verify` arguments, stated time, and where to tamper.
struct Vector {
    name: &'static str,
    platform: &'static str,
    evidence: Vec<u8>,
    endorsements: Vec<String>,
    at: u64,
    body_byte: usize,
    signature_byte: usize,
    certificate_byte: usize,
    wrong_root: String,
    outside_validity: [u64; 2],
    measurement: &'static str,
}

impl Vector {
    /// `veil verify` arguments for `evidence` (written to a temp file).
    fn run(&self, evidence: &[u8], extra: &[&str]) -> (i32, Value, String) {
        let (_dir, path) = write_temp("evidence", evidence);
        let mut args = vec!["--evidence", &path, "--platform", self.platform];
        args.extend(self.endorsements.iter().map(String::as_str));
        let at = self.at.to_string();
        if !extra.contains(&"--at") {
            args.extend(["--at", &at]);
        }
        args.extend_from_slice(extra);
        verify_json(&args)
    }

    fn flipped(&self, at: usize) -> Vec<u8> {
        let mut changed = self.evidence.clone();
        changed[at] ^= 0x01;
        changed
    }
}

fn position(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap()
}

fn vectors() -> Vec<Vector> {
    let snp = std::fs::read(testdata("sev-snp/report_milan.hex")).unwrap();
    let tdx = std::fs::read(testdata("tdx/tdx_quote")).unwrap();
    let sgx = std::fs::read(testdata("sgx/sgx_quote")).unwrap();
    let nitro = std::fs::read(testdata("nitro/attestation_doc.cbor")).unwrap();
    let tdx_pck = position(&tdx, b"-----BEGIN ") + 428;
    let sgx_pck = position(&sgx, b"-----BEGIN ") + 428;
    let nitro_leaf = position(&nitro, b"certificate") + 14 + 600;
    let nitro_body = position(&nitro, b"module_id") + 12;
    let nitro_len = nitro.len();
    vec![
        Vector {
            name: "sev-snp (Milan, hex report)",
            platform: "sev-snp",
            // Published as hex text: flip a byte of the decoded report by
            // editing its hex (see `snp_flipped`).
            evidence: snp,
            endorsements: vec![
                "--vcek".into(),
                testdata("sev-snp/vcek_milan.der"),
                "--ask".into(),
                testdata("sev-snp/ask.pem"),
                "--ark".into(),
                testdata("sev-snp/ark.pem"),
            ],
            at: 1_704_067_200,
            body_byte: 0x90,
            signature_byte: 0x2A0,
            certificate_byte: 500,
            wrong_root: testdata("sev-snp/ask.pem"),
            outside_validity: [1_680_549_823 - 1, 1_901_474_623 + 1],
            measurement: "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f",
        },
        Vector {
            name: "tdx (zero-padded quote v4)",
            platform: "tdx",
            evidence: tdx,
            endorsements: vec![
                "--collateral".into(),
                testdata("tdx/tdx_quote_collateral.json"),
            ],
            at: 1_750_332_747,
            body_byte: 184,
            signature_byte: 636,
            certificate_byte: tdx_pck,
            wrong_root: root("aws_nitro_root.der"),
            outside_validity: [1_750_332_747 - 10 * 86_400, 1_750_332_747 + 40 * 86_400],
            measurement: "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7",
        },
        Vector {
            name: "sgx",
            platform: "sgx",
            evidence: sgx,
            endorsements: vec![
                "--collateral".into(),
                testdata("sgx/sgx_quote_collateral.json"),
            ],
            at: 1_750_334_171,
            body_byte: 112,
            signature_byte: 436,
            certificate_byte: sgx_pck,
            wrong_root: root("aws_nitro_root.der"),
            outside_validity: [1_750_334_171 - 10 * 86_400, 1_750_334_171 + 40 * 86_400],
            measurement: "",
        },
        Vector {
            name: "nitro",
            platform: "nitro",
            evidence: nitro,
            endorsements: Vec::new(),
            at: 1_694_102_161,
            body_byte: nitro_body,
            signature_byte: nitro_len - 1,
            certificate_byte: nitro_leaf,
            wrong_root: root("intel_sgx_root_ca.der"),
            outside_validity: [1_694_102_161 - 86_400, 1_694_102_161 + 86_400],
            measurement: "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
        },
    ]
}

/// The SNP vector is hex text: tamper with the decoded byte `at`.
fn evidence_flipped(vector: &Vector, at: usize) -> Vec<u8> {
    if vector.platform != "sev-snp" {
        return vector.flipped(at);
    }
    let text: String = String::from_utf8(vector.evidence.clone())
        .unwrap()
        .split_whitespace()
        .collect();
    let mut bytes = hex::decode(text).unwrap();
    bytes[at] ^= 0x01;
    bytes // binary form: also exercises the 1184-byte input
}

fn check_result<'a>(report: &'a Value, name: &str) -> &'a str {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}"))["result"]
        .as_str()
        .unwrap()
}

fn assert_rejected((code, report, stderr): (i32, Value, String), check: &str, what: &str) {
    assert_eq!(code, 1, "{what}: {stderr}");
    assert_eq!(report["accepted"], false, "{what}");
    assert_eq!(report["failed_check"], check, "{what}: {report}");
    assert_eq!(check_result(&report, check), "failed", "{what}");
    assert!(
        stderr.contains(&format!("check `{check}` failed")),
        "{what}: {stderr}"
    );
}

#[test]
fn every_vector_verifies_at_its_stated_time_with_right_claims_and_no_policy() {
    for vector in vectors() {
        let (code, report, stderr) = vector.run(&vector.evidence, &[]);
        assert_eq!(code, 0, "{}: {stderr}", vector.name);
        assert_eq!(report["accepted"], true);
        assert_eq!(report["platform"], vector.platform);
        assert_eq!(report["policy_applied"], false);
        assert_eq!(report["verified_at"], vector.at);
        assert_eq!(report["time_source"], "given");
        for passed in ["format", "chain", "freshness", "signature"] {
            assert_eq!(check_result(&report, passed), "passed", "{}", vector.name);
        }
        for unjudged in ["measurement", "debug", "report_data", "policy"] {
            assert_eq!(
                check_result(&report, unjudged),
                "not_checked",
                "{}",
                vector.name
            );
        }
        let claims = &report["claims"];
        if !vector.measurement.is_empty() {
            assert_eq!(claims["measurement"], vector.measurement, "{}", vector.name);
        }
        match vector.platform {
            "sev-snp" => {
                let tcb = &claims["details"]["sev_snp"]["reported_tcb"];
                assert_eq!(
                    (&tcb["bootloader"], &tcb["snp"], &tcb["microcode"]),
                    (&Value::from(3), &Value::from(8), &Value::from(115))
                );
                assert_eq!(claims["debug"], false);
            }
            "tdx" => {
                assert_eq!(claims["details"]["tdx"]["tcb"]["status"], "UpToDate");
                assert_eq!(claims["details"]["tdx"]["quote_version"], 4);
                assert_eq!(check_result(&report, "tcb_status"), "passed");
            }
            "sgx" => {
                let tcb = &claims["details"]["sgx"]["tcb"];
                assert_eq!(tcb["status"], "ConfigurationAndSWHardeningNeeded");
                assert_eq!(
                    tcb["advisory_ids"],
                    serde_json::json!(["INTEL-SA-00289", "INTEL-SA-00615"])
                );
                assert_eq!(check_result(&report, "advisory"), "not_checked");
            }
            "nitro" => {
                assert_eq!(claims["debug"], true, "a debug enclave");
                assert_eq!(claims["report_data"], Value::Null, "91-byte user_data");
            }
            _ => unreachable!(),
        }
    }
}

#[test]
fn human_summary_says_which_time_and_that_no_policy_was_applied() {
    let vector = &vectors()[0];
    let (_dir, path) = write_temp("report.hex", &vector.evidence);
    let mut args = vec!["verify", "--evidence", &path];
    args.extend(vector.endorsements.iter().map(String::as_str));
    args.extend(["--at", "2024-01-01T00:00:00Z"]);
    let out = veil(&args);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("ACCEPTED"), "{text}");
    assert!(
        text.contains("1704067200 (2024-01-01T00:00:00Z, given with --at)"),
        "{text}"
    );
    assert!(text.contains("NONE APPLIED"), "{text}");
    assert!(text.contains("platform:      sev-snp"), "{text}");
}

#[test]
fn vectors_verify_under_a_policy_and_refuse_another_measurement() {
    let snp = &vectors()[0];
    let good = format!(
        "platforms = [\"sev-snp\"]\nmeasurements = [\"{}\"]\n[min_tcb]\nbootloader = 3\ntee = 0\nsnp = 8\nmicrocode = 115\n",
        snp.measurement
    );
    let (_d, policy) = write_temp("policy.toml", good.as_bytes());
    let (code, report, stderr) = snp.run(&snp.evidence, &["--policy", &policy]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report["policy_applied"], true);
    assert_eq!(check_result(&report, "measurement"), "passed");
    assert_eq!(check_result(&report, "tcb"), "passed");
    assert_eq!(check_result(&report, "report_data"), "not_checked");

    let other = good.replace(snp.measurement, &"11".repeat(48));
    let (_d2, policy) = write_temp("policy.toml", other.as_bytes());
    assert_rejected(
        snp.run(&snp.evidence, &["--policy", &policy]),
        "measurement",
        "another measurement",
    );

    let tdx = &vectors()[1];
    let tdx_policy = format!(
        "platforms = [\"tdx\"]\n[tdx]\nmrtd = [\"{}\"]\n",
        tdx.measurement
    );
    let (_d3, policy) = write_temp("tdx.toml", tdx_policy.as_bytes());
    let (code, report, stderr) = tdx.run(&tdx.evidence, &["--policy", &policy]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(check_result(&report, "tcb_status"), "passed");
    assert_eq!(check_result(&report, "advisory"), "passed");
}

#[test]
fn every_vector_refuses_flipped_body_and_signature_bytes_as_signature() {
    for vector in vectors() {
        for at in [vector.body_byte, vector.signature_byte] {
            let what = format!("{} flip at {at}", vector.name);
            assert_rejected(
                vector.run(&evidence_flipped(&vector, at), &[]),
                "signature",
                &what,
            );
        }
    }
}

#[test]
fn every_vector_refuses_a_flipped_certificate_byte_as_chain() {
    for vector in vectors() {
        if vector.platform == "sev-snp" {
            let mut vcek = std::fs::read(testdata("sev-snp/vcek_milan.der")).unwrap();
            vcek[vector.certificate_byte] ^= 0x01;
            let (_d, path) = write_temp("vcek.der", &vcek);
            let mut endorsements = vector.endorsements.clone();
            endorsements[1] = path;
            let changed = Vector {
                endorsements,
                ..vectors().remove(0)
            };
            assert_rejected(changed.run(&changed.evidence, &[]), "chain", vector.name);
        } else {
            assert_rejected(
                vector.run(&vector.flipped(vector.certificate_byte), &[]),
                "chain",
                vector.name,
            );
        }
    }
}

#[test]
fn every_vector_refuses_another_root_as_chain() {
    for vector in vectors() {
        let (code, report, stderr) = vector.run(&vector.evidence, &["--root", &vector.wrong_root]);
        assert_eq!(report["trust_anchor"], vector.wrong_root.as_str());
        assert_rejected((code, report, stderr), "chain", vector.name);
    }
}

#[test]
fn an_explicit_root_equal_to_the_pinned_one_verifies() {
    let tdx = &vectors()[1];
    let (code, _, stderr) = tdx.run(&tdx.evidence, &["--root", &root("intel_sgx_root_ca.der")]);
    assert_eq!(code, 0, "{stderr}");
    let snp = &vectors()[0];
    let (code, _, stderr) = snp.run(&snp.evidence, &["--root", &testdata("sev-snp/ark.pem")]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn every_vector_refuses_times_outside_validity_as_freshness() {
    for vector in vectors() {
        for at in vector.outside_validity {
            let at = at.to_string();
            assert_rejected(
                vector.run(&vector.evidence, &["--at", &at]),
                "freshness",
                &format!("{} at {at}", vector.name),
            );
        }
    }
}

#[test]
fn wrong_expected_report_data_is_refused_and_the_right_one_passes() {
    let tdx = &vectors()[1];
    let (_, report, _) = tdx.run(&tdx.evidence, &[]);
    let actual = report["claims"]["report_data"].as_str().unwrap().to_owned();
    let (code, report, _) = tdx.run(&tdx.evidence, &["--expect-report-data", &actual]);
    assert_eq!(code, 0);
    assert_eq!(check_result(&report, "report_data"), "passed");
    let wrong = "00".repeat(64);
    assert_rejected(
        tdx.run(&tdx.evidence, &["--expect-report-data", &wrong]),
        "report_data",
        "wrong report data",
    );
}

#[test]
fn auto_detects_every_platform_and_accepts_the_binary_snp_report() {
    for vector in vectors() {
        let evidence = if vector.platform == "sev-snp" {
            evidence_flipped(&vector, 0x4A0 - 1) // reserved byte: still a report shape
        } else {
            vector.evidence.clone()
        };
        let (_dir, path) = write_temp("evidence", &evidence);
        let mut args = vec!["--evidence", path.as_str()];
        args.extend(vector.endorsements.iter().map(String::as_str));
        let at = vector.at.to_string();
        args.extend(["--at", at.as_str()]);
        let (_, report, stderr) = verify_json(&args);
        assert_eq!(
            report["platform"], vector.platform,
            "{}: {stderr}",
            vector.name
        );
    }
}

#[test]
fn unusable_input_exits_2() {
    let report = testdata("sev-snp/report_milan.hex");
    let (_d, garbage) = write_temp("garbage", b"not evidence at all");
    let (_d2, bad_bundle) = write_temp(
        "bundle.json",
        br#"{"format": "veil-saved-bundle/999", "server_url": "", "nonce": "", "verified_at": 0, "saved_at": 0, "bundle": {}}"#,
    );
    let vcek = testdata("sev-snp/vcek_milan.der");
    let ask = testdata("sev-snp/ask.pem");
    let with_endorsements = |extra: &[&'static str]| -> Vec<String> {
        let mut args: Vec<String> = ["--evidence", &report, "--vcek", &vcek, "--ask", &ask]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args
    };
    let owned = |args: &[&str]| -> Vec<String> { args.iter().map(|s| (*s).to_owned()).collect() };
    let cases: Vec<Vec<String>> = vec![
        owned(&["--evidence", "/nonexistent/evidence"]),
        owned(&["--evidence", &garbage]),
        owned(&[
            "--evidence",
            &garbage,
            "--platform",
            "sev-snp",
            "--vcek",
            &vcek,
            "--ask",
            &ask,
        ]),
        owned(&["--evidence", &report, "--platform", "sev-snp"]), // no --vcek / --ask
        owned(&["--evidence", &report, "--vcek", &report, "--ask", &ask]), // VCEK not a certificate
        with_endorsements(&["--collateral", "/etc/hostname"]),    // not an SNP endorsement
        with_endorsements(&["--at", "yesterday"]),
        with_endorsements(&["--expect-report-data", "00"]),
        with_endorsements(&["--platform", "quantum"]),
        owned(&["--bundle", &bad_bundle]),
        owned(&["--bundle", &garbage]),
        vec![], // neither --bundle nor --evidence
    ];
    let mut with_policy = with_endorsements(&[]);
    with_policy.extend(["--policy".to_owned(), garbage.clone()]);
    let cases = cases.into_iter().chain([with_policy]);
    for case in cases {
        let mut args = vec!["verify"];
        args.extend(case.iter().map(String::as_str));
        let out = veil(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{case:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

const REPORT_KEYS: [&str; 14] = [
    "format",
    "accepted",
    "platform",
    "verified_at",
    "verified_at_rfc3339",
    "time_source",
    "saved_bundle",
    "policy_applied",
    "policy_file",
    "trust_anchor",
    "claims",
    "checks",
    "failed_check",
    "error",
];

const CHECK_NAMES: [&str; 13] = [
    "simulation_not_allowed",
    "platform",
    "policy",
    "format",
    "chain",
    "freshness",
    "signature",
    "measurement",
    "tcb",
    "tcb_status",
    "advisory",
    "debug",
    "report_data",
];

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// Fields must not drift without bumping `veil-verify-report/1`.
#[test]
fn json_report_has_exactly_the_documented_keys_and_version() {
    let tdx = &vectors()[1];
    for (evidence, accepted) in [(tdx.evidence.clone(), true), (tdx.flipped(184), false)] {
        let (_, report, _) = tdx.run(&evidence, &[]);
        assert_eq!(report["format"], "veil-verify-report/1");
        assert_eq!(keys(&report), set(&REPORT_KEYS));
        assert_eq!(report["accepted"], accepted);
        let checks = report["checks"].as_array().unwrap();
        let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, CHECK_NAMES);
        let results = set(&[
            "passed",
            "failed",
            "not_reached",
            "not_checked",
            "not_applicable",
        ]);
        for check in checks {
            assert_eq!(keys(check), set(&["name", "result", "detail"]));
            assert!(
                results.contains(check["result"].as_str().unwrap()),
                "{check}"
            );
        }
        if accepted {
            assert_eq!(
                keys(&report["claims"]),
                set(&[
                    "platform",
                    "simulated",
                    "measurement",
                    "report_data",
                    "debug",
                    "details",
                    "verified_at"
                ])
            );
        } else {
            assert_eq!(report["claims"], Value::Null);
            assert!(report["error"].is_string());
        }
    }
}

/// Starts a simulated server, runs `veil attest --save`, returns the file.
fn save_bundle_from_live_server(dir: &Path) -> PathBuf {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let data = dir.join("data");
    let server = runtime.block_on(common::start(common::config(&data)));
    let saved = dir.join("bundle.json");
    let out = veil(&[
        "attest",
        &server.url,
        "--allow-simulation",
        "--save",
        saved.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    runtime.block_on(server.shutdown());
    saved
}

#[test]
fn bundle_saved_from_a_live_simulated_server_verifies_offline_and_refuses_any_change() {
    let dir = tempfile::tempdir().unwrap();
    let saved = save_bundle_from_live_server(dir.path());
    let path = saved.to_str().unwrap();
    let file: Value = serde_json::from_slice(&std::fs::read(&saved).unwrap()).unwrap();

    // The documented saved-bundle format, exactly.
    assert_eq!(file["format"], "veil-saved-bundle/1");
    assert_eq!(
        keys(&file),
        set(&[
            "format",
            "server_url",
            "nonce",
            "verified_at",
            "saved_at",
            "bundle"
        ])
    );
    assert_eq!(file["nonce"], file["bundle"]["nonce"]);
    assert_eq!(file["bundle"]["platform"], "simulated");

    let (code, report, stderr) = verify_json(&["--bundle", path, "--allow-simulation"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report["platform"], "simulated");
    assert_eq!(report["claims"]["simulated"], true);
    assert_eq!(check_result(&report, "report_data"), "passed");
    assert_eq!(report["time_source"], "now");
    assert_eq!(report["saved_bundle"]["nonce"], file["nonce"]);

    // Simulated evidence is refused unless asked for by name.
    assert_rejected(
        verify_json(&["--bundle", path]),
        "simulation_not_allowed",
        "no --allow-simulation",
    );

    // Another nonce: the report data binds the one the client sent.
    let other_nonce = "ab".repeat(32);
    assert_rejected(
        verify_json(&[
            "--bundle",
            path,
            "--allow-simulation",
            "--nonce",
            &other_nonce,
        ]),
        "report_data",
        "another nonce",
    );

    // One byte changed anywhere in the evidence: change one base64
    // character (it changes bits of exactly one decoded byte).
    let text = std::fs::read_to_string(&saved).unwrap();
    for field in ["report", "certificates", "key_config"] {
        let value = match &file["bundle"][field] {
            Value::Array(items) => items[0].as_str().unwrap().to_owned(),
            other => other.as_str().unwrap().to_owned(),
        };
        let stride = (value.len() / 7).max(1);
        for at in (0..value.len() - 4).step_by(stride) {
            let mut changed_value = value.clone().into_bytes();
            changed_value[at] = if changed_value[at] == b'A' {
                b'B'
            } else {
                b'A'
            };
            let changed_value = String::from_utf8(changed_value).unwrap();
            let changed = text.replacen(&value, &changed_value, 1);
            let (_d, changed_path) = write_temp("bundle.json", changed.as_bytes());
            let (code, report, stderr) =
                verify_json(&["--bundle", &changed_path, "--allow-simulation"]);
            assert_eq!(code, 1, "{field} char {at}: {stderr}");
            assert_eq!(report["accepted"], false);
            let failed = report["failed_check"].as_str().unwrap();
            assert!(
                ["signature", "format", "chain", "report_data"].contains(&failed),
                "{field} char {at}: {failed}"
            );
        }
    }
}

#[test]
fn outdated_tdx_quote_is_refused_as_tcb_status_even_without_a_policy() {
    // Inside its collateral's window (2026-02-18 … 2026-03-20).
    let at = (1_771_412_400 + 86_400).to_string();
    let quote = testdata("tdx/tdx_quote_outdated");
    let collateral = testdata("tdx/tdx_quote_outdated_collateral.json");
    assert_rejected(
        verify_json(&[
            "--evidence",
            &quote,
            "--collateral",
            &collateral,
            "--at",
            &at,
        ]),
        "tcb_status",
        "outdated quote",
    );
}

/// The shared vectors as published (copied into veil-attest's testdata):
/// the SNP ASK + ARK as one PEM chain, the Nitro root as PEM, the Intel root
/// as DER.
#[test]
fn shared_vectors_verify_in_their_published_forms() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../veil-attest/testdata");
    assert!(shared.is_dir(), "{} is missing", shared.display());
    let file = |name: &str| shared.join(name).display().to_string();
    let (code, report, stderr) = verify_json(&[
        "--evidence",
        &file("sev-snp/report_milan.hex"),
        "--vcek",
        &file("sev-snp/vcek_milan.der"),
        "--ask",
        &file("sev-snp/cert_chain_milan"),
        "--root",
        &file("sev-snp/ark.pem"),
        "--at",
        "2024-01-01T00:00:00Z",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report["platform"], "sev-snp");
    let (code, _, stderr) = verify_json(&[
        "--evidence",
        &file("nitro/attestation_doc.cbor"),
        "--root",
        &file("nitro/aws_nitro_root.pem"),
        "--at",
        "1694102161",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = verify_json(&[
        "--evidence",
        &file("sgx/sgx_quote"),
        "--collateral",
        &file("sgx/sgx_quote_collateral.json"),
        "--root",
        &file("tdx/intel_sgx_root_ca.der"),
        "--at",
        "1750334171",
    ]);
    assert_eq!(code, 0, "{stderr}");
}

//! Deployments, audit, scan, the event log, licences and the BOM — on the
//! real binary, against real folders and a real SQLite file.

use std::fs;

use predicates::prelude::*;

use crate::util::{Env, flip_byte};

fn registered(env: &Env, seed: u64) -> std::path::PathBuf {
    let model = env.model("m", seed);
    env.cmd()
        .arg("import")
        .arg(&model)
        .args([
            "--name",
            "acme/m",
            "--owner",
            "ops",
            "--data-disclosure",
            "partial",
        ])
        .assert()
        .success();
    model
}

#[test]
fn deploy_record_only_and_undeploy_keep_history() {
    let env = Env::new();
    registered(&env, 50);
    let dir = env.path("srv/m");
    env.cmd()
        .args(["deploy", "acme/m"])
        .arg(&dir)
        .args(["--env", "prod", "--note", "first"])
        .assert()
        .success();
    env.cmd()
        .args([
            "deploy",
            "acme/m",
            "--record-only",
            "--host",
            "gpu-7",
            "--path",
            "/models/m",
            "--env",
            "staging",
        ])
        .assert()
        .success();
    let a = env.json(&["audit"]);
    let rows = a["deployments"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let local = rows.iter().find(|r| r["host"] != "gpu-7").unwrap();
    assert_eq!(local["environment"], "prod");
    assert_eq!(local["path"], dir.display().to_string());
    assert_eq!(local["manifest_digest"].as_str().unwrap().len(), 64);
    assert!(local["deployed_by"].as_str().unwrap().contains('@'));
    assert_eq!(local["status"], "unverified");
    let remote = rows.iter().find(|r| r["host"] == "gpu-7").unwrap();
    assert_eq!(remote["record_only"], true);
    env.cmd()
        .args([
            "undeploy",
            "acme/m",
            "--host",
            "gpu-7",
            "--path",
            "/models/m",
        ])
        .assert()
        .success();
    env.cmd()
        .args([
            "undeploy",
            "acme/m",
            "--host",
            "gpu-7",
            "--path",
            "/models/m",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not found"));
    assert_eq!(
        env.json(&["audit"])["deployments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let show = env.json(&["show", "acme/m"]);
    let deps = show["deployments"].as_array().unwrap();
    assert_eq!(deps.len(), 2, "history is kept");
    assert!(
        deps.iter()
            .any(|d| d["host"] == "gpu-7" && d["ended_at"].is_string())
    );
    // An hf-layout deployment is recorded at the cache folder named and
    // verifies clean.
    env.cmd()
        .args(["deploy", "acme/m", "--layout", "hf"])
        .arg(env.path("hf"))
        .assert()
        .success();
    let a = env.json(&["audit", "--verify"]);
    let hf = a["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == env.path("hf").display().to_string())
        .unwrap()
        .clone();
    assert_eq!(hf["status"], "ok", "{hf}");
    // Host filter.
    assert_eq!(
        env.json(&["audit", "--host", "gpu-7"])["deployments"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    env.cmd().args(["log", "--verify"]).assert().success();
}

#[test]
fn audit_verify_marks_drift_and_missing() {
    let env = Env::new();
    registered(&env, 51);
    let dirs: Vec<_> = ["a", "b", "c", "d", "e"]
        .iter()
        .map(|n| env.path(&format!("srv/{n}")))
        .collect();
    for d in &dirs {
        env.cmd()
            .args(["deploy", "acme/m"])
            .arg(d)
            .assert()
            .success();
    }
    env.cmd().args(["audit", "--verify"]).assert().success();
    flip_byte(&dirs[0].join("model-00001-of-00002.safetensors"), 99);
    let p = dirs[1].join("tokenizer.json");
    fs::remove_file(&p).unwrap();
    fs::write(dirs[2].join("extra.bin"), b"not approved").unwrap();
    fs::remove_dir_all(&dirs[3]).unwrap();
    let out = env
        .cmd()
        .args(["--json", "audit", "--verify"])
        .assert()
        .code(3);
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let status = |d: &std::path::Path| {
        v["deployments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["path"] == d.display().to_string())
            .map(|r| {
                (
                    r["status"].as_str().unwrap().to_string(),
                    r["findings"].clone(),
                )
            })
            .unwrap()
    };
    let (s0, f0) = status(&dirs[0]);
    assert_eq!(s0, "drift");
    assert_eq!(f0[0]["kind"], "modified");
    let (s1, f1) = status(&dirs[1]);
    assert_eq!(
        (s1.as_str(), f1[0]["kind"].as_str().unwrap()),
        ("drift", "missing")
    );
    let (s2, f2) = status(&dirs[2]);
    assert_eq!(
        (s2.as_str(), f2[0]["kind"].as_str().unwrap()),
        ("drift", "extra")
    );
    assert_eq!(status(&dirs[3]).0, "missing");
    assert_eq!(status(&dirs[4]).0, "ok");
    // The markdown report names each deployment, its duties and approvers.
    let md = env
        .cmd()
        .args(["audit", "--format", "markdown"])
        .output()
        .unwrap();
    let text = String::from_utf8(md.stdout).unwrap();
    assert!(text.contains("# Model deployment audit"), "{text}");
    assert_eq!(text.matches("## acme/m@v1 on").count(), 5);
    assert!(text.contains("**Licence:** apache-2.0 — allowed"), "{text}");
    assert!(text.contains("duty: attribution"), "{text}");
    assert!(
        text.contains("**Training-data disclosure:** partial"),
        "{text}"
    );
    assert!(text.contains("**Status:** drift"), "{text}");
}

#[test]
fn scan_names_known_modified_and_unknown_files() {
    let env = Env::new();
    let model = registered(&env, 52);
    let dir = env.path("usb");
    fs::create_dir_all(dir.join("models")).unwrap();
    fs::copy(model.join("config.json"), dir.join("models/config.json")).unwrap();
    fs::copy(
        model.join("model-00002-of-00002.safetensors"),
        dir.join("models/model-00002-of-00002.safetensors"),
    )
    .unwrap();
    let mut changed = fs::read(model.join("model-00001-of-00002.safetensors")).unwrap();
    changed[5000] ^= 1;
    fs::write(dir.join("models/model-00001-of-00002.safetensors"), changed).unwrap();
    airlock::demo::write_safetensors(&dir.join("mystery.safetensors"), &[("w", 16, 16)], 9)
        .unwrap();
    fs::write(dir.join("notes.txt"), "hello").unwrap();
    let v = env.json(&["scan", dir.to_str().unwrap()]);
    let file = |p: &str| {
        v["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == p)
            .unwrap()
            .clone()
    };
    assert_eq!(file("models/config.json")["status"], "known");
    assert_eq!(file("models/config.json")["matches"][0]["name"], "acme/m");
    assert_eq!(
        file("models/model-00002-of-00002.safetensors")["matches"][0]["path"],
        "model-00002-of-00002.safetensors"
    );
    assert_eq!(
        file("models/model-00001-of-00002.safetensors")["status"],
        "modified"
    );
    assert_eq!(file("mystery.safetensors")["status"], "unknown");
    assert_eq!(file("mystery.safetensors")["suspicious"], true);
    assert_eq!(file("notes.txt")["suspicious"], false);
    assert_eq!(
        (
            v["known"].as_u64(),
            v["modified"].as_u64(),
            v["unknown"].as_u64()
        ),
        (Some(2), Some(1), Some(2))
    );
    // Unknown weights are printed last and clearly.
    let out = env.cmd().arg("scan").arg(&dir).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<_> = text.lines().collect();
    assert!(
        lines[lines.len() - 2].contains("mystery.safetensors")
            && lines[lines.len() - 2].contains("UNKNOWN WEIGHTS"),
        "{text}"
    );
}

fn db(env: &Env) -> rusqlite::Connection {
    rusqlite::Connection::open(env.home.join("registry.db")).unwrap()
}

fn busy_registry(env: &Env) {
    registered(env, 53);
    env.cmd()
        .args(["deploy", "acme/m"])
        .arg(env.path("srv"))
        .assert()
        .success();
    env.cmd()
        .args(["keys", "generate", "--name", "auditor", "--out"])
        .arg(env.path("auditor"))
        .assert()
        .success();
    env.cmd()
        .args(["trust", "add", "--name", "auditor", "--role", "any"])
        .arg(env.path("auditor.pub"))
        .assert()
        .success();
    env.cmd().args(["log", "--verify"]).assert().success();
}

#[test]
fn log_verify_catches_an_edited_event() {
    let env = Env::new();
    busy_registry(&env);
    let c = db(&env);
    // The triggers refuse a plain edit...
    assert!(
        c.execute("UPDATE events SET actor = 'mallory@x' WHERE seq = 2", [])
            .is_err()
    );
    // ...an attacker with the file drops them first.
    c.execute_batch("DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete;")
        .unwrap();
    c.execute("UPDATE events SET actor = 'mallory@x' WHERE seq = 2", [])
        .unwrap();
    env.cmd().args(["log", "--verify"]).assert().code(3).stdout(
        predicate::str::contains("event 2")
            .and(predicate::str::contains("chain breaks at event 2")),
    );
}

/// A rewritten hash that is not hex (here 64 three-byte characters, which
/// the length check of the table lets through) is a finding, not a crash.
#[test]
fn log_verify_reports_a_hash_that_is_not_hex() {
    let env = Env::new();
    busy_registry(&env);
    let c = db(&env);
    c.execute_batch("DROP TRIGGER events_no_update;").unwrap();
    let last: i64 = c
        .query_row("SELECT max(seq) FROM events", [], |r| r.get(0))
        .unwrap();
    c.execute(
        "UPDATE events SET hash = ?1 WHERE seq = ?2",
        rusqlite::params!["€".repeat(64), last],
    )
    .unwrap();
    env.cmd()
        .args(["log", "--verify"])
        .assert()
        .code(3)
        .stdout(predicate::str::contains(format!("event {last}")))
        .stdout(predicate::str::contains("head €€€€"));
}

#[test]
fn log_verify_catches_a_deleted_event() {
    let env = Env::new();
    busy_registry(&env);
    let c = db(&env);
    c.execute_batch("DROP TRIGGER events_no_delete;").unwrap();
    c.execute("DELETE FROM events WHERE seq = 3", []).unwrap();
    env.cmd()
        .args(["log", "--verify"])
        .assert()
        .code(3)
        .stdout(predicate::str::contains("event 4"));
}

#[test]
fn log_verify_catches_a_record_without_its_event() {
    let env = Env::new();
    busy_registry(&env);
    let c = db(&env);
    c.execute(
        "INSERT INTO deployments (version_id, host, path, record_only, deployed_at, deployed_by)
         VALUES (1, 'ghost', '/x', 1, '2026-01-01T00:00:00Z', 'mallory@x')",
        [],
    )
    .unwrap();
    env.cmd().args(["log", "--verify"]).assert().code(3).stdout(
        predicate::str::contains("ghost").and(predicate::str::contains("without its event")),
    );
}

#[test]
fn a_consistently_rewritten_chain_is_caught_by_a_checkpoint() {
    let env = Env::new();
    busy_registry(&env);
    let rewrite = |env: &Env| {
        let c = db(env);
        c.execute_batch("DROP TRIGGER IF EXISTS events_no_update;")
            .unwrap();
        c.execute("UPDATE events SET actor = 'mallory@x' WHERE seq = 2", [])
            .unwrap();
        // Recompute every hash with the documented formula.
        let mut st = c
            .prepare("SELECT seq, time, actor, command, subject, details FROM events ORDER BY seq")
            .unwrap();
        let rows: Vec<(u64, String, String, String, String, String)> = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let mut prev = airlock::event::genesis();
        for (seq, time, actor, command, subject, details) in rows {
            let h = airlock::event::chain_hash(
                &prev,
                &airlock::event::canonical_bytes(seq, &time, &actor, &command, &subject, &details),
            );
            c.execute(
                "UPDATE events SET prev_hash = ?1, hash = ?2 WHERE seq = ?3",
                rusqlite::params![prev.to_hex(), h.to_hex(), seq as i64],
            )
            .unwrap();
            prev = h;
        }
    };
    // Without a checkpoint, a consistent rewrite passes: the documented limit.
    let twin = Env::new();
    busy_registry(&twin);
    rewrite(&twin);
    twin.cmd().args(["log", "--verify"]).assert().success();
    // With a checkpoint signed by a trusted key, it is caught.
    env.cmd()
        .args(["log", "checkpoint", "--key"])
        .arg(env.path("auditor.key"))
        .assert()
        .success();
    env.cmd()
        .args(["log", "--verify"])
        .assert()
        .success()
        .stdout(predicate::str::contains("1 of 1 checkpoint(s) valid"));
    rewrite(&env);
    env.cmd()
        .args(["log", "--verify"])
        .assert()
        .code(3)
        .stdout(predicate::str::contains("history was rewritten"));
}

#[test]
fn log_lists_and_filters_events() {
    let env = Env::new();
    busy_registry(&env);
    env.cmd()
        .args([
            "deploy",
            "acme/m",
            "--record-only",
            "--host",
            "gpu-7",
            "--path",
            "/srv/m",
        ])
        .assert()
        .success();
    let all = env.json(&["log"]);
    let cmds: Vec<_> = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["command"].as_str().unwrap().to_string())
        .collect();
    for c in ["init", "import", "deploy", "trust-add"] {
        assert!(cmds.contains(&c.to_string()), "{cmds:?}");
    }
    let m = env.json(&["log", "--model", "acme/m"]);
    let about_m = m["events"].as_array().unwrap();
    assert!(
        about_m.len() >= 2,
        "the import and the deploy of acme/m are listed: {m}"
    );
    assert!(
        about_m
            .iter()
            .all(|e| e["subject"].as_str().unwrap().starts_with("acme/m@"))
    );
    // A host filter matches a deployment's host exactly, not as a substring.
    let gpu = env.json(&["log", "--host", "gpu-7"]);
    let gpu = gpu["events"].as_array().unwrap();
    assert!(!gpu.is_empty(), "the deploy to gpu-7 is listed");
    assert!(gpu.iter().all(|e| {
        e["details"]
            .as_str()
            .unwrap()
            .contains("\"host\":\"gpu-7\"")
    }));
    assert_eq!(
        env.json(&["log", "--host", "gpu"])["events"]
            .as_array()
            .unwrap()
            .len(),
        0,
        "`gpu` is not `gpu-7`"
    );
    let total = all["events"].as_array().unwrap().len();
    assert_eq!(
        env.json(&["log", "--since", "2000-01-01"])["events"]
            .as_array()
            .unwrap()
            .len(),
        total
    );
    assert_eq!(
        env.json(&["log", "--since", "2999-01-01T00:00:00Z"])["events"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // A value that is not a time is a usage error, not an empty list.
    env.cmd()
        .args(["log", "--since", "yesterday"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(
            "`--since yesterday` is not a time",
        ));
}

/// Every catalogue licence against a policy that passes, one that forbids,
/// and one that crosses a user threshold.
#[test]
fn licence_checks_for_every_catalogue_entry() {
    let env = Env::new();
    let model = env.model("m", 54);
    let open = env.path("open.toml");
    fs::write(&open, "[organization]\ncommercial = false\n").unwrap();
    let deny_all = env.path("deny.toml");
    let huge = env.path("huge.toml");
    fs::write(
        &huge,
        "[organization]\nmonthly_active_users = 800000000\ncommercial = true\n",
    )
    .unwrap();
    for (i, t) in airlock::license::catalogue().iter().enumerate() {
        let name = format!("acme/l{i}");
        env.cmd()
            .arg("import")
            .arg(&model)
            .args(["--name", &name, "--license", &t.id, "--version", "v1"])
            .assert()
            .success();
        env.cmd()
            .args(["license", "check", &name, "--policy"])
            .arg(&open)
            .assert()
            .success()
            .stdout(predicate::str::contains("ALLOWED"));
        fs::write(&deny_all, format!("[licenses]\ndeny = [\"{}\"]\n", t.id)).unwrap();
        env.cmd()
            .args(["license", "check", &name, "--policy"])
            .arg(&deny_all)
            .assert()
            .code(4)
            .stdout(predicate::str::contains("deny list"));
        let out = env
            .cmd()
            .args(["--json", "license", "check", &name, "--policy"])
            .arg(&huge)
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let crosses = t.mau_limit.is_some_and(|m| m < 800_000_000);
        let forbidden = crosses || !t.commercial;
        assert_eq!(
            out.status.code(),
            Some(if forbidden { 4 } else { 0 }),
            "{}: {v}",
            t.id
        );
        if crosses {
            assert!(
                v["reasons"].to_string().contains("threshold"),
                "{}: {v}",
                t.id
            );
        }
        if !t.commercial {
            assert!(
                v["reasons"].to_string().contains("commercial"),
                "{}: {v}",
                t.id
            );
        }
        if t.attribution.is_some() {
            assert!(v["duties"].to_string().contains("attribution"), "{}", t.id);
        }
    }
    // Unknown licences need review, never pass; disclosure below the minimum forbids.
    env.cmd()
        .arg("import")
        .arg(&model)
        .args(["--name", "acme/odd", "--license", "wtfpl-custom"])
        .assert()
        .success();
    env.cmd()
        .args(["license", "check", "acme/odd", "--policy"])
        .arg(&open)
        .assert()
        .code(4)
        .stdout(predicate::str::contains("needs legal review"));
    let strict = env.path("strict.toml");
    fs::write(
        &strict,
        "[disclosure]\nminimum = \"partial\"\n[licenses]\nallow = [\"mit\"]\n",
    )
    .unwrap();
    env.cmd()
        .args(["license", "check", "acme/l0", "--policy"])
        .arg(&strict)
        .assert()
        .code(4)
        .stdout(predicate::str::contains("disclosure").and(predicate::str::contains("allow list")));
    env.cmd()
        .args(["license", "show", "acme/l0"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("Apache License 2.0")
                .and(predicate::str::contains("Demo licence stand-in")),
        );
}

/// Validates the BOM against the official CycloneDX 1.6 JSON schema with
/// `cyclonedx-python-lib` from the test venv (provisioned by `peers::python`).
#[test]
fn bom_validates_against_the_cyclonedx_schema() {
    let python = crate::peers::python();
    let env = Env::new();
    registered(&env, 55);
    let out = env.path("bom.json");
    env.cmd()
        .args(["bom", "acme/m", "--out"])
        .arg(&out)
        .assert()
        .success();
    let doc: serde_json::Value = serde_json::from_slice(&fs::read(&out).unwrap()).unwrap();
    assert_eq!(doc["specVersion"], "1.6");
    let model = &doc["components"][0];
    assert_eq!(model["type"], "machine-learning-model");
    assert_eq!(model["licenses"][0]["license"]["id"], "Apache-2.0");
    assert!(
        model["licenses"][0]["license"]["text"]["content"]
            .as_str()
            .unwrap()
            .contains("Demo licence")
    );
    assert_eq!(model["components"].as_array().unwrap().len(), 7);
    let props = model["properties"].to_string();
    assert!(props.contains("airlock:data_disclosure") && props.contains("partial"));
    let script = "import sys\n\
from cyclonedx.validation.json import JsonStrictValidator\n\
from cyclonedx.schema import SchemaVersion\n\
err = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())\n\
print(err)\n\
sys.exit(1 if err else 0)\n";
    let v = std::process::Command::new(&python)
        .args(["-c", script])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        v.status.success(),
        "schema validation failed: {}",
        String::from_utf8_lossy(&v.stdout)
    );
    // The same from stdout.
    let o = env.cmd().args(["bom", "acme/m"]).output().unwrap();
    let again: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(again["serialNumber"], doc["serialNumber"]);
}

/// The licence text is read through one library function that checks its
/// digest: a tampered text is an integrity failure wherever it is shown.
#[test]
fn a_tampered_licence_text_is_refused_by_show_and_bom() {
    let env = Env::new();
    registered(&env, 57);
    let shown = env.json(&["license", "show", "acme/m"]);
    let sha = shown["text_sha256"].as_str().unwrap().to_string();
    assert!(shown["text"].as_str().unwrap().contains("Demo licence"));
    airlock::demo::flip_byte(&env.blob_path(&sha), 3).unwrap();
    for args in [&["license", "show", "acme/m"][..], &["bom", "acme/m"][..]] {
        env.cmd().args(args).assert().code(3).stderr(
            predicate::str::contains("licence text of acme/m@v1")
                .and(predicate::str::contains(&sha)),
        );
    }
}

/// Data that cannot be written is a failure, not a silent success; a
/// closed pipe is the reader's choice.
#[test]
fn output_that_cannot_be_written_fails_the_command() {
    let env = Env::new();
    registered(&env, 58);
    let run = |args: &[&str]| {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full exists on Linux");
        std::process::Command::new(assert_cmd::cargo::cargo_bin("airlock"))
            .arg("--home")
            .arg(&env.home)
            .args(args)
            .stdout(full)
            .output()
            .unwrap()
    };
    let out = run(&["list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("write to stdout"));
    // The same for --json.
    assert_eq!(run(&["--json", "show", "acme/m"]).status.code(), Some(1));
}

/// `--reason` belongs to `--allow-unsafe`: alone it is a usage error (exit 2),
/// for folder imports and checkouts alike.
#[test]
fn reason_without_allow_unsafe_is_a_usage_error() {
    let env = Env::new();
    let model = registered(&env, 59);
    env.cmd()
        .arg("import")
        .arg(&model)
        .args(["--name", "acme/n", "--reason", "because"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--allow-unsafe"));
    env.cmd()
        .args(["checkout", "acme/m", "--reason", "because"])
        .arg(env.path("co"))
        .assert()
        .code(2);
    assert!(!env.path("co").exists());
    // The library says the same to any caller.
    let err = airlock::records::Allowance::from_flags(false, Some("because")).unwrap_err();
    assert_eq!(err.class().exit_code(), 2);
}

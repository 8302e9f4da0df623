//! Issue 14 (in part): errors a script can read, and who is recorded.

use crate::util::Env;

/// The one JSON document a failed `--json` command prints on stdout.
fn json_failure(out: &std::process::Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.lines().count(),
        1,
        "one line of JSON on stdout: {text}"
    );
    serde_json::from_str(&text).expect("stdout is JSON")
}

#[test]
fn json_errors_on_stdout_with_the_exit_code_unchanged() {
    let env = Env::new();
    // No registry yet: operational, exit 1.
    let out = env
        .cmd()
        .args(["--json", "show", "acme/tiny"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let e = json_failure(&out);
    assert_eq!(e["error"]["kind"], "no-registry");
    assert_eq!(e["error"]["exit_code"], 1);
    assert!(
        e["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("airlock init")
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no registry at")
    );

    // An unknown version: the message lists the versions that exist.
    let model = env.model("model", 3);
    env.cmd()
        .arg("import")
        .arg(&model)
        .args(["--name", "acme/tiny", "--version", "v1"])
        .assert()
        .success();
    let out = env
        .cmd()
        .args(["--json", "show", "acme/tiny@v9"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let e = json_failure(&out);
    assert_eq!(e["error"]["kind"], "not-found");
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("acme/tiny@v9") && msg.contains("acme/tiny@v1"),
        "{msg}"
    );
    let out = env.cmd().args(["show", "acme/other"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("there are: acme/tiny"));

    // An integrity failure keeps exit 3.
    let fake = env.path("fake.airlock");
    std::fs::write(&fake, b"not a tar stream at all, but named like a bundle").unwrap();
    let out = env
        .cmd()
        .arg("--json")
        .arg("import")
        .arg(&fake)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(json_failure(&out)["error"]["exit_code"], 3);

    // A usage error keeps exit 2, and says what was missing.
    let out = env
        .cmd()
        .args(["--json", "sign", "acme/tiny"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = json_failure(&out);
    assert_eq!(e["error"]["kind"], "usage");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("--key"),
        "{e}"
    );
}

#[test]
fn the_actor_is_the_os_account_and_a_label_is_only_a_claim() {
    let env = Env::new();
    let me = std::process::Command::new("id")
        .arg("-un")
        .output()
        .unwrap();
    let me = String::from_utf8_lossy(&me.stdout).trim().to_string();
    env.cmd()
        .env("USER", "alice-the-ciso")
        .arg("init")
        .assert()
        .success();
    env.cmd()
        .env("USER", "alice-the-ciso")
        .args([
            "--actor",
            "Alice (CISO)",
            "trust",
            "policy",
            "--approvals",
            "1",
        ])
        .assert()
        .success();
    let log = env.json(&["log"]);
    let events = log["events"].as_array().expect("events");
    let actors: Vec<&str> = events
        .iter()
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert!(actors[0].starts_with(&format!("{me}@")), "{actors:?}");
    assert!(!actors[0].contains("alice-the-ciso"), "{actors:?}");
    assert!(
        actors[1].starts_with(&format!("{me}@"))
            && actors[1].ends_with("(claims \"Alice (CISO)\")"),
        "{actors:?}"
    );
}

#[test]
fn completions_man_page_and_version_with_the_commit() {
    let env = Env::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = env.cmd().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("airlock") && text.contains("push"),
            "{shell}: {text:.200}"
        );
    }
    let out = env.cmd().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = env.cmd().arg("man").output().unwrap();
    assert!(out.status.success());
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(
        page.contains(".TH airlock 1") && page.contains("verify"),
        "{page:.300}"
    );
    // Neither needs a home.
    assert!(!env.home.exists());
    let out = env.cmd().arg("--version").output().unwrap();
    let v = String::from_utf8_lossy(&out.stdout);
    assert!(
        v.starts_with(&format!("airlock {}", env!("CARGO_PKG_VERSION"))),
        "{v}"
    );
    let from_git = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .is_ok_and(|o| o.status.success());
    if from_git {
        assert!(v.contains("(commit "), "{v}");
    }
}

#[test]
fn the_bom_describes_the_model_itself_and_validates() {
    let env = Env::new();
    let model = env.model("src", 11);
    // The demo model as a Hugging Face cache repo, its card naming datasets.
    let mut files: Vec<(String, Vec<u8>, bool)> = Vec::new();
    for e in std::fs::read_dir(&model).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        let mut bytes = std::fs::read(e.path()).unwrap();
        if name == "README.md" {
            bytes = b"---\nlicense: apache-2.0\ndatasets:\n  - allenai/c4\n  - wikipedia\nbase_model: acme/base-7b\n---\n# tiny\n".to_vec();
        }
        let lfs = name.ends_with(".safetensors");
        files.push((name, bytes, lfs));
    }
    let refs: Vec<(&str, Vec<u8>, bool)> = files
        .iter()
        .map(|(n, b, l)| (n.as_str(), b.clone(), *l))
        .collect();
    let repo = crate::util::make_hf_cache(&env.path("hub"), "acme/tiny-chat", &refs);
    env.cmd().arg("import").arg(&repo).assert().success();
    let out = env.path("bom.json");
    env.cmd()
        .args(["bom", "acme/tiny-chat", "--out"])
        .arg(&out)
        .assert()
        .success();
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let m = &doc["components"][0];
    let shown = env.json(&["show", "acme/tiny-chat"]);
    let manifest = shown["manifest_digest"].as_str().unwrap();
    let revision = shown["source"]["revision"].as_str().unwrap();
    assert_eq!(m["hashes"][0]["content"], manifest);
    assert_eq!(
        m["purl"],
        format!("pkg:huggingface/acme/tiny-chat@{revision}")
    );
    assert_eq!(m["supplier"]["name"], "acme");
    assert_eq!(m["authors"][0]["name"], "acme");
    let ext = m["externalReferences"].to_string();
    assert!(
        ext.contains("https://huggingface.co/acme/tiny-chat"),
        "{ext}"
    );
    let card = &m["modelCard"];
    assert_eq!(card["modelParameters"]["architectureFamily"], "llama");
    assert_eq!(
        card["modelParameters"]["modelArchitecture"],
        "LlamaForCausalLM"
    );
    assert_eq!(card["modelParameters"]["datasets"][1]["name"], "wikipedia");
    let params: u64 = shown["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["parameters"].as_u64().unwrap_or(0))
        .sum();
    assert!(params > 0);
    assert!(
        card["properties"]
            .to_string()
            .contains(&format!("\"value\":\"{params}\"")),
        "{card}"
    );
    // The official 1.6 schema (which checks the model card's shape), and
    // read back by cyclonedx-python-lib with the purl and hashes present
    // (the library has no model-card type yet).
    let script = "import sys, json\n\
from cyclonedx.validation.json import JsonStrictValidator\n\
from cyclonedx.schema import SchemaVersion\n\
from cyclonedx.model.bom import Bom\n\
text = open(sys.argv[1]).read()\n\
err = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)\n\
if err: print(err); sys.exit(1)\n\
bom = Bom.from_json(json.loads(text))\n\
c = list(bom.components)[0]\n\
print(c.purl, list(c.hashes)[0].content, 'modelCard' in json.loads(text)['components'][0])\n";
    let v = std::process::Command::new(crate::peers::python())
        .args(["-c", script])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        v.status.success(),
        "{}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );
    let read = String::from_utf8_lossy(&v.stdout);
    assert!(
        read.contains("pkg:huggingface/acme/tiny-chat")
            && read.contains(manifest)
            && read.contains("True"),
        "{read}"
    );

    // Across the gap the layout travels in the signed statement: the
    // isolated side's BOM still has the purl and the Hub distribution URL.
    let (iso, bundle) = env.cross("acme/tiny-chat");
    env.cmd_at(&iso)
        .arg("import")
        .arg(&bundle)
        .assert()
        .success();
    let iso_bom = env.path("iso-bom.json");
    env.cmd_at(&iso)
        .args(["bom", "acme/tiny-chat", "--out"])
        .arg(&iso_bom)
        .assert()
        .success();
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&iso_bom).unwrap()).unwrap();
    let m = &doc["components"][0];
    assert_eq!(
        m["purl"],
        format!("pkg:huggingface/acme/tiny-chat@{revision}")
    );
    assert!(m["externalReferences"].to_string().contains(&format!(
        "https://huggingface.co/acme/tiny-chat/tree/{revision}"
    )));
    let shown = env.json_at(&iso, &["show", "acme/tiny-chat"]);
    assert_eq!(shown["source"]["layout"], "hf-cache");
    assert_eq!(shown["origin"], "bundle");
}

/// `import DIR ARGS…` in `env`'s home, its output kept.
fn import_out(env: &Env, dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    env.cmd()
        .arg("import")
        .arg(dir)
        .args(args)
        .output()
        .unwrap()
}

/// The OpenSSF `model_signing` tool of the test venv (model-signing 1.1.1).
fn model_signing() -> std::path::PathBuf {
    crate::peers::python()
        .parent()
        .unwrap()
        .join("model_signing")
}

/// `model_signing verify key DIR --signature SIG --public_key PUB` (the
/// real OpenSSF tool, model-signing 1.1.1 from the test venv).
fn oms_verify(
    dir: &std::path::Path,
    sig: &std::path::Path,
    public: &std::path::Path,
) -> std::process::Output {
    let tool = model_signing();
    std::process::Command::new(tool)
        .args(["verify", "key"])
        .arg(dir)
        .arg("--signature")
        .arg(sig)
        .arg("--public_key")
        .arg(public)
        .output()
        .expect("run model_signing")
}

#[test]
fn oms_signatures_from_the_stored_digests_verify_with_model_signing() {
    let env = Env::new();
    let model = env.model("model", 21);
    env.cmd()
        .arg("import")
        .arg(&model)
        .args(["--name", "acme/tiny", "--version", "v1"])
        .assert()
        .success();
    for algo in ["p256", "p384"] {
        let prefix = env.path(&format!("keys/{algo}"));
        let g = env.json(&[
            "keys",
            "generate",
            "--algorithm",
            algo,
            "--out",
            prefix.to_str().unwrap(),
        ]);
        assert_eq!(g["algorithm"], algo);
        let sig = env.path(&format!("{algo}.sig"));
        let s = env.json(&[
            "sign",
            "acme/tiny@v1",
            "--format",
            "oms",
            "--key",
            &format!("{}.key", prefix.display()),
            "--out",
            sig.to_str().unwrap(),
        ]);
        assert_eq!(s["resources"], 7);
        assert_eq!(s["key_id"], g["key_id"]);
        let co = env.path(&format!("co-{algo}"));
        env.cmd()
            .args(["checkout", "acme/tiny@v1"])
            .arg(&co)
            .assert()
            .success();
        let public = std::path::PathBuf::from(format!("{}.pub", prefix.display()));
        let ok = oms_verify(&co, &sig, &public);
        assert!(
            ok.status.success(),
            "{algo}: {}{}",
            String::from_utf8_lossy(&ok.stdout),
            String::from_utf8_lossy(&ok.stderr)
        );
        // One byte changed after signing: the OMS tool refuses it.
        let f = co.join("config.json");
        let mut perms = std::fs::metadata(&co).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        std::fs::set_permissions(&co, perms.clone()).unwrap();
        std::fs::set_permissions(&f, perms).unwrap();
        crate::util::flip_byte(&f, 3);
        let bad = oms_verify(&co, &sig, &public);
        assert!(!bad.status.success(), "{algo}: a tampered copy verified");
        // Another key does not verify it either.
        let other = env.path(&format!("keys/other-{algo}"));
        env.cmd()
            .args(["keys", "generate", "--algorithm", algo, "--out"])
            .arg(&other)
            .assert()
            .success();
        let co2 = env.path(&format!("co2-{algo}"));
        env.cmd()
            .args(["checkout", "acme/tiny@v1"])
            .arg(&co2)
            .assert()
            .success();
        let wrong = oms_verify(
            &co2,
            &sig,
            &std::path::PathBuf::from(format!("{}.pub", other.display())),
        );
        assert!(
            !wrong.status.success(),
            "{algo}: verified with the wrong key"
        );
    }
    // An ed25519 key cannot make an OMS signature; the message says why.
    env.cmd()
        .args(["keys", "generate", "--out"])
        .arg(env.path("keys/ed"))
        .assert()
        .success();
    let out = env
        .cmd()
        .args(["sign", "acme/tiny@v1", "--format", "oms", "--out"])
        .arg(env.path("ed.sig"))
        .arg("--key")
        .arg(env.path("keys/ed.key"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--algorithm p256"));
    assert!(!env.path("ed.sig").exists());
}

/// `model_signing sign key DIR` writing `DIR/model.sig` with `key`.
fn oms_sign(dir: &std::path::Path, key: &std::path::Path) {
    let tool = model_signing();
    let out = std::process::Command::new(tool)
        .args(["sign", "key"])
        .arg(dir)
        .arg("--private_key")
        .arg(key)
        .arg("--signature")
        .arg(dir.join("model.sig"))
        .output()
        .expect("run model_signing");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn oms_signatures_are_verified_at_import_and_across_a_bundle() {
    let env = Env::new();
    let keys = env.path("keys");
    for k in ["publisher", "stranger"] {
        env.cmd()
            .args(["keys", "generate", "--algorithm", "p256", "--out"])
            .arg(keys.join(k))
            .assert()
            .success();
    }
    let model = env.model("model", 31);
    oms_sign(&model, &keys.join("publisher.key"));
    // Not trusted yet: refused, naming the signature and the way out.
    let out = import_out(&env, &model, &["--name", "acme/signed"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a model signer"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.cmd()
        .args([
            "trust",
            "add",
            "--role",
            "model-signer",
            "--name",
            "publisher",
        ])
        .arg(keys.join("publisher.pub"))
        .assert()
        .success();
    let listed = env.json(&["trust", "list"]);
    assert_eq!(listed["model_signers"][0]["name"], "publisher");
    env.cmd()
        .arg("import")
        .arg(&model)
        .args(["--name", "acme/signed", "--version", "v1"])
        .assert()
        .success();
    let shown = env.json(&["show", "acme/signed@v1"]);
    assert_eq!(shown["oms_signatures"][0]["status"], "verified", "{shown}");
    assert_eq!(shown["oms_signatures"][0]["signer"], "publisher");
    let bom = env.json(&["bom", "acme/signed@v1"]);
    assert!(bom.to_string().contains("model.sig verified: publisher"));
    env.cmd()
        .args(["deploy", "acme/signed@v1"])
        .arg(env.path("deployed"))
        .assert()
        .success();
    let audit = env.json(&["audit"]);
    assert_eq!(
        audit["deployments"][0]["oms_signer"], "publisher",
        "{audit}"
    );

    // Changed after signing: refused, naming the file.
    let tampered = env.path("tampered");
    let cp = std::process::Command::new("cp")
        .arg("-r")
        .arg(&model)
        .arg(&tampered)
        .status()
        .unwrap();
    assert!(cp.success());
    std::fs::write(
        tampered.join("config.json"),
        b"{\"model_type\": \"llama\", \"changed\": true}\n",
    )
    .unwrap();
    let out = import_out(
        &env,
        &tampered,
        &["--name", "acme/signed", "--version", "v2"],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("config.json"));
    // A file added after signing is not covered.
    let added = env.path("added");
    let cp = std::process::Command::new("cp")
        .arg("-r")
        .arg(&model)
        .arg(&added)
        .status()
        .unwrap();
    assert!(cp.success());
    std::fs::write(added.join("extra.py"), b"print('hi')\n").unwrap();
    let out = import_out(&env, &added, &["--name", "acme/signed", "--version", "v3"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("extra.py"));
    // Signed by a key nobody trusts: refused.
    let strange = env.model("strange", 32);
    oms_sign(&strange, &keys.join("stranger.key"));
    let out = import_out(&env, &strange, &["--name", "acme/strange"]);
    assert_eq!(out.status.code(), Some(3));
    // Informative: recorded and warned, not refused.
    env.cmd()
        .args(["trust", "policy", "--oms", "informative"])
        .assert()
        .success();
    let out = import_out(&env, &strange, &["--name", "acme/strange"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("not verified (policy: informative)"));
    assert_eq!(
        env.json(&["show", "acme/strange"])["oms_signatures"][0]["status"],
        "informative"
    );
    // Required: a model without a signature is a policy refusal.
    env.cmd()
        .args(["trust", "policy", "--oms", "required"])
        .assert()
        .success();
    let plain = env.model("plain", 33);
    let out = import_out(&env, &plain, &["--name", "acme/plain"]);
    assert_eq!(out.status.code(), Some(4));
    env.cmd()
        .args(["trust", "policy", "--oms", "verify"])
        .assert()
        .success();

    // Across a bundle the signature (a model file) is verified again on the
    // isolated side, against its own model signers.
    let (iso, bundle) = env.cross("acme/signed@v1");
    let out = env
        .cmd_at(&iso)
        .arg("import")
        .arg(&bundle)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("model.sig"));
    env.cmd_at(&iso)
        .args([
            "trust",
            "add",
            "--role",
            "model-signer",
            "--name",
            "publisher",
        ])
        .arg(keys.join("publisher.pub"))
        .assert()
        .success();
    env.cmd_at(&iso)
        .arg("import")
        .arg(&bundle)
        .assert()
        .success();
    let shown = env.json_at(&iso, &["show", "acme/signed@v1"]);
    assert_eq!(shown["oms_signatures"][0]["status"], "verified");
}

/// `--json` failures against `tests/snapshots/errors/<case>.json`, the
/// temp folder written as `<TMP>` (`AIRLOCK_UPDATE_SNAPSHOTS=1` rewrites).
#[test]
fn json_errors_match_the_snapshots() {
    let env = Env::new();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/errors");
    let update = std::env::var_os("AIRLOCK_UPDATE_SNAPSHOTS").is_some();
    let model = env.model("model", 5);
    let mut cases: Vec<(&str, Vec<String>)> = vec![
        ("no-registry", vec!["show".into(), "acme/tiny".into()]),
        ("usage", vec!["sign".into(), "acme/tiny".into()]),
    ];
    let run = |args: &[String]| {
        let out = env.cmd().arg("--json").args(args).output().unwrap();
        let tmp = env.tmp.path().display().to_string();
        String::from_utf8_lossy(&out.stdout).replace(&tmp, "<TMP>")
    };
    let mut got = Vec::new();
    for (name, args) in cases.drain(..) {
        got.push((name, run(&args)));
    }
    env.cmd()
        .arg("import")
        .arg(&model)
        .args(["--name", "acme/tiny", "--version", "v1"])
        .assert()
        .success();
    for (name, args) in [
        (
            "not-found",
            vec!["show".to_string(), "acme/tiny@v7".to_string()],
        ),
        (
            "unknown-ref-name",
            vec!["show".to_string(), "Bad Name".to_string()],
        ),
    ] {
        got.push((name, run(&args)));
    }
    let mut stale = Vec::new();
    for (name, text) in got {
        let file = dir.join(format!("{name}.json"));
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&file, &text).unwrap();
        } else if std::fs::read_to_string(&file).ok().as_deref() != Some(text.as_str()) {
            stale.push(format!("{name}: {text}"));
        }
    }
    assert!(
        stale.is_empty(),
        "JSON errors differ from their snapshots: {stale:#?}"
    );
}

#[test]
fn verbose_import_reports_each_file_and_tables_fit_their_content() {
    let env = Env::new();
    let model = env.model("model", 41);
    let out = env
        .cmd()
        .args(["-v", "import"])
        .arg(&model)
        .args([
            "--name",
            "acme/a-rather-long-model-name-for-columns",
            "--version",
            "v1",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for f in [
        "config.json",
        "tokenizer.json",
        "model-00001-of-00002.safetensors",
    ] {
        assert!(err.contains(f), "{f} not reported: {err}");
    }
    assert!(err.contains("steps:"));
    let (iso, bundle) = env.cross("acme/a-rather-long-model-name-for-columns@v1");
    let out = env
        .cmd_at(&iso)
        .args(["-v", "import"])
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("model-00002-of-00002.safetensors") && err.contains("signed digest"),
        "{err}"
    );
    // The list's columns line up whatever the name's length.
    let list = env.cmd().arg("list").output().unwrap();
    let text = String::from_utf8_lossy(&list.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].find("VERSION"), lines[1].find("v1 "), "{text}");
    assert_eq!(lines[0].find("IMPORTED"), lines[1].find("20"), "{text}");
}

#[test]
fn oms_certificate_mode_chains_to_a_trusted_ca() {
    let env = Env::new();
    let pki = env.path("pki");
    crate::util::make_pki(
        &pki,
        "release-bot",
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=codeSigning\n",
    );
    let other = env.path("other-pki");
    crate::util::make_pki(
        &other,
        "release-bot",
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n",
    );
    let model = env.model("model", 51);
    let tool = model_signing();
    let out = std::process::Command::new(tool)
        .args(["sign", "certificate"])
        .arg(&model)
        .arg("--private_key")
        .arg(pki.join("leaf.key"))
        .arg("--signing_certificate")
        .arg(pki.join("leaf.pem"))
        .arg("--certificate_chain")
        .arg(pki.join("ca.pem"))
        .arg("--signature")
        .arg(model.join("model.sig"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // No CA trusted, then another CA: refused.
    let out = import_out(&env, &model, &["--name", "acme/cert"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("trusts no CA"));
    env.cmd()
        .args(["trust", "add-ca", "--name", "other"])
        .arg(other.join("ca.pem"))
        .assert()
        .success();
    let out = import_out(&env, &model, &["--name", "acme/cert"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not chain"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A leaf certificate is not a CA.
    let out = env
        .cmd()
        .args(["trust", "add-ca", "--name", "leaf"])
        .arg(pki.join("leaf.pem"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    // The issuing CA trusted: verified, the signer named by its certificate.
    env.cmd()
        .args(["trust", "add-ca", "--name", "release"])
        .arg(pki.join("ca.pem"))
        .assert()
        .success();
    env.cmd()
        .arg("import")
        .arg(&model)
        .args(["--name", "acme/cert"])
        .assert()
        .success();
    let shown = env.json(&["show", "acme/cert"]);
    let c = &shown["oms_signatures"][0];
    assert_eq!(c["status"], "verified");
    assert!(c["signer"].as_str().unwrap().contains("release-bot"), "{c}");
    // Changed after signing: refused.
    std::fs::write(model.join("tokenizer.json"), b"{}").unwrap();
    let out = import_out(&env, &model, &["--name", "acme/cert", "--version", "v9"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tokenizer.json"));
}

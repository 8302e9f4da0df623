//! Every input judged by what it claims (issue 11): model cards read as
//! YAML, single files, whole Hugging Face caches, shared serving caches, the
//! database as untrusted input, and a store that takes only what is
//! accepted.

use std::fs;

use predicates::prelude::*;

use crate::util::Env;

/// A folder with one safetensors file and a model card of `card`.
fn carded(env: &Env, name: &str, card: &str) -> std::path::PathBuf {
    let dir = env.path(name);
    fs::create_dir_all(&dir).unwrap();
    airlock::demo::write_safetensors(&dir.join("model.safetensors"), &[("w", 4, 4)], 3).unwrap();
    fs::write(dir.join("README.md"), card).unwrap();
    dir
}

#[test]
fn model_cards_are_read_as_yaml_and_a_missing_licence_text_is_said() {
    let env = Env::new();
    let commented = carded(
        &env,
        "commented",
        "---\nlicense: apache-2.0  # see LICENSE\ndatasets:\n  - acme/corpus\n---\n# Model\n",
    );
    let out = env
        .cmd()
        .arg("--json")
        .arg("import")
        .arg(&commented)
        .args(["--name", "acme/c"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["license_id"], "apache-2.0");
    assert!(
        v["notes"]
            .to_string()
            .contains("no licence text is in the folder"),
        "{v}"
    );
    // The duty to keep the text is unmet: review, not ALLOWED.
    env.cmd()
        .args(["license", "check", "acme/c"])
        .assert()
        .code(4)
        .stdout(predicate::str::contains("NEEDS-REVIEW").and(predicate::str::contains("not kept")));
    // A list-form licence records the first and says so.
    let listed = carded(&env, "listed", "---\nlicense:\n- mit\n- apache-2.0\n---\n");
    let licence = env.path("LICENSE.txt");
    fs::write(&licence, "MIT License\n\nPermission is hereby granted...\n").unwrap();
    let v = env.json(&[
        "import",
        listed.to_str().unwrap(),
        "--name",
        "acme/l",
        "--license-file",
        licence.to_str().unwrap(),
    ]);
    assert_eq!(v["license_id"], "mit");
    assert!(v["notes"].to_string().contains("lists 2 licences"), "{v}");
    env.cmd()
        .args(["license", "check", "acme/l"])
        .assert()
        .success();
}

//! A process killed in the middle of an import leaves nothing visible, `fsck`
//! stays clean, and the rerun finishes the job.

use std::fs;

use crate::util::Env;

#[test]
fn killed_import_leaves_nothing_visible_and_rerun_succeeds() {
    let env = Env::new();
    let model = env.path("big");
    // Enough bytes that the import is still running when we kill it.
    crate::util::big_files(&model, 6, 128, 2654435761);
    env.cmd().arg("init").assert().success();
    let bin = assert_cmd::cargo::cargo_bin("airlock");
    let mut child = std::process::Command::new(bin)
        .arg("--home")
        .arg(&env.home)
        .args(["--no-progress", "import"])
        .arg(&model)
        .args(["--name", "acme/big"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let tmp = env.home.join("store/tmp");
    crate::util::kill_while_writing(&mut child, &tmp);

    assert!(
        env.listed().is_empty(),
        "nothing of the killed import is visible"
    );
    env.cmd().arg("fsck").assert().success();
    env.cmd()
        .arg("import")
        .arg(&model)
        .args(["--name", "acme/big"])
        .assert()
        .success();
    assert_eq!(env.listed(), ["acme/big@v1"]);
    env.cmd()
        .args(["verify", "--deep", "--all"])
        .assert()
        .success();
    assert!(
        fs::read_dir(&tmp).unwrap().next().is_none(),
        "the rerun cleared the leftovers"
    );
    env.cmd().arg("fsck").assert().success();
}

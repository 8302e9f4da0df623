//! A process killed in the middle of an import leaves nothing visible, `fsck`
//! stays clean, and the rerun finishes the job.

use std::fs;
use std::io::Write;
use std::time::{Duration, Instant};

use crate::util::Env;

#[test]
fn killed_import_leaves_nothing_visible_and_rerun_succeeds() {
    let env = Env::new();
    let model = env.path("big");
    fs::create_dir_all(&model).unwrap();
    // Enough bytes that the import is still running when we kill it.
    let chunk: Vec<u8> = (0..(1u32 << 20))
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    for i in 0..6 {
        let mut f = fs::File::create(model.join(format!("shard-{i}.bin"))).unwrap();
        for j in 0..128u32 {
            f.write_all(&chunk).unwrap();
            f.write_all(&j.to_le_bytes()).unwrap();
        }
    }
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
    // Wait until the import is visibly writing into the store, then kill it.
    let tmp = env.home.join("store/tmp");
    let start = Instant::now();
    loop {
        let writing = fs::read_dir(&tmp)
            .map(|d| {
                d.filter_map(Result::ok)
                    .any(|e| e.metadata().map(|m| m.len() > 0).unwrap_or(false))
            })
            .unwrap_or(false);
        if writing {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import finished before it could be interrupted"
        );
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the import never started writing"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the import was killed, not finished");

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

//! Piece digests (issue 16): recorded at import beside each large file's
//! sha256, signed in the statement, checked against the bytes at bundle
//! import, and used by every deep check so one large file is hashed on
//! every core — naming the damaged piece. The tests use 1 MiB pieces
//! (`AIRLOCK_PIECE_MIB=1`) so a 5 MiB file has six.

use std::fs;
use std::path::{Path, PathBuf};

use predicates::prelude::*;

use crate::util::{Env, flip_byte, sha256_hex};

const MIB: usize = 1 << 20;

/// A folder with `weights.dat` of 5 MiB + 100 bytes and a config.
fn model(env: &Env, name: &str, seed: u32) -> (PathBuf, Vec<u8>) {
    let dir = env.path(name);
    fs::create_dir_all(&dir).unwrap();
    let bytes: Vec<u8> = (0..(5 * MIB + 100) as u32)
        .map(|i| (i.wrapping_mul(2654435761).wrapping_add(seed) >> 13) as u8)
        .collect();
    fs::write(dir.join("weights.dat"), &bytes).unwrap();
    fs::write(dir.join("config.json"), b"{}\n").unwrap();
    (dir, bytes)
}

fn cmd_at(env: &Env, home: &Path) -> assert_cmd::Command {
    let mut c = env.cmd_at(home);
    c.env("AIRLOCK_PIECE_MIB", "1");
    c
}

fn weights(show: &serde_json::Value) -> serde_json::Value {
    show["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "weights.dat")
        .unwrap()
        .clone()
}

fn writable(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(p, fs::Permissions::from_mode(0o644)).unwrap();
}

#[test]
fn pieces_are_recorded_and_name_the_damaged_piece() {
    let env = Env::new();
    let (dir, bytes) = model(&env, "m", 1);
    cmd_at(&env, &env.home)
        .arg("import")
        .arg(&dir)
        .args(["--name", "acme/big"])
        .assert()
        .success();
    let w = weights(&env.json(&["show", "acme/big"]));
    assert_eq!(w["pieces"]["size"], MIB);
    let list = w["pieces"]["sha256"].as_array().unwrap();
    assert_eq!(list.len(), 6);
    for (k, d) in list.iter().enumerate() {
        let end = ((k + 1) * MIB).min(bytes.len());
        assert_eq!(d, &sha256_hex(&bytes[k * MIB..end]), "piece {k}");
    }
    // The small file has none.
    let show = env.json(&["show", "acme/big"]);
    let config = show["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "config.json")
        .unwrap()
        .clone();
    assert!(config.get("pieces").is_none());
    // A byte flipped in the middle of the stored blob: the piece is named.
    let blob = env.blob_path(&sha256_hex(&bytes));
    writable(&blob);
    flip_byte(&blob, (2 * MIB + MIB / 2) as u64);
    env.cmd()
        .args(["verify", "--deep", "acme/big"])
        .assert()
        .code(3)
        .stdout(predicate::str::contains("piece 2 of 6"));
    flip_byte(&blob, (2 * MIB + MIB / 2) as u64);
    env.cmd()
        .args(["verify", "--deep", "acme/big"])
        .assert()
        .success();
    // The same for a deployed copy, through verify --path.
    let co = env.path("serve");
    env.cmd()
        .args(["checkout", "acme/big"])
        .arg(&co)
        .assert()
        .success();
    let copy = co.join("weights.dat");
    writable(&copy);
    flip_byte(&copy, (4 * MIB + 10) as u64);
    env.cmd()
        .args(["verify", "acme/big", "--path"])
        .arg(&co)
        .assert()
        .code(3)
        .stdout(predicate::str::contains("piece 4 of 6"));
}

/// Keys, a source home with `acme/big` approved and exported, and an
/// isolated home that trusts the keys. `tamper` edits the source database
/// before the approval.
fn crossing(env: &Env, tamper: impl FnOnce(&rusqlite::Connection)) -> (PathBuf, PathBuf, Vec<u8>) {
    let (dir, bytes) = model(env, "m", 2);
    cmd_at(env, &env.home)
        .arg("import")
        .arg(&dir)
        .args(["--name", "acme/big"])
        .assert()
        .success();
    tamper(&rusqlite::Connection::open(env.home.join("registry.db")).unwrap());
    let (iso, bundle) = env.cross("acme/big");
    (iso, bundle, bytes)
}

#[test]
fn the_piece_list_travels_signed_and_is_checked_against_the_bytes() {
    let env = Env::new();
    let (iso, bundle, bytes) = crossing(&env, |_| {});
    // The statement in the bundle carries the pieces (under the approval).
    let ms = crate::gap::members(&bundle);
    let envelope: serde_json::Value = serde_json::from_slice(
        &ms.iter()
            .find(|(n, _)| n.starts_with("statements/"))
            .unwrap()
            .1,
    )
    .unwrap();
    use base64::Engine as _;
    let payload = base64::engine::general_purpose::STANDARD
        .decode(envelope["payload"].as_str().unwrap())
        .unwrap();
    let st: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    let f = st["predicate"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "weights.dat")
        .unwrap()
        .clone();
    assert_eq!(f["pieces"]["sha256"].as_array().unwrap().len(), 6);
    // The isolated side takes them and verifies piece by piece.
    env.cmd_at(&iso)
        .arg("import")
        .arg(&bundle)
        .assert()
        .success();
    let w = weights(&env.json_at(&iso, &["show", "acme/big"]));
    assert_eq!(w["pieces"], f["pieces"]);
    let blob = iso
        .join("store/sha256")
        .join(&sha256_hex(&bytes)[..2])
        .join(&sha256_hex(&bytes)[2..]);
    writable(&blob);
    flip_byte(&blob, (5 * MIB + 50) as u64);
    env.cmd_at(&iso)
        .args(["verify", "--deep", "acme/big"])
        .assert()
        .code(3)
        .stdout(predicate::str::contains("piece 5 of 6"));
}

#[test]
fn a_signed_piece_list_that_is_not_the_bytes_own_is_refused() {
    let env = Env::new();
    // The source's record says piece 3 is something else; the approval then
    // signs that list — a valid signature over a false claim.
    let (iso, bundle, _) = crossing(&env, |db| {
        let json: String = db
            .query_row(
                "SELECT pieces FROM blobs WHERE pieces IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let mut p: serde_json::Value = serde_json::from_str(&json).unwrap();
        p["sha256"][3] = sha256_hex(b"not the bytes").into();
        db.execute(
            "UPDATE blobs SET pieces = ?1 WHERE pieces IS NOT NULL",
            [p.to_string()],
        )
        .unwrap();
    });
    env.cmd_at(&iso)
        .arg("import")
        .arg(&bundle)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("piece 3 differs"));
    assert!(
        env.json_at(&iso, &["list"])["versions"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_registry_without_piece_lists_still_verifies_whole_files() {
    let env = Env::new();
    let (dir, bytes) = model(&env, "m", 3);
    cmd_at(&env, &env.home)
        .arg("import")
        .arg(&dir)
        .args(["--name", "acme/old"])
        .assert()
        .success();
    let db = rusqlite::Connection::open(env.home.join("registry.db")).unwrap();
    db.execute("UPDATE blobs SET pieces = NULL", []).unwrap();
    drop(db);
    env.cmd()
        .args(["verify", "--deep", "acme/old"])
        .assert()
        .success();
    let blob = env.blob_path(&sha256_hex(&bytes));
    writable(&blob);
    flip_byte(&blob, (3 * MIB) as u64);
    env.cmd()
        .args(["verify", "--deep", "acme/old"])
        .assert()
        .code(3)
        .stdout(
            predicate::str::contains("expected sha256")
                .and(predicate::str::contains("piece").not()),
        );
}

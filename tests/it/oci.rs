//! Issue 13: versions through a real OCI registry (the Debian
//! `docker-registry`, distribution 2.8, started here on 127.0.0.1 with a
//! random port and a temporary storage folder) and through OCI image
//! layouts, checked by an independent client (`skopeo`).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::util::{Env, sha256_hex};

/// A registry server for one test; killed on drop.
pub(crate) struct Server {
    child: Child,
    pub(crate) port: u16,
    pub(crate) storage: PathBuf,
    /// The CA that signed its certificate (TLS servers).
    pub(crate) ca: Option<PathBuf>,
    _dir: tempfile::TempDir,
}

pub(crate) const USER: &str = "fleet";
pub(crate) const PASSWORD: &str = "s3cret-Passw0rd";

impl Server {
    /// A plain-HTTP registry without auth.
    pub(crate) fn plain() -> Server {
        Server::start(false)
    }

    /// A registry with TLS (a CA made here) and basic auth (htpasswd).
    pub(crate) fn secure() -> Server {
        Server::start(true)
    }

    fn start(secure: bool) -> Server {
        let registry = crate::peers::docker_registry();
        let dir = tempfile::tempdir().expect("temp dir");
        let storage = dir.path().join("storage");
        let mut extra = String::new();
        let mut ca = None;
        if secure {
            let d = dir.path();
            crate::util::make_pki(
                d,
                "127.0.0.1",
                "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
            );
            let out = Command::new(crate::peers::htpasswd())
                .args(["-nbB", USER, PASSWORD])
                .output()
                .unwrap();
            assert!(out.status.success());
            fs::write(d.join("htpasswd"), &out.stdout).unwrap();
            extra = format!(
                "auth:\n  htpasswd:\n    realm: airlock-test\n    path: {}\n",
                d.join("htpasswd").display()
            );
            ca = Some(d.join("ca.pem"));
        }
        for _attempt in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let tls = if secure {
                format!(
                    "  tls:\n    certificate: {}\n    key: {}\n",
                    dir.path().join("leaf.pem").display(),
                    dir.path().join("leaf.key").display()
                )
            } else {
                String::new()
            };
            let cfg = format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n{extra}http:\n  addr: 127.0.0.1:{port}\n{tls}",
                storage.display()
            );
            let cfg_path = dir.path().join("config.yml");
            fs::write(&cfg_path, cfg).unwrap();
            let mut child = Command::new(&registry)
                .arg("serve")
                .arg(&cfg_path)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start docker-registry");
            for _ in 0..100 {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Server {
                        child,
                        port,
                        storage,
                        ca,
                        _dir: dir,
                    };
                }
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("docker-registry did not start");
    }

    /// `oci://127.0.0.1:PORT/<path>`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("oci://127.0.0.1:{}/{path}", self.port)
    }

    /// `docker://127.0.0.1:PORT/<path>` for skopeo.
    pub(crate) fn docker(&self, path: &str) -> String {
        format!("docker://127.0.0.1:{}/{path}", self.port)
    }

    /// Where the registry keeps blob `hex`.
    pub(crate) fn blob_data(&self, hex: &str) -> PathBuf {
        self.storage
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A connected home holding `acme/tiny@v1` approved by alice, and an
/// isolated home trusting alice.
pub(crate) struct Sides {
    pub(crate) env: Env,
    pub(crate) iso: PathBuf,
    pub(crate) keys: PathBuf,
}

pub(crate) fn sides(approve: bool) -> Sides {
    let env = Env::new();
    let model = env.model("model", 7);
    env.cmd()
        .args(["import"])
        .arg(&model)
        .args(["--name", "acme/tiny", "--version", "v1"])
        .assert()
        .success();
    let keys = env.path("keys");
    crate::gap::keygen(&env, &keys, "alice");
    if approve {
        env.cmd()
            .args(["sign", "acme/tiny@v1", "--key"])
            .arg(keys.join("alice.key"))
            .assert()
            .success();
    }
    let iso = env.path("iso");
    env.cmd_at(&iso)
        .args(["trust", "add", "--name", "alice"])
        .arg(keys.join("alice.pub"))
        .assert()
        .success();
    Sides { env, iso, keys }
}

/// Every file of the version on the connected side: path → sha256.
fn files_of(env: &Env, home: &Path) -> Vec<(String, String, u64)> {
    let v = env.json_at(home, &["show", "acme/tiny@v1"]);
    v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["sha256"].as_str().unwrap().to_string(),
                f["size"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn skopeo_raw(server: &Server, path: &str, tls: &[&str]) -> serde_json::Value {
    let out = Command::new(crate::peers::skopeo())
        .args(["inspect", "--raw"])
        .args(tls)
        .arg(server.docker(path))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo inspect: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn push_then_pull_gives_the_same_bytes_and_skopeo_agrees() {
    let server = Server::plain();
    let s = sides(true);
    let env = &s.env;
    let dest = server.url("team/tiny");
    let pushed = env.json(&["push", "acme/tiny@v1", &dest, "--plain-http"]);
    assert!(pushed["uploaded_blobs"].as_u64().unwrap() >= 7, "{pushed}");
    let oci_digest = pushed["versions"][0]["oci_manifest_digest"]
        .as_str()
        .unwrap()
        .to_string();

    // The independent client sees a ModelPack artifact whose layer digests
    // are the files' own sha256.
    let raw = skopeo_raw(&server, "team/tiny:v1", &["--tls-verify=false"]);
    assert_eq!(
        raw["artifactType"],
        "application/vnd.cncf.model.manifest.v1+json"
    );
    assert_eq!(
        raw["config"]["mediaType"],
        "application/vnd.cncf.model.config.v1+json"
    );
    let files = files_of(env, &env.home);
    let layers = raw["layers"].as_array().unwrap();
    assert_eq!(layers.len(), files.len());
    for (path, sha, size) in &files {
        let l = layers
            .iter()
            .find(|l| l["annotations"]["org.cncf.model.filepath"] == path.as_str())
            .unwrap_or_else(|| panic!("no layer for {path}"));
        assert_eq!(l["digest"], format!("sha256:{sha}"), "{path}");
        assert_eq!(l["size"], *size, "{path}");
        assert!(l["mediaType"].as_str().unwrap().ends_with(".raw"));
    }
    // The statement is listed under the referrers tag (distribution 2.8
    // has no referrers API).
    let refs = skopeo_raw(
        &server,
        &format!("team/tiny:sha256-{oci_digest}"),
        &["--tls-verify=false"],
    );
    assert_eq!(
        refs["manifests"][0]["artifactType"],
        "application/vnd.airlock.statement.v1+json"
    );

    // A second push uploads nothing new.
    let again = env.json(&["push", "acme/tiny@v1", &dest, "--plain-http"]);
    assert_eq!(again["uploaded_blobs"], 0, "{again}");
    assert_eq!(
        again["versions"][0]["oci_manifest_digest"],
        oci_digest.as_str()
    );

    // Pull into the isolated home; the checked-out bytes are the source's.
    let pulled = env.json_at(&s.iso, &["pull", &format!("{dest}:v1"), "--plain-http"]);
    assert_eq!(pulled["versions"][0]["created"], true);
    assert_eq!(pulled["versions"][0]["approvals"], 1);
    let out = env.path("served");
    env.cmd_at(&s.iso)
        .args(["checkout", "acme/tiny@v1"])
        .arg(&out)
        .assert()
        .success();
    for (path, sha, _) in &files {
        assert_eq!(
            &sha256_hex(&fs::read(out.join(path)).unwrap()),
            sha,
            "{path}"
        );
        assert_eq!(
            fs::read(out.join(path)).unwrap(),
            fs::read(env.path("model").join(path)).unwrap()
        );
    }
    // Where it came from is recorded: show, list, audit; by digest pulls
    // are the same version.
    let shown = env.json_at(&s.iso, &["show", "acme/tiny@v1"]);
    assert_eq!(shown["origin"], "oci");
    assert_eq!(shown["oci_locations"][0]["direction"], "pull");
    assert_eq!(shown["oci_locations"][0]["repository"], "team/tiny");
    assert_eq!(
        shown["oci_locations"][0]["manifest_digest"],
        oci_digest.as_str()
    );
    let listed = env.json_at(&s.iso, &["list"]);
    assert!(
        listed["versions"][0]["pulled_from"]
            .as_str()
            .unwrap()
            .contains(&oci_digest)
    );
    let pushed_show = env.json(&["show", "acme/tiny@v1"]);
    assert_eq!(pushed_show["oci_locations"][0]["direction"], "push");
    env.cmd_at(&s.iso)
        .args(["deploy", "acme/tiny@v1"])
        .arg(env.path("deployed"))
        .assert()
        .success();
    let audit = env.json_at(&s.iso, &["audit"]);
    assert!(
        audit["deployments"][0]["pulled_from"]
            .as_str()
            .unwrap()
            .contains("team/tiny")
    );
    let by_digest = env.json_at(
        &s.iso,
        &[
            "pull",
            &format!("{dest}@sha256:{oci_digest}"),
            "--plain-http",
        ],
    );
    assert_eq!(by_digest["versions"][0]["created"], false);
    env.cmd_at(&s.iso)
        .args(["verify", "--all", "--deep"])
        .assert()
        .success();
}

#[test]
fn large_blobs_go_up_in_chunks_and_other_repositories_mount_them() {
    let server = Server::plain();
    let s = sides(true);
    // 1 MiB chunks: the 3 MiB shards go up as three PATCHes each.
    let first = s
        .env
        .cmd()
        .env("AIRLOCK_OCI_CHUNK_MIB", "1")
        .args([
            "--json",
            "push",
            "acme/tiny@v1",
            &server.url("team/a"),
            "--plain-http",
        ])
        .output()
        .unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let first: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(first["mounted_blobs"], 0);
    let files = files_of(&s.env, &s.env.home);
    for (_, sha, size) in &files {
        assert_eq!(fs::metadata(server.blob_data(sha)).unwrap().len(), *size);
    }
    // Another repository of the same registry mounts every file blob.
    let second = s.env.json(&[
        "push",
        "acme/tiny@v1",
        &server.url("team/b"),
        "--plain-http",
    ]);
    let distinct: std::collections::HashSet<_> = files.iter().map(|f| &f.1).collect();
    assert!(
        second["mounted_blobs"].as_u64().unwrap() >= distinct.len() as u64,
        "{second}"
    );
    assert!(
        second["uploaded_bytes"].as_u64().unwrap() < 64 << 10,
        "{second}"
    );
    let pulled = s
        .env
        .json_at(&s.iso, &["pull", &server.url("team/b:v1"), "--plain-http"]);
    assert_eq!(pulled["versions"][0]["created"], true);
    s.env
        .cmd_at(&s.iso)
        .args(["verify", "--all", "--deep"])
        .assert()
        .success();
}

#[test]
fn pull_refuses_a_blob_changed_in_the_registry_storage() {
    let server = Server::plain();
    let s = sides(true);
    let dest = server.url("team/tiny:v1");
    s.env
        .cmd()
        .args(["push", "acme/tiny@v1", &dest, "--plain-http"])
        .assert()
        .success();
    let files = files_of(&s.env, &s.env.home);
    let (path, sha, _) = files.iter().max_by_key(|f| f.2).unwrap();
    let data = server.blob_data(sha);
    let mut bytes = fs::read(&data).unwrap();
    bytes[100] ^= 0xff;
    fs::write(&data, &bytes).unwrap();
    let out = s
        .env
        .cmd_at(&s.iso)
        .args(["pull", &dest, "--plain-http"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(path.as_str()) && err.contains(sha.as_str()),
        "{err}"
    );
    // Nothing became visible, nothing was stored.
    let listed = s.env.json_at(&s.iso, &["list"]);
    assert_eq!(listed["versions"].as_array().unwrap().len(), 0);
    let blobs = walkdir::WalkDir::new(s.iso.join("store/sha256"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .count();
    assert_eq!(blobs, 0);
}

#[test]
fn pull_refuses_an_unapproved_version_and_a_missing_statement() {
    let server = Server::plain();
    let s = sides(false);
    let dest = server.url("team/tiny:v1");
    s.env
        .cmd()
        .args(["push", "acme/tiny@v1", &dest, "--plain-http"])
        .assert()
        .success();
    let out = s
        .env
        .cmd_at(&s.iso)
        .args(["pull", &dest, "--plain-http"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("acme/tiny@v1") && err.contains("approval"),
        "{err}"
    );

    // The same model without any statement referrer (copied by a tool
    // that carries only the tag): refused, naming the manifest.
    let copy = Command::new(crate::peers::skopeo())
        .args(["copy", "--src-tls-verify=false", "--dest-tls-verify=false"])
        .arg(server.docker("team/tiny:v1"))
        .arg(server.docker("other/tiny:v1"))
        .output()
        .unwrap();
    assert!(
        copy.status.success(),
        "{}",
        String::from_utf8_lossy(&copy.stderr)
    );
    let out = s
        .env
        .cmd_at(&s.iso)
        .args(["pull", &server.url("other/tiny:v1"), "--plain-http"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no signed airlock statement"), "{err}");
    assert_eq!(
        s.env.json_at(&s.iso, &["list"])["versions"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn a_pull_killed_halfway_resumes_with_the_blobs_it_finished() {
    let server = Server::plain();
    let s = sides(true);
    let dest = server.url("team/tiny:v1");
    s.env
        .cmd()
        .args(["push", "acme/tiny@v1", &dest, "--plain-http"])
        .assert()
        .success();
    // Killed as it keeps its third finished blob for a resume (one worker).
    let out = Command::new(crate::peers::strace())
        .args(["-f", "-qq", "-o", "/dev/null", "-e", "trace=linkat,link"])
        .args(["-e", "inject=linkat,link:signal=SIGKILL:when=3"])
        .arg("--")
        .arg(assert_cmd::cargo::cargo_bin("airlock"))
        .arg("--home")
        .arg(&s.iso)
        .args([
            "--no-progress",
            "pull",
            &dest,
            "--plain-http",
            "--jobs",
            "1",
        ])
        .env_remove("AIRLOCK_HOME")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the pull was not killed");
    assert_eq!(
        s.env.json_at(&s.iso, &["list"])["versions"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let again = s.env.json_at(&s.iso, &["pull", &dest, "--plain-http"]);
    let v = &again["versions"][0];
    assert_eq!(v["created"], true, "{again}");
    assert_eq!(v["resumed_blobs"], 2, "{again}");
    assert_eq!(v["fetched_blobs"].as_u64().unwrap() + 2, 7, "{again}");
    s.env
        .cmd_at(&s.iso)
        .args(["verify", "--all", "--deep"])
        .assert()
        .success();
    assert!(
        !s.iso
            .join("pulls")
            .join(v["oci_manifest_digest"].as_str().unwrap())
            .exists()
    );
}

#[test]
fn tls_and_basic_auth_with_flags_or_the_docker_config() {
    let server = Server::secure();
    let s = sides(true);
    let ca = server.ca.clone().unwrap();
    let dest = server.url("secure/tiny:v1");
    // Without the enclave CA: a TLS failure naming the registry, with the hint.
    let out = s
        .env
        .cmd()
        .args(["push", "acme/tiny@v1", &dest])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("127.0.0.1:{}", server.port)) && err.contains("--ca-file"),
        "{err}"
    );
    // Without credentials: 401, named, with the hint.
    let out = s
        .env
        .cmd()
        .env("DOCKER_CONFIG", s.env.path("no-docker"))
        .args(["push", "acme/tiny@v1", &dest, "--ca-file"])
        .arg(&ca)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("HTTP 401") && err.contains("secure/tiny") && err.contains("--password-stdin"),
        "{err}"
    );
    // A wrong password is refused too.
    let out = s
        .env
        .cmd()
        .env("DOCKER_CONFIG", s.env.path("no-docker"))
        .args([
            "push",
            "acme/tiny@v1",
            &dest,
            "--username",
            USER,
            "--password-stdin",
            "--ca-file",
        ])
        .arg(&ca)
        .write_stdin("wrong\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    // With --username and --password-stdin: pushed.
    s.env
        .cmd()
        .env("DOCKER_CONFIG", s.env.path("no-docker"))
        .args([
            "push",
            "acme/tiny@v1",
            &dest,
            "--username",
            USER,
            "--password-stdin",
            "--ca-file",
        ])
        .arg(&ca)
        .write_stdin(format!("{PASSWORD}\n"))
        .assert()
        .success();
    // Pull with the credentials of a Docker config file.
    let docker = s.env.path("docker");
    fs::create_dir_all(&docker).unwrap();
    let auth = base64_encode(format!("{USER}:{PASSWORD}").as_bytes());
    let mut f = fs::File::create(docker.join("config.json")).unwrap();
    write!(
        f,
        r#"{{"auths":{{"127.0.0.1:{}":{{"auth":"{auth}"}}}}}}"#,
        server.port
    )
    .unwrap();
    let pulled = s
        .env
        .cmd_at(&s.iso)
        .env("DOCKER_CONFIG", &docker)
        .args(["--json", "pull", &dest, "--ca-file"])
        .arg(&ca)
        .output()
        .unwrap();
    assert!(
        pulled.status.success(),
        "{}",
        String::from_utf8_lossy(&pulled.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&pulled.stdout).unwrap();
    assert_eq!(v["versions"][0]["created"], true);

    // A credential helper named by the Docker config (`credsStore`).
    let bin = s.env.path("bin");
    fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-airlocktest");
    fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread host\n[ \"$host\" = \"127.0.0.1:{}\" ] || exit 1\necho '{{\"ServerURL\":\"'$host'\",\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}'\n",
            server.port
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&helper, fs::Permissions::from_mode(0o755)).unwrap();
    let helped = s.env.path("docker-helper");
    fs::create_dir_all(&helped).unwrap();
    fs::write(
        helped.join("config.json"),
        r#"{"credsStore":"airlocktest"}"#,
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let third = s.env.path("iso3");
    s.env
        .cmd_at(&third)
        .args(["trust", "add", "--name", "alice"])
        .arg(s.keys.join("alice.pub"))
        .assert()
        .success();
    s.env
        .cmd_at(&third)
        .env("DOCKER_CONFIG", &helped)
        .env("PATH", path)
        .args(["pull", &dest, "--ca-file"])
        .arg(&ca)
        .assert()
        .success();
}

#[test]
fn a_revocation_travels_with_a_push_and_a_pull() {
    let server = Server::plain();
    let s = sides(true);
    s.env
        .cmd()
        .args([
            "revoke",
            "acme/tiny@v1",
            "--reason",
            "weights leaked a secret",
            "--key",
        ])
        .arg(s.keys.join("alice.key"))
        .assert()
        .success();
    let dest = server.url("team/tiny:v1");
    let pushed = s.env.json(&["push", "acme/tiny@v1", &dest, "--plain-http"]);
    assert_eq!(pushed["versions"][0]["revocation"], true, "{pushed}");
    let pulled = s.env.json_at(&s.iso, &["pull", &dest, "--plain-http"]);
    let warnings = pulled["warnings"].to_string();
    assert!(
        warnings.contains("revoked") && warnings.contains("weights leaked a secret"),
        "{pulled}"
    );
    let shown = s.env.json_at(&s.iso, &["show", "acme/tiny@v1"]);
    assert_eq!(
        shown["revoked"]["reason"], "weights leaked a secret",
        "{shown}"
    );
    let out = s
        .env
        .cmd_at(&s.iso)
        .args(["checkout", "acme/tiny@v1"])
        .arg(s.env.path("co"))
        .output()
        .unwrap();
    assert!(!out.status.success(), "a revoked version was checked out");
}

/// A token-auth front for a plain registry, the way Harbor, Quay and the
/// hosted registries ask: `401` with a Bearer challenge, a token service
/// that wants basic credentials, then every request with the token is
/// passed through (bodies streamed both ways). It also speaks the OCI 1.1
/// referrers API that distribution 2.8 lacks: a manifest put with a
/// `subject` is answered with `OCI-Subject` and listed by
/// `GET /v2/<repo>/referrers/<digest>`.
const TOKEN_FRONT: &str = r#"
import base64, hashlib, http.client, http.server, json, re, socketserver, sys, urllib.parse
upstream = int(sys.argv[1]); user, password = sys.argv[2], sys.argv[3]
REFERRERS = {}
TOKEN = "tok-" + base64.b16encode(password.encode()).decode()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def reply(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers: self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD": self.wfile.write(body)
    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        if self.path.startswith("/token"):
            q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
            want = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
            ok = self.headers.get("Authorization") == want and q.get("service") == ["airlock-test"]                 and any(s.startswith("repository:") for s in q.get("scope", []))
            return self.reply(200, ('{"token":"%s"}' % TOKEN).encode()) if ok else self.reply(401)
        if self.headers.get("Authorization") != "Bearer " + TOKEN:
            self.rfile.read(n)
            host = self.headers.get("Host")
            return self.reply(401, b"{}", [("WWW-Authenticate",
                f'Bearer realm="http://{host}/token",service="airlock-test",scope="repository:x:pull"')])
        m = re.match(r"^/v2/(.+)/referrers/(sha256:[0-9a-f]{64})", self.path)
        if m and self.command == "GET":
            body = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                               "manifests": REFERRERS.get((m.group(1), m.group(2)), [])}).encode()
            return self.reply(200, body, [("Content-Type", "application/vnd.oci.image.index.v1+json")])
        subject = None
        if self.command == "PUT" and "/manifests/" in self.path:
            data = self.rfile.read(n); n = 0
            try: doc = json.loads(data)
            except Exception: doc = {}
            if isinstance(doc, dict) and isinstance(doc.get("subject"), dict):
                subject = doc["subject"]["digest"]
                repo = self.path[len("/v2/"):self.path.index("/manifests/")]
                REFERRERS.setdefault((repo, subject), []).append({
                    "mediaType": doc.get("mediaType"), "size": len(data),
                    "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
                    "artifactType": doc.get("artifactType")})
        c = http.client.HTTPConnection("127.0.0.1", upstream)
        c.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for k, v in self.headers.items():
            if k.lower() not in ("authorization", "connection"): c.putheader(k, v)
        c.endheaders()
        if self.command == "PUT" and "/manifests/" in self.path: c.send(data)
        left = n
        while left > 0:
            b = self.rfile.read(min(left, 1 << 20)); c.send(b); left -= len(b)
        r = c.getresponse()
        self.send_response(r.status)
        if subject and r.status == 201: self.send_header("OCI-Subject", subject)
        for k, v in r.getheaders():
            if k.lower() not in ("connection", "transfer-encoding"): self.send_header(k, v)
        length = r.getheader("Content-Length")
        if length is None and self.command != "HEAD":
            body = r.read(); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
        else:
            self.end_headers()
            while self.command != "HEAD":
                b = r.read(1 << 20)
                if not b: break
                self.wfile.write(b)
        c.close()
    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any
class S(socketserver.ThreadingMixIn, http.server.HTTPServer): daemon_threads = True
s = S(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;

#[test]
fn bearer_token_auth_through_a_token_service() {
    use std::io::BufRead;
    let server = Server::plain();
    let mut front = Command::new(crate::peers::python())
        .arg("-c")
        .arg(TOKEN_FRONT)
        .args([server.port.to_string().as_str(), USER, PASSWORD])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(front.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line.trim().parse().expect("the token front's port");
    let s = sides(true);
    let dest = format!("oci://127.0.0.1:{port}/team/tiny:v1");
    let no_docker = s.env.path("no-docker");
    let out = s
        .env
        .cmd()
        .env("DOCKER_CONFIG", &no_docker)
        .args(["push", "acme/tiny@v1", &dest, "--plain-http"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));
    let pushed = s
        .env
        .cmd()
        .env("DOCKER_CONFIG", &no_docker)
        .args(["--json", "push", "acme/tiny@v1", &dest, "--plain-http"])
        .args(["--username", USER, "--password-stdin"])
        .write_stdin(PASSWORD)
        .output()
        .unwrap();
    assert!(
        pushed.status.success(),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );
    let pushed: serde_json::Value = serde_json::from_slice(&pushed.stdout).unwrap();
    assert_eq!(pushed["versions"][0]["referrers_api"], true, "{pushed}");
    // The registry listed the referrer: no referrers tag was written.
    let tag = format!(
        "sha256-{}",
        pushed["versions"][0]["oci_manifest_digest"]
            .as_str()
            .unwrap()
    );
    assert!(
        !server
            .storage
            .join("docker/registry/v2/repositories/team/tiny/_manifests/tags")
            .join(&tag)
            .exists()
    );
    let pulled = s
        .env
        .cmd_at(&s.iso)
        .env("DOCKER_CONFIG", &no_docker)
        .args([
            "--json",
            "pull",
            &dest,
            "--plain-http",
            "--username",
            USER,
            "--password-stdin",
        ])
        .write_stdin(PASSWORD)
        .output()
        .unwrap();
    let _ = front.kill();
    let _ = front.wait();
    assert!(
        pulled.status.success(),
        "{}",
        String::from_utf8_lossy(&pulled.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&pulled.stdout).unwrap();
    assert_eq!(v["versions"][0]["created"], true);
    assert_eq!(v["versions"][0]["statement_from"], "the referrers API");
}

fn base64_encode(b: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn an_oci_layout_carried_by_skopeo_is_accepted_by_pull_and_import() {
    let server = Server::plain();
    let s = sides(true);
    let layout = s.env.path("layout");
    let out = s.env.json(&[
        "export",
        "acme/tiny@v1",
        "--format",
        "oci-layout",
        "--out",
        layout.to_str().unwrap(),
    ]);
    let digest = out["versions"][0]["oci_manifest_digest"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(layout.join("oci-layout").is_file());
    // The layout imports directly.
    let direct = s.env.path("direct");
    s.env
        .cmd_at(&direct)
        .args(["trust", "add", "--name", "alice"])
        .arg(s.keys.join("alice.pub"))
        .assert()
        .success();
    let imported = s
        .env
        .json_at(&direct, &["import", layout.to_str().unwrap()]);
    assert_eq!(imported["versions"][0]["created"], true);
    // skopeo carries the model and its referrers tag to the registry.
    let lay = format!("oci:{}", layout.display());
    for (src, dst, all) in [
        (format!("{lay}:v1"), server.docker("carried/tiny:v1"), false),
        (
            format!("{lay}:sha256-{digest}"),
            server.docker(&format!("carried/tiny:sha256-{digest}")),
            true,
        ),
    ] {
        let mut c = Command::new(crate::peers::skopeo());
        c.arg("copy").arg("--dest-tls-verify=false");
        if all {
            c.arg("--all");
        }
        let o = c.arg(&src).arg(&dst).output().unwrap();
        assert!(
            o.status.success(),
            "skopeo copy {src}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let pulled = s.env.json_at(
        &s.iso,
        &["pull", &server.url("carried/tiny:v1"), "--plain-http"],
    );
    assert_eq!(
        pulled["versions"][0]["oci_manifest_digest"],
        digest.as_str()
    );
    assert_eq!(pulled["versions"][0]["created"], true);
}

#[test]
fn a_layout_whose_layers_disagree_with_the_statement_is_refused() {
    let s = sides(true);
    let layout = export_layout(&s, "layout");
    let blobs = layout.join("blobs/sha256");
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
    let model_hex = index["manifests"][0]["digest"].as_str().unwrap()[7..].to_string();
    let referrer_hex = index["manifests"][1]["digest"].as_str().unwrap()[7..].to_string();
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(blobs.join(&model_hex)).unwrap()).unwrap();
    // Swap the digests of two layers (both blobs exist): the bytes are
    // all signed, but not under those paths.
    let layers = manifest["layers"].as_array_mut().unwrap();
    let (a, b) = (layers[0]["digest"].clone(), layers[1]["digest"].clone());
    let sa = layers[0]["size"].clone();
    let sb = layers[1]["size"].clone();
    layers[0]["digest"] = b;
    layers[0]["size"] = sb;
    layers[1]["digest"] = a;
    layers[1]["size"] = sa;
    let swapped_path = layers[0]["annotations"]["org.cncf.model.filepath"]
        .as_str()
        .unwrap()
        .to_string();
    let write = |v: &serde_json::Value| -> (String, usize) {
        let bytes = serde_json::to_vec(v).unwrap();
        let hex = sha256_hex(&bytes);
        fs::write(blobs.join(&hex), &bytes).unwrap();
        (hex, bytes.len())
    };
    let (new_model, model_len) = write(&manifest);
    // An attacker can make a referrer for the new manifest with the same
    // (signed) envelope.
    let mut referrer: serde_json::Value =
        serde_json::from_slice(&fs::read(blobs.join(&referrer_hex)).unwrap()).unwrap();
    referrer["subject"]["digest"] = format!("sha256:{new_model}").into();
    referrer["subject"]["size"] = model_len.into();
    let (new_ref, ref_len) = write(&referrer);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{new_model}"), "size": model_len,
             "artifactType": "application/vnd.cncf.model.manifest.v1+json", "annotations": {"org.opencontainers.image.ref.name": "v1"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{new_ref}"), "size": ref_len,
             "artifactType": "application/vnd.airlock.statement.v1+json"}
        ]
    });
    fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
    let out = s
        .env
        .cmd_at(&s.iso)
        .arg("import")
        .arg(&layout)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("layer `{swapped_path}`")), "{err}");

    // A layout blob with one byte changed: refused naming the layer.
    let layout2 = export_layout(&s, "layout2");
    let files = files_of(&s.env, &s.env.home);
    let (path, sha, _) = files.iter().max_by_key(|f| f.2).unwrap();
    let p = layout2.join("blobs/sha256").join(sha);
    let mut perms = fs::metadata(&p).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    fs::set_permissions(&p, perms).unwrap();
    crate::util::flip_byte(&p, 10);
    let out = s
        .env
        .cmd_at(&s.iso)
        .arg("import")
        .arg(&layout2)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("layer `{path}`")), "{err}");
    assert_eq!(
        s.env.json_at(&s.iso, &["list"])["versions"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

/// `export acme/tiny@v1 --format oci-layout` into a new folder `rel`.
fn export_layout(s: &Sides, rel: &str) -> PathBuf {
    let layout = s.env.path(rel);
    s.env
        .cmd()
        .args(["export", "acme/tiny@v1", "--format", "oci-layout", "--out"])
        .arg(&layout)
        .assert()
        .success();
    layout
}

/// Fleet attestations over OCI: a host attaches its signed report to the
/// model's manifest as a referrer (distribution 2.8 has no referrers API:
/// the referrers tag lists it); the registry side collects every report
/// attached, records the trusted one and refuses a forged one (exit 3).
#[test]
fn host_reports_travel_as_referrers_and_only_trusted_ones_are_ingested() {
    let server = Server::plain();
    let env = Env::new();
    let m = env.model("m", 7);
    env.cmd()
        .args(["import", "--name", "acme/m"])
        .arg(&m)
        .assert()
        .success();
    let dest = server.url("fleet/m:v1");
    env.cmd()
        .args(["push", "acme/m", &dest, "--plain-http"])
        .assert()
        .success();
    let (serve, keys) = crate::lifecycle::deployed_with_host_keys(&env);
    let report = |key: &str| {
        let out = env.path(&format!("{key}-report.json"));
        let o = crate::lifecycle::attest_report(&env, &serve, &keys, key, &out);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        out
    };
    for key in ["gpu", "stranger"] {
        let p = env.json(&[
            "audit",
            "push",
            report(key).to_str().unwrap(),
            &dest,
            "--plain-http",
        ]);
        assert_eq!(p["referrers_api"], false, "{p}");
        assert!(p["subject"].as_str().unwrap().starts_with("sha256:"));
    }
    // Not a report: refused before anything is sent.
    let junk = env.path("junk.json");
    fs::write(&junk, b"{\"not\": \"a report\"}").unwrap();
    let o = env
        .cmd()
        .args(["audit", "push"])
        .arg(&junk)
        .args([&dest, "--plain-http"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // No host key trusted yet: both refused.
    let ingest = || {
        env.cmd()
            .args(["--json", "audit", "ingest", &dest, "--plain-http"])
            .output()
            .unwrap()
    };
    let o = ingest();
    assert_eq!(o.status.code(), Some(3));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["reports"].as_array().unwrap().len(), 2, "{doc}");
    assert!(
        doc["reports"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["refused"].is_string())
    );
    env.cmd()
        .args(["trust", "add", "--name", "gpu", "--role", "host"])
        .arg(keys.join("gpu.pub"))
        .assert()
        .success();
    let o = ingest();
    assert_eq!(
        o.status.code(),
        Some(3),
        "the stranger's report is still refused"
    );
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let recorded: Vec<&serde_json::Value> = doc["reports"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r.get("ingested"))
        .collect();
    assert_eq!(recorded.len(), 1, "{doc}");
    assert_eq!(recorded[0]["signer"], "gpu");
    assert_eq!(recorded[0]["recorded"], true);
    let audit = env.json(&["audit"]);
    assert_eq!(audit["deployments"][0]["proven"][1], "gpu", "{audit}");
    // Collected again: already recorded, nothing new.
    let doc: serde_json::Value = serde_json::from_slice(&ingest().stdout).unwrap();
    let again: Vec<&serde_json::Value> = doc["reports"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r.get("ingested"))
        .collect();
    assert_eq!(again[0]["recorded"], false);
    env.cmd().args(["log", "--verify"]).assert().success();
}

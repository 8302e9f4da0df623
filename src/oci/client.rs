//! A small OCI distribution client on `ureq` (blocking, rustls): the few
//! calls push and pull need, every body streamed, every request retryable
//! (bodies are bytes or a byte range of a store blob, re-opened on retry).
//!
//! Auth the way registries ask for it: anonymous first; on `401` the
//! `WWW-Authenticate` challenge picks Basic or the Bearer token flow (the
//! realm, service and scope it names), with credentials from the flags,
//! else the Docker config (`$DOCKER_CONFIG/config.json` or
//! `~/.docker/config.json`: `auths`, `credHelpers`, `credsStore`).

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;

use super::{Descriptor, INDEX, ImageIndex, MANIFEST, OciRef};
use crate::digest::Sha256Digest;
use crate::error::{Error, Result};

/// How to reach a registry.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    /// `--plain-http`: HTTP without TLS (a local registry).
    pub plain_http: bool,
    /// `--ca-file`: PEM certificates trusted besides the system roots.
    pub ca_file: Option<PathBuf>,
    /// `--username`.
    pub username: Option<String>,
    /// `--password-stdin`.
    pub password: Option<String>,
    /// Transfers at once.
    pub jobs: usize,
}

/// A request body that can be sent again.
pub(crate) enum Body<'a> {
    None,
    Bytes(&'a [u8]),
    /// `len` bytes of a file from `offset`.
    File {
        path: &'a Path,
        offset: u64,
        len: u64,
    },
}

/// A registry answer: status, headers wanted, and the body reader.
pub(crate) struct Answer {
    pub(crate) status: u16,
    headers: BTreeMap<String, String>,
    body: ureq::Body,
}

impl Answer {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The body, read whole up to `cap` bytes (more is an error).
    pub(crate) fn bytes(self, cap: u64, what: &str) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.body
            .into_reader()
            .take(cap + 1)
            .read_to_end(&mut out)
            .map_err(|e| Error::Input(format!("reading {what}: {e}")))?;
        if out.len() as u64 > cap {
            return Err(Error::Hostile {
                what: what.into(),
                reason: format!("larger than the {cap} bytes allowed"),
            });
        }
        Ok(out)
    }

    /// The body as a reader.
    pub(crate) fn reader(self) -> impl Read + Send + 'static {
        self.body.into_reader()
    }
}

/// One repository of one registry.
pub(crate) struct Client {
    agent: ureq::Agent,
    base: String,
    /// `host[:port]`.
    pub(crate) registry: String,
    /// The repository path.
    pub(crate) repository: String,
    creds: Option<(String, String)>,
    /// The `Authorization` header value in use, once the registry asked.
    auth: Mutex<Option<String>>,
    scope: String,
}

fn registry_error(c: &Client, status: Option<u16>, what: String) -> Error {
    let hint = match status {
        Some(401) => Some(NO_CREDS),
        Some(403) => {
            Some("the credentials may not do this in this repository; check its permissions")
        }
        Some(404) => Some("check the registry, the repository and the tag"),
        _ => None,
    };
    Error::Registry {
        registry: c.registry.clone(),
        repository: c.repository.clone(),
        status,
        what,
        hint,
    }
}

const NO_CREDS: &str = "give --username NAME --password-stdin, or log in with `docker login HOST` (airlock reads the Docker config file)";

/// The system roots (`SSL_CERT_FILE`, else the usual bundle paths) plus
/// the certificates of `ca_file`.
fn roots(ca_file: Option<&Path>) -> Result<Vec<ureq::tls::Certificate<'static>>> {
    let mut certs = Vec::new();
    let mut add = |pem: &[u8], from: &Path, strict: bool| -> Result<usize> {
        let mut n = 0;
        for item in ureq::tls::parse_pem(pem) {
            match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => {
                    certs.push(c);
                    n += 1;
                }
                Ok(_) => {}
                Err(e) if strict => {
                    return Err(Error::Input(format!(
                        "`{}` is not a PEM certificate file: {e}",
                        from.display()
                    )));
                }
                Err(_) => {}
            }
        }
        Ok(n)
    };
    let system: Vec<PathBuf> = match std::env::var_os("SSL_CERT_FILE") {
        Some(p) => vec![PathBuf::from(p)],
        None => [
            "/etc/ssl/certs/ca-certificates.crt",
            "/etc/pki/tls/certs/ca-bundle.crt",
            "/etc/ssl/ca-bundle.pem",
            "/etc/ssl/cert.pem",
        ]
        .iter()
        .map(PathBuf::from)
        .collect(),
    };
    for p in system {
        if let Ok(pem) = std::fs::read(&p) {
            add(&pem, &p, false)?;
            break;
        }
    }
    if let Some(p) = ca_file {
        let pem = crate::fsio::read_small(p, 16 << 20)?;
        if add(pem.as_bytes(), p, true)? == 0 {
            return Err(Error::Input(format!(
                "`{}` holds no PEM certificate",
                p.display()
            )));
        }
    }
    Ok(certs)
}

/// Credentials for `registry` from the Docker config, if any.
fn docker_credentials(registry: &str) -> Result<Option<(String, String)>> {
    let dir = match std::env::var_os("DOCKER_CONFIG") {
        Some(d) => PathBuf::from(d),
        None => match dirs::home_dir() {
            Some(h) => h.join(".docker"),
            None => return Ok(None),
        },
    };
    let path = dir.join("config.json");
    if !path.exists() {
        return Ok(None);
    }
    let text = crate::fsio::read_small(&path, 4 << 20)?;
    let cfg: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::Input(format!("`{}` is not JSON: {e}", path.display())))?;
    let keys = [
        registry.to_string(),
        format!("https://{registry}"),
        format!("http://{registry}"),
        format!("https://{registry}/v1/"),
        format!("https://{registry}/v2/"),
    ];
    if let Some(auths) = cfg.get("auths").and_then(|a| a.as_object()) {
        for k in &keys {
            let Some(entry) = auths.get(k) else { continue };
            if let Some(a) = entry.get("auth").and_then(|a| a.as_str()) {
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(a.trim())
                    .map_err(|e| {
                        Error::Input(format!(
                            "`{}`: the auth of `{k}` is not base64: {e}",
                            path.display()
                        ))
                    })?;
                let s = String::from_utf8_lossy(&raw).into_owned();
                if let Some((u, p)) = s.split_once(':') {
                    return Ok(Some((u.to_string(), p.to_string())));
                }
            }
            if let (Some(u), Some(p)) = (
                entry.get("username").and_then(|u| u.as_str()),
                entry.get("password").and_then(|p| p.as_str()),
            ) {
                return Ok(Some((u.to_string(), p.to_string())));
            }
        }
    }
    let helper = cfg
        .get("credHelpers")
        .and_then(|h| h.get(registry))
        .or_else(|| cfg.get("credsStore"))
        .and_then(|h| h.as_str());
    match helper {
        Some(h) => credential_helper(h, registry),
        None => Ok(None),
    }
}

/// `docker-credential-<helper> get`, the registry on stdin.
fn credential_helper(helper: &str, registry: &str) -> Result<Option<(String, String)>> {
    use std::io::Write;
    if !helper
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
    {
        return Err(Error::Input(format!(
            "credential helper name `{helper}` in the Docker config is not a plain name"
        )));
    }
    let program = format!("docker-credential-{helper}");
    let mut child = std::process::Command::new(&program)
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| Error::Input(format!("running `{program} get` for {registry}: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(registry.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::Input(format!("running `{program} get`: {e}")))?;
    if !out.status.success() {
        return Ok(None);
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| Error::Input(format!("`{program} get` did not answer JSON: {e}")))?;
    match (
        v.get("Username").and_then(|u| u.as_str()),
        v.get("Secret").and_then(|s| s.as_str()),
    ) {
        (Some(u), Some(s)) => Ok(Some((u.to_string(), s.to_string()))),
        _ => Ok(None),
    }
}

/// The parameters of a `WWW-Authenticate` challenge: scheme, then
/// `key="value"` pairs.
fn parse_challenge(h: &str) -> (String, BTreeMap<String, String>) {
    let h = h.trim();
    let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
    let mut params = BTreeMap::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let Some((k, after)) = rest.split_once('=') else {
            break;
        };
        let k = k.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (v, next) = if let Some(q) = after.strip_prefix('"') {
            match q.find('"') {
                Some(end) => (&q[..end], &q[end + 1..]),
                None => (q, ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        params.insert(k, v.to_string());
        rest = next.trim_start().trim_start_matches(',').trim_start();
    }
    (scheme.to_ascii_lowercase(), params)
}

fn percent(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Client {
    /// A client for the repository of `r`, for pulling (or pushing, with
    /// `push`). `mount_from`: other repositories whose blobs a push may
    /// mount (their pull scope is asked for with the token).
    pub(crate) fn new(
        r: &OciRef,
        conn: &Connection,
        push: bool,
        mount_from: &[String],
    ) -> Result<Client> {
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::Specific(Arc::new(roots(
                conn.ca_file.as_deref(),
            )?)))
            .build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .tls_config(tls)
            .max_redirects(5)
            .timeout_connect(Some(Duration::from_secs(30)))
            // A registry that stops talking is an error, never a hang.
            .timeout_recv_response(Some(Duration::from_secs(300)))
            .timeout_per_read(Some(Duration::from_secs(120)))
            .timeout_per_write(Some(Duration::from_secs(120)))
            .user_agent(concat!("airlock/", env!("CARGO_PKG_VERSION")))
            .max_idle_connections_per_host(conn.jobs.max(4))
            .build()
            .into();
        let creds = match (&conn.username, &conn.password) {
            (Some(u), Some(p)) => Some((u.clone(), p.clone())),
            (Some(u), None) => {
                return Err(Error::Usage(format!(
                    "--username {u} needs the password on stdin: --password-stdin"
                )));
            }
            _ => docker_credentials(&r.registry)?,
        };
        let actions = if push { "pull,push" } else { "pull" };
        let mut scope = format!("repository:{}:{actions}", r.repository);
        for m in mount_from {
            scope.push_str(&format!(" repository:{m}:pull"));
        }
        Ok(Client {
            agent,
            base: format!(
                "{}://{}",
                if conn.plain_http { "http" } else { "https" },
                r.registry
            ),
            registry: r.registry.clone(),
            repository: r.repository.clone(),
            creds,
            auth: Mutex::new(None),
            scope,
        })
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else if path.starts_with('/') {
            format!("{}{path}", self.base)
        } else {
            format!("{}/v2/{}/{path}", self.base, self.repository)
        }
    }

    /// Answer a `401`: get the `Authorization` value its challenge asks for.
    fn authenticate(&self, challenge: Option<&str>) -> Result<()> {
        let Some(ch) = challenge else {
            return Err(registry_error(
                self,
                Some(401),
                "unauthorized, and no WWW-Authenticate challenge".into(),
            ));
        };
        let (scheme, params) = parse_challenge(ch);
        let value = match scheme.as_str() {
            "basic" => {
                let Some((u, p)) = &self.creds else {
                    return Err(registry_error(
                        self,
                        Some(401),
                        "the registry wants credentials".into(),
                    ));
                };
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
                )
            }
            "bearer" => {
                let realm = params.get("realm").ok_or_else(|| {
                    registry_error(self, Some(401), "a Bearer challenge without a realm".into())
                })?;
                let mut url = format!("{realm}?");
                if let Some(s) = params.get("service") {
                    url.push_str(&format!("service={}&", percent(s)));
                }
                for s in self.scope.split(' ') {
                    url.push_str(&format!("scope={}&", percent(s)));
                }
                let mut req = self.agent.get(url.trim_end_matches('&'));
                if let Some((u, p)) = &self.creds {
                    req = req.header(
                        "Authorization",
                        format!(
                            "Basic {}",
                            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
                        ),
                    );
                }
                let resp = req.call().map_err(|e| {
                    registry_error(self, None, format!("token request to {realm}: {e}"))
                })?;
                let status = resp.status().as_u16();
                if status != 200 {
                    let what = if self.creds.is_some() {
                        "refused the credentials"
                    } else {
                        "wants credentials"
                    };
                    return Err(registry_error(
                        self,
                        Some(status),
                        format!("the token service {realm} {what}"),
                    ));
                }
                let body = Answer {
                    status,
                    headers: BTreeMap::new(),
                    body: resp.into_body(),
                }
                .bytes(1 << 20, "token answer")?;
                let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
                    registry_error(self, Some(status), format!("token answer is not JSON: {e}"))
                })?;
                let token = v
                    .get("token")
                    .or_else(|| v.get("access_token"))
                    .and_then(|t| t.as_str())
                    .ok_or_else(|| {
                        registry_error(self, Some(status), "token answer without a token".into())
                    })?;
                format!("Bearer {token}")
            }
            other => {
                return Err(registry_error(
                    self,
                    Some(401),
                    format!("unsupported auth scheme `{other}`"),
                ));
            }
        };
        *self.auth.lock().unwrap_or_else(|p| p.into_inner()) = Some(value);
        Ok(())
    }

    /// One request; a `401` is answered once (auth), then the request is
    /// sent again.
    pub(crate) fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &Body<'_>,
    ) -> Result<Answer> {
        let url = self.url(path);
        let mut authed = false;
        loop {
            let auth = self.auth.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let mut builder = ureq::http::Request::builder().method(method).uri(&url);
            for (k, v) in headers {
                builder = builder.header(*k, *v);
            }
            // Credentials go only to the registry itself, never to a host
            // an answer's Location names.
            if let Some(a) = &auth
                && url.starts_with(&format!("{}/", self.base))
            {
                builder = builder.header("Authorization", a.as_str());
            }
            let result = match body {
                Body::None => {
                    let req = builder
                        .body(())
                        .map_err(|e| registry_error(self, None, format!("{method} {url}: {e}")))?;
                    self.agent.run(req)
                }
                Body::Bytes(b) => {
                    let req = builder
                        .header("Content-Length", b.len())
                        .body(*b)
                        .map_err(|e| registry_error(self, None, format!("{method} {url}: {e}")))?;
                    self.agent.run(req)
                }
                Body::File { path, offset, len } => {
                    let mut f = crate::fsio::open_regular(path)?;
                    f.seek(SeekFrom::Start(*offset))
                        .map_err(|e| Error::io("seek", path, e))?;
                    let mut r =
                        std::io::BufReader::with_capacity(crate::digest::CHUNK, f.take(*len));
                    let req = builder
                        .header("Content-Length", *len)
                        .body(ureq::SendBody::from_reader(&mut r))
                        .map_err(|e| registry_error(self, None, format!("{method} {url}: {e}")))?;
                    self.agent.run(req)
                }
            };
            let resp = result.map_err(|e| self.transport_error(method, &url, e))?;
            let status = resp.status().as_u16();
            if status == 401 && !authed {
                authed = true;
                let ch = resp
                    .headers()
                    .get("www-authenticate")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                self.authenticate(ch.as_deref())?;
                continue;
            }
            let mut hs = BTreeMap::new();
            for (k, v) in resp.headers() {
                if let Ok(v) = v.to_str() {
                    hs.insert(k.as_str().to_ascii_lowercase(), v.to_string());
                }
            }
            return Ok(Answer {
                status,
                headers: hs,
                body: resp.into_body(),
            });
        }
    }

    fn transport_error(&self, method: &str, url: &str, e: ureq::Error) -> Error {
        let text = e.to_string();
        let lower = text.to_ascii_lowercase();
        let hint = if lower.contains("certificate") || lower.contains("tls") {
            Some(
                "for a registry whose certificate an enclave CA signed, give the CA with --ca-file CA.pem",
            )
        } else if lower.contains("refused") || lower.contains("connect") || lower.contains("http") {
            Some(
                "check that the registry runs at that address; --plain-http for a registry without TLS",
            )
        } else {
            None
        };
        Error::Registry {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            status: None,
            what: format!("{method} {url}: {text}"),
            hint,
        }
    }

    /// An error for an unexpected status, with the registry's error text.
    pub(crate) fn unexpected(&self, a: Answer, doing: &str) -> Error {
        let status = a.status;
        let body = a.bytes(64 << 10, "error answer").unwrap_or_default();
        let text = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                v.get("errors").and_then(|e| e.as_array()).map(|errs| {
                    errs.iter()
                        .map(|e| {
                            format!(
                                "{} {}",
                                e.get("code").and_then(|c| c.as_str()).unwrap_or(""),
                                e.get("message").and_then(|c| c.as_str()).unwrap_or("")
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("; ")
                })
            })
            .unwrap_or_else(|| {
                String::from_utf8_lossy(&body[..body.len().min(200)])
                    .chars()
                    .filter(|c| !c.is_control())
                    .collect()
            });
        registry_error(self, Some(status), format!("{doing}: {}", text.trim()))
    }

    /// Whether the repository holds blob `d`.
    pub(crate) fn has_blob(&self, d: &Sha256Digest) -> Result<bool> {
        let a = self.send("HEAD", &format!("blobs/sha256:{d}"), &[], &Body::None)?;
        match a.status {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(self.unexpected(a, &format!("checking blob sha256:{d}"))),
        }
    }

    /// Try to mount blob `d` from repository `from` (same registry);
    /// false when the registry would not (the upload it opened instead is
    /// left to expire).
    pub(crate) fn mount(&self, d: &Sha256Digest, from: &str) -> Result<bool> {
        let a = self.send(
            "POST",
            &format!("blobs/uploads/?mount=sha256:{d}&from={}", percent(from)),
            &[("Content-Length", "0")],
            &Body::None,
        )?;
        Ok(a.status == 201)
    }

    fn next_location(&self, a: &Answer, doing: &str) -> Result<String> {
        a.header("location").map(str::to_string).ok_or_else(|| {
            registry_error(
                self,
                Some(a.status),
                format!("{doing}: no Location in the answer"),
            )
        })
    }

    /// Upload a blob: bytes in memory, or a file's bytes (in chunks of
    /// `chunk` bytes when larger).
    pub(crate) fn upload(
        &self,
        d: &Sha256Digest,
        body: &Body<'_>,
        size: u64,
        chunk: u64,
    ) -> Result<()> {
        let doing = format!("uploading blob sha256:{d}");
        let a = self.send(
            "POST",
            "blobs/uploads/",
            &[("Content-Length", "0")],
            &Body::None,
        )?;
        if a.status != 202 {
            return Err(self.unexpected(a, &doing));
        }
        let mut loc = self.next_location(&a, &doing)?;
        let with_digest = |loc: &str| {
            let sep = if loc.contains('?') { '&' } else { '?' };
            format!("{loc}{sep}digest=sha256:{d}")
        };
        let finish = match body {
            Body::File { path, offset, .. } if size > chunk => {
                let mut at = 0u64;
                while at < size {
                    let n = chunk.min(size - at);
                    let range = format!("{at}-{}", at + n - 1);
                    let a = self.send(
                        "PATCH",
                        &loc,
                        &[
                            ("Content-Type", "application/octet-stream"),
                            ("Content-Range", &range),
                        ],
                        &Body::File {
                            path,
                            offset: offset + at,
                            len: n,
                        },
                    )?;
                    if a.status != 202 {
                        return Err(self.unexpected(a, &format!("{doing} (bytes {range})")));
                    }
                    loc = self.next_location(&a, &doing)?;
                    at += n;
                }
                self.send(
                    "PUT",
                    &with_digest(&loc),
                    &[("Content-Length", "0")],
                    &Body::None,
                )?
            }
            body => self.send(
                "PUT",
                &with_digest(&loc),
                &[("Content-Type", "application/octet-stream")],
                body,
            )?,
        };
        if finish.status != 201 {
            return Err(self.unexpected(finish, &doing));
        }
        Ok(())
    }

    /// Put a manifest under `reference` (a tag or `sha256:<hex>`); returns
    /// whether the registry said it indexed the subject (`OCI-Subject`).
    pub(crate) fn put_manifest(
        &self,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<bool> {
        let a = self.send(
            "PUT",
            &format!("manifests/{reference}"),
            &[("Content-Type", media_type)],
            &Body::Bytes(bytes),
        )?;
        if a.status != 201 {
            return Err(self.unexpected(a, &format!("putting manifest {reference}")));
        }
        Ok(a.header("oci-subject").is_some())
    }

    /// Get a manifest (`None` when the registry has none by that name).
    pub(crate) fn get_manifest(
        &self,
        reference: &str,
        cap: u64,
    ) -> Result<Option<(Vec<u8>, String)>> {
        let accept = format!("{MANIFEST}, {INDEX}");
        let a = self.send(
            "GET",
            &format!("manifests/{reference}"),
            &[("Accept", &accept)],
            &Body::None,
        )?;
        match a.status {
            200 => {
                let mt = a.header("content-type").unwrap_or("").to_string();
                let what = format!(
                    "manifest {reference} of {}/{}",
                    self.registry, self.repository
                );
                Ok(Some((a.bytes(cap, &what)?, mt)))
            }
            404 => Ok(None),
            _ => Err(self.unexpected(a, &format!("getting manifest {reference}"))),
        }
    }

    /// The referrers of `subject`: the referrers API, else the referrers tag.
    pub(crate) fn referrers(&self, subject: &Sha256Digest) -> Result<(Vec<Descriptor>, bool)> {
        let a = self.send(
            "GET",
            &format!("referrers/sha256:{subject}"),
            &[("Accept", INDEX)],
            &Body::None,
        )?;
        if a.status == 200
            && a.header("content-type")
                .is_some_and(|c| c.starts_with(INDEX))
        {
            let bytes = a.bytes(super::SMALL_CAP, "referrers list")?;
            let idx: ImageIndex = serde_json::from_slice(&bytes).map_err(|e| Error::Hostile {
                what: format!("referrers of sha256:{subject}"),
                reason: format!("not an image index: {e}"),
            })?;
            return Ok((idx.manifests, true));
        }
        Ok((self.tag_index(subject)?.manifests, false))
    }

    /// The index under the referrers tag of `subject` (empty if none).
    pub(crate) fn tag_index(&self, subject: &Sha256Digest) -> Result<ImageIndex> {
        let tag = super::referrers_tag(subject);
        match self.get_manifest(&tag, super::SMALL_CAP)? {
            None => Ok(ImageIndex::new()),
            Some((bytes, _)) => serde_json::from_slice(&bytes).map_err(|e| Error::Hostile {
                what: format!("referrers tag {tag}"),
                reason: format!("not an image index: {e}"),
            }),
        }
    }

    /// List referrer manifests of `subject` under its referrers tag (for a
    /// registry without the referrers API), keeping what is listed there.
    pub(crate) fn index_referrers(
        &self,
        subject: &Sha256Digest,
        descs: Vec<Descriptor>,
    ) -> Result<()> {
        let mut idx: ImageIndex = self.tag_index(subject)?;
        let before = idx.manifests.len();
        for desc in descs {
            if !idx.manifests.iter().any(|m| m.digest == desc.digest) {
                idx.manifests.push(desc);
            }
        }
        if idx.manifests.len() > before {
            let bytes = serde_json::to_vec(&idx).expect("plain JSON");
            self.put_manifest(&super::referrers_tag(subject), super::INDEX, &bytes)?;
        }
        Ok(())
    }

    /// Start reading blob `d`.
    pub(crate) fn get_blob(&self, d: &Sha256Digest) -> Result<Answer> {
        let a = self.send("GET", &format!("blobs/sha256:{d}"), &[], &Body::None)?;
        if a.status != 200 {
            return Err(self.unexpected(a, &format!("getting blob sha256:{d}")));
        }
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        let (s, p) = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#,
        );
        assert_eq!(s, "bearer");
        assert_eq!(p["realm"], "https://auth.example/token");
        assert_eq!(p["service"], "registry.example");
        assert_eq!(p["scope"], "repository:a/b:pull");
        let (s, p) = parse_challenge(r#"Basic realm="basic-realm""#);
        assert_eq!(s, "basic");
        assert_eq!(p["realm"], "basic-realm");
    }
}

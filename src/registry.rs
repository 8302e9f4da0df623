//! The façade every command goes through: one opened home — its database,
//! its blob store, its name — and the operations on it.
//!
//! Home layout: `registry.db`, `store/sha256/..`, `store/tmp/`, `lock`,
//! `policy.toml`. Writers hold an exclusive lock on `lock` for their whole
//! run, so one writer works at a time and `gc` can never delete a blob an
//! import is about to reference; readers take no lock (SQLite's WAL gives
//! them a consistent snapshot).

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::db::{Access, Db};
use crate::error::{Error, Result};
use crate::name::{Reference, VersionSelector};
use crate::records::{FileRecord, VersionRecord};
use crate::store::Store;

/// The policy file written by `init`: open by default, documented inline.
const POLICY_TEMPLATE: &str = "\
# airlock licence policy (read by `airlock license check`).
# Everything is allowed until you say otherwise; see docs/cli.md.

[organization]
# monthly_active_users = 0
# commercial = true

[licenses]
# allow = [\"apache-2.0\", \"mit\"]
# deny  = [\"cc-by-nc-4.0\"]

[disclosure]
# minimum = \"unknown\"
";

/// How long a writer waits for another writer before giving up:
/// `AIRLOCK_LOCK_WAIT` seconds, else 30.
fn lock_wait() -> Duration {
    std::env::var("AIRLOCK_LOCK_WAIT")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map_or(Duration::from_secs(30), Duration::from_secs)
}

/// An opened registry home.
pub struct Registry {
    home: PathBuf,
    pub(crate) db: Db,
    pub(crate) store: Store,
    name: String,
    /// False when opened read-only (`open_read`): nothing may be written.
    writable: bool,
}

/// Held while a command changes the registry; released on drop.
pub struct WriteLock {
    file: File,
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        // Clear the holder's note before the flock goes with the file.
        let _ = self.file.set_len(0);
    }
}

impl Registry {
    /// Open the home, creating it if needed (commands that write).
    pub fn open_or_create(home: &Path) -> Result<Registry> {
        Self::init(home, None).map(|(r, _)| r)
    }

    /// Open an existing home to change it (it must hold a registry).
    pub fn open_existing(home: &Path) -> Result<Registry> {
        require_db(home)?;
        Self::open_or_create(home)
    }

    /// Open an existing home only to read it: the database read-only,
    /// never migrated, nothing created — a read-only home (a read-only
    /// mount, another user's home) serves every reading command.
    pub fn open_read(home: &Path) -> Result<Registry> {
        require_db(home)?;
        let db = Db::open(&home.join("registry.db"), Access::Read)?;
        let name = db.get_setting("name")?.unwrap_or_default();
        Ok(Registry {
            home: home.to_path_buf(),
            db,
            store: Store::at(&home.join("store")),
            name,
            writable: false,
        })
    }

    /// Open for a command that reads and records what it checked where it
    /// can (`verify`, `audit --verify`): writable when the home and its
    /// database can be written, else read-only (findings still reported).
    pub fn open_checking(home: &Path) -> Result<Registry> {
        require_db(home)?;
        if crate::fsio::can_write(home) && crate::fsio::can_write(&home.join("registry.db")) {
            Self::open_or_create(home)
        } else {
            Self::open_read(home)
        }
    }

    /// Whether this registry may be written (false after `open_read`).
    pub fn writable(&self) -> bool {
        self.writable
    }

    /// Create (or open) the home; `name` names the registry on first use.
    /// Returns whether the home was created now.
    pub fn init(home: &Path, name: Option<&str>) -> Result<(Registry, bool)> {
        let name_given = name;
        fs::create_dir_all(home).map_err(|e| Error::io("create home", home, e))?;
        let db_path = home.join("registry.db");
        let (db, created) = if exists(&db_path)? {
            (Db::open(&db_path, Access::Write)?, false)
        } else {
            // Created under the writer lock, so two first runs make one.
            let _lock = take_lock(home)?;
            if exists(&db_path)? {
                (Db::open(&db_path, Access::Write)?, false)
            } else {
                missing_beside_store(home)?;
                (Db::create(&db_path)?, true)
            }
        };
        let store = Store::open(&home.join("store"))?;
        let policy = home.join("policy.toml");
        if !policy.exists() {
            fs::write(&policy, POLICY_TEMPLATE).map_err(|e| Error::io("write", &policy, e))?;
        }
        let name = match db.get_setting("name")? {
            Some(existing) => existing,
            None => {
                let n = name
                    .map(str::to_string)
                    .unwrap_or_else(crate::actor::hostname);
                if n.is_empty() || n.len() > 128 || n.chars().any(|c| c.is_control()) {
                    return Err(Error::input(format!("invalid registry name `{n}`")));
                }
                let event = crate::event::EventDraft::new(
                    crate::event::EventKind::Init,
                    n.clone(),
                    serde_json::json!({ "home": home.display().to_string() }),
                );
                // Named once, whatever runs at once: a process that loses
                // the race reads the winner's name.
                let now = crate::clock::now_rfc3339();
                db.claim_setting("name", &n, &[("created_at", &now)], &event)?
                    .unwrap_or(n)
            }
        };
        if let Some(n) = name_given
            && n != name
        {
            return Err(Error::input(format!(
                "the registry at `{}` is already named `{name}`",
                home.display()
            )));
        }
        // A registry made before the signed trust root: its trust store is
        // read as the local version 1 of its root from now on; say so once.
        if let Some(from) = db.migrated_from
            && (1..5).contains(&from)
        {
            let keys = db.trusted_keys()?;
            if !keys.is_empty() {
                let event = crate::event::EventDraft::new(
                    crate::event::EventKind::TrustRoot,
                    "root v1",
                    serde_json::json!({
                        "version": 1,
                        "how": "migrated",
                        "keys": keys.iter().map(|k| k.key_id.to_hex()).collect::<Vec<_>>(),
                    }),
                );
                db.claim_setting("trust_migrated", "1", &[], &event)?;
            }
        }
        Ok((
            Registry {
                home: home.to_path_buf(),
                db,
                store,
                name,
                writable: true,
            },
            created,
        ))
    }

    /// The home folder.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// The registry's name (carried in provenance and bundles).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// Take the writer lock, waiting a while for another writer.
    pub fn lock(&self) -> Result<WriteLock> {
        if !self.writable {
            return Err(Error::input(format!(
                "the registry at `{}` was opened read-only",
                self.home.display()
            )));
        }
        take_lock(&self.home)
    }

    /// The version a reference names.
    pub fn resolve(&self, r: &Reference) -> Result<VersionRecord> {
        if let Some(v) = self.db.find_version(&r.name, &r.version)? {
            return Ok(v);
        }
        // `NAME@ALIAS`: a label wins over an alias of the same name.
        if let VersionSelector::Label(l) = &r.version
            && let Some(a) = self.db.alias(&r.name, l.as_str())?
        {
            return self.db.version_by_id(a.version_id);
        }
        let what = match r.version {
            VersionSelector::Newest => "model",
            _ => "version",
        };
        // Name what exists: the model's versions, else the models.
        let mut known: Vec<String> = self
            .db
            .versions_of(&r.name)?
            .into_iter()
            .map(|v| format!("{}@{}", v.name, v.label))
            .chain(
                self.db
                    .aliases(Some(&r.name))?
                    .into_iter()
                    .map(|(m, a)| format!("{m}@{} (alias of {})", a.alias, a.label)),
            )
            .collect();
        if known.is_empty() {
            known = self
                .db
                .all_versions()?
                .into_iter()
                .map(|v| v.name.to_string())
                .collect();
            known.dedup();
        }
        if known.len() > 20 {
            let more = known.len() - 20;
            known.truncate(20);
            known.push(format!("… {more} more (`airlock list`)"));
        }
        Err(Error::NotFound {
            what,
            name: r.to_string(),
            known,
        })
    }

    /// The files of a version, by path.
    pub fn files(&self, v: &VersionRecord) -> Result<Vec<FileRecord>> {
        self.db.files(v.id)
    }

    /// Every version, by name then import order.
    pub fn versions(&self) -> Result<Vec<VersionRecord>> {
        self.db.all_versions()
    }

    /// The `--allow-unsafe` recorded for a version, if any.
    pub fn allowance(&self, v: &VersionRecord) -> Result<Option<crate::records::Allowance>> {
        self.db.allowance(v.id)
    }

    /// The event log, oldest first.
    pub fn events(&self) -> Result<Vec<crate::event::Event>> {
        self.db.events()
    }

    /// The trust store, revoked keys included.
    pub fn trusted_keys(&self) -> Result<Vec<crate::records::TrustedKey>> {
        self.db.trusted_keys()
    }
}

/// Take the writer lock of `home`, waiting a while for another writer.
/// The holder writes its pid, command line and start time into the lock
/// file, so a writer that gives up can say who it waited for.
fn take_lock(home: &Path) -> Result<WriteLock> {
    let p = home.join("lock");
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&p)
        .map_err(|e| Error::io("open lock file", &p, e))?;
    let start = Instant::now();
    let wait = lock_wait();
    loop {
        match f.try_lock() {
            Ok(()) => {
                let me = format!(
                    "pid {} `{}` since {}\n",
                    std::process::id(),
                    std::env::args().collect::<Vec<_>>().join(" "),
                    crate::clock::now_rfc3339()
                );
                // Best effort: the lock is the flock, not the text.
                let _ = f.set_len(0);
                let _ = std::io::Write::write_all(&mut f, me.as_bytes());
                return Ok(WriteLock { file: f });
            }
            Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < wait => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = crate::fsio::read_small(&p, 4096)
                    .map(|s| s.trim().to_string())
                    .ok()
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "holder unknown".into());
                return Err(Error::Locked {
                    path: home.to_path_buf(),
                    holder,
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io("lock", &p, e)),
        }
    }
}

/// Whether anything is at `path` (a dangling link counts).
fn exists(path: &Path) -> Result<bool> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io("stat", path, e)),
    }
}

/// The home must hold a database; a missing one beside a store that holds
/// blobs is lost records, not a new registry.
fn require_db(home: &Path) -> Result<()> {
    if exists(&home.join("registry.db"))? {
        return Ok(());
    }
    missing_beside_store(home)?;
    Err(Error::NoRegistry {
        path: home.to_path_buf(),
    })
}

/// Refuse to start a registry over a store whose records are gone: a new,
/// empty database would call every blob unreferenced and `gc` would
/// delete them all.
fn missing_beside_store(home: &Path) -> Result<()> {
    let n = Store::at(&home.join("store")).count_up_to(1000)?;
    if n == 0 {
        return Ok(());
    }
    Err(Error::NotARegistry {
        path: home.join("registry.db"),
        reason: format!(
            "the database is missing but the store beside it holds {}{n} blob(s)",
            if n >= 1000 { "at least " } else { "" }
        ),
    })
}

//! Names that come from users and from input files, checked once into types.
//!
//! [`ModelName`] and [`VersionLabel`] follow the contract's "References"
//! section; [`RelPath`] is a file path inside a model that can never escape
//! the folder it is joined to (no `..`, no absolute, no empty segment). Pure.

use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use serde::{Serialize, Serializer};

use crate::error::{Error, Result};

fn segment_ok(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

/// A model id as the hubs write it: `org/name`, segments of `[A-Za-z0-9._-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModelName(String);

impl ModelName {
    /// The name as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The Hugging Face cache folder name: `models--org--name`.
    pub fn hf_cache_folder(&self) -> String {
        format!("models--{}", self.0.replace('/', "--"))
    }
}

impl FromStr for ModelName {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        if s.len() > 256 || !s.split('/').all(segment_ok) {
            return Err(Error::input(format!(
                "invalid model name `{s}`: use segments of [A-Za-z0-9._-] joined by `/` (e.g. `mistralai/Mistral-7B-v0.3`)"
            )));
        }
        Ok(ModelName(s.to_string()))
    }
}

impl fmt::Display for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for ModelName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// A version label: `[A-Za-z0-9._-]+`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VersionLabel(String);

impl VersionLabel {
    /// The label as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for VersionLabel {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        if s.len() > 128 || !segment_ok(s) || s.starts_with("sha256:") {
            return Err(Error::input(format!(
                "invalid version label `{s}`: use [A-Za-z0-9._-]"
            )));
        }
        Ok(VersionLabel(s.to_string()))
    }
}

impl fmt::Display for VersionLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which version a reference selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionSelector {
    /// No `@`: the newest version imported.
    Newest,
    /// A version by its label.
    Label(VersionLabel),
    /// `@sha256:<hex prefix of at least 12>` of the manifest digest.
    DigestPrefix(String),
}

/// `NAME[@VERSION]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The model.
    pub name: ModelName,
    /// Which of its versions.
    pub version: VersionSelector,
}

impl FromStr for Reference {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let (name, version) = match s.split_once('@') {
            None => (s, VersionSelector::Newest),
            Some((name, v)) => {
                let sel = if let Some(hex) = v.strip_prefix("sha256:") {
                    if hex.len() < 12
                        || hex.len() > 64
                        || !hex.bytes().all(|b| b.is_ascii_hexdigit())
                    {
                        return Err(Error::input(format!(
                            "invalid reference `{s}`: a digest needs at least 12 hex characters"
                        )));
                    }
                    VersionSelector::DigestPrefix(hex.to_ascii_lowercase())
                } else {
                    VersionSelector::Label(v.parse()?)
                };
                (name, sel)
            }
        };
        Ok(Reference {
            name: name.parse()?,
            version,
        })
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.version {
            VersionSelector::Newest => write!(f, "{}", self.name),
            VersionSelector::Label(l) => write!(f, "{}@{l}", self.name),
            VersionSelector::DigestPrefix(p) => write!(f, "{}@sha256:{p}", self.name),
        }
    }
}

/// A relative file path inside a model, `/`-separated, that cannot escape.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelPath(String);

impl RelPath {
    /// The path as written (`/`-separated).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Join under `root`; safe by construction.
    pub fn under(&self, root: &Path) -> PathBuf {
        let mut p = root.to_path_buf();
        for seg in self.0.split('/') {
            p.push(seg);
        }
        p
    }

    /// Build from a path relative to a walked root.
    pub fn from_path(rel: &Path) -> Result<Self> {
        let mut segs = Vec::new();
        for c in rel.components() {
            match c {
                Component::Normal(os) => match os.to_str() {
                    Some(s) => segs.push(s),
                    None => {
                        return Err(Error::input(format!(
                            "file name `{}` is not UTF-8",
                            rel.display()
                        )));
                    }
                },
                _ => {
                    return Err(Error::input(format!(
                        "path `{}` is not a plain relative path",
                        rel.display()
                    )));
                }
            }
        }
        segs.join("/").parse().map_err(|_| {
            Error::input(format!(
                "file name {:?} cannot be recorded (empty, `.`/`..`, `\\` or control characters); rename it or remove it",
                rel.display().to_string()
            ))
        })
    }
}

impl FromStr for RelPath {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = s.is_empty()
            || s.len() > 4096
            || s.starts_with('/')
            || s.contains('\\')
            || s.chars().any(|c| c.is_control())
            || s.split('/')
                .any(|seg| seg.is_empty() || seg == "." || seg == "..");
        if bad {
            return Err(Error::Hostile {
                what: s.to_string(),
                reason:
                    "not a safe relative path (empty, absolute, `..`, `\\` or control characters)"
                        .into(),
            });
        }
        Ok(RelPath(s.to_string()))
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for RelPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names() {
        assert!(
            "meta-llama/Llama-3.1-8B-Instruct"
                .parse::<ModelName>()
                .is_ok()
        );
        for bad in ["", "a//b", "a/../b", "/a", "a/", "a b", "a/./b", "ä"] {
            assert!(bad.parse::<ModelName>().is_err(), "{bad}");
        }
    }

    #[test]
    fn references() {
        let r: Reference = "org/m@v1".parse().unwrap();
        assert_eq!(r.version, VersionSelector::Label("v1".parse().unwrap()));
        let r: Reference = "org/m@sha256:ABCDEF012345".parse().unwrap();
        assert_eq!(
            r.version,
            VersionSelector::DigestPrefix("abcdef012345".into())
        );
        assert!("org/m@sha256:abc".parse::<Reference>().is_err());
        assert!("org/m@".parse::<Reference>().is_err());
        assert_eq!(
            "org/m".parse::<Reference>().unwrap().version,
            VersionSelector::Newest
        );
    }

    #[test]
    fn rel_paths() {
        assert!("a/b.safetensors".parse::<RelPath>().is_ok());
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "a\\b",
            "./a",
            "a\0b",
        ] {
            assert!(bad.parse::<RelPath>().is_err(), "{bad:?}");
        }
    }
}

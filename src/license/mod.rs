//! Licences: the catalogue of common model licences (data, in
//! `catalogue.toml`, embedded at build time) and the organisation's policy
//! file (`policy.toml` in the home, or `--policy FILE`).
//!
//! A check lists *every* reason a licence is refused — denied, not on the
//! allow list, commercial use where the licence forbids it, a user threshold
//! exceeded, disclosure below the minimum, or an unknown licence ("needs
//! legal review", never a pass) — and the duties that do not forbid
//! (attribution, acceptable-use policies, restrictions).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::records::{Disclosure, VersionRecord};

const CATALOGUE: &str = include_str!("catalogue.toml");

/// One licence's terms.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Terms {
    /// The Hugging Face model-card id (`llama3.1`, `apache-2.0`, …).
    pub id: String,
    /// The SPDX id, where there is one.
    #[serde(default)]
    pub spdx: Option<String>,
    /// The licence's full name.
    pub name: String,
    /// Where its terms are published.
    pub source: String,
    /// Whether commercial use is allowed.
    pub commercial: bool,
    /// A user threshold above which another licence is needed.
    #[serde(default)]
    pub mau_limit: Option<u64>,
    /// An attribution duty ("Built with Llama").
    #[serde(default)]
    pub attribution: Option<String>,
    /// An acceptable-use policy that applies.
    #[serde(default)]
    pub acceptable_use: Option<String>,
    /// Other restrictions, for people.
    #[serde(default)]
    pub restrictions: Vec<String>,
}

#[derive(Deserialize)]
struct Catalogue {
    license: Vec<Terms>,
}

/// Every licence in the catalogue.
/// The largest licence text airlock shows or embeds (a licence is a few
/// dozen KiB; a larger "licence" is not one).
pub const TEXT_CAP: u64 = 4 << 20;

/// A version's kept licence text, read from the store and checked against
/// its recorded digest on the way (exit 3 when the bytes changed). `None`
/// when no text was kept. Non-UTF-8 bytes are shown replaced.
pub fn text(reg: &crate::registry::Registry, v: &VersionRecord) -> Result<Option<String>> {
    let Some(d) = v.license_sha256 else {
        return Ok(None);
    };
    let path = reg.store().blob_path(&d);
    let f = crate::fsio::open_regular(&path)?;
    let mut r = crate::digest::HashingReader::new(std::io::Read::take(f, TEXT_CAP + 1));
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut r, &mut bytes).map_err(|e| Error::io("read", &path, e))?;
    if bytes.len() as u64 > TEXT_CAP {
        return Err(Error::input(format!(
            "the licence text of {}@{} (blob sha256 {d}) is larger than {TEXT_CAP} bytes",
            v.name, v.label
        )));
    }
    let (found, _) = r.finish();
    if found != d {
        return Err(Error::DigestMismatch {
            what: format!(
                "licence text of {}@{} ({})",
                v.name,
                v.label,
                path.display()
            ),
            expected: d.to_hex(),
            found: found.to_hex(),
        });
    }
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// The catalogue of common model licences, with their terms.
/// A version's licence as `license show` presents it.
#[derive(Debug, Serialize)]
pub struct LicenseView {
    /// The model.
    pub name: String,
    /// The version label.
    pub version: String,
    /// The licence id recorded.
    pub id: Option<String>,
    /// The sha256 of the kept text.
    pub text_sha256: Option<String>,
    /// The catalogue's terms for the id, if it is in the catalogue.
    pub terms: Option<Terms>,
    /// The kept text, checked against its digest.
    pub text: Option<String>,
}

/// The licence of `v`: id, catalogue terms and the kept text.
pub fn show(reg: &crate::registry::Registry, v: &VersionRecord) -> Result<LicenseView> {
    Ok(LicenseView {
        name: v.name.to_string(),
        version: v.label.clone(),
        id: v.license_id.clone(),
        text_sha256: v.license_sha256.map(|d| d.to_hex()),
        terms: v.license_id.as_deref().and_then(lookup),
        text: text(reg, v)?,
    })
}

/// The catalogue of common model licences, with their terms.
pub fn catalogue() -> Vec<Terms> {
    toml::from_str::<Catalogue>(CATALOGUE)
        .expect("the embedded catalogue parses (tested)")
        .license
}

/// The terms of a licence id (case-insensitive).
pub fn lookup(id: &str) -> Option<Terms> {
    let id = id.to_ascii_lowercase();
    catalogue().into_iter().find(|t| t.id == id)
}

/// The organisation the policy speaks for.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Organization {
    /// Monthly active users (for licences with a threshold).
    #[serde(default)]
    pub monthly_active_users: Option<u64>,
    /// Whether the use is commercial.
    #[serde(default)]
    pub commercial: Option<bool>,
}

/// Allowed and denied licence ids.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Lists {
    /// Allowed ids; empty means every known licence.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Denied ids.
    #[serde(default)]
    pub deny: Vec<String>,
}

/// The training-data disclosure rule.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DisclosureRule {
    /// The least disclosure accepted (`full` > `partial` > `none` > `unknown`).
    #[serde(default)]
    pub minimum: Option<String>,
}

/// The organisation's licence policy.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Who uses the models.
    #[serde(default)]
    pub organization: Organization,
    /// Which licences.
    #[serde(default)]
    pub licenses: Lists,
    /// How much must be known about training data.
    #[serde(default)]
    pub disclosure: DisclosureRule,
}

impl Policy {
    /// Read a policy file (small; capped at 1 MiB).
    pub fn load(path: &Path) -> Result<Policy> {
        let text = crate::fsio::read_small(path, 1 << 20)?;
        let p: Policy = toml::from_str(&text)
            .map_err(|e| Error::input(format!("policy `{}` is not valid: {e}", path.display())))?;
        if let Some(m) = &p.disclosure.minimum {
            m.parse::<Disclosure>()?;
        }
        Ok(p)
    }

    /// The policy of a home: `policy.toml` if present, else the open default.
    pub fn of_home(home: &Path) -> Result<Policy> {
        let p = home.join("policy.toml");
        if p.exists() {
            Policy::load(&p)
        } else {
            Ok(Policy::default())
        }
    }
}

/// The outcome of a licence check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The policy allows it.
    Allowed,
    /// The policy forbids it (exit 4).
    Forbidden,
    /// Not in the catalogue, or needs a person's judgement (exit 4).
    NeedsReview,
}

impl Verdict {
    /// The verdict as shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allowed => "allowed",
            Verdict::Forbidden => "forbidden",
            Verdict::NeedsReview => "needs-review",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// A version's licence checked against a policy.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// The model.
    pub name: String,
    /// The version label.
    pub version: String,
    /// The licence id recorded.
    pub license_id: Option<String>,
    /// The catalogue's terms for it.
    pub terms: Option<Terms>,
    /// The verdict.
    pub verdict: Verdict,
    /// Why, where not allowed.
    pub reasons: Vec<String>,
    /// What the licence asks of the user.
    pub duties: Vec<String>,
}

/// Evaluate a version's licence against a policy.
/// `license check`: `v` against the policy in `policy_file`, else the
/// home's `policy.toml`, else the open default.
pub fn check_version(
    reg: &crate::registry::Registry,
    v: &VersionRecord,
    policy_file: Option<&Path>,
) -> Result<Check> {
    let policy = match policy_file {
        Some(f) => Policy::load(f)?,
        None => Policy::of_home(reg.home())?,
    };
    Ok(check(v, &policy))
}

/// `v` against `policy`.
pub fn check(v: &VersionRecord, policy: &Policy) -> Check {
    let mut reasons = Vec::new();
    let mut duties = Vec::new();
    let id = v.license_id.clone();
    let terms = id.as_deref().and_then(lookup);
    let mut verdict = Verdict::Allowed;
    let lower = |s: &String| s.to_ascii_lowercase();
    match (&id, &terms) {
        (None, _) => {
            verdict = Verdict::NeedsReview;
            reasons.push("no licence is recorded: needs legal review".into());
        }
        (Some(i), None) => {
            verdict = Verdict::NeedsReview;
            reasons.push(format!(
                "licence `{i}` is not in the catalogue: needs legal review"
            ));
        }
        _ => {}
    }
    if let Some(i) = &id {
        let i = i.to_ascii_lowercase();
        if policy.licenses.deny.iter().map(lower).any(|d| d == i) {
            verdict = Verdict::Forbidden;
            reasons.push(format!("licence `{i}` is on the policy's deny list"));
        }
        if !policy.licenses.allow.is_empty()
            && !policy.licenses.allow.iter().map(lower).any(|a| a == i)
        {
            verdict = Verdict::Forbidden;
            reasons.push(format!("licence `{i}` is not on the policy's allow list"));
        }
    }
    if let Some(t) = &terms {
        let commercial = policy.organization.commercial.unwrap_or(true);
        if commercial && !t.commercial {
            verdict = Verdict::Forbidden;
            reasons.push(format!(
                "{} does not allow commercial use, and the policy says the use is commercial",
                t.name
            ));
        }
        if let (Some(limit), Some(mau)) = (t.mau_limit, policy.organization.monthly_active_users)
            && mau > limit
        {
            verdict = Verdict::Forbidden;
            reasons.push(format!(
                "{mau} monthly active users exceeds the {limit} threshold of the {}: a separate licence from the licensor is needed",
                t.name
            ));
        }
        if let Some(a) = &t.attribution {
            duties.push(format!("attribution: {a}"));
        }
        if let Some(u) = &t.acceptable_use {
            duties.push(format!("acceptable-use policy: {u}"));
        }
        for r in &t.restrictions {
            duties.push(format!("restriction: {r}"));
        }
        if v.license_sha256.is_none() {
            if verdict == Verdict::Allowed {
                verdict = Verdict::NeedsReview;
            }
            reasons.push(format!(
                "the text of the {} is not kept with the version: the licence's duties start with keeping it (`import --license-file FILE` attaches it)",
                t.name
            ));
        }
        if let Some(limit) = t.mau_limit
            && policy.organization.monthly_active_users.is_none()
        {
            duties.push(format!(
                "user threshold: above {limit} monthly active users a separate licence is needed"
            ));
        }
    }
    if let Some(min) = policy
        .disclosure
        .minimum
        .as_deref()
        .and_then(|m| m.parse::<Disclosure>().ok())
        && v.disclosure < min
    {
        verdict = Verdict::Forbidden;
        reasons.push(format!(
            "training-data disclosure is `{}`, the policy's minimum is `{}`",
            v.disclosure, min
        ));
    }
    Check {
        name: v.name.to_string(),
        version: v.label.clone(),
        license_id: id,
        terms,
        verdict,
        reasons,
        duties,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_parses_and_covers_the_issue() {
        let c = catalogue();
        for id in [
            "apache-2.0",
            "mit",
            "llama2",
            "llama3",
            "llama3.1",
            "llama3.2",
            "llama3.3",
            "llama4",
            "gemma",
            "qwen",
            "deepseek",
            "mrl",
            "cc-by-nc-4.0",
            "openrail",
            "openrail-m",
        ] {
            let t = c
                .iter()
                .find(|t| t.id == id)
                .unwrap_or_else(|| panic!("{id} missing"));
            assert!(t.source.starts_with("https://"), "{id} has a source");
        }
        assert_eq!(lookup("LLAMA3.1").unwrap().mau_limit, Some(700_000_000));
        assert_eq!(lookup("qwen").unwrap().mau_limit, Some(100_000_000));
        assert!(!lookup("mrl").unwrap().commercial);
    }
}

//! Evaluation and cost records: `eval record`, `eval list`, `eval compare`,
//! `eval policy`, and the gate `deploy --env prod` passes through.
//!
//! A record is a signed in-toto statement about one version (subject: the
//! version, by its manifest digest; predicate
//! [`EVAL_PREDICATE`]: suite, metric, value, which direction is better,
//! cost per 1,000 outputs, notes), signed by the evaluator's ed25519 key
//! and kept with its envelope; listing re-checks each signature and says
//! whether the key is one this registry trusts. Recording is an event.
//!
//! `eval compare A B` compares, per suite and metric, the latest value of
//! each version; a change in the worse direction larger than the metric's
//! threshold (policy, default 0) is a regression. With `eval policy
//! --require-for-prod SUITE`, `deploy --env prod` needs a record of that
//! suite for the version and no regression against the version deployed in
//! `prod` now (exit 4 otherwise).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::db::EvalRow;
use crate::error::{Error, Result};
use crate::event::{EventDraft, EventKind};
use crate::records::VersionRecord;
use crate::registry::Registry;
use crate::signing::{Envelope, KeySource, PublicKey, pae};

/// The in-toto predicate type of an evaluation record.
pub const EVAL_PREDICATE: &str = "urn:airlock:predicate:evaluation:v1";
const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
const THRESHOLD_PREFIX: &str = "eval_threshold:";
const PROD_KEY: &str = "eval_required_for_prod";

/// What a record says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EvalResult {
    /// The evaluation suite (`mmlu`, `internal-qa-2026q4`).
    pub suite: String,
    /// The metric (`accuracy`, `p95_latency_ms`).
    pub metric: String,
    /// Its value.
    pub value: f64,
    /// Whether a higher value is better.
    pub higher_is_better: bool,
    /// The cost of 1,000 outputs, if measured.
    pub cost_per_1k_outputs: Option<f64>,
    /// The cost's currency (`EUR`).
    pub currency: Option<String>,
    /// Free text.
    pub notes: Option<String>,
}

/// A record as listed.
#[derive(Debug, Clone, Serialize)]
pub struct EvalView {
    /// What it says.
    #[serde(flatten)]
    pub result: EvalResult,
    /// When it was recorded.
    pub recorded_at: String,
    /// Who recorded it (the OS account).
    pub recorded_by: String,
    /// The signing key's id.
    pub key_id: String,
    /// The trusted key's name, if the key is trusted here.
    pub signer: Option<String>,
    /// Whether the signature verifies over the kept statement.
    pub signature_valid: bool,
}

/// One metric compared.
#[derive(Debug, Clone, Serialize)]
pub struct MetricComparison {
    /// The suite.
    pub suite: String,
    /// The metric.
    pub metric: String,
    /// The first version's latest value (none: not measured).
    pub from: Option<f64>,
    /// The second's.
    pub to: Option<f64>,
    /// `to - from`.
    pub change: Option<f64>,
    /// The threshold a worse change must pass to count.
    pub threshold: f64,
    /// Worse by more than the threshold.
    pub regression: bool,
}

/// What `eval compare` found.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// The first version, `name@label`.
    pub from: String,
    /// The second.
    pub to: String,
    /// Every metric either version has, by suite and metric.
    pub metrics: Vec<MetricComparison>,
    /// How many are regressions.
    pub regressions: usize,
}

fn subject(v: &VersionRecord) -> String {
    format!("{}@{}", v.name, v.label)
}

/// The statement of a record.
fn statement(
    v: &VersionRecord,
    r: &EvalResult,
    recorded_at: &str,
    recorded_by: &str,
    public_key: &str,
) -> Vec<u8> {
    let doc = serde_json::json!({
        "_type": crate::statement::STATEMENT_TYPE,
        "subject": [{"name": subject(v), "digest": {"sha256": v.manifest_digest.to_hex()}}],
        "predicateType": EVAL_PREDICATE,
        "predicate": {
            "suite": r.suite, "metric": r.metric, "value": r.value,
            "higher_is_better": r.higher_is_better,
            "cost_per_1k_outputs": r.cost_per_1k_outputs, "currency": r.currency,
            "notes": r.notes, "recorded_at": recorded_at,
            "recorded_by": recorded_by, "public_key": public_key,
        },
    });
    serde_json::to_vec(&doc).expect("plain JSON")
}

/// Record an evaluation result for `v`, signed by `key`.
pub fn record(
    reg: &Registry,
    v: &VersionRecord,
    r: &EvalResult,
    key: &dyn KeySource,
) -> Result<EvalView> {
    for (what, s) in [("suite", &r.suite), ("metric", &r.metric)] {
        if s.is_empty() || s.len() > 128 || s.chars().any(char::is_control) {
            return Err(Error::usage(format!(
                "the {what} must be 1 to 128 printable characters, not `{s}`"
            )));
        }
    }
    if !r.value.is_finite()
        || r.cost_per_1k_outputs
            .is_some_and(|c| !c.is_finite() || c < 0.0)
    {
        return Err(Error::usage(
            "values must be finite numbers (costs not negative)",
        ));
    }
    if r.cost_per_1k_outputs.is_some() != r.currency.is_some() {
        return Err(Error::usage(
            "`--cost-per-1k-outputs` and `--currency` go together",
        ));
    }
    let recorded_at = crate::clock::now_rfc3339();
    let recorded_by = crate::actor::actor();
    let public = key.public_key();
    let payload = statement(v, r, &recorded_at, &recorded_by, &hex::encode(public.raw()));
    let sig = key.sign(&pae(PAYLOAD_TYPE, &payload))?;
    let envelope = Envelope::bytes_of(PAYLOAD_TYPE, &payload, &[(public.id(), sig)]);
    let row = EvalRow {
        version_id: v.id,
        suite: r.suite.clone(),
        metric: r.metric.clone(),
        value: r.value,
        higher_is_better: r.higher_is_better,
        cost_per_1k_outputs: r.cost_per_1k_outputs,
        currency: r.currency.clone(),
        notes: r.notes.clone(),
        recorded_at: recorded_at.clone(),
        recorded_by,
        key_id: public.id().to_hex(),
        public_key: hex::encode(public.raw()),
        envelope,
    };
    let event = EventDraft::new(
        EventKind::Eval,
        subject(v),
        serde_json::json!({
            "suite": r.suite, "metric": r.metric, "value": r.value,
            "higher_is_better": r.higher_is_better, "key_id": row.key_id,
            "manifest_digest": v.manifest_digest.to_hex(),
            "envelope_sha256": crate::digest::Sha256Digest::of(&row.envelope).to_hex(),
        }),
    );
    reg.db.add_eval(&row, &event)?;
    Ok(view(&reg.db.trusted_keys()?, v, row))
}

/// The predicate of a kept statement, if its signature verifies under the
/// kept key and it is about `v`.
fn signed_result(row: &EvalRow, v: &VersionRecord) -> Option<EvalResult> {
    let key = PublicKey::from_raw(&hex::decode(&row.public_key).ok()?).ok()?;
    if key.id().to_hex() != row.key_id {
        return None;
    }
    let (_, sigs, payload) = Envelope::open(row.envelope.clone(), "evaluation").ok()?;
    let sig = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        &sigs.first()?.sig,
    )
    .ok()?;
    if !key.verify(&pae(PAYLOAD_TYPE, &payload), &sig) {
        return None;
    }
    let doc: serde_json::Value = serde_json::from_slice(&payload).ok()?;
    let about = &doc["subject"][0]["digest"]["sha256"];
    if doc["predicateType"] != EVAL_PREDICATE || *about != v.manifest_digest.to_hex().as_str() {
        return None;
    }
    serde_json::from_value(doc["predicate"].clone()).ok()
}

fn view(trusted: &[crate::records::TrustedKey], v: &VersionRecord, row: EvalRow) -> EvalView {
    let result = EvalResult {
        suite: row.suite.clone(),
        metric: row.metric.clone(),
        value: row.value,
        higher_is_better: row.higher_is_better,
        cost_per_1k_outputs: row.cost_per_1k_outputs,
        currency: row.currency.clone(),
        notes: row.notes.clone(),
    };
    // The row's columns must be what was signed: a changed value is caught.
    let signature_valid = signed_result(&row, v).is_some_and(|signed| signed == result);
    let signer = trusted
        .iter()
        .find(|k| !k.revoked && k.key_id.to_hex() == row.key_id)
        .map(|k| k.name.clone());
    EvalView {
        result,
        recorded_at: row.recorded_at,
        recorded_by: row.recorded_by,
        key_id: row.key_id,
        signer,
        signature_valid,
    }
}

/// The largest evaluation record a bundle may carry.
pub const EVAL_CAP: u64 = 64 << 10;

/// An evaluation record carried in a bundle: its envelope checked (the
/// signature under the key the statement names; whether that key is trusted
/// is shown when listed, as for a local record). Returns the version it is
/// about (`name@label`, manifest digest) and the record to keep.
pub(crate) fn carried(
    bytes: Vec<u8>,
    what: &str,
) -> Result<(String, crate::digest::Sha256Digest, EvalRow)> {
    let hostile = |reason: String| Error::Hostile {
        what: what.to_string(),
        reason,
    };
    let envelope = bytes.clone();
    let (payload_type, sigs, payload) = Envelope::open(bytes, what)?;
    if payload_type != PAYLOAD_TYPE {
        return Err(hostile(format!("payload type `{payload_type}`")));
    }
    let doc: serde_json::Value =
        serde_json::from_slice(&payload).map_err(|e| hostile(format!("not a statement: {e}")))?;
    if doc["predicateType"] != EVAL_PREDICATE {
        return Err(hostile("not an evaluation record".into()));
    }
    let p = &doc["predicate"];
    let text = |k: &str| p[k].as_str().map(String::from);
    let public_key = text("public_key").ok_or_else(|| hostile("no evaluator key".into()))?;
    let key = hex::decode(&public_key)
        .ok()
        .and_then(|raw| PublicKey::from_raw(&raw).ok())
        .ok_or_else(|| hostile("the evaluator key is not an ed25519 key".into()))?;
    let verified = sigs.iter().any(|s| {
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &s.sig)
            .is_ok_and(|sig| key.verify(&pae(PAYLOAD_TYPE, &payload), &sig))
    });
    if !verified {
        return Err(Error::Untrusted {
            what: what.to_string(),
            reason: format!(
                "no valid signature by the evaluator key {}",
                key.id().short()
            ),
        });
    }
    let result: EvalResult = serde_json::from_value(p.clone())
        .map_err(|e| hostile(format!("not an evaluation result: {e}")))?;
    let subject = doc["subject"][0]["name"]
        .as_str()
        .ok_or_else(|| hostile("no subject".into()))?
        .to_string();
    let digest = doc["subject"][0]["digest"]["sha256"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| hostile("no subject digest".into()))?;
    let recorded_at = text("recorded_at")
        .filter(|t| crate::clock::parse_canonical(t).is_some())
        .ok_or_else(|| hostile("no recorded_at time".into()))?;
    Ok((
        subject,
        digest,
        EvalRow {
            version_id: 0,
            suite: result.suite,
            metric: result.metric,
            value: result.value,
            higher_is_better: result.higher_is_better,
            cost_per_1k_outputs: result.cost_per_1k_outputs,
            currency: result.currency,
            notes: result.notes,
            recorded_at,
            recorded_by: text("recorded_by").unwrap_or_else(|| "-".into()),
            key_id: key.id().to_hex(),
            public_key,
            envelope,
        },
    ))
}

/// The kept envelopes of `v`'s records whose signatures verify: what an
/// export carries.
pub(crate) fn envelopes(reg: &Registry, v: &VersionRecord) -> Result<Vec<Vec<u8>>> {
    Ok(reg
        .db
        .evals(v.id)?
        .into_iter()
        .filter(|r| signed_result(r, v).is_some())
        .map(|r| r.envelope)
        .collect())
}

/// Every record of `v`, oldest first, each signature checked.
pub fn list(reg: &Registry, v: &VersionRecord) -> Result<Vec<EvalView>> {
    let trusted = reg.db.trusted_keys()?;
    Ok(reg
        .db
        .evals(v.id)?
        .into_iter()
        .map(|r| view(&trusted, v, r))
        .collect())
}

/// The latest valid record of each (suite, metric) of `v` (with
/// `trusted_only`, only records by keys this registry trusts).
fn latest(
    reg: &Registry,
    v: &VersionRecord,
    trusted_only: bool,
) -> Result<BTreeMap<(String, String), EvalView>> {
    Ok(list(reg, v)?
        .into_iter()
        .filter(|e| e.signature_valid && (!trusted_only || e.signer.is_some()))
        .map(|e| ((e.result.suite.clone(), e.result.metric.clone()), e))
        .collect())
}

/// The latest record of `v` for `suite`, if any: what `audit` shows.
pub fn latest_of_suite(
    reg: &Registry,
    v: &VersionRecord,
    suite: Option<&str>,
) -> Result<Option<EvalView>> {
    Ok(list(reg, v)?
        .into_iter()
        .rfind(|e| e.signature_valid && suite.is_none_or(|s| s == e.result.suite)))
}

/// The threshold of `metric` (0 unless the policy sets one).
fn threshold(reg: &Registry, metric: &str) -> Result<f64> {
    Ok(reg
        .db
        .get_setting(&format!("{THRESHOLD_PREFIX}{metric}"))?
        .and_then(|t| t.parse().ok())
        .unwrap_or(0.0))
}

/// Compare the latest validly signed records of `a` and `b`, metric by
/// metric.
pub fn compare(reg: &Registry, a: &VersionRecord, b: &VersionRecord) -> Result<Comparison> {
    compare_with(reg, a, b, false)
}

fn compare_with(
    reg: &Registry,
    a: &VersionRecord,
    b: &VersionRecord,
    trusted_only: bool,
) -> Result<Comparison> {
    let (la, lb) = (latest(reg, a, trusted_only)?, latest(reg, b, trusted_only)?);
    let keys: std::collections::BTreeSet<&(String, String)> = la.keys().chain(lb.keys()).collect();
    let mut metrics = Vec::new();
    for k in keys {
        let (x, y) = (la.get(k), lb.get(k));
        let t = threshold(reg, &k.1)?;
        let higher = y.or(x).is_none_or(|e| e.result.higher_is_better);
        let change = match (x, y) {
            (Some(x), Some(y)) => Some(y.result.value - x.result.value),
            _ => None,
        };
        let regression = change.is_some_and(|c| if higher { c < -t } else { c > t });
        metrics.push(MetricComparison {
            suite: k.0.clone(),
            metric: k.1.clone(),
            from: x.map(|e| e.result.value),
            to: y.map(|e| e.result.value),
            change,
            threshold: t,
            regression,
        });
    }
    Ok(Comparison {
        from: subject(a),
        to: subject(b),
        regressions: metrics.iter().filter(|m| m.regression).count(),
        metrics,
    })
}

/// The evaluation policy.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EvalPolicy {
    /// Per-metric thresholds.
    pub thresholds: BTreeMap<String, f64>,
    /// The suite a version needs, without regression, before `deploy --env prod`.
    pub required_for_prod: Option<String>,
}

/// The policy in force.
pub fn policy(reg: &Registry) -> Result<EvalPolicy> {
    let mut p = EvalPolicy {
        required_for_prod: reg.db.get_setting(PROD_KEY)?.filter(|s| !s.is_empty()),
        ..Default::default()
    };
    for (k, v) in reg.db.settings_with_prefix(THRESHOLD_PREFIX)? {
        if let Ok(t) = v.parse() {
            p.thresholds
                .insert(k[THRESHOLD_PREFIX.len()..].to_string(), t);
        }
    }
    Ok(p)
}

/// Set a metric's threshold (`metric`, a non-negative number). Logged.
pub fn set_threshold(reg: &Registry, metric: &str, t: f64) -> Result<()> {
    if !t.is_finite() || t < 0.0 {
        return Err(Error::usage(format!(
            "the threshold of `{metric}` must be a number ≥ 0"
        )));
    }
    let key = format!("{THRESHOLD_PREFIX}{metric}");
    let event = EventDraft::new(
        EventKind::TrustPolicy,
        key.clone(),
        serde_json::json!({ "metric": metric, "threshold": t }),
    );
    reg.db.set_setting_logged(&key, &t.to_string(), &event)
}

/// Name the suite `deploy --env prod` requires (`None`: none). Logged.
pub fn set_required_for_prod(reg: &Registry, suite: Option<&str>) -> Result<()> {
    let event = EventDraft::new(
        EventKind::TrustPolicy,
        PROD_KEY,
        serde_json::json!({ "suite": suite }),
    );
    reg.db
        .set_setting_logged(PROD_KEY, suite.unwrap_or(""), &event)
}

/// The gate of `deploy --env prod`: with a suite required by the policy,
/// `v` needs a record of it signed by a key this registry trusts, and no
/// regression in it (trusted records only) against the version of the same
/// model deployed in `prod` now.
pub fn check_prod_gate(reg: &Registry, v: &VersionRecord) -> Result<()> {
    let Some(suite) = policy(reg)?.required_for_prod else {
        return Ok(());
    };
    let trusted = list(reg, v)?
        .into_iter()
        .any(|e| e.signature_valid && e.signer.is_some() && e.result.suite == suite);
    if !trusted {
        return Err(Error::Policy {
            what: subject(v),
            reason: format!(
                "the policy requires a `{suite}` evaluation signed by a trusted key before `deploy --env prod` (`airlock eval record {} --suite {suite} --metric M --value X --key KEY`)",
                subject(v)
            ),
        });
    }
    let current = reg
        .db
        .deployments(true)?
        .into_iter()
        .filter(|d| d.environment.as_deref() == Some("prod") && d.version_id != v.id)
        .filter_map(|d| reg.db.version_by_id(d.version_id).ok())
        .rfind(|p| p.name == v.name);
    if let Some(prod) = current {
        let c = compare_with(reg, &prod, v, true)?;
        let worse: Vec<String> = c
            .metrics
            .iter()
            .filter(|m| m.suite == suite && m.regression)
            .map(|m| {
                format!(
                    "{} {} → {} (threshold {})",
                    m.metric,
                    m.from.unwrap_or_default(),
                    m.to.unwrap_or_default(),
                    m.threshold
                )
            })
            .collect();
        if !worse.is_empty() {
            return Err(Error::Policy {
                what: subject(v),
                reason: format!(
                    "`{suite}` regressed against {} in prod: {}",
                    subject(&prod),
                    worse.join(", ")
                ),
            });
        }
    }
    Ok(())
}

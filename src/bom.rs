//! `bom REF`: a CycloneDX 1.6 JSON ML-BOM built from the records — a
//! `machine-learning-model` component with the manifest digest as its hash,
//! a `purl` (`pkg:huggingface/ORG/NAME@REVISION` for a Hub model), the
//! upstream author as supplier and author (the owner stays a property), a
//! `modelCard` (architecture family and class from `config.json`, parameter
//! and tensor counts and dtypes from the inspection, datasets from the model
//! card), every file's sha256 (as `file` sub-components), the licence (SPDX
//! id where one exists, else its name, with the full text kept), provenance
//! as external references and properties, the training-data disclosure, the
//! approvals and the safety verdicts. Deterministic apart from the timestamp.

use serde_json::{Value, json};

use crate::clock::now_rfc3339;
use crate::error::Result;
use crate::records::VersionRecord;
use crate::registry::Registry;

fn prop(name: &str, value: impl Into<String>) -> Value {
    json!({ "name": format!("airlock:{name}"), "value": value.into() })
}

/// A version-5-style UUID from a digest, so one version has one serial.
fn serial(v: &VersionRecord) -> String {
    let d = crate::digest::Sha256Digest::of(
        format!("{}@{}:{}", v.name, v.label, v.manifest_digest).as_bytes(),
    );
    let h = d.to_hex();
    let variant = ['8', '9', 'a', 'b'][(d.as_bytes()[8] & 3) as usize];
    format!(
        "urn:uuid:{}-{}-5{}-{}{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        variant,
        &h[17..20],
        &h[20..32]
    )
}

/// Whether the version came from the Hugging Face Hub (its URL, or a
/// download layout of the Hub's tools).
fn from_hub(v: &VersionRecord) -> bool {
    v.source_url
        .as_deref()
        .is_some_and(|u| u.contains("huggingface.co/"))
        || matches!(
            v.layout.as_str(),
            "hf-cache" | "hf-snapshot" | "hf-local-dir"
        )
}

/// `pkg:huggingface/ORG/NAME@REVISION` (the revision when known).
fn purl(v: &VersionRecord) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/') {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    let mut p = format!("pkg:huggingface/{}", enc(v.name.as_str()));
    if let Some(r) = &v.revision {
        p.push('@');
        p.push_str(&enc(r));
    }
    p
}

/// A small JSON or text file of the version, read from the store (capped).
fn small_file(
    reg: &Registry,
    files: &[crate::records::FileRecord],
    path: &str,
    cap: u64,
) -> Option<Vec<u8>> {
    let f = files.iter().find(|f| f.path.as_str() == path)?;
    let mut r = std::io::Read::take(reg.store.open_blob(&f.sha256).ok()?, cap);
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut r, &mut out).ok()?;
    Some(out)
}

/// The CycloneDX `modelCard`: what the records and the files know.
fn model_card(
    reg: &Registry,
    v: &VersionRecord,
    files: &[crate::records::FileRecord],
) -> Result<Value> {
    let mut params = serde_json::Map::new();
    if let Some(cfg) = small_file(reg, files, "config.json", 1 << 20)
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
    {
        if let Some(t) = cfg.get("model_type").and_then(Value::as_str) {
            params.insert("architectureFamily".into(), json!(t));
        }
        if let Some(a) = cfg
            .get("architectures")
            .and_then(|a| a.get(0))
            .and_then(Value::as_str)
        {
            params.insert("modelArchitecture".into(), json!(a));
        }
    }
    let card = small_file(reg, files, "README.md", 256 << 10).and_then(|b| crate::card::parse(&b));
    if let Some(c) = &card
        && !c.datasets.is_empty()
    {
        params.insert(
            "datasets".into(),
            json!(
                c.datasets
                    .iter()
                    .map(|d| json!({ "type": "dataset", "name": d }))
                    .collect::<Vec<_>>()
            ),
        );
    }
    let mut parameters = 0u64;
    let mut tensors = 0u64;
    let mut dtypes = std::collections::BTreeSet::new();
    for f in files {
        if let Some(s) = &f.safety {
            parameters += s.parameters;
            tensors += s.tensors;
            dtypes.extend(s.dtypes.iter().cloned());
        }
    }
    let mut props = vec![
        json!({ "name": "airlock:parameters", "value": parameters.to_string() }),
        json!({ "name": "airlock:tensors", "value": tensors.to_string() }),
    ];
    if !dtypes.is_empty() {
        props.push(json!({ "name": "airlock:dtypes", "value": dtypes.into_iter().collect::<Vec<_>>().join(",") }));
    }
    if let Some(c) = &card {
        for b in &c.base_models {
            props.push(json!({ "name": "airlock:base_model", "value": b }));
        }
    }
    props.push(json!({ "name": "airlock:data_disclosure", "value": v.disclosure.as_str() }));
    Ok(json!({
        "bom-ref": format!("{}@{}#model-card", v.name, v.label),
        "modelParameters": params,
        "properties": props,
    }))
}

/// The CycloneDX 1.6 ML-BOM of `v`, from the records: the model component with its licence (text included), provenance and disclosure properties, and one component per file with its sha256.
pub fn bom(reg: &Registry, v: &VersionRecord) -> Result<Value> {
    let files = reg.files(v)?;
    let terms = v.license_id.as_deref().and_then(crate::license::lookup);
    let text = crate::license::text(reg, v)?;
    let mut license = json!({});
    match (&terms, &v.license_id) {
        (Some(t), _) if t.spdx.is_some() => license["id"] = json!(t.spdx),
        (Some(t), _) => license["name"] = json!(t.name),
        (None, Some(id)) => license["name"] = json!(id),
        (None, None) => license["name"] = json!("NOASSERTION"),
    }
    if let Some(t) = &terms {
        license["url"] = json!(t.source);
    }
    if let Some(t) = text {
        license["text"] = json!({ "contentType": "text/plain", "content": t });
    }
    let mut props = vec![
        prop("registry", &v.registry),
        prop("imported_at", &v.imported_at),
        prop("imported_by", &v.imported_by),
        prop("origin", v.origin.as_str()),
        prop("layout", &v.layout),
        prop("data_disclosure", v.disclosure.as_str()),
        prop("manifest_digest", format!("sha256:{}", v.manifest_digest)),
    ];
    if let Some(id) = &v.license_id {
        props.push(prop("license_id", id));
    }
    if let Some(d) = v.license_sha256 {
        props.push(prop("license_text_sha256", d.to_hex()));
    }
    if let Some(r) = &v.revision {
        props.push(prop("revision", r));
    }
    if let Some(n) = &v.disclosure_notes {
        props.push(prop("data_notes", n));
    }
    if let Some(o) = &v.owner {
        props.push(prop("owner", o));
    }
    if let Some(b) = &v.bundle_id {
        props.push(prop("bundle_id", b));
    }
    for c in reg.db.oms_checks(v.id)? {
        props.push(prop(
            "oms_signature",
            format!(
                "{} {}: {}",
                c.path,
                c.status,
                c.signer.as_deref().unwrap_or("-")
            ),
        ));
    }
    let (views, live) = crate::trust::approval_status(reg, v)?;
    props.push(prop("approvals_live", live.to_string()));
    for a in &views {
        props.push(prop(
            "approval",
            format!(
                "{} key {} at {} ({})",
                a.name, a.key_id, a.signed_at, a.status
            ),
        ));
    }
    let hub = from_hub(v);
    let mut ext = Vec::new();
    if let Some(u) = &v.source_url {
        ext.push(json!({ "type": "distribution", "url": u, "comment": "where the model was downloaded from" }));
    } else if hub {
        let mut u = format!("https://huggingface.co/{}", v.name);
        if let Some(r) = &v.revision {
            u.push_str(&format!("/tree/{r}"));
        }
        ext.push(json!({ "type": "distribution", "url": u, "comment": "the Hugging Face repository the download layout names" }));
    }
    if let Some(t) = &terms {
        ext.push(json!({ "type": "license", "url": t.source }));
    }
    let children: Vec<Value> = files
        .iter()
        .map(|f| {
            let mut p = vec![
                prop("format", f.format.as_str()),
                prop("size", f.size.to_string()),
            ];
            if let Some(s) = &f.safety {
                p.push(prop("safety_verdict", s.verdict.as_str()));
                if s.parameters > 0 {
                    p.push(prop("parameters", s.parameters.to_string()));
                }
            }
            json!({
                "type": "file",
                "bom-ref": format!("{}@{}/{}", v.name, v.label, f.path),
                "name": f.path.as_str(),
                "hashes": [{ "alg": "SHA-256", "content": f.sha256.to_hex() }],
                "properties": p,
            })
        })
        .collect();
    let model_ref = format!("{}@{}", v.name, v.label);
    let mut component = json!({
        "type": "machine-learning-model",
        "bom-ref": model_ref,
        "name": v.name.as_str(),
        "version": v.label,
        "licenses": [{ "license": license }],
        "properties": props,
        "components": children,
    });
    // The upstream author: the organisation of a hub id (`meta-llama/…`).
    if let Some((org, _)) = v.name.as_str().split_once('/') {
        let mut supplier = json!({ "name": org });
        if hub {
            supplier["url"] = json!([format!("https://huggingface.co/{org}")]);
        }
        component["supplier"] = supplier;
        component["authors"] = json!([{ "name": org }]);
    }
    component["hashes"] = json!([{ "alg": "SHA-256", "content": v.manifest_digest.to_hex() }]);
    if hub {
        component["purl"] = json!(purl(v));
    }
    component["modelCard"] = model_card(reg, v, &files)?;
    if !ext.is_empty() {
        component["externalReferences"] = json!(ext);
    }
    Ok(json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": serial(v),
        "version": 1,
        "metadata": {
            "timestamp": now_rfc3339(),
            "tools": { "components": [{ "type": "application", "name": "airlock", "version": env!("CARGO_PKG_VERSION") }] },
            "component": { "type": "machine-learning-model", "bom-ref": format!("{model_ref}#meta"), "name": v.name.as_str(), "version": v.label },
        },
        "components": [component],
    }))
}

//! `bom REF`: a CycloneDX 1.6 JSON ML-BOM built from the records — a
//! `machine-learning-model` component with every file's sha256 (as `file`
//! sub-components), the licence (SPDX id where one exists, else its name,
//! with the full text kept), provenance as external references and
//! properties, the training-data disclosure, the approvals and the safety
//! verdicts. Deterministic apart from the timestamp.

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
    let mut ext = Vec::new();
    if let Some(u) = &v.source_url {
        ext.push(json!({ "type": "distribution", "url": u, "comment": "where the model was downloaded from" }));
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
    if let Some(o) = &v.owner {
        component["supplier"] = json!({ "name": o });
    }
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

//! A model card's YAML front matter (the `---` block at the top of a
//! Hugging Face `README.md`), read with a YAML parser: comments, quoting,
//! lists and nesting as YAML has them. Only what the records use is kept:
//! the licence (`license`, or `license_name` when it is `other`, and
//! `license_link`), and the datasets and base models the card names.

use yaml_rust2::{Yaml, YamlLoader};

/// The largest front matter read (cards put it first; it is small).
const FRONT_MATTER_CAP: usize = 256 * 1024;

/// What a card's front matter says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelCard {
    /// `license`: one id, or several when the card lists more than one.
    pub licenses: Vec<String>,
    /// `license_name` (for `license: other`, e.g. `qwen`).
    pub license_name: Option<String>,
    /// `license_link`.
    pub license_link: Option<String>,
    /// `datasets`.
    pub datasets: Vec<String>,
    /// `base_model`.
    pub base_models: Vec<String>,
}

impl ModelCard {
    /// The licence id to record: the first listed, or the `license_name`
    /// of an `other` licence, lower-cased.
    pub fn license_id(&self) -> Option<String> {
        let first = self.licenses.first()?.to_ascii_lowercase();
        match (&self.license_name, first.as_str()) {
            (Some(n), "other") => Some(n.to_ascii_lowercase()),
            _ => Some(first),
        }
    }
}

fn strings(y: &Yaml) -> Vec<String> {
    match y {
        Yaml::String(s) => vec![s.trim().to_string()],
        Yaml::Array(a) => a.iter().flat_map(strings).collect(),
        Yaml::Integer(i) => vec![i.to_string()],
        Yaml::Real(r) => vec![r.clone()],
        _ => Vec::new(),
    }
    .into_iter()
    .filter(|s| !s.is_empty())
    .collect()
}

/// The front matter of a card whose first bytes are `head`, if it has one
/// that parses as a YAML mapping.
pub fn parse(head: &[u8]) -> Option<ModelCard> {
    let text = String::from_utf8_lossy(&head[..head.len().min(FRONT_MATTER_CAP)]);
    let mut lines = text.lines();
    if lines.next()?.trim_end() != "---" {
        return None;
    }
    let mut body = String::new();
    let mut closed = false;
    for line in lines {
        if line.trim_end() == "---" || line.trim_end() == "..." {
            closed = true;
            break;
        }
        body.push_str(line);
        body.push('\n');
    }
    if !closed {
        return None;
    }
    let docs = YamlLoader::load_from_str(&body).ok()?;
    let doc = docs.into_iter().next()?;
    doc.as_hash()?;
    let one = |k: &str| strings(&doc[k]).into_iter().next();
    Some(ModelCard {
        licenses: strings(&doc["license"]),
        license_name: one("license_name"),
        license_link: one("license_link"),
        datasets: strings(&doc["datasets"]),
        base_models: strings(&doc["base_model"]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_matter_as_yaml_has_it() {
        let card = b"---\nlicense: apache-2.0 # see LICENSE\ntags:\n  - x\ndatasets:\n- a/b\n- c/d\n---\n# Model\n";
        let c = parse(card).unwrap();
        assert_eq!(c.license_id().as_deref(), Some("apache-2.0"));
        assert_eq!(c.datasets, vec!["a/b", "c/d"]);
        let other =
            b"---\nlicense: other\nlicense_name: qwen\nlicense_link: https://example.org/L\n---\n";
        let c = parse(other).unwrap();
        assert_eq!(c.license_id().as_deref(), Some("qwen"));
        assert_eq!(c.license_link.as_deref(), Some("https://example.org/L"));
        let listed = b"---\nlicense:\n  - mit\n  - apache-2.0\n---\n";
        let c = parse(listed).unwrap();
        assert_eq!(c.licenses, vec!["mit", "apache-2.0"]);
        assert_eq!(c.license_id().as_deref(), Some("mit"));
        let quoted = b"---\n\"license\": 'llama3.1'\n---\n";
        assert_eq!(
            parse(quoted).unwrap().license_id().as_deref(),
            Some("llama3.1")
        );
        assert_eq!(parse(b"# no front matter\nlicense: mit\n"), None);
        assert_eq!(parse(b"---\nlicense: mit\n"), None, "unclosed");
        assert_eq!(parse(b"---\n[1, 2\n---\n"), None, "not YAML");
    }
}

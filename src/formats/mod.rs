//! Recognise a file's format from its first bytes, never from its name.
//!
//! This is the cheap sniff done during import from the head the hashing pass
//! already read; it never reads the file again. Deep structural checks of
//! each format belong beside it in this module as they are added.

use serde::Serialize;

/// What a file's bytes say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    Safetensors,
    Gguf,
    Pickle,
    PytorchZip,
    Zip,
    Npy,
    Json,
    Text,
    Other,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Safetensors => "safetensors",
            Format::Gguf => "gguf",
            Format::Pickle => "pickle",
            Format::PytorchZip => "pytorch-zip",
            Format::Zip => "zip",
            Format::Npy => "npy",
            Format::Json => "json",
            Format::Text => "text",
            Format::Other => "other",
        }
    }

    /// Formats that hold tensors (what `scan` and audits care most about).
    pub fn is_weights(self) -> bool {
        matches!(
            self,
            Format::Safetensors | Format::Gguf | Format::Pickle | Format::PytorchZip | Format::Npy
        )
    }
}

/// Guess a format from the first bytes of a file of `size` bytes.
pub fn sniff(head: &[u8], size: u64) -> Format {
    if head.len() >= 4 && &head[..4] == b"GGUF" {
        return Format::Gguf;
    }
    if head.len() >= 6 && &head[..6] == b"\x93NUMPY" {
        return Format::Npy;
    }
    if head.len() >= 4 && &head[..4] == b"PK\x03\x04" {
        return if zip_first_name(head)
            .is_some_and(|n| n.ends_with("data.pkl") || n.contains("/data/"))
        {
            Format::PytorchZip
        } else {
            Format::Zip
        };
    }
    if head.len() >= 10 {
        let n = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
        if n >= 2 && n.saturating_add(8) <= size && head[8] == b'{' {
            return Format::Safetensors;
        }
    }
    // Pickle protocol 2+ opens with PROTO; protocol 0/1 streams are caught
    // by the deep check, not by this sniff.
    if head.len() >= 2 && head[0] == 0x80 && (2..=5).contains(&head[1]) {
        return Format::Pickle;
    }
    if looks_like_text(head) {
        let first = head.iter().find(|b| !b.is_ascii_whitespace());
        return match first {
            Some(b'{') | Some(b'[') => Format::Json,
            _ => Format::Text,
        };
    }
    Format::Other
}

fn zip_first_name(head: &[u8]) -> Option<&str> {
    let len = u16::from_le_bytes(head.get(26..28)?.try_into().ok()?) as usize;
    std::str::from_utf8(head.get(30..30 + len)?).ok()
}

fn looks_like_text(head: &[u8]) -> bool {
    if head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        // A multi-byte character cut at the end of the head is still text.
        Err(e) => e.error_len().is_none() && head.len() - e.valid_up_to() < 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_content() {
        let mut st = 12u64.to_le_bytes().to_vec();
        st.extend_from_slice(b"{\"a\":{}}    ");
        assert_eq!(sniff(&st, st.len() as u64), Format::Safetensors);
        assert_eq!(sniff(b"GGUF\x03\0\0\0", 8), Format::Gguf);
        assert_eq!(sniff(b"\x80\x02}q\0.", 6), Format::Pickle);
        assert_eq!(sniff(b"\x93NUMPY\x01\0", 8), Format::Npy);
        assert_eq!(sniff(b" {\"a\": 1}", 9), Format::Json);
        assert_eq!(sniff(b"Apache License", 14), Format::Text);
        assert_eq!(sniff(b"\0\x01\x02", 3), Format::Other);
        // a header length pointing past the file is not safetensors
        let mut lying = 1000u64.to_le_bytes().to_vec();
        lying.extend_from_slice(b"{}");
        assert_ne!(sniff(&lying, lying.len() as u64), Format::Safetensors);
    }
}

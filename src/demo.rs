//! The demo: a small, valid model folder generated from a seed —
//! safetensors weights in two shards with an index, a config, a tokenizer, a
//! model card with licence front matter and a LICENSE — and the story
//! `airlock demo` tells with it ([`run`], in `demo/scenario.rs`). The model
//! is used by the tests too, so both exercise real files. Deterministic: the
//! same seed gives the same bytes.

mod scenario;

pub use scenario::{DemoReport, Step, flip_byte, run};

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A tiny deterministic generator (xorshift64*), enough for filler weights.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    fs::write(path, bytes).map_err(|e| Error::io("write", path, e))
}

/// Write one safetensors file with the given `(name, rows, cols)` F32 tensors.
pub fn write_safetensors(
    path: &Path,
    tensors: &[(&str, usize, usize)],
    rng_seed: u64,
) -> Result<u64> {
    let mut header = String::from("{\"__metadata__\":{\"format\":\"pt\"}");
    let mut offset = 0usize;
    for (name, r, c) in tensors {
        let len = r * c * 4;
        header.push_str(&format!(
            ",\"{name}\":{{\"dtype\":\"F32\",\"shape\":[{r},{c}],\"data_offsets\":[{offset},{}]}}",
            offset + len
        ));
        offset += len;
    }
    header.push('}');
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let f = fs::File::create(path).map_err(|e| Error::io("create", path, e))?;
    let mut w = BufWriter::new(f);
    let io = |e| Error::io("write", path, e);
    w.write_all(&(header.len() as u64).to_le_bytes())
        .map_err(io)?;
    w.write_all(header.as_bytes()).map_err(io)?;
    let mut rng = Rng(rng_seed | 1);
    let floats = offset / 4;
    for _ in 0..floats {
        // small values in [-0.5, 0.5)
        let v = (rng.next() >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
        w.write_all(&v.to_le_bytes()).map_err(io)?;
    }
    w.flush().map_err(io)?;
    Ok((8 + header.len() + offset) as u64)
}

/// Write the demo model into `dir` (created). Returns the files written.
pub fn write_model(dir: &Path, seed: u64) -> Result<Vec<PathBuf>> {
    fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
    let hidden = 256;
    let vocab = 2048;
    let shards = [
        (
            "model-00001-of-00002.safetensors",
            vec![
                ("model.embed_tokens.weight", vocab, hidden),
                ("model.layers.0.mlp.up_proj.weight", 4 * hidden, hidden),
            ],
        ),
        (
            "model-00002-of-00002.safetensors",
            vec![
                ("model.layers.0.mlp.down_proj.weight", hidden, 4 * hidden),
                ("lm_head.weight", vocab, hidden),
            ],
        ),
    ];
    let mut written = Vec::new();
    let mut weight_map = Vec::new();
    let mut total = 0u64;
    for (i, (file, tensors)) in shards.iter().enumerate() {
        let p = dir.join(file);
        total += write_safetensors(&p, tensors, seed.wrapping_mul(31).wrapping_add(i as u64))?;
        for (name, _, _) in tensors {
            weight_map.push(format!("    \"{name}\": \"{file}\""));
        }
        written.push(p);
    }
    let index = format!(
        "{{\n  \"metadata\": {{\"total_size\": {total}}},\n  \"weight_map\": {{\n{}\n  }}\n}}\n",
        weight_map.join(",\n")
    );
    let config = format!(
        "{{\n  \"architectures\": [\"LlamaForCausalLM\"],\n  \"hidden_size\": {hidden},\n  \"intermediate_size\": {},\n  \"num_hidden_layers\": 1,\n  \"vocab_size\": {vocab},\n  \"torch_dtype\": \"float32\",\n  \"model_type\": \"llama\"\n}}\n",
        4 * hidden
    );
    let tokenizer = "{\n  \"version\": \"1.0\",\n  \"model\": {\"type\": \"WordLevel\", \"vocab\": {\"<unk>\": 0, \"hello\": 1, \"world\": 2}, \"unk_token\": \"<unk>\"}\n}\n";
    let card = format!(
        "---\nlicense: apache-2.0\nlibrary_name: transformers\ntags:\n  - demo\n---\n# airlock demo model (seed {seed})\n\nA tiny generated model used to show airlock end to end. Its weights are noise.\n"
    );
    let licence = "Demo licence stand-in for the airlock demo model.\n\nThis model is offered under the Apache License, Version 2.0;\nthe full licence text is published by the Apache Software Foundation.\n";
    for (name, body) in [
        ("model.safetensors.index.json", index.as_str()),
        ("config.json", config.as_str()),
        ("tokenizer.json", tokenizer),
        ("README.md", card.as_str()),
        ("LICENSE", licence),
    ] {
        let p = dir.join(name);
        write(&p, body.as_bytes())?;
        written.push(p);
    }
    Ok(written)
}

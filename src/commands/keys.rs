//! `airlock keys generate --out PREFIX [--name N]`.

use super::{Ctx, ExitStatus};
use crate::cli::{KeyAlgorithm, KeysCommand};

pub(crate) fn run(ctx: &Ctx, cmd: KeysCommand) -> anyhow::Result<ExitStatus> {
    match cmd {
        KeysCommand::Generate {
            out,
            name: _,
            algorithm: algo @ (KeyAlgorithm::P256 | KeyAlgorithm::P384),
        } => {
            let curve = if algo == KeyAlgorithm::P256 {
                airlock::oms::Curve::P256
            } else {
                airlock::oms::Curve::P384
            };
            let g = airlock::oms::generate(&out, curve)?;
            ctx.printer.json(&g)?;
            ctx.printer
                .line(format!("{} key, OMS key hint {}", g.algorithm, g.key_id));
            ctx.printer.info(format!(
                "private key {} (mode 0600; keep it off the isolated side)",
                g.private_key
            ));
            ctx.printer.info(format!("public key  {}", g.public_key));
        }
        KeysCommand::Generate { out, name, .. } => {
            let g = airlock::signing::generate(&out, name.as_deref())?;
            ctx.printer.json(&g)?;
            ctx.printer.line(format!("key id {}", g.key_id));
            ctx.printer.info(format!(
                "private key {} (mode 0600; keep it off the isolated side)",
                g.private_key
            ));
            ctx.printer.info(format!("public key  {}", g.public_key));
        }
    }
    Ok(ExitStatus::Success)
}

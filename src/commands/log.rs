//! `airlock log [--verify] [filters]` and `log checkpoint --key KEYFILE`.

use airlock::signing::FileKey;
use serde_json::json;

use airlock::finding::failed;

use super::{Ctx, ExitStatus, print_findings};
use crate::cli::{LogArgs, LogCommand};

pub(crate) fn run(ctx: &Ctx, a: LogArgs) -> anyhow::Result<ExitStatus> {
    let p = &ctx.printer;
    if let Some(LogCommand::Checkpoint { key }) = a.command {
        let key = FileKey::load(&key)?;
        let reg = ctx.open_existing()?;
        let c = airlock::log::checkpoint(&reg, &key)?;
        p.json(&json!({ "seq": c.seq, "head": c.head_hash, "key_id": c.key_id, "signed_at": c.signed_at }))?;
        p.line(format!(
            "signed the log head: event {} hash {} with key {}",
            c.seq, c.head_hash, c.key_id
        ));
        return Ok(ExitStatus::Success);
    }
    let filter = airlock::log::Filter {
        model: a.model.as_deref().map(str::parse).transpose()?,
        host: a.host.clone(),
        since: a
            .since
            .as_deref()
            .map(airlock::log::Filter::parse_since)
            .transpose()?,
    };
    let reg = ctx.open_read()?;
    if a.verify {
        let r = airlock::log::verify::verify(&reg)?;
        p.json(&r)?;
        print_findings(p, &r.findings);
        let summary = format!(
            "{} events, head {}, {} of {} checkpoint(s) valid, {} finding(s)",
            r.events,
            r.head
                .as_deref()
                .map_or("-".into(), airlock::log::verify::short),
            r.checkpoints_valid,
            r.checkpoints,
            r.findings.len()
        );
        if !failed(&r.findings) {
            p.line(format!("ok: {summary}"));
            return Ok(ExitStatus::Success);
        }
        if let Some(s) = r.first_bad_event {
            p.line(format!("the chain breaks at event {s}"));
        }
        p.line(format!("FAILED: {summary}"));
        return Ok(ExitStatus::Integrity);
    }
    let events = airlock::log::events(&reg, &filter)?;
    p.json(&json!({ "events": events }))?;
    for e in &events {
        p.line(format!(
            "{:>5}  {}  {:<22} {:<14} {:<32} {}",
            e.seq, e.time, e.actor, e.command, e.subject, e.details
        ));
    }
    Ok(ExitStatus::Success)
}

//! `airlock alias set|rm|list|history|policy`.

use serde_json::json;

use super::{Ctx, ExitStatus, parse_ref};
use crate::cli::AliasCommand;

pub(crate) fn run(ctx: &Ctx, cmd: AliasCommand) -> anyhow::Result<ExitStatus> {
    let p = &ctx.printer;
    match cmd {
        AliasCommand::Set {
            name,
            alias,
            version,
        } => {
            let reg = ctx.open_existing()?;
            let v = reg.resolve(&parse_ref(&format!("{name}@{version}"))?)?;
            let before = airlock::alias::set(&reg, &alias, &v)?;
            p.json(&json!({
                "name": v.name.to_string(),
                "alias": alias,
                "version": v.label,
                "previous": before,
            }))?;
            match before {
                Some(b) if b == v.label => {
                    p.line(format!("{}@{alias} already is {}", v.name, v.label))
                }
                Some(b) => p.line(format!("{}@{alias} → {} (was {b})", v.name, v.label)),
                None => p.line(format!("{}@{alias} → {}", v.name, v.label)),
            }
        }
        AliasCommand::Rm { name, alias } => {
            let reg = ctx.open_existing()?;
            let name = name.parse()?;
            let before = airlock::alias::remove(&reg, &name, &alias)?;
            p.json(&json!({ "name": name.to_string(), "alias": alias, "previous": before }))?;
            p.line(format!("{name}@{alias} removed (was {before})"));
        }
        AliasCommand::List { name, at } => {
            let reg = ctx.open_read()?;
            let name = name.map(|n| n.parse()).transpose()?;
            let at = at
                .map(|t| airlock::clock::parse_flag("--at", &t))
                .transpose()?;
            let rows = airlock::alias::list(&reg, name.as_ref(), at)?;
            p.json(&json!({ "aliases": rows }))?;
            if rows.is_empty() {
                p.info("no aliases (hint: `airlock alias set NAME ALIAS VERSION`)");
            } else {
                let mut table = vec![
                    ["ALIAS", "VERSION", "SET AT", "BY"]
                        .map(String::from)
                        .to_vec(),
                ];
                for r in &rows {
                    table.push(vec![
                        format!("{}@{}", r.name, r.alias),
                        r.version.clone(),
                        r.set_at.clone(),
                        r.set_by.clone(),
                    ]);
                }
                for line in crate::printer::columns(&table) {
                    p.line(line);
                }
            }
        }
        AliasCommand::History { name, alias } => {
            let reg = ctx.open_read()?;
            let name = name.parse()?;
            let rows = airlock::alias::history(&reg, &name, alias.as_deref())?;
            p.json(&json!({ "changes": rows }))?;
            let dash = |s: &Option<String>| s.clone().unwrap_or_else(|| "-".into());
            let mut table = vec![
                ["SEQ", "TIME", "ALIAS", "CHANGE", "FROM", "TO", "BY"]
                    .map(String::from)
                    .to_vec(),
            ];
            for r in &rows {
                table.push(vec![
                    r.seq.to_string(),
                    r.time.clone(),
                    r.alias.clone(),
                    r.change.clone(),
                    dash(&r.previous),
                    dash(&r.version),
                    r.actor.clone(),
                ]);
            }
            for line in crate::printer::columns(&table) {
                p.line(line);
            }
        }
        AliasCommand::Policy { require_approval } => {
            let reg = if require_approval.is_some() {
                ctx.open_existing()?
            } else {
                ctx.open_read()?
            };
            if let Some(list) = require_approval {
                let aliases: Vec<String> = if list == "none" {
                    Vec::new()
                } else {
                    list.split(',')
                        .map(str::trim)
                        .filter(|a| !a.is_empty())
                        .map(String::from)
                        .collect()
                };
                airlock::alias::set_policy(&reg, &aliases)?;
            }
            let now = airlock::alias::policy(&reg)?;
            p.json(&json!({ "require_approval": now }))?;
            p.line(if now.is_empty() {
                "no alias needs an approved version".to_string()
            } else {
                format!("approved versions only for: {}", now.join(", "))
            });
        }
    }
    Ok(ExitStatus::Success)
}

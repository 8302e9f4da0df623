//! `airlock eval record|list|compare|policy`.

use airlock::eval::EvalResult;
use airlock::signing::FileKey;
use serde_json::json;

use super::{Ctx, ExitStatus, parse_ref};
use crate::cli::EvalCommand;

fn num(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{v}"))
}

pub(crate) fn run(ctx: &Ctx, cmd: EvalCommand) -> anyhow::Result<ExitStatus> {
    let p = &ctx.printer;
    match cmd {
        EvalCommand::Record {
            reference,
            suite,
            metric,
            value,
            higher_is_better: _,
            lower_is_better,
            cost_per_1k_outputs,
            currency,
            notes,
            key,
        } => {
            let key = FileKey::load(&key)?;
            let reg = ctx.open_existing()?;
            let v = reg.resolve(&parse_ref(&reference)?)?;
            let r = EvalResult {
                suite,
                metric,
                value,
                higher_is_better: !lower_is_better,
                cost_per_1k_outputs,
                currency,
                notes,
            };
            let e = airlock::eval::record(&reg, &v, &r, &key)?;
            p.json(&e)?;
            p.line(format!(
                "recorded {}@{}: {} {} = {} (signed by key {})",
                v.name,
                v.label,
                e.result.suite,
                e.result.metric,
                e.result.value,
                &e.key_id[..16]
            ));
        }
        EvalCommand::List { reference } => {
            let reg = ctx.open_read()?;
            let v = reg.resolve(&parse_ref(&reference)?)?;
            let rows = airlock::eval::list(&reg, &v)?;
            p.json(&json!({ "version": format!("{}@{}", v.name, v.label), "evaluations": rows }))?;
            if rows.is_empty() {
                p.info(format!(
                    "no evaluations of {}@{} (hint: `airlock eval record`)",
                    v.name, v.label
                ));
            } else {
                let mut table = vec![
                    [
                        "SUITE", "METRIC", "VALUE", "BETTER", "COST/1K", "RECORDED", "SIGNER",
                    ]
                    .map(String::from)
                    .to_vec(),
                ];
                for e in &rows {
                    table.push(vec![
                        e.result.suite.clone(),
                        e.result.metric.clone(),
                        e.result.value.to_string(),
                        if e.result.higher_is_better {
                            "higher"
                        } else {
                            "lower"
                        }
                        .into(),
                        match (&e.result.cost_per_1k_outputs, &e.result.currency) {
                            (Some(c), Some(cur)) => format!("{c} {cur}"),
                            _ => "-".into(),
                        },
                        e.recorded_at.clone(),
                        match (&e.signer, e.signature_valid) {
                            (_, false) => "BAD SIGNATURE".into(),
                            (Some(n), true) => n.clone(),
                            (None, true) => format!("untrusted key {}", &e.key_id[..16]),
                        },
                    ]);
                }
                for line in crate::printer::columns(&table) {
                    p.line(line);
                }
            }
        }
        EvalCommand::Compare { from, to } => {
            let reg = ctx.open_read()?;
            let a = reg.resolve(&parse_ref(&from)?)?;
            let b = reg.resolve(&parse_ref(&to)?)?;
            let c = airlock::eval::compare(&reg, &a, &b)?;
            p.json(&c)?;
            p.line(format!(
                "{} → {}: {} regression(s)",
                c.from, c.to, c.regressions
            ));
            let mut table = vec![
                ["", "SUITE", "METRIC", "FROM", "TO", "CHANGE", "THRESHOLD"]
                    .map(String::from)
                    .to_vec(),
            ];
            for m in &c.metrics {
                table.push(vec![
                    if m.regression { "REGRESSION" } else { "" }.into(),
                    m.suite.clone(),
                    m.metric.clone(),
                    num(m.from),
                    num(m.to),
                    num(m.change),
                    m.threshold.to_string(),
                ]);
            }
            for line in crate::printer::columns(&table) {
                p.line(line);
            }
        }
        EvalCommand::Policy {
            threshold,
            require_for_prod,
        } => {
            let changing = !threshold.is_empty() || require_for_prod.is_some();
            let reg = if changing {
                ctx.open_existing()?
            } else {
                ctx.open_read()?
            };
            for t in &threshold {
                let (metric, x) = t.split_once('=').ok_or_else(|| {
                    airlock::Error::usage(format!("`--threshold {t}`: give METRIC=X"))
                })?;
                let x: f64 = x.parse().map_err(|_| {
                    airlock::Error::usage(format!("`--threshold {t}`: `{x}` is not a number"))
                })?;
                airlock::eval::set_threshold(&reg, metric, x)?;
            }
            if let Some(s) = &require_for_prod {
                airlock::eval::set_required_for_prod(&reg, (s != "none").then_some(s.as_str()))?;
            }
            let pol = airlock::eval::policy(&reg)?;
            p.json(&pol)?;
            p.line(format!(
                "prod deploys need: {}",
                pol.required_for_prod
                    .as_deref()
                    .map_or("no evaluation".to_string(), |s| format!(
                        "a `{s}` evaluation without regression"
                    ))
            ));
            for (m, t) in &pol.thresholds {
                p.line(format!("threshold {m}: {t}"));
            }
        }
    }
    Ok(ExitStatus::Success)
}

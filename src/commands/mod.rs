//! One file per subcommand. Each resolves its inputs (paths, references, an
//! opened registry), calls one library function and renders the result via
//! the [`Printer`]. Nothing here decides policy or touches bytes.

mod alias;
mod audit;
mod bom;
mod checkout;
mod demo;
mod diff;
mod eval;
mod export;
mod fsck;
mod gc;
mod import;
mod init;
mod inspect;
mod keys;
mod license;
mod list;
mod log;
mod pull;
mod push;
mod revoke;
mod scan;
mod show;
mod sign;
mod trust;
mod verify;

use std::path::PathBuf;

use airlock::name::Reference;
use airlock::registry::Registry;

use crate::cli::{Cli, Command};
use crate::printer::Printer;
use crate::reporter::Reporter;

/// How a command that ran to its end turned out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExitStatus {
    Success,
    /// Findings of integrity or trust problems (exit 3).
    Integrity,
    /// A policy forbids it (exit 4).
    Policy,
}

impl ExitStatus {
    pub(crate) fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Integrity => 3,
            ExitStatus::Policy => 4,
        }
    }
}

/// Everything a command needs besides its own flags.
pub(crate) struct Ctx {
    pub(crate) home: PathBuf,
    pub(crate) printer: Printer,
    pub(crate) progress: Reporter,
}

impl Ctx {
    pub(crate) fn open(&self) -> anyhow::Result<Registry> {
        Ok(Registry::open_or_create(&self.home)?)
    }

    pub(crate) fn open_existing(&self) -> anyhow::Result<Registry> {
        Ok(Registry::open_existing(&self.home)?)
    }

    /// For commands that only read: nothing written, nothing migrated.
    pub(crate) fn open_read(&self) -> anyhow::Result<Registry> {
        Ok(self.open_read_lib()?)
    }

    /// The same, with the library's error (for library calls that open
    /// the registry only when they need it).
    pub(crate) fn open_read_lib(&self) -> airlock::Result<Registry> {
        Registry::open_read(&self.home)
    }

    /// For commands that check and record what they checked where they can.
    pub(crate) fn open_checking(&self) -> anyhow::Result<Registry> {
        Ok(Registry::open_checking(&self.home)?)
    }
}

/// `--home`, else `$AIRLOCK_HOME`, else the platform data dir.
fn resolve_home(flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(h) = flag {
        return Ok(h);
    }
    if let Some(h) = std::env::var_os("AIRLOCK_HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(h));
    }
    dirs::data_dir()
        .map(|d| d.join("airlock"))
        .ok_or_else(|| anyhow::anyhow!("no home: pass `--home DIR` or set AIRLOCK_HOME"))
}

/// `--allow-unsafe --reason TEXT` as the library's allowance.
pub(crate) fn allowance(
    allow: bool,
    reason: Option<&str>,
) -> anyhow::Result<Option<airlock::records::Allowance>> {
    Ok(airlock::records::Allowance::from_flags(allow, reason)?)
}

/// The library's checkout options from the shared flags.
pub(crate) fn checkout_options(
    f: &crate::cli::CheckoutFlags,
) -> anyhow::Result<airlock::checkout::CheckoutOptions> {
    use airlock::checkout::CheckoutLayout;
    Ok(airlock::checkout::CheckoutOptions {
        link: f.link,
        layout: match f.layout {
            crate::cli::LayoutArg::Plain => CheckoutLayout::Plain,
            crate::cli::LayoutArg::Hf => CheckoutLayout::Hf,
        },
        force: f.force,
        allow_unsafe: allowance(f.allow_unsafe, f.reason.as_deref())?,
    })
}

pub(crate) fn parse_ref(s: &str) -> anyhow::Result<Reference> {
    Ok(s.parse::<Reference>()?)
}

pub(crate) fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    // Help texts need no home.
    match &cli.command {
        Command::Completions(a) => {
            // Made in memory (a few tens of KB): the generator panics on a
            // write error, and a closed pipe must be a plain success.
            let mut text = Vec::new();
            crate::cli::completions(a.shell, &mut text);
            std::io::Write::write_all(&mut std::io::stdout().lock(), &text)?;
            return Ok(ExitStatus::Success);
        }
        Command::Man => {
            let mut text = Vec::new();
            crate::cli::man(&mut text)?;
            std::io::Write::write_all(&mut std::io::stdout().lock(), &text)?;
            return Ok(ExitStatus::Success);
        }
        _ => {}
    }
    let g = cli.global;
    if let Some(label) = &g.actor {
        airlock::claim_actor(label);
    }
    let ctx = Ctx {
        home: resolve_home(g.home)?,
        printer: Printer::new(g.json, g.quiet, g.verbose),
        progress: Reporter::new(g.quiet, g.no_progress),
    };
    let status = match cli.command {
        Command::Init(a) => init::run(&ctx, a),
        Command::Import(a) => import::run(&ctx, a),
        Command::List => list::run(&ctx),
        Command::Show(a) => show::run(&ctx, a),
        Command::Diff(a) => diff::run(&ctx, a),
        Command::Alias(a) => alias::run(&ctx, a),
        Command::Eval(a) => eval::run(&ctx, a),
        Command::Holdings(a) => export::holdings(&ctx, a),
        Command::Verify(a) => verify::run(&ctx, a),
        Command::Checkout(a) => checkout::run(&ctx, a),
        Command::Fsck => fsck::run(&ctx),
        Command::Gc(a) => gc::run(&ctx, a),
        Command::Inspect(a) => inspect::run(&ctx, a),
        Command::Keys(a) => keys::run(&ctx, a),
        Command::Trust(a) => trust::run(&ctx, a),
        Command::Sign(a) => sign::run(&ctx, a),
        Command::Revoke(a) => revoke::run(&ctx, a),
        Command::Export(a) => export::run(&ctx, a),
        Command::Push(a) => push::run(&ctx, a),
        Command::Completions(_) | Command::Man => unreachable!("answered above"),
        Command::Pull(a) => pull::run(&ctx, a),
        Command::Deploy(a) => audit::deploy(&ctx, a),
        Command::Undeploy(a) => audit::undeploy(&ctx, a),
        Command::Audit(a) => audit::run(&ctx, a),
        Command::Scan(a) => scan::run(&ctx, a),
        Command::License(a) => license::run(&ctx, a),
        Command::Log(a) => log::run(&ctx, a),
        Command::Bom(a) => bom::run(&ctx, a),
        Command::Demo(a) => demo::run(&ctx, a),
    }?;
    ctx.printer
        .finish()
        .map_err(|e| anyhow::Error::new(e).context("write to stdout"))?;
    Ok(status)
}

/// Render findings, one line each, for people.
pub(crate) fn print_findings(p: &Printer, findings: &[airlock::finding::Finding]) {
    for f in findings {
        let subject = if f.subject.is_empty() {
            String::new()
        } else {
            format!("{}: ", f.subject)
        };
        p.line(format!(
            "{:<10} {subject}{}: {}",
            f.kind.as_str().to_uppercase(),
            f.path,
            f.detail
        ));
    }
}

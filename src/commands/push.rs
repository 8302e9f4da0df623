//! `airlock push REF… oci://HOST[:PORT]/REPO[:TAG]`.

use airlock::oci::Connection;
use airlock::oci::OciRef;
use indicatif::HumanBytes;

use super::{Ctx, ExitStatus};
use crate::cli::{PushArgs, RegistryArgs};

/// The connection flags, with the password read from stdin if asked.
pub(crate) fn connection(a: &RegistryArgs) -> anyhow::Result<Connection> {
    let password = if a.password_stdin {
        let mut s = String::new();
        std::io::Read::read_to_string(
            &mut std::io::Read::take(std::io::stdin(), 64 << 10),
            &mut s,
        )?;
        let s = s.trim_end_matches(['\n', '\r']).to_string();
        if s.is_empty() {
            return Err(airlock::Error::usage("--password-stdin read an empty password").into());
        }
        Some(s)
    } else {
        None
    };
    if a.jobs == 0 || a.jobs > 64 {
        return Err(airlock::Error::usage("--jobs takes 1 to 64").into());
    }
    Ok(Connection {
        plain_http: a.plain_http,
        ca_file: a.ca_file.clone(),
        username: a.username.clone(),
        password,
        jobs: a.jobs,
    })
}

pub(crate) fn run(ctx: &Ctx, a: PushArgs) -> anyhow::Result<ExitStatus> {
    let (dest, refs) = a.args.split_last().expect("clap asks for two or more");
    let dest: OciRef = dest.parse()?;
    let conn = connection(&a.registry)?;
    let reg = ctx.open_existing()?;
    let versions = super::export::resolve_all(&reg, refs)?;
    let out = airlock::oci::push::push(&reg, &versions, &dest, &conn, &ctx.progress)?;
    ctx.printer.json(&out)?;
    for v in &out.versions {
        ctx.printer.line(format!(
            "pushed {} to {}/{}:{} (manifest sha256:{}, statement with {} approval(s){})",
            v.version,
            out.registry,
            out.repository,
            v.tag,
            v.oci_manifest_digest,
            v.approvals,
            if v.referrers_api {
                ""
            } else {
                ", listed under the referrers tag"
            }
        ));
    }
    ctx.printer.line(format!(
        "blobs: {} uploaded ({}), {} mounted, {} already there",
        out.uploaded_blobs,
        HumanBytes(out.uploaded_bytes),
        out.mounted_blobs,
        out.skipped_blobs
    ));
    Ok(ExitStatus::Success)
}

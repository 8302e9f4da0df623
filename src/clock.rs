//! The time airlock records: RFC 3339 UTC with whole seconds. A leaf, so
//! every layer can stamp what it records the same way.

/// The current time as RFC 3339 UTC with seconds, e.g. `2026-11-29T19:01:09Z`.
pub(crate) fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

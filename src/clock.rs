//! The time airlock records and signs: RFC 3339, UTC, whole seconds, one
//! spelling (`2026-11-29T19:01:09Z`). A leaf, so every layer stamps and
//! reads times the same way.
//!
//! Signed times have exactly this spelling; any other (an offset, fractional
//! seconds, a lower-case `t` or `z`) is refused, so one instant has one
//! byte string and comparisons of signed times cannot be gamed.

use time::OffsetDateTime;

/// A time in the one spelling.
pub fn format(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The current time, whole seconds.
pub fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(0).unwrap_or(t)
}

/// The current time in the one spelling, e.g. `2026-11-29T19:01:09Z`.
pub fn now_rfc3339() -> String {
    format(now())
}

/// A time in the one spelling, or `None` for anything else.
pub fn parse_canonical(s: &str) -> Option<OffsetDateTime> {
    let b = s.as_bytes();
    let shape_ok = b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        });
    if !shape_ok {
        return None;
    }
    let t = OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    // Leap seconds parse as :60 and would format back differently.
    (format(t) == s).then_some(t)
}

/// A time given on the command line for `flag`: RFC 3339
/// (`2026-11-29T19:01:09Z`, any offset) or a date (`2026-11-29`, midnight
/// UTC). Anything else is a usage error (exit 2) naming the flag.
pub fn parse_flag(flag: &str, s: &str) -> crate::error::Result<OffsetDateTime> {
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    if let Ok(t) = OffsetDateTime::parse(s, rfc3339) {
        return Ok(t.to_offset(time::UtcOffset::UTC));
    }
    let date_format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &date_format)
        .map(|d| d.midnight().assume_utc())
        .map_err(|_| {
            crate::error::Error::usage(format!(
                "`{flag} {s}` is not a time: give RFC 3339 (`2026-11-29T19:01:09Z`) or a date (`2026-11-29`)"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_spelling_only() {
        let t = parse_canonical("2026-11-29T19:01:09Z").unwrap();
        assert_eq!(format(t), "2026-11-29T19:01:09Z");
        for bad in [
            "2026-11-29T19:01:09+00:00",
            "2026-11-29T19:01:09.5Z",
            "2026-11-29t19:01:09z",
            "2026-11-29 19:01:09Z",
            "2026-02-30T00:00:00Z",
            "2026-11-29T19:01:60Z",
            "+2026-11-29T19:01:09Z",
            "",
        ] {
            assert!(parse_canonical(bad).is_none(), "{bad}");
        }
        assert!(parse_canonical(&now_rfc3339()).is_some());
    }
}

//! Writing YAML scalars so that every reader takes them for the exact string we mean.
//!
//! We write the rule file's fixed structure ourselves rather than through serde_yaml's
//! serializer: serde_yaml quotes only what YAML 1.2 would misread, and leaves `on`, `yes`,
//! `no` or `off` plain, which YAML 1.1 readers turn into booleans. Writing it here also fixes
//! every style choice, which is what makes the output byte-stable, and keeps a 100,000-rule
//! render well under a second. The parser reads our output back with serde_yaml, and the
//! tests prove the round trip on random input and run every file through `promtool`.
//!
//! Each scalar gets the first of these styles that is safe for it:
//! 1. plain, from a conservative whitelist (no indicator first, nothing a resolver could
//!    read as a bool, null, number, date or merge key);
//! 2. a literal block (`|`, `|-` or `|+`), for multi-line text whose first line does not
//!    start with a space;
//! 3. double-quoted, with JSON-style escapes, which is valid in YAML 1.1 and 1.2.

use std::fmt::Write;

/// Appends `value` as a scalar that continues the current line; block content, if any, is
/// indented by `indent` spaces.
pub(crate) fn scalar(out: &mut String, value: &str, indent: usize) {
    if is_plain_safe(value) {
        out.push_str(value);
    } else if is_literal_safe(value) {
        literal_block(out, value, indent);
    } else {
        double_quoted(out, value);
    }
}

/// Words that some YAML version resolves to a bool or null (YAML 1.1's full set, which
/// includes 1.2's).
const RESERVED_WORDS: &[&str] = &[
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false",
    "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~", "=",
    "<<",
];

fn is_plain_safe(value: &str) -> bool {
    let Some(first) = value.chars().next() else { return false };
    // Indicators, quotes and anything that could start a number (`0755`, `1e3`, `.5`,
    // `-1`, `+1`, `1:30` in YAML 1.1's base 60, dates) are quoted; durations like `5m` or
    // `1h30m` are the one digit-led shape no resolver reads as anything but a string.
    if "-?:,[]{}#&*!|>'\"%@`.+ \t".contains(first)
        || (first.is_ascii_digit() && !is_duration_like(value))
    {
        return false;
    }
    if RESERVED_WORDS.contains(&value) {
        return false;
    }
    if value.ends_with([' ', '\t', ':'])
        || value.contains(": ")
        || value.contains(" #")
        || value.contains(":\t")
    {
        return false;
    }
    // `.inf`/`.nan` start with a dot and are already excluded; this keeps out anything a
    // YAML 1.1 reader folds or breaks (tabs, control characters, NEL, LS, PS, BOM).
    value.chars().all(|c| c != '\t' && !needs_escape(c))
}

/// Digits, then one of the duration units' first letters, then only letters and digits:
/// `5m`, `1h30m`, `500ms`. No YAML number has a letter other than `e`, `x`, `o` or `b`
/// right after its leading digits.
fn is_duration_like(value: &str) -> bool {
    let rest = value.trim_start_matches(|c: char| c.is_ascii_digit());
    rest.starts_with(['d', 'h', 'm', 's', 'w', 'y'])
        && rest.chars().all(|c| c.is_ascii_alphanumeric())
}

fn is_literal_safe(value: &str) -> bool {
    value.contains('\n')
        && !value.starts_with([' ', '\t', '\n'])
        && value.chars().all(|c| c == '\n' || c == '\t' || !needs_escape(c))
        // Lines of only blanks can change how a reader detects the block's indentation, and
        // a tab where indentation ends trips some readers; such text is rare, so quote it.
        && value.split('\n').all(|line| {
            !line.starts_with('\t') && (line.is_empty() || !line.trim_start_matches([' ', '\t']).is_empty())
        })
}

/// Characters that must be escaped in a double-quoted scalar and may not appear raw in a
/// plain or literal one.
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}')
}

fn literal_block(out: &mut String, value: &str, indent: usize) {
    let trailing_newlines = value.len() - value.trim_end_matches('\n').len();
    out.push_str(match trailing_newlines {
        0 => "|-",
        1 => "|",
        _ => "|+",
    });
    for line in value.trim_end_matches('\n').split('\n') {
        out.push('\n');
        if !line.is_empty() {
            out.extend(std::iter::repeat_n(' ', indent));
            out.push_str(line);
        }
    }
    // `|+` keeps the trailing line breaks as empty lines after the content.
    for _ in 1..trailing_newlines {
        out.push('\n');
    }
}

fn double_quoted(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emitted(value: &str) -> String {
        let mut out = String::new();
        scalar(&mut out, value, 4);
        out
    }

    #[test]
    fn ambiguous_scalars_are_quoted() {
        for value in [
            "no",
            "on",
            "yes",
            "off",
            "y",
            "NULL",
            "~",
            "0755",
            "1e3",
            "12",
            "-1",
            ".5",
            ".inf",
            "1:30",
            "2001-12-14",
            "true",
            "",
            " lead",
            "trail ",
            "a: b",
            "x #y",
            "@x",
            "*x",
            "<<",
        ] {
            assert!(emitted(value).starts_with('"'), "{value:?} -> {}", emitted(value));
        }
    }

    #[test]
    fn ordinary_text_stays_plain() {
        for value in [
            "5m",
            "1h30m",
            "500ms",
            "2w",
            "up == 0",
            "sum(rate(http_requests_total{code=~\"5..\"}[5m])) > 1",
            "warning",
            "Disk {{ $labels.device }} is full",
            "Ünïcödé ✓",
            "http://x/y?a=b",
        ] {
            assert_eq!(emitted(value), value);
        }
    }

    #[test]
    fn multi_line_text_is_a_literal_block() {
        assert_eq!(emitted("a\n  b"), "|-\n    a\n      b");
        assert_eq!(emitted("a\n\nb\n"), "|\n    a\n\n    b");
        assert_eq!(emitted("a\n\n"), "|+\n    a\n");
        assert!(emitted("  a\nb").starts_with('"'));
        assert!(emitted("a\r\nb").starts_with('"'));
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(emitted("a\u{7f}b\u{2028}"), "\"a\\u007fb\\u2028\"");
        assert_eq!(emitted("tab\there"), "\"tab\\there\"");
    }
}

//! Mail parsing: `git format-patch` files and mbox files (as `b4 am` writes
//! them) into patches with author, date, subject, message and diff.

/// One mail of a series, cover letter included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub author_name: String,
    pub author_email: String,
    /// Seconds since the epoch and offset in minutes, from the Date header.
    pub date: Option<(i64, i32)>,
    /// Subject with the `[PATCH ...]` prefix removed.
    pub subject: String,
    /// `(n, total)` from a `[PATCH vX n/total]` prefix, when present.
    pub number: Option<(usize, usize)>,
    /// Commit message body (after the subject, before the `---` line).
    pub message: String,
    /// The diff, from the first `diff --git` line; empty for a cover letter.
    pub diff: String,
}

impl Mail {
    /// A cover letter is patch 0 of N or a mail without any diff.
    pub fn is_cover_letter(&self) -> bool {
        matches!(self.number, Some((0, _))) || self.diff.is_empty()
    }
}

/// Split an mbox into its messages at `From ` separator lines.
pub fn split_mbox(text: &str) -> Vec<&str> {
    let mut starts = Vec::new();
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        if line.starts_with("From ") && (pos == 0 || text[..pos].ends_with('\n')) {
            starts.push(pos);
        }
        pos += line.len();
    }
    if starts.is_empty() {
        return if text.trim().is_empty() {
            vec![]
        } else {
            vec![text]
        };
    }
    let mut out = Vec::new();
    for (i, &s) in starts.iter().enumerate() {
        let e = starts.get(i + 1).copied().unwrap_or(text.len());
        out.push(&text[s..e]);
    }
    out
}

/// Parse one message. Errors are plain strings; the caller adds the file.
pub fn parse_mail(raw: &str) -> Result<Mail, String> {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = match raw.find("\n\n") {
        Some(i) => (&raw[..i], &raw[i + 2..]),
        None => return Err("no blank line between headers and body".into()),
    };
    let headers = unfold_headers(head);
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| decode_words(v))
    };
    let from = get("From").ok_or("no From: header")?;
    let raw_subject = get("Subject").ok_or("no Subject: header")?;
    let (author_name, author_email) = parse_address(&from);
    let date = get("Date").and_then(|d| parse_date(&d));
    let (number, subject) = strip_subject_prefix(&raw_subject);

    // A body may carry in-body "From:"/"Subject:" overrides (git am honours them).
    let mut body = body.to_string();
    let mut author = (author_name, author_email);
    let mut subject = subject;
    loop {
        let first = body.lines().next().unwrap_or("");
        if let Some(v) = first.strip_prefix("From: ") {
            author = parse_address(&decode_words(v));
        } else if let Some(v) = first.strip_prefix("Subject: ") {
            subject = strip_subject_prefix(&decode_words(v)).1;
        } else {
            break;
        }
        body = body[first.len()..].trim_start_matches('\n').to_string();
    }

    let diff_start = find_line(&body, |l| l.starts_with("diff --git "));
    let (msg_part, diff) = match diff_start {
        Some(i) => (&body[..i], strip_signature(&body[i..])),
        None => (&body[..], String::new()),
    };
    // The message ends at the "---" line that precedes the diffstat.
    let message = match find_line(msg_part, |l| l == "---") {
        Some(i) => &msg_part[..i],
        None => msg_part,
    };
    Ok(Mail {
        author_name: author.0,
        author_email: author.1,
        date,
        subject,
        number,
        message: message.trim().to_string(),
        diff,
    })
}

fn find_line(text: &str, pred: impl Fn(&str) -> bool) -> Option<usize> {
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        if pred(line.trim_end_matches('\n')) {
            return Some(pos);
        }
        pos += line.len();
    }
    None
}

/// Drop the `-- \n<git version>` signature format-patch appends.
fn strip_signature(diff: &str) -> String {
    match diff.rfind("\n-- \n") {
        Some(i) => diff[..i + 1].to_string(),
        None => diff.to_string(),
    }
}

fn unfold_headers(head: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with("From ") && out.is_empty() {
            continue; // mbox separator
        }
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            out.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

/// `[PATCH v2 3/5] mm: foo` -> (Some((3, 5)), "mm: foo").
pub fn strip_subject_prefix(s: &str) -> (Option<(usize, usize)>, String) {
    let mut rest = s.trim();
    let mut number = None;
    while let Some(r) = rest.strip_prefix('[') {
        let Some(end) = r.find(']') else { break };
        for word in r[..end].split_whitespace() {
            if let Some((n, t)) = word.split_once('/') {
                if let (Ok(n), Ok(t)) = (n.parse(), t.parse()) {
                    number = Some((n, t));
                }
            }
        }
        rest = r[end + 1..].trim_start();
    }
    for p in ["Re: ", "RE: "] {
        rest = rest.strip_prefix(p).unwrap_or(rest);
    }
    (number, rest.to_string())
}

/// `"Name" <mail>` or `Name <mail>` or `mail`.
fn parse_address(s: &str) -> (String, String) {
    if let (Some(l), Some(r)) = (s.rfind('<'), s.rfind('>')) {
        if l < r {
            let name = s[..l].trim().trim_matches('"').to_string();
            return (name, s[l + 1..r].trim().to_string());
        }
    }
    (String::new(), s.trim().to_string())
}

/// RFC 2047 encoded words (`=?UTF-8?q?...?=`, `=?utf-8?b?...?=`).
pub fn decode_words(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    let mut last_was_word = false;
    while let Some(start) = rest.find("=?") {
        let before = &rest[..start];
        let tail = &rest[start + 2..];
        let parsed = (|| {
            let (_charset, t) = tail.split_once('?')?;
            let (enc, t) = t.split_once('?')?;
            let end = t.find("?=")?;
            let bytes = match enc {
                "q" | "Q" => decode_q(&t[..end]),
                "b" | "B" => decode_base64(&t[..end])?,
                _ => return None,
            };
            Some((String::from_utf8_lossy(&bytes).into_owned(), &t[end + 2..]))
        })();
        match parsed {
            Some((text, after)) => {
                if !(last_was_word && before.trim().is_empty()) {
                    out.push_str(before);
                }
                out.push_str(&text);
                rest = after;
                last_was_word = true;
            }
            None => {
                out.push_str(&rest[..start + 2]);
                rest = &rest[start + 2..];
                last_was_word = false;
            }
        }
    }
    out.push_str(rest);
    out
}

fn decode_q(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'_', _) => out.push(b' '),
            (b'=', Some(v)) => {
                out.push(v);
                i += 2;
            }
            (c, _) => out.push(c),
        }
        i += 1;
    }
    out
}

fn decode_base64(s: &str) -> Option<Vec<u8>> {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = T.iter().position(|&t| t == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// RFC 2822 date, e.g. `Wed, 10 Jun 2026 19:04:34 -0700`.
pub fn parse_date(s: &str) -> Option<(i64, i32)> {
    let s = s.split_once(',').map(|(_, r)| r).unwrap_or(s);
    let mut it = s.split_whitespace();
    let day: i64 = it.next()?.parse().ok()?;
    let mon = it.next()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| m.eq_ignore_ascii_case(mon))? as i64
        + 1;
    let year: i64 = it.next()?.parse().ok()?;
    let mut hms = it.next()?.split(':').map(|x| x.parse::<i64>().ok());
    let (h, m) = (hms.next()??, hms.next()??);
    let sec = hms.next().flatten().unwrap_or(0);
    let tz = it.next().unwrap_or("+0000");
    let (sign, digits) = match tz.as_bytes().first() {
        Some(b'-') => (-1, &tz[1..]),
        Some(b'+') => (1, &tz[1..]),
        _ => (1, "0000"),
    };
    let tzv: i32 = digits.parse().ok()?;
    let offset = sign * ((tzv / 100) * 60 + tzv % 100);
    let days = days_from_civil(year, month, day);
    let t = days * 86400 + h * 3600 + m * 60 + sec - offset as i64 * 60;
    Some((t, offset))
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATCH: &str = "From 1234567890abcdef1234567890abcdef12345678 Mon Sep 17 00:00:00 2001
From: =?UTF-8?q?Arve=20Hj=C3=B8nnev=C3=A5g?= <arve@example.org>
Date: Wed, 10 Jun 2026 19:04:34 -0700
Subject: [PATCH v2 3/5] mm: add
 a helper

Why we do it.

Signed-off-by: A <a@example.org>
---
 mm/x.c | 1 +
 1 file changed, 1 insertion(+)

diff --git a/mm/x.c b/mm/x.c
--- a/mm/x.c
+++ b/mm/x.c
@@ -1 +1,2 @@
 a
+b
-- 
2.39.5

";

    #[test]
    fn format_patch_fields() {
        let m = parse_mail(PATCH).unwrap();
        assert_eq!(m.author_name, "Arve Hjønnevåg");
        assert_eq!(m.author_email, "arve@example.org");
        assert_eq!(m.subject, "mm: add a helper");
        assert_eq!(m.number, Some((3, 5)));
        assert_eq!(
            m.message,
            "Why we do it.\n\nSigned-off-by: A <a@example.org>"
        );
        assert!(m.diff.starts_with("diff --git a/mm/x.c"));
        assert!(m.diff.ends_with("+b\n"), "{:?}", m.diff);
        assert_eq!(m.date, Some((1781143474, -420)));
        assert!(!m.is_cover_letter());
    }

    #[test]
    fn cover_letter_is_recognised() {
        let cover = "From: D <d@x>\nSubject: [PATCH v2 0/5] mm: things\n\nhello\n";
        let m = parse_mail(cover).unwrap();
        assert!(m.is_cover_letter());
        let nodiff = "From: D <d@x>\nSubject: [PATCH] mm: note\n\njust words\n";
        assert!(parse_mail(nodiff).unwrap().is_cover_letter());
    }

    #[test]
    fn mbox_split_and_in_body_from() {
        let mbox = format!(
            "From b4 Thu Jan  1 00:00:00 1970\nFrom: D <d@x>\nSubject: [PATCH 0/1] c\n\ncover\n\n{}",
            PATCH.replacen(
                "Why we do it.",
                "From: Real Author <real@x>\n\nWhy we do it.",
                1
            )
        );
        let parts = split_mbox(&mbox);
        assert_eq!(parts.len(), 2);
        let m = parse_mail(parts[1]).unwrap();
        assert_eq!(m.author_name, "Real Author");
        assert_eq!(m.message.lines().next(), Some("Why we do it."));
    }

    #[test]
    fn subject_prefixes() {
        assert_eq!(
            strip_subject_prefix("[PATCH v3 02/10] x: y"),
            (Some((2, 10)), "x: y".into())
        );
        assert_eq!(strip_subject_prefix("[RFC] [PATCH] x"), (None, "x".into()));
        assert_eq!(decode_words("=?utf-8?b?SGVsbG8=?= world"), "Hello world");
    }

    #[test]
    fn bad_mail() {
        assert!(parse_mail("no headers at all").is_err());
        assert!(parse_mail("Subject: x\n\nbody")
            .unwrap_err()
            .contains("From"));
    }
}

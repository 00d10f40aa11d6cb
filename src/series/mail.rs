//! Mail parsing: `git format-patch` files and mbox files (as `b4 am`, mail
//! clients and list archives write them) into patches with author, date,
//! subject, message and diff.
//!
//! MIME is the `mailparse` crate's: headers (folding, RFC 2047 encoded
//! words), Content-Type and its charset, multipart structure and base64. On
//! top of it sits our format-patch layer: mbox separators, the text parts of
//! a multipart mail (a `text/x-patch` attachment included), quoted-printable
//! decoded as `git mailinfo` does it (8-bit bytes and trailing blanks kept),
//! `[PATCH n/m]` subjects, in-body `From:`/`Subject:`/`Date:`, the `---` line
//! and the signature.
//!
//! As with `git am`, only the commit message, author and subject are
//! converted to UTF-8 (from the part's charset; bytes without a charset are
//! taken as UTF-8 when valid, else Latin-1, so nothing is lost). The diff is
//! never charset-converted: it is the bytes the transfer encoding gives, so a
//! Latin-1 byte in a patch reaches `git apply` as that byte.

use mailparse::body::Body;
use mailparse::{ParsedContentType, ParsedMail};
use std::collections::BTreeMap;
use std::ops::Range;

/// One mail of a series, cover letter included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub author_name: String,
    pub author_email: String,
    /// Seconds since the epoch and offset in minutes, from the Date header.
    pub date: Option<(i64, i32)>,
    /// Subject with the `[PATCH ...]` prefix removed.
    pub subject: String,
    /// The Subject header as sent, `[PATCH v3 0/5] ...` prefix included
    /// (what a reply's `Re:` subject quotes).
    pub subject_line: String,
    /// `(n, total)` from a `[PATCH vX n/total]` prefix, when present.
    pub number: Option<(usize, usize)>,
    /// Commit message body (after the subject, before the `---` line).
    pub message: String,
    /// The diff, from the first `diff --git` line, as bytes for `git apply`
    /// (transfer-decoded, never charset-converted); empty for a cover letter.
    pub diff: Vec<u8>,
    /// The Message-ID header, without its angle brackets.
    pub message_id: Option<String>,
    /// The `base-commit:` trailer `git format-patch --base` and b4 write
    /// (in the cover letter, or after the last patch's diff).
    pub base_commit: Option<String>,
}

impl Mail {
    /// A cover letter is patch 0 of N or a mail without any diff.
    pub fn is_cover_letter(&self) -> bool {
        matches!(self.number, Some((0, _))) || self.diff.is_empty()
    }

    /// The commit's author as (name, email): the email stands in for a
    /// missing name.
    pub fn git_author(&self) -> (&str, &str) {
        let name = if self.author_name.is_empty() {
            &self.author_email
        } else {
            &self.author_name
        };
        (name, &self.author_email)
    }
}

/// Split an mbox into its messages at `From ` separator lines (those that
/// look like one, as `git mailsplit` decides: `From <who> <date> <year>`).
/// Each message comes with the line of the file it starts at (from 1). Text
/// before the first separator is a message too unless it is blank.
pub fn split_mbox(data: &[u8]) -> Vec<(usize, &[u8])> {
    let mut starts = Vec::new();
    let mut pos = 0;
    for (i, line) in data.split_inclusive(|&b| b == b'\n').enumerate() {
        if is_from_line(line) {
            starts.push((pos, i + 1));
        }
        pos += line.len();
    }
    if starts.first().map(|s| s.0) != Some(0)
        && !is_blank(&data[..starts.first().map_or(data.len(), |s| s.0)])
    {
        starts.insert(0, (0, 1));
    }
    let mut out = Vec::new();
    for (i, &(s, line)) in starts.iter().enumerate() {
        let e = starts.get(i + 1).map_or(data.len(), |n| n.0);
        out.push((line, &data[s..e]));
    }
    out
}

fn is_blank(b: &[u8]) -> bool {
    b.iter().all(u8::is_ascii_whitespace)
}

/// `git mailsplit`'s test for an mbox separator: `From `, then somewhere an
/// `hh:mm` time followed by a year after 90.
fn is_from_line(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.len() < 19 || !line.starts_with(b"From ") {
        return false;
    }
    let Some(colon) = line.iter().rposition(|&b| b == b':') else {
        return false;
    };
    let digit = |i: Option<usize>| i.and_then(|i| line.get(i)).is_some_and(u8::is_ascii_digit);
    if colon < 9
        || !digit(colon.checked_sub(4))
        || !digit(colon.checked_sub(2))
        || !digit(colon.checked_sub(1))
        || !digit(Some(colon + 1))
        || !digit(Some(colon + 2))
    {
        return false;
    }
    let year: String = line[colon + 3..]
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take_while(|b| b.is_ascii_digit())
        .take(9)
        .map(|&b| b as char)
        .collect();
    year.parse::<u64>().is_ok_and(|y| y > 90)
}

/// Parse one message. Errors are plain strings; the caller adds the file
/// and line.
pub fn parse_mail(raw: &[u8]) -> Result<Mail, String> {
    // As `git mailsplit`: CRLF line ends are LF.
    let raw = crlf_to_lf(raw);
    let mut msg: &[u8] = &raw;
    if is_from_line(msg.split_inclusive(|&b| b == b'\n').next().unwrap_or(b"")) {
        msg = match msg.iter().position(|&b| b == b'\n') {
            Some(i) => &msg[i + 1..],
            None => b"",
        };
    }
    if !msg.starts_with(b"\n") && find(msg, b"\n\n").is_none() {
        return Err("no blank line between headers and body".into());
    }
    let parsed = mailparse::parse_mail(msg).map_err(|e| format!("cannot parse the mail: {e}"))?;
    let charset = parsed.ctype.params.get("charset").map(String::as_str);
    let from = header(&parsed, "From", charset).ok_or("no From: header")?;
    let raw_subject = header(&parsed, "Subject", charset).ok_or("no Subject: header")?;
    let mut author = parse_address(&from);
    let mut date = header(&parsed, "Date", charset).and_then(|d| parse_date(&d));
    let (number, mut subject) = strip_subject_prefix(&raw_subject);

    let body = Text::of(&parsed)?;
    let b = &body.bytes;
    // In-body "From:", "Subject:" and "Date:" lines override the mail's
    // headers (git am honours them); blank lines around them are skipped.
    let mut start = skip_blank_lines(b, 0);
    loop {
        let end = line_end(b, start);
        let line = body.text(start..end);
        let line = line.trim_end();
        let Some((name, value)) = line.split_once(':') else {
            break;
        };
        let value = decode_words(value.trim());
        if name.eq_ignore_ascii_case("From") {
            author = parse_address(&value);
        } else if name.eq_ignore_ascii_case("Subject") {
            subject = strip_subject_prefix(&value).1;
        } else if name.eq_ignore_ascii_case("Date") {
            date = parse_date(&value).or(date);
        } else {
            break;
        }
        start = skip_blank_lines(b, end);
    }

    let diff_start = find_line(&b[start..], |l| l.starts_with(b"diff --git ")).map(|i| start + i);
    let msg_end = diff_start.unwrap_or(b.len());
    // The message ends at the "---" line that precedes the diffstat.
    let msg_end =
        find_line(&b[start..msg_end], |l| trim_end(l) == b"---").map_or(msg_end, |i| start + i);
    let diff = match diff_start {
        Some(i) => strip_signature(&b[i..]).to_vec(),
        None => Vec::new(),
    };
    let base_commit = b.split(|&c| c == b'\n').find_map(|l| {
        let v = l.strip_prefix(b"base-commit: ")?;
        let v = std::str::from_utf8(trim_end(v)).ok()?;
        (v.len() == 40 && v.bytes().all(|c| c.is_ascii_hexdigit())).then(|| v.to_string())
    });
    let message_id = header(&parsed, "Message-ID", None)
        .map(|v| {
            v.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
        .filter(|v| !v.is_empty());
    Ok(Mail {
        author_name: author.0,
        author_email: author.1,
        date,
        subject,
        subject_line: raw_subject.split_whitespace().collect::<Vec<_>>().join(" "),
        number,
        message: body.text(start..msg_end).trim().to_string(),
        diff,
        message_id,
        base_commit,
    })
}

/// The text of a mail that carries the message and the patch, as bytes,
/// with the charset of each piece.
struct Text {
    bytes: Vec<u8>,
    /// `(range in bytes, charset)` of each part.
    parts: Vec<(Range<usize>, Option<String>)>,
}

impl Text {
    /// A single-part mail's body whatever its type; of a multipart mail its
    /// text/plain parts and patch attachments, in order.
    fn of(mail: &ParsedMail) -> Result<Text, String> {
        let mut t = Text {
            bytes: Vec::new(),
            parts: Vec::new(),
        };
        if mail.subparts.is_empty() {
            t.push(mail, false)?;
            return Ok(t);
        }
        t.push_leaves(mail)?;
        Ok(t)
    }

    /// The text leaves under `part`, depth first (mailparse bounds the depth).
    fn push_leaves(&mut self, part: &ParsedMail) -> Result<(), String> {
        if part.subparts.is_empty() {
            if is_text_or_patch(&part.ctype.mimetype) {
                self.push(part, true)?;
            }
            return Ok(());
        }
        for sub in &part.subparts {
            self.push_leaves(sub)?;
        }
        Ok(())
    }

    fn push(&mut self, part: &ParsedMail, own_line: bool) -> Result<(), String> {
        let (mut bytes, decoded) = match part.get_body_encoded() {
            Body::Base64(b) => (
                b.get_decoded()
                    .map_err(|e| format!("base64 body cannot be decoded: {e}"))?,
                true,
            ),
            Body::QuotedPrintable(b) => (qp_decode(b.get_raw()), true),
            Body::SevenBit(b) | Body::EightBit(b) => (b.get_raw().to_vec(), false),
            Body::Binary(b) => (b.get_raw().to_vec(), false),
        };
        if decoded {
            bytes = strip_canonical_crlf(bytes);
        }
        // A part ends at the line break before the next boundary.
        if own_line && !bytes.is_empty() && !bytes.ends_with(b"\n") {
            bytes.push(b'\n');
        }
        let start = self.bytes.len();
        self.bytes.extend_from_slice(&bytes);
        let charset = part.ctype.params.get("charset").cloned();
        self.parts.push((start..self.bytes.len(), charset));
        Ok(())
    }

    /// The bytes in `range` as text, each part's piece in its charset.
    fn text(&self, range: Range<usize>) -> String {
        let mut out = String::new();
        for (r, charset) in &self.parts {
            let (s, e) = (r.start.max(range.start), r.end.min(range.end));
            if s < e {
                out.push_str(&decode_text(&self.bytes[s..e], charset.as_deref()));
            }
        }
        out
    }
}

fn is_text_or_patch(mime: &str) -> bool {
    mime == "text/plain"
        || ((mime.starts_with("text/") || mime.starts_with("application/"))
            && (mime.ends_with("patch") || mime.ends_with("diff")))
}

/// Text in a charset as a String. Without a charset (or US-ASCII, which
/// 8-bit mail without a label claims), and for UTF-8 that is not valid,
/// the bytes are UTF-8 when valid and Latin-1 otherwise: nothing is lost.
fn decode_text(bytes: &[u8], charset: Option<&str>) -> String {
    let label = charset.map(|c| c.trim().to_ascii_lowercase());
    match label.as_deref() {
        None | Some("" | "us-ascii" | "ascii" | "utf-8" | "utf8") => utf8_or_latin1(bytes),
        Some(label) => {
            let ctype = ParsedContentType {
                mimetype: "text/plain".into(),
                charset: label.into(),
                params: BTreeMap::new(),
            };
            match Body::new(bytes, &ctype, &None) {
                Body::SevenBit(b) | Body::EightBit(b) => {
                    b.get_as_string().unwrap_or_else(|_| utf8_or_latin1(bytes))
                }
                _ => utf8_or_latin1(bytes),
            }
        }
    }
}

fn utf8_or_latin1(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|&b| b as char).collect(),
    }
}

/// A header's value: raw 8-bit bytes in the mail's charset (UTF-8 when
/// valid, as RFC 6532 allows), then RFC 2047 words decoded, folding undone.
fn header(mail: &ParsedMail, name: &str, charset: Option<&str>) -> Option<String> {
    let h = mail
        .headers
        .iter()
        .find(|h| h.get_key_ref().trim().eq_ignore_ascii_case(name))?;
    let raw = h.get_value_raw();
    let text = match std::str::from_utf8(raw) {
        Ok(s) => s.to_string(),
        Err(_) => decode_text(raw, charset),
    };
    Some(decode_words(&text))
}

/// RFC 2047 encoded words (`=?UTF-8?q?...?=`, `=?iso-8859-1?b?...?=`), in
/// their charsets, and header folding undone.
pub fn decode_words(s: &str) -> String {
    let line = format!("X: {s}");
    match mailparse::parse_header(line.as_bytes()) {
        Ok((h, _)) => h.get_value().trim().to_string(),
        Err(_) => s.trim().to_string(),
    }
}

/// Quoted-printable as `git mailinfo` decodes it: `=XX` is a byte, `=` at a
/// line end (blanks after it allowed) joins the lines, and everything else,
/// 8-bit bytes and trailing blanks included, is kept as it is.
fn qp_decode(raw: &[u8]) -> Vec<u8> {
    let hex = |b: Option<&u8>| b.and_then(|&b| (b as char).to_digit(16)).map(|v| v as u8);
    let mut out = Vec::with_capacity(raw.len());
    for line in raw.split_inclusive(|&b| b == b'\n') {
        let (content, newline) = match line.strip_suffix(b"\n") {
            Some(c) => (c, true),
            None => (line, false),
        };
        let mut soft = false;
        let mut i = 0;
        while i < content.len() {
            let b = content[i];
            if b == b'=' {
                let rest = &content[i + 1..];
                if rest.iter().all(|&c| c == b' ' || c == b'\t' || c == b'\r') {
                    soft = true;
                    break;
                }
                if let (Some(h), Some(l)) = (hex(rest.first()), hex(rest.get(1))) {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
            }
            out.push(b);
            i += 1;
        }
        if newline && !soft {
            out.push(b'\n');
        }
    }
    out
}

/// Text carried by base64 or quoted-printable is canonical, CRLF line ends
/// throughout: make those LF. A mix (a CRLF file's lines in an LF patch) is
/// left as it is.
fn strip_canonical_crlf(bytes: Vec<u8>) -> Vec<u8> {
    let lf = bytes.iter().filter(|&&b| b == b'\n').count();
    let crlf = bytes.windows(2).filter(|w| w == b"\r\n").count();
    if lf == 0 || crlf != lf {
        return bytes;
    }
    crlf_to_lf(&bytes)
}

fn crlf_to_lf(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    for (i, &c) in b.iter().enumerate() {
        if c == b'\r' && b.get(i + 1) == Some(&b'\n') {
            continue;
        }
        out.push(c);
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn trim_end(l: &[u8]) -> &[u8] {
    let n = l
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &l[..n]
}

/// The offset of the first line (without its newline) that `pred` accepts.
fn find_line(text: &[u8], pred: impl Fn(&[u8]) -> bool) -> Option<usize> {
    let mut pos = 0;
    for line in text.split_inclusive(|&b| b == b'\n') {
        if pred(line.strip_suffix(b"\n").unwrap_or(line)) {
            return Some(pos);
        }
        pos += line.len();
    }
    None
}

/// The offset after the line that starts at `start` (after its newline).
fn line_end(b: &[u8], start: usize) -> usize {
    b[start..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(b.len(), |i| start + i + 1)
}

fn skip_blank_lines(b: &[u8], mut start: usize) -> usize {
    while start < b.len() {
        let end = line_end(b, start);
        if !is_blank(&b[start..end]) {
            break;
        }
        start = end;
    }
    start
}

/// Drop the `-- \n<git version>` signature format-patch appends: the diff
/// ends at the first `-- ` line outside a hunk (inside one, as git apply
/// counts hunk lines, `-- ` is the removed line `- `).
fn strip_signature(diff: &[u8]) -> &[u8] {
    let (mut old, mut new) = (0u64, 0u64);
    let mut pos = 0;
    for line in diff.split_inclusive(|&b| b == b'\n') {
        let l = line.strip_suffix(b"\n").unwrap_or(line);
        let in_hunk = old > 0 || new > 0;
        match l.first() {
            Some(b' ') | None if in_hunk => {
                old = old.saturating_sub(1);
                new = new.saturating_sub(1);
            }
            Some(b'-') if in_hunk => old = old.saturating_sub(1),
            Some(b'+') if in_hunk => new = new.saturating_sub(1),
            Some(b'\\') if in_hunk => {}
            _ => {
                if l == b"-- " {
                    return &diff[..pos];
                }
                (old, new) = hunk_counts(l).unwrap_or((0, 0));
            }
        }
        pos += line.len();
    }
    diff
}

/// The old and new line counts of a hunk header `@@ -a[,b] +c[,d] @@`.
fn hunk_counts(l: &[u8]) -> Option<(u64, u64)> {
    let rest = std::str::from_utf8(l.strip_prefix(b"@@ -")?).ok()?;
    let (old, rest) = rest.split_once(" +")?;
    let (new, _) = rest.split_once(" @@")?;
    let count = |r: &str| match r.split_once(',') {
        Some((_, n)) => n.parse().ok(),
        None => r.parse::<u64>().ok().map(|_| 1),
    };
    Some((count(old)?, count(new)?))
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

/// `"Name" <mail>` or `Name <mail>` or `mail`. Characters an identity in a
/// git commit cannot hold (angle brackets, NUL, line breaks) are dropped.
fn parse_address(s: &str) -> (String, String) {
    let clean = |s: &str| {
        s.chars()
            .filter(|c| !matches!(c, '<' | '>' | '\0' | '\n' | '\r'))
            .collect::<String>()
            .trim()
            .to_string()
    };
    if let (Some(l), Some(r)) = (s.rfind('<'), s.rfind('>')) {
        if l < r {
            let name = s[..l].trim().trim_matches('"');
            return (clean(name), clean(&s[l + 1..r]));
        }
    }
    (String::new(), clean(s))
}

/// RFC 2822 date, e.g. `Wed, 10 Jun 2026 19:04:34 -0700`. Dates outside
/// 1970..=9999 and fields out of range give None.
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
    let year_text = it.next()?;
    let year: i64 = year_text.parse().ok()?;
    // RFC 5322 4.3: two-digit years from 50 are 19xx, below 20xx; three-digit
    // years are 1900 + year.
    let year = match year_text.len() {
        2 if year >= 50 => 1900 + year,
        2 => 2000 + year,
        3 => 1900 + year,
        _ => year,
    };
    let mut hms = it.next()?.split(':').map(|x| x.parse::<i64>().ok());
    let (h, m) = (hms.next()??, hms.next()??);
    let sec = hms.next().flatten().unwrap_or(0);
    if !(1970..=9999).contains(&year)
        || !(1..=31).contains(&day)
        || !(0..=23).contains(&h)
        || !(0..=59).contains(&m)
        || !(0..=60).contains(&sec)
    {
        return None;
    }
    let offset = match it.next() {
        None => 0,
        Some(tz) => parse_zone(tz)?,
    };
    let days = days_from_civil(year, month, day);
    let t = days * 86400 + h * 3600 + m * 60 + sec - offset as i64 * 60;
    (t >= 0).then_some((t, offset))
}

/// `+hhmm`/`-hhmm` or an RFC 822 zone name, in minutes east of UTC.
fn parse_zone(tz: &str) -> Option<i32> {
    let b = tz.as_bytes();
    if let Some(&s @ (b'+' | b'-')) = b.first() {
        if b.len() != 5 || !b[1..].iter().all(u8::is_ascii_digit) {
            return None;
        }
        let v: i32 = tz[1..].parse().ok()?;
        let (h, m) = (v / 100, v % 100);
        if h > 23 || m > 59 {
            return None;
        }
        return Some(if s == b'-' { -(h * 60 + m) } else { h * 60 + m });
    }
    let hours = match tz.to_ascii_uppercase().as_str() {
        "EDT" => -4,
        "EST" | "CDT" => -5,
        "CST" | "MDT" => -6,
        "MST" | "PDT" => -7,
        "PST" => -8,
        // UT, GMT, Z, military and unknown zones: RFC 5322 says -0000.
        _ => 0,
    };
    Some(hours * 60)
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm). Exact for years
/// within +-2^40; wraps (never panics) beyond.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y.wrapping_sub(1) } else { y };
    let era = if y >= 0 { y } else { y.wrapping_sub(399) } / 400;
    let yoe = y.wrapping_sub(era.wrapping_mul(400));
    let mp = m.wrapping_add(if m > 2 { -3 } else { 9 });
    let doy = (mp.wrapping_mul(153).wrapping_add(2) / 5)
        .wrapping_add(d)
        .wrapping_sub(1);
    let doe = yoe
        .wrapping_mul(365)
        .wrapping_add(yoe / 4)
        .wrapping_sub(yoe / 100)
        .wrapping_add(doy);
    era.wrapping_mul(146097)
        .wrapping_add(doe)
        .wrapping_sub(719468)
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

    fn parse(s: &str) -> Result<Mail, String> {
        parse_mail(s.as_bytes())
    }

    #[test]
    fn format_patch_fields() {
        let m = parse(PATCH).unwrap();
        assert_eq!(m.author_name, "Arve Hjønnevåg");
        assert_eq!(m.author_email, "arve@example.org");
        assert_eq!(m.subject, "mm: add a helper");
        assert_eq!(m.subject_line, "[PATCH v2 3/5] mm: add a helper");
        assert_eq!(m.number, Some((3, 5)));
        assert_eq!(
            m.message,
            "Why we do it.\n\nSigned-off-by: A <a@example.org>"
        );
        assert!(m.diff.starts_with(b"diff --git a/mm/x.c"));
        assert!(m.diff.ends_with(b"+b\n"), "{:?}", m.diff);
        assert_eq!(m.date, Some((1781143474, -420)));
        assert!(!m.is_cover_letter());
    }

    #[test]
    fn cover_letter_is_recognised() {
        let cover = "From: D <d@x>\nSubject: [PATCH v2 0/5] mm: things\n\nhello\n";
        let m = parse(cover).unwrap();
        assert!(m.is_cover_letter());
        let nodiff = "From: D <d@x>\nSubject: [PATCH] mm: note\n\njust words\n";
        assert!(parse(nodiff).unwrap().is_cover_letter());
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
        let parts = split_mbox(mbox.as_bytes());
        assert_eq!(parts.len(), 2);
        assert_eq!((parts[0].0, parts[1].0), (1, 7));
        let m = parse_mail(parts[1].1).unwrap();
        assert_eq!(m.author_name, "Real Author");
        assert_eq!(m.message.lines().next(), Some("Why we do it."));
    }

    #[test]
    fn only_separator_like_from_lines_split() {
        // A message line "From here on ..." is text, as for git mailsplit.
        let mbox = PATCH.replacen("Why we do it.", "Why we do it.\nFrom here on: all good.", 1);
        let parts = split_mbox(mbox.as_bytes());
        assert_eq!(parts.len(), 1);
        assert!(parse_mail(parts[0].1)
            .unwrap()
            .message
            .contains("From here on: all good."));
        // A bare mail without a separator, then one with.
        let two = format!("From: D <d@x>\nSubject: [PATCH 0/1] c\n\ncover\n\n{PATCH}");
        let parts = split_mbox(two.as_bytes());
        assert_eq!(parts.iter().map(|p| p.0).collect::<Vec<_>>(), vec![1, 6]);
        assert!(split_mbox(b" \n\n").is_empty());
    }

    #[test]
    fn subject_prefixes() {
        assert_eq!(
            strip_subject_prefix("[PATCH v3 02/10] x: y"),
            (Some((2, 10)), "x: y".into())
        );
        assert_eq!(strip_subject_prefix("[RFC] [PATCH] x"), (None, "x".into()));
        assert_eq!(decode_words("=?utf-8?b?SGVsbG8=?= world"), "Hello world");
        assert_eq!(decode_words("=?iso-8859-1?q?J=FCrgen?="), "J\u{fc}rgen");
    }

    #[test]
    fn bad_mail() {
        assert!(parse("no headers at all").is_err());
        assert!(parse("Subject: x\n\nbody").unwrap_err().contains("From"));
    }

    #[test]
    fn quoted_printable_as_git_mailinfo() {
        assert_eq!(qp_decode(b"a=3Db=\nc\n"), b"a=bc\n");
        assert_eq!(qp_decode(b"soft= \t\nx"), b"softx");
        // Not QP, kept: a lone '=', bad hex, 8-bit bytes, trailing blanks.
        assert_eq!(qp_decode(b"x =ZZ \xe9 \n"), b"x =ZZ \xe9 \n");
        assert_eq!(qp_decode(b"=4"), b"=4");
    }

    #[test]
    fn signature_is_cut_outside_hunks_only() {
        // Removing the line "- " gives a "-- " line inside the hunk.
        let d = b"diff --git a/l.md b/l.md\n--- a/l.md\n+++ b/l.md\n@@ -1,3 +1,2 @@\n a\n-- \n\n\
                  -- \n2.47.3\n\n";
        assert_eq!(
            strip_signature(d),
            &b"diff --git a/l.md b/l.md\n--- a/l.md\n+++ b/l.md\n@@ -1,3 +1,2 @@\n a\n-- \n\n"[..]
        );
        let m = parse(
            &PATCH
                .replace(" a\n+b\n", " a\n-- \n+b\n")
                .replace("-1 +1,2", "-1,2 +1,2"),
        )
        .unwrap();
        assert!(
            m.diff.ends_with(b" a\n-- \n+b\n"),
            "{:?}",
            String::from_utf8_lossy(&m.diff)
        );
        // No signature at all (a mail client's, or b4's, output).
        let d = b"diff --git a/l.md b/l.md\n--- a/l.md\n+++ b/l.md\n@@ -1,2 +1 @@\n a\n-- \n";
        assert_eq!(strip_signature(d), &d[..]);
        assert_eq!(hunk_counts(b"@@ -5 +5,0 @@ fn"), Some((1, 0)));
        assert_eq!(hunk_counts(b"@@ -x +5 @@"), None);
    }

    #[test]
    fn canonical_crlf_only() {
        assert_eq!(strip_canonical_crlf(b"a\r\nb\r\n".to_vec()), b"a\nb\n");
        assert_eq!(strip_canonical_crlf(b"a\nb\r\n".to_vec()), b"a\nb\r\n");
    }

    #[test]
    fn text_in_charsets() {
        assert_eq!(decode_text(b"caf\xe9", None), "caf\u{e9}");
        assert_eq!(decode_text(b"caf\xc3\xa9", None), "caf\u{e9}");
        assert_eq!(decode_text(b"caf\xe9", Some("UTF-8")), "caf\u{e9}");
        assert_eq!(decode_text(b"caf\xe9", Some("ISO-8859-1")), "caf\u{e9}");
        assert_eq!(decode_text(b"\xa4", Some("iso-8859-15")), "\u{20ac}");
        assert_eq!(decode_text(b"\xc1", Some("koi8-r")), "\u{430}");
    }

    #[test]
    fn dates_in_and_out_of_range() {
        assert_eq!(
            parse_date("Wed, 10 Jun 2026 19:04:34 -0700"),
            Some((1781143474, -420))
        );
        assert_eq!(
            parse_date("10 Jun 26 19:04:34 -0700"),
            Some((1781143474, -420))
        );
        assert_eq!(parse_date("Thu, 1 Jan 1970 00:00:00 GMT"), Some((0, 0)));
        assert_eq!(
            parse_date("Wed, 10 Jun 2026 21:04:34 CDT"),
            Some((1781143474, -300))
        );
        for bad in [
            "Wed, 10 Jun 99999999999999999 19:04:34 -0700",
            "Wed, 10 Jun 9223372036854775807 19:04:34 -0700",
            "Wed, 10 Jun -9223372036854775808 19:04:34 -0700",
            "Wed, 10 Jun 2026 19:04:34 +99999999",
            "Wed, 10 Jun 2026 24:00:00 +0000",
            "Thu, 1 Jan 1970 00:00:00 +0100",
            "Wed, 0 Jun 2026 19:04:34 -0700",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
        for y in [i64::MIN, -1, 0, i64::MAX] {
            days_from_civil(y, 1, 1);
            days_from_civil(y, i64::MAX, i64::MIN);
        }
    }
}

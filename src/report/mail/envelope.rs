//! The envelope of `report --format mail`: the RFC 5322 headers (From,
//! the series' authors as To and Cc, `Re:` subject, Date, a stable
//! Message-ID, In-Reply-To the cover letter), names and words encoded as
//! RFC 2047 wants, the mbox separator and escaping, and the dates they use.

use super::WIDTH;
use crate::report::load::Report;
use std::path::Path;

/// The domain of generated Message-IDs: reserved, never a real host.
pub const MSGID_DOMAIN: &str = "vmamatrix.invalid";

/// The From header when neither VMAMATRIX_FROM nor git config gives one.
pub const PLACEHOLDER_FROM: &str = "vmamatrix <vmamatrix@vmamatrix.invalid>";

/// How to write the mail.
#[derive(Debug, Clone)]
pub struct MailOptions {
    /// `Name <address>` of the sender; None: [`PLACEHOLDER_FROM`], and a
    /// note says so.
    pub from: Option<String>,
    /// The Date header, in seconds since the epoch (UTC).
    pub date: i64,
    /// One mbox message instead of a bare RFC 5322 message.
    pub mbox: bool,
}

impl MailOptions {
    /// The sender from VMAMATRIX_FROM or the kernel tree's git config, and
    /// the current time.
    pub fn now(r: &Report, mbox: bool) -> MailOptions {
        let date = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        MailOptions {
            from: sender(Path::new(&r.run.kernel)),
            date,
            mbox,
        }
    }
}

/// The mail and what the user should know before sending it.
#[derive(Debug, Clone)]
pub struct Message {
    pub text: String,
    /// Said on stderr: a placeholder sender, no Message-ID to reply to, an
    /// unfinished run.
    pub notes: Vec<String>,
}

/// The sender: `$VMAMATRIX_FROM`, else `git config user.name` and
/// `user.email` as git reads them in the kernel tree (its own config, then
/// the global one), as `git send-email` would.
pub fn sender(kernel: &Path) -> Option<String> {
    if let Some(v) = std::env::var("VMAMATRIX_FROM")
        .ok()
        .filter(|v| !v.trim().is_empty())
    {
        return Some(v.trim().to_string());
    }
    let get = |key: &str| -> Option<String> {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(kernel)
            .args(["config", "--get", key])
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (out.status.success() && !v.is_empty()).then_some(v)
    };
    let email = get("user.email")?;
    Some(match get("user.name") {
        Some(name) => format!("{name} <{email}>"),
        None => email,
    })
}

/// Headers, a blank line and the body; with `--mbox`, after a `From `
/// separator line, with body lines starting with "From " escaped as
/// ">From " (mboxo, as `git mailsplit` and Python's mailbox read it), and
/// an empty line at the end.
pub(super) fn assemble(headers: &str, body: &str, o: &MailOptions) -> String {
    let mut text = String::new();
    if o.mbox {
        text.push_str(&format!(
            "From vmamatrix@{MSGID_DOMAIN} {}\n",
            asctime(o.date)
        ));
    }
    text.push_str(headers);
    text.push('\n');
    for line in body.lines() {
        if o.mbox && line.starts_with("From ") {
            text.push('>');
        }
        text.push_str(line);
        text.push('\n');
    }
    if o.mbox {
        text.push('\n');
    }
    text
}

/// `<id>` with the angle brackets exactly once, whatever was recorded.
pub fn angle(id: &str) -> String {
    format!(
        "<{}>",
        id.trim().trim_start_matches('<').trim_end_matches('>')
    )
}

/// The header block (each line ends with `\n`) and the first addressee's
/// name.
pub(super) fn headers(
    r: &Report,
    o: &MailOptions,
    notes: &mut Vec<String>,
) -> (String, Option<String>) {
    let series = &r.run.series;
    let from = match &o.from {
        Some(f) => f.clone(),
        None => {
            notes.push(format!(
                "no sender: set VMAMATRIX_FROM=\"Name <address>\" or git config user.email \
                 in {}; the From header is the placeholder {PLACEHOLDER_FROM}",
                r.run.kernel
            ));
            PLACEHOLDER_FROM.to_string()
        }
    };
    // The series' authors, in patch order: the first is To, the others Cc.
    let mut authors: Vec<&str> = Vec::new();
    for p in &series.patches {
        if !p.author.trim().is_empty()
            && !authors.iter().any(|a| {
                split_address(a)
                    .1
                    .eq_ignore_ascii_case(&split_address(&p.author).1)
            })
        {
            authors.push(&p.author);
        }
    }
    if authors.is_empty() {
        notes.push("the series records no author: the mail has no To header".into());
    }
    // The subject as sent, `[PATCH v3 0/5]` included, as the 0-day robot
    // quotes it; runs recorded before the line was kept have only the
    // stripped subject.
    let subject = match (&series.cover_subject, series.patches.first()) {
        (Some(s), _) => series
            .cover_subject_line
            .clone()
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| s.clone()),
        (None, Some(p)) if !p.subject_line.is_empty() => p.subject_line.clone(),
        (None, Some(p)) => p.subject.clone(),
        (None, None) => series.path.clone(),
    };
    let reply_to = series
        .cover_message_id
        .as_deref()
        .or_else(|| series.patches.first()?.message_id.as_deref())
        .filter(|id| !id.trim().trim_matches(|c| c == '<' || c == '>').is_empty());
    if reply_to.is_none() {
        notes.push(
            "the series records no Message-ID (git format-patch without --thread, or not \
             taken from a list): the mail has no In-Reply-To; send it with \
             git send-email --in-reply-to=<the cover letter's Message-ID>"
                .into(),
        );
    }
    let mut h = String::new();
    h.push_str(&header("From", &address(&from)));
    if let Some((first, rest)) = authors.split_first() {
        h.push_str(&header("To", &address(first)));
        if !rest.is_empty() {
            let cc: Vec<String> = rest.iter().map(|a| address(a)).collect();
            h.push_str(&header("Cc", &cc.join(", ")));
        }
    }
    h.push_str(&header("Subject", &encode_words(&format!("Re: {subject}"))));
    h.push_str(&header("Date", &rfc2822(o.date)));
    h.push_str(&header("Message-ID", &message_id(r)));
    if let Some(id) = reply_to {
        h.push_str(&header("In-Reply-To", &angle(id)));
        h.push_str(&header("References", &angle(id)));
    }
    h.push_str("MIME-Version: 1.0\n");
    h.push_str("Content-Type: text/plain; charset=utf-8\n");
    h.push_str("Content-Transfer-Encoding: 8bit\n");
    let to_name = authors
        .first()
        .map(|a| split_address(a).0)
        .filter(|n| !n.is_empty());
    (h, to_name)
}

/// `<vmamatrix-RUN-SERIES@vmamatrix.invalid>`: the same for the same run
/// and series, so a mail sent twice is one message to the archives.
pub fn message_id(r: &Report) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
            .collect()
    };
    let hash = &r.run.series.hash;
    format!(
        "<vmamatrix-{}-{}@{MSGID_DOMAIN}>",
        clean(&r.run.run_id),
        clean(&hash[..12.min(hash.len())])
    )
}

/// `Name: value`, folded before a space so that no line is longer than 78
/// columns where the value allows it.
pub(super) fn header(name: &str, value: &str) -> String {
    let mut out = String::new();
    let mut line = format!("{name}:");
    for (i, word) in value.split(' ').enumerate() {
        if i > 0 && line.len() + 1 + word.len() > WIDTH && line.trim() != "" {
            out.push_str(&line);
            out.push('\n');
            line = String::new();
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// `("Name", "address")` of `Name <address>` (or of a bare address).
pub(super) fn split_address(s: &str) -> (String, String) {
    let s = s.trim();
    match (s.rfind('<'), s.rfind('>')) {
        (Some(l), Some(r)) if l < r => {
            let name = s[..l].trim();
            let name = match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
                Some(q) => q.replace("\\\"", "\"").replace("\\\\", "\\"),
                None => name.to_string(),
            };
            (name, s[l + 1..r].trim().to_string())
        }
        _ => (String::new(), s.to_string()),
    }
}

/// An address for a header: the name quoted when it holds specials, and
/// RFC 2047-encoded when it is not ASCII.
pub(super) fn address(s: &str) -> String {
    let (name, addr) = split_address(s);
    if name.is_empty() {
        return addr;
    }
    let name = if !name.is_ascii() {
        encode_words(&name)
    } else if name.chars().any(|c| "()<>[]:;@\\,.\"".contains(c)) {
        format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        name
    };
    format!("{name} <{addr}>")
}

/// A header text with its non-ASCII words as RFC 2047 Q-encoded words of
/// at most 75 characters; ASCII words as they are.
pub(super) fn encode_words(s: &str) -> String {
    if s.is_ascii() {
        return s.to_string();
    }
    // Encode from the first non-ASCII word to the end (the space between
    // encoded words is not part of the text, so spaces are encoded too).
    let start = s
        .split(' ')
        .scan(0, |pos, w| {
            let p = *pos;
            *pos += w.len() + 1;
            Some((p, w))
        })
        .find(|(_, w)| !w.is_ascii())
        .map(|(p, _)| p)
        .unwrap_or(0);
    let (plain, rest) = s.split_at(start);
    let mut words = Vec::new();
    let mut cur = String::new();
    for c in rest.chars() {
        let enc = match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '!' | '*' | '+' | '-' | '/' => c.to_string(),
            ' ' => "_".into(),
            _ => {
                let mut b = [0u8; 4];
                c.encode_utf8(&mut b)
                    .bytes()
                    .map(|x| format!("={x:02X}"))
                    .collect()
            }
        };
        // "=?UTF-8?Q?" + text + "?=" stays within 75 characters.
        if cur.len() + enc.len() > 75 - 12 {
            words.push(std::mem::take(&mut cur));
        }
        cur.push_str(&enc);
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    let enc: Vec<String> = words.iter().map(|w| format!("=?UTF-8?Q?{w}?=")).collect();
    format!("{plain}{}", enc.join(" "))
}

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn parts(t: i64) -> (&'static str, i64, &'static str, i64, i64, i64, i64) {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let (y, m, d) = crate::store::civil_from_days(days);
    (
        DAYS[days.rem_euclid(7) as usize],
        y,
        MONTHS[m as usize - 1],
        d,
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
    )
}

/// `Thu, 26 Nov 2026 07:13:19 +0000`.
pub fn rfc2822(t: i64) -> String {
    let (wd, y, mon, d, h, mi, s) = parts(t);
    format!("{wd}, {d} {mon} {y} {h:02}:{mi:02}:{s:02} +0000")
}

/// `Thu Nov 26 07:13:19 2026`, as asctime(3) writes it (mbox separators).
pub fn asctime(t: i64) -> String {
    let (wd, y, mon, d, h, mi, s) = parts(t);
    format!("{wd} {mon} {d:>2} {h:02}:{mi:02}:{s:02} {y}")
}

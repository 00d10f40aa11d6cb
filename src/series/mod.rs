//! Series intake: read a patch series (a `git format-patch` directory or one
//! mbox file), check it, and apply it with git2 on top of a base commit in
//! vmamatrix's own scratch repository. Only this module touches git.

mod apply;
mod export;
pub mod mail;

pub use apply::{Applied, Scratch};
pub use export::{export_tree, file_at};
pub use mail::Mail;

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// One patch of a series, numbered from 1 in series order.
#[derive(Debug, Clone)]
pub struct Patch {
    pub number: usize,
    pub source: PathBuf,
    /// The line of `source` where the patch's mail starts (from 1).
    pub line: usize,
    pub mail: Mail,
}

/// A parsed series: the cover letter (if any) and its patches in order.
#[derive(Debug, Clone)]
pub struct Series {
    pub path: PathBuf,
    pub cover: Option<Mail>,
    pub patches: Vec<Patch>,
    /// sha256 over the diffs and subjects, in order: names the series.
    pub hash: String,
}

/// What the results record about the series.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct SeriesInfo {
    pub path: String,
    pub hash: String,
    pub cover_subject: Option<String>,
    /// The cover letter's Subject header as sent (`[PATCH v3 0/5] ...`).
    #[serde(default)]
    pub cover_subject_line: Option<String>,
    /// The cover letter's Message-ID (what a reply is In-Reply-To).
    #[serde(default)]
    pub cover_message_id: Option<String>,
    /// The series' `base-commit:` trailer.
    #[serde(default)]
    pub base_commit: Option<String>,
    pub patches: Vec<PatchInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct PatchInfo {
    pub number: usize,
    pub subject: String,
    /// The Subject header as sent, `[PATCH ...]` prefix included.
    #[serde(default)]
    pub subject_line: String,
    pub author: String,
    pub files: Vec<String>,
    pub commit: Option<String>,
    #[serde(default)]
    pub message_id: Option<String>,
}

impl Series {
    /// Read a format-patch directory (`*.patch`, `*.mbox`, `*.eml`, sorted by
    /// name) or an mbox, and check it before anything is written: every
    /// diff parses, no path leaves the tree, every author and message can be
    /// a git commit's. Bad input is `Error::SeriesParse` or
    /// `Error::PathEscape` (exit code 4), naming the file and the line of the
    /// message or the patch.
    pub fn load(path: &Path) -> Result<Series> {
        let mut mails = Vec::new();
        if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| Error::io(path, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension()
                        .is_some_and(|x| x == "patch" || x == "mbox" || x == "eml")
                })
                .collect();
            files.sort();
            for f in files {
                read_mails(&f, &mut mails)?;
            }
        } else {
            read_mails(path, &mut mails)?;
        }
        let mut cover = None;
        let mut patches = Vec::new();
        for (source, line, m) in mails {
            if m.is_cover_letter() {
                if cover.is_none() && patches.is_empty() {
                    cover = Some(m);
                }
                continue;
            }
            patches.push(Patch {
                number: patches.len() + 1,
                source,
                line,
                mail: m,
            });
        }
        if patches.is_empty() {
            return Err(Error::SeriesParse {
                path: path.to_path_buf(),
                msg: "no patches found (expected *.patch files from git format-patch, or an mbox)"
                    .into(),
            });
        }
        let mut h = Sha256::new();
        for p in &patches {
            h.update(p.mail.subject.as_bytes());
            h.update([0]);
            h.update(&p.mail.diff);
            h.update([0]);
        }
        let hash = hex(&h.finalize());
        let series = Series {
            path: path.to_path_buf(),
            cover,
            patches,
            hash,
        };
        series.check_paths()?;
        series.check_commits()?;
        Ok(series)
    }

    /// Refuse any patch whose paths leave the tree, before anything is
    /// written: the paths the diff headers name, and the paths git2 itself
    /// makes of them (unquoted, prefix stripped) when it applies the diff.
    /// A diff git2 cannot parse is refused here too.
    pub fn check_paths(&self) -> Result<()> {
        for p in &self.patches {
            let refuse = |path: &str, why: &str| Error::PathEscape {
                number: p.number,
                subject: p.mail.subject.clone(),
                msg: format!(
                    "path {path:?} {why} (in {}, mail at line {})",
                    p.source.display(),
                    p.line
                ),
            };
            for path in diff_paths(&p.mail.diff) {
                if let Some(why) = bad_path(&path) {
                    return Err(refuse(&path, why));
                }
            }
            let diff = git2::Diff::from_buffer(&p.mail.diff)
                .map_err(|e| p.bad(&format!("the diff cannot be parsed: {}", e.message())))?;
            for d in diff.deltas() {
                for f in [d.old_file(), d.new_file()] {
                    let Some(path) = f.path_bytes() else { continue };
                    let path = String::from_utf8_lossy(path);
                    if path == "/dev/null" {
                        continue;
                    }
                    if let Some(why) = bad_path(&path) {
                        return Err(refuse(&path, why));
                    }
                }
            }
        }
        Ok(())
    }

    /// Every patch can become a commit: git accepts its author, and its
    /// subject and message hold no NUL byte.
    fn check_commits(&self) -> Result<()> {
        for p in &self.patches {
            let m = &p.mail;
            if m.subject.contains('\0') || m.message.contains('\0') {
                return Err(p.bad("the commit message contains a NUL byte"));
            }
            let (name, email) = m.git_author();
            git2::Signature::new(name, email, &git2::Time::new(0, 0)).map_err(|e| {
                p.bad(&format!(
                    "author {name:?} <{email}> cannot be a git author: {}",
                    e.message()
                ))
            })?;
        }
        Ok(())
    }

    /// Every path the series touches, in first-seen order, without duplicates.
    pub fn touched_files(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for p in &self.patches {
            for f in diff_paths(&p.mail.diff) {
                if f != "/dev/null" && !out.contains(&f) {
                    out.push(f);
                }
            }
        }
        out
    }

    /// The `base-commit:` trailer: the cover letter's, else the last
    /// patch's (format-patch puts it there without a cover letter).
    pub fn base_commit(&self) -> Option<&str> {
        self.cover
            .as_ref()
            .and_then(|c| c.base_commit.as_deref())
            .or_else(|| {
                self.patches
                    .iter()
                    .rev()
                    .find_map(|p| p.mail.base_commit.as_deref())
            })
    }

    pub fn info(&self, applied: Option<&Applied>) -> SeriesInfo {
        SeriesInfo {
            path: self.path.display().to_string(),
            hash: self.hash.clone(),
            cover_subject: self.cover.as_ref().map(|c| c.subject.clone()),
            cover_subject_line: self.cover.as_ref().map(|c| c.subject_line.clone()),
            cover_message_id: self.cover.as_ref().and_then(|c| c.message_id.clone()),
            base_commit: self.base_commit().map(str::to_string),
            patches: self
                .patches
                .iter()
                .map(|p| {
                    let mut files: Vec<String> = Vec::new();
                    for f in diff_paths(&p.mail.diff) {
                        if f != "/dev/null" && !files.contains(&f) {
                            files.push(f);
                        }
                    }
                    PatchInfo {
                        number: p.number,
                        subject: p.mail.subject.clone(),
                        subject_line: p.mail.subject_line.clone(),
                        author: format!("{} <{}>", p.mail.author_name, p.mail.author_email),
                        files,
                        commit: applied.and_then(|a| a.commits.get(p.number - 1).cloned()),
                        message_id: p.mail.message_id.clone(),
                    }
                })
                .collect(),
        }
    }
}

impl Patch {
    /// A series error about this patch, naming its file and line.
    fn bad(&self, msg: &str) -> Error {
        Error::SeriesParse {
            path: self.source.clone(),
            msg: format!(
                "patch {} \"{}\" (mail at line {}): {msg}",
                self.number, self.mail.subject, self.line
            ),
        }
    }
}

/// Every mail of one file, with the line it starts at.
fn read_mails(file: &Path, out: &mut Vec<(PathBuf, usize, Mail)>) -> Result<()> {
    let bytes = std::fs::read(file).map_err(|e| Error::io(file, e))?;
    for (k, (line, raw)) in mail::split_mbox(&bytes).into_iter().enumerate() {
        let m = mail::parse_mail(raw).map_err(|msg| Error::SeriesParse {
            path: file.to_path_buf(),
            msg: format!("message {} (line {line}): {msg}", k + 1),
        })?;
        out.push((file.to_path_buf(), line, m));
    }
    Ok(())
}

/// The paths named by a diff's file headers (both sides; `/dev/null` left
/// out), C-quoted names unquoted, `a/` and `b/` stripped. Lines inside hunks
/// are content, not headers, and are skipped.
pub fn diff_paths(diff: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_header = false;
    let text = |p: &[u8]| String::from_utf8_lossy(p).into_owned();
    for line in diff.split(|&b| b == b'\n') {
        if let Some(rest) = line.strip_prefix(b"diff --git ") {
            in_header = true;
            out.extend(git_header_paths(rest).iter().map(|p| text(p)));
        } else if !in_header {
            continue;
        } else if line.starts_with(b"@@ ") {
            in_header = false;
        } else if let Some(p) = line
            .strip_prefix(b"--- ")
            .or_else(|| line.strip_prefix(b"+++ "))
        {
            let p = match unquote(p) {
                Some((p, _)) => p,
                None => p.split(|&b| b == b'\t').next().unwrap_or(p).to_vec(),
            };
            if p != b"/dev/null" {
                out.push(text(strip_side(&p)));
            }
        } else if let Some(p) = [
            &b"rename from "[..],
            b"rename to ",
            b"rename old ",
            b"rename new ",
            b"copy from ",
            b"copy to ",
        ]
        .iter()
        .find_map(|k| line.strip_prefix(*k))
        {
            out.push(text(&unquote(p).map_or_else(|| p.to_vec(), |(p, _)| p)));
        }
    }
    out.dedup();
    out
}

/// The two paths of `diff --git a/X b/Y` (either may be C-quoted).
fn git_header_paths(rest: &[u8]) -> Vec<Vec<u8>> {
    if let Some((a, after)) = unquote(rest) {
        let b = after.strip_prefix(b" ").unwrap_or(after);
        let b = unquote(b).map_or_else(|| b.to_vec(), |(b, _)| b);
        return vec![strip_side(&a).to_vec(), strip_side(&b).to_vec()];
    }
    // "a/X b/Y": split at " b/" or before a quoted second name (paths with
    // spaces are rare in kernels); else the whole rest is one name.
    let split = find(rest, b" b/").or_else(|| find(rest, b" \""));
    match split {
        Some(i) => {
            let b = &rest[i + 1..];
            let b = unquote(b).map_or_else(|| b.to_vec(), |(b, _)| b);
            vec![strip_side(&rest[..i]).to_vec(), strip_side(&b).to_vec()]
        }
        None => vec![rest.to_vec()],
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn strip_side(p: &[u8]) -> &[u8] {
    p.strip_prefix(b"a/")
        .or_else(|| p.strip_prefix(b"b/"))
        .unwrap_or(p)
}

/// A C-quoted name as git writes unusual paths (`"a/caf\303\251.c"`):
/// the unquoted bytes and what follows the closing quote. None when `s`
/// does not start with a quote or the quote is not closed.
fn unquote(s: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let mut rest = s.strip_prefix(b"\"")?;
    let mut out = Vec::new();
    loop {
        let (&c, r) = rest.split_first()?;
        rest = r;
        match c {
            b'"' => return Some((out, rest)),
            b'\\' => {
                let (&e, r) = rest.split_first()?;
                rest = r;
                let byte = match e {
                    b'a' => 7,
                    b'b' => 8,
                    b't' => b'\t',
                    b'n' => b'\n',
                    b'v' => 11,
                    b'f' => 12,
                    b'r' => b'\r',
                    b'0'..=b'3' => {
                        let d = |i: usize| rest.get(i).filter(|c| (b'0'..=b'7').contains(c));
                        let (d1, d2) = (d(0)?, d(1)?);
                        rest = &rest[2..];
                        ((e - b'0') << 6) | ((d1 - b'0') << 3) | (d2 - b'0')
                    }
                    other => other,
                };
                out.push(byte);
            }
            c => out.push(c),
        }
    }
}

/// Why a path from a diff may not be applied, if it may not: it must stay
/// in the tree and out of `.git` (in any case, as git itself refuses it),
/// with no empty, `.` or `..` component.
fn bad_path(p: &str) -> Option<&'static str> {
    if p.starts_with('/') {
        return Some("is absolute");
    }
    for comp in p.split('/') {
        if comp == ".." {
            return Some("leaves the tree through '..'");
        }
        if comp.eq_ignore_ascii_case(".git") {
            return Some("writes into .git");
        }
        if comp.is_empty() || comp == "." {
            return Some("has an empty or '.' component");
        }
    }
    None
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_from_diff_headers() {
        let d = "diff --git a/mm/a.c b/mm/a.c\n--- a/mm/a.c\n+++ b/mm/a.c\n@@ -1 +1 @@\n-x\n+y\n\
                 diff --git a/x b/y\nrename from x\nrename to y\n";
        assert_eq!(diff_paths(d.as_bytes()), vec!["mm/a.c", "x", "y", "x", "y"]);
    }

    #[test]
    fn paths_are_headers_only_and_unquoted() {
        // A removed line "-- ../x" reads "--- ../x": content, not a header.
        let d = b"diff --git a/sql/q.sql b/sql/q.sql\n--- a/sql/q.sql\n+++ b/sql/q.sql\n\
                  @@ -1,2 +1 @@\n--- ../x\n+++ /etc\n \n\
                  diff --git \"a/caf\\303\\251 \\\"x\\\".c\" \"b/caf\\303\\251 \\\"x\\\".c\"\n\
                  new file mode 100644\n--- /dev/null\n+++ \"b/caf\\303\\251 \\\"x\\\".c\"\n";
        assert_eq!(diff_paths(d), vec!["sql/q.sql", "caf\u{e9} \"x\".c"]);
        assert_eq!(
            unquote(b"\"a\\tb\\056\" rest"),
            Some((b"a\tb.".to_vec(), &b" rest"[..]))
        );
        assert_eq!(unquote(b"\"open"), None);
        assert_eq!(unquote(b"\"bad\\9\""), Some((b"bad9".to_vec(), &b""[..])));
        assert_eq!(unquote(b"\"short\\1\""), None);
        assert_eq!(unquote(b"plain"), None);
    }

    #[test]
    fn escaping_paths() {
        assert!(bad_path("../etc/passwd").is_some());
        assert!(bad_path("/etc/passwd").is_some());
        assert!(bad_path("a/../../b").is_some());
        assert!(bad_path(".git/config").is_some());
        assert!(bad_path("mm/vma.c").is_none());
        assert!(bad_path("tools/testing/vma/..c").is_none());
        assert!(bad_path("mm/.GIT/config").is_some());
        assert!(bad_path("mm//x").is_some());
        assert!(bad_path("./mm/x").is_some());
        assert!(bad_path("").is_some());
        assert!(bad_path(".gitignore").is_none());
    }
}

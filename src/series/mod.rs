//! Series intake: read a patch series (a `git format-patch` directory or one
//! mbox file), check it, and apply it with git2 on top of a base commit in
//! vmamatrix's own scratch repository. Only this module touches git.

mod apply;
mod export;
pub mod mail;

pub use apply::{Applied, Scratch};
pub use export::export_tree;
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SeriesInfo {
    pub path: String,
    pub hash: String,
    pub cover_subject: Option<String>,
    pub patches: Vec<PatchInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PatchInfo {
    pub number: usize,
    pub subject: String,
    pub author: String,
    pub files: Vec<String>,
    pub commit: Option<String>,
}

impl Series {
    /// Read a format-patch directory (`*.patch`, sorted by name) or an mbox.
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
                let text = std::fs::read_to_string(&f).map_err(|e| Error::io(&f, e))?;
                for raw in mail::split_mbox(&text) {
                    let m = mail::parse_mail(raw).map_err(|msg| Error::SeriesParse {
                        path: f.clone(),
                        msg,
                    })?;
                    mails.push((f.clone(), m));
                }
            }
        } else {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            for (i, raw) in mail::split_mbox(&text).into_iter().enumerate() {
                let m = mail::parse_mail(raw).map_err(|msg| Error::SeriesParse {
                    path: path.to_path_buf(),
                    msg: format!("message {}: {msg}", i + 1),
                })?;
                mails.push((path.to_path_buf(), m));
            }
        }
        let mut cover = None;
        let mut patches = Vec::new();
        for (source, m) in mails {
            if m.is_cover_letter() {
                if cover.is_none() && patches.is_empty() {
                    cover = Some(m);
                }
                continue;
            }
            patches.push(Patch {
                number: patches.len() + 1,
                source,
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
            h.update(p.mail.diff.as_bytes());
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
        Ok(series)
    }

    /// Refuse any patch whose paths leave the tree, before anything is written.
    pub fn check_paths(&self) -> Result<()> {
        for p in &self.patches {
            for path in diff_paths(&p.mail.diff) {
                if let Some(why) = bad_path(&path) {
                    return Err(Error::PathEscape {
                        number: p.number,
                        subject: p.mail.subject.clone(),
                        msg: format!("path {path:?} {why} (in {})", p.source.display()),
                    });
                }
            }
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

    pub fn info(&self, applied: Option<&Applied>) -> SeriesInfo {
        SeriesInfo {
            path: self.path.display().to_string(),
            hash: self.hash.clone(),
            cover_subject: self.cover.as_ref().map(|c| c.subject.clone()),
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
                        author: format!("{} <{}>", p.mail.author_name, p.mail.author_email),
                        files,
                        commit: applied.and_then(|a| a.commits.get(p.number - 1).cloned()),
                    }
                })
                .collect(),
        }
    }
}

/// The paths named by a diff's headers (both sides).
pub fn diff_paths(diff: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in diff.lines() {
        if let Some(rest) = line.strip_prefix("diff --git ") {
            // "a/X b/Y": split at " b/" (paths with spaces are rare in kernels).
            if let Some((a, b)) = rest.split_once(" b/") {
                out.push(a.strip_prefix("a/").unwrap_or(a).to_string());
                out.push(b.to_string());
            } else {
                out.push(rest.to_string());
            }
        } else if let Some(p) = line
            .strip_prefix("--- ")
            .or_else(|| line.strip_prefix("+++ "))
        {
            let p = p.split('\t').next().unwrap_or(p);
            if p != "/dev/null" {
                let p = p
                    .strip_prefix("a/")
                    .or_else(|| p.strip_prefix("b/"))
                    .unwrap_or(p);
                out.push(p.to_string());
            }
        } else if let Some(p) = ["rename from ", "rename to ", "copy from ", "copy to "]
            .iter()
            .find_map(|k| line.strip_prefix(k))
        {
            out.push(p.to_string());
        }
    }
    out.dedup();
    out
}

fn bad_path(p: &str) -> Option<&'static str> {
    if p.starts_with('/') {
        return Some("is absolute");
    }
    for comp in p.split('/') {
        if comp == ".." {
            return Some("leaves the tree through '..'");
        }
        if comp == ".git" {
            return Some("writes into .git");
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
        assert_eq!(diff_paths(d), vec!["mm/a.c", "x", "y", "x", "y"]);
    }

    #[test]
    fn escaping_paths() {
        assert!(bad_path("../etc/passwd").is_some());
        assert!(bad_path("/etc/passwd").is_some());
        assert!(bad_path("a/../../b").is_some());
        assert!(bad_path(".git/config").is_some());
        assert!(bad_path("mm/vma.c").is_none());
        assert!(bad_path("tools/testing/vma/..c").is_none());
    }
}

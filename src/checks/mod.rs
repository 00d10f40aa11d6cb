//! Per-patch checks, as netdev's NIPA runs them before a maintainer looks:
//! `scripts/checkpatch.pl --strict`, a Signed-off-by of the author (DCO),
//! whitespace errors in added lines, and `scripts/kernel-doc -Wall` warnings
//! the series adds to the files it touches. A failed check is a finding;
//! it is a regression only with `run --strict-checks`.

pub mod run;

use crate::series::mail::Mail;
use serde::{Deserialize, Serialize};

/// What checkpatch said of one patch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Checkpatch {
    pub errors: u32,
    pub warnings: u32,
    pub checks: u32,
    /// `LEVEL: message` lines, in order.
    pub messages: Vec<String>,
    /// The command that reproduces it.
    pub command: String,
}

/// The checks of one patch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PatchChecks {
    pub number: usize,
    pub subject: String,
    /// None when checkpatch could not run (the reason is in `notes`).
    pub checkpatch: Option<Checkpatch>,
    /// Sign-off problems (empty: the author signed off).
    pub dco: Vec<String>,
    /// Added lines with trailing blanks or a space before a tab.
    pub whitespace: Vec<String>,
    pub notes: Vec<String>,
}

impl PatchChecks {
    /// Anything a maintainer would send back.
    pub fn findings(&self) -> usize {
        self.checkpatch
            .as_ref()
            .map_or(0, |c| (c.errors + c.warnings + c.checks) as usize)
            + self.dco.len()
            + self.whitespace.len()
    }
}

/// All checks of a series.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SeriesChecks {
    pub patches: Vec<PatchChecks>,
    /// kernel-doc warnings in the touched files that base does not have.
    pub kernel_doc_new: Vec<String>,
    pub kernel_doc_command: String,
}

/// Read checkpatch's `--terse --show-types` output:
/// `file:11: ERROR:TRAILING_WHITESPACE: trailing whitespace` (the type is
/// optional, for output without `--show-types`).
pub fn parse_checkpatch(out: &str) -> Checkpatch {
    let mut c = Checkpatch::default();
    for line in out.lines() {
        for (level, n) in [
            ("ERROR:", &mut c.errors),
            ("WARNING:", &mut c.warnings),
            ("CHECK:", &mut c.checks),
        ] {
            let Some(i) = line.find(&format!(": {level}")) else {
                continue;
            };
            *n += 1;
            c.messages.push(line[i + 2..].to_string());
        }
    }
    c
}

/// The author's Signed-off-by, as the DCO asks: present, and the author's.
pub fn dco(mail: &Mail) -> Vec<String> {
    let sobs: Vec<&str> = mail
        .message
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Signed-off-by:"))
        .map(str::trim)
        .collect();
    if sobs.is_empty() {
        return vec!["no Signed-off-by".into()];
    }
    let email = mail.author_email.to_ascii_lowercase();
    if sobs
        .iter()
        .any(|s| s.to_ascii_lowercase().contains(&format!("<{email}>")))
    {
        vec![]
    } else {
        vec![format!(
            "no Signed-off-by of the author <{}> (found: {})",
            mail.author_email,
            sobs.join("; ")
        )]
    }
}

/// Whitespace errors of the lines a diff adds (what `git apply
/// --whitespace=error` refuses): trailing blanks, a space before a tab in
/// the indent.
pub fn whitespace(diff: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(diff);
    let mut file = String::new();
    let mut line_no = 0u32;
    let mut out = Vec::new();
    for l in text.lines() {
        if let Some(f) = l.strip_prefix("+++ b/") {
            file = f.to_string();
        } else if let Some(h) = l.strip_prefix("@@ ") {
            line_no = h
                .split_whitespace()
                .find_map(|w| w.strip_prefix('+'))
                .and_then(|w| w.split(',').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
        } else if let Some(added) = l.strip_prefix('+') {
            if added.ends_with(' ') || added.ends_with('\t') {
                out.push(format!("{file}:{line_no}: trailing whitespace"));
            }
            let indent: String = added
                .chars()
                .take_while(|c| *c == ' ' || *c == '\t')
                .collect();
            if indent.contains(" \t") {
                out.push(format!("{file}:{line_no}: space before tab in indent"));
            }
            line_no += 1;
        } else if !l.starts_with('-') && !l.starts_with('\\') {
            line_no += 1;
        }
    }
    out
}

/// One kernel-doc warning as (file, text), from the Python kernel-doc of
/// 7.x (`Warning: mm/a.c:5 function parameter ...`) or the Perl one
/// (`mm/a.c:5: warning: function parameter ...`); line numbers dropped, so
/// a warning that only moved is not new.
fn kernel_doc_warning(l: &str) -> Option<(String, String)> {
    if let Some(rest) = l.strip_prefix("Warning: ") {
        let (loc, text) = rest.split_once(' ')?;
        let file = loc.rsplit_once(':').map_or(loc, |(f, _)| f);
        return Some((file.to_string(), text.trim().to_string()));
    }
    let (loc, text) = l.split_once(": warning: ")?;
    let file = loc.split(':').next()?;
    Some((file.to_string(), text.trim().to_string()))
}

/// kernel-doc warnings of patched that base lacks, as a multiset.
pub fn new_kernel_doc(base: &str, patched: &str) -> Vec<String> {
    let mut seen: std::collections::BTreeMap<(String, String), usize> = Default::default();
    for w in base.lines().filter_map(kernel_doc_warning) {
        *seen.entry(w).or_default() += 1;
    }
    let mut out = Vec::new();
    for l in patched.lines() {
        let Some(w) = kernel_doc_warning(l) else {
            continue;
        };
        match seen.get_mut(&w) {
            Some(n) if *n > 0 => *n -= 1,
            _ => out.push(l.trim().to_string()),
        }
    }
    out
}

/// checkpatch's type for a commit id it could not look up.
const UNKNOWN_COMMIT_ID: &str = "WARNING:UNKNOWN_COMMIT_ID:";

/// When the kernel tree's history starts at the base (a source import, a
/// shallow clone), checkpatch cannot look up the commits a patch names
/// (`Fixes:`, "commit <sha>") and says "Unknown commit id" of every one:
/// a fact of the tree, not of the patch. Take those warnings out of the
/// counts and say, in the notes, what was not checked and why.
pub fn set_aside_unknown_commits(c: &mut Checkpatch, base: &str) -> Vec<String> {
    let (unknown, rest): (Vec<String>, Vec<String>) = std::mem::take(&mut c.messages)
        .into_iter()
        .partition(|m| m.starts_with(UNKNOWN_COMMIT_ID));
    c.messages = rest;
    c.warnings = c.warnings.saturating_sub(unknown.len() as u32);
    unknown
        .iter()
        .map(|m| {
            format!(
                "checkpatch warned \"{}\", not counted in E/W/C: the kernel tree's \
                 history starts at base {}, so the commit could not be looked up; check \
                 it in a tree with history",
                m[UNKNOWN_COMMIT_ID.len()..].trim(),
                &base[..12.min(base.len())]
            )
        })
        .collect()
}

/// A patch as checkpatch reads it, from the parsed mail.
pub fn patch_text(mail: &Mail) -> Vec<u8> {
    let mut t = format!(
        "From: {} <{}>\nSubject: [PATCH] {}\n\n{}\n---\n",
        mail.author_name, mail.author_email, mail.subject, mail.message
    )
    .into_bytes();
    t.extend_from_slice(&mail.diff);
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(message: &str, diff: &str) -> Mail {
        Mail {
            subject_line: String::new(),
            author_name: "Ann Author".into(),
            author_email: "ann@example.org".into(),
            date: None,
            subject: "mm: x".into(),
            number: None,
            message: message.into(),
            diff: diff.as_bytes().to_vec(),
            message_id: None,
            base_commit: None,
        }
    }

    #[test]
    fn unknown_commit_ids_are_set_aside_when_history_starts_at_base() {
        let mut c = parse_checkpatch(
            "p.patch:30: WARNING:UNKNOWN_COMMIT_ID: Unknown commit id '8220543df148', maybe rebased or not pulled?\n\
             p.patch:31: WARNING:LONG_LINE: line length of 101 exceeds 100 columns\n",
        );
        let notes = set_aside_unknown_commits(&mut c, "63b6e41f90d2bf8a09c5473ccdc5472424443fe4");
        assert_eq!(c.warnings, 1);
        assert_eq!(
            c.messages,
            vec!["WARNING:LONG_LINE: line length of 101 exceeds 100 columns"]
        );
        assert_eq!(
            notes,
            vec![
                "checkpatch warned \"Unknown commit id '8220543df148', maybe rebased or not \
                 pulled?\", not counted in E/W/C: the kernel tree's history starts at base \
                 63b6e41f90d2, so the commit could not be looked up; check it in a tree with \
                 history"
            ]
        );
    }

    #[test]
    fn checkpatch_terse_output() {
        // As checkpatch.pl of Linux 7.3 prints it with --terse --show-types.
        let c = parse_checkpatch(
            "/tmp/t.patch:11: ERROR:TRAILING_WHITESPACE: trailing whitespace\n\
             /tmp/t.patch:11: ERROR:MISSING_SIGN_OFF: Missing Signed-off-by: line(s)\n\
             /tmp/t.patch:20: CHECK:PARENTHESIS_ALIGNMENT: Alignment should match open parenthesis\n\
             /tmp/t.patch:30: WARNING: no type given\n\
             total: 2 errors, 1 warnings, 1 checks, 2 lines checked\n",
        );
        assert_eq!((c.errors, c.warnings, c.checks), (2, 1, 1));
        assert_eq!(
            c.messages[0],
            "ERROR:TRAILING_WHITESPACE: trailing whitespace"
        );
    }

    #[test]
    fn sign_off_must_be_the_authors() {
        assert_eq!(
            dco(&mail(
                "x\n\nSigned-off-by: Ann Author <ann@example.org>",
                ""
            )),
            Vec::<String>::new()
        );
        assert_eq!(dco(&mail("x", "")), ["no Signed-off-by"]);
        let other = dco(&mail("x\n\nSigned-off-by: Bob <bob@example.org>", ""));
        assert!(
            other[0].contains("<ann@example.org>") && other[0].contains("Bob"),
            "{other:?}"
        );
    }

    #[test]
    fn whitespace_of_added_lines_only() {
        let d = "diff --git a/mm/a.c b/mm/a.c\n--- a/mm/a.c\n+++ b/mm/a.c\n@@ -1,2 +1,4 @@\n int a; \n+int b; \n \tint c;\n+ \tint d;\n-int e; \n";
        assert_eq!(
            whitespace(d.as_bytes()),
            [
                "mm/a.c:2: trailing whitespace",
                "mm/a.c:4: space before tab in indent"
            ]
        );
    }

    #[test]
    fn kernel_doc_new_warnings_ignore_line_shifts() {
        // As the Python kernel-doc of Linux 7.3 prints them.
        let base = "Warning: mm/a.c:10 function parameter 'x' not described in 'f'\n";
        let patched = "Warning: mm/a.c:12 function parameter 'x' not described in 'f'\n\
                       Warning: mm/a.c:40 No description found for return value of 'g'\n";
        assert_eq!(
            new_kernel_doc(base, patched),
            ["Warning: mm/a.c:40 No description found for return value of 'g'"]
        );
        // And the Perl one of older trees.
        assert_eq!(
            new_kernel_doc(
                "mm/a.c:10: warning: x\n",
                "mm/a.c:11: warning: x\nmm/b.c:3: warning: y\n"
            ),
            ["mm/b.c:3: warning: y"]
        );
    }
}

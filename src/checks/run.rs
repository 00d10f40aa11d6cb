//! The checks' runner: checkpatch on every patch (with the tree's own
//! script), the DCO and whitespace checks, and kernel-doc on the touched
//! files at base and at patched (read from the scratch repository, so the
//! shared source directory is not switched for them).

use super::{PatchChecks, SeriesChecks};
use crate::error::{Error, Result};
use crate::proc;
use crate::stage::StageCtx;
use crate::store;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// checkpatch.pl (as the tree names it) and the options it runs with.
const CHECKPATCH_ARGS: [&str; 5] = [
    "scripts/checkpatch.pl",
    "--strict",
    "--no-tree",
    "--terse",
    "--show-types",
];

/// checkpatch.pl of `tree` on `patch`, as the checks run it: in the tree,
/// with `git_dir` (the tree's history) as GIT_DIR, since checkpatch looks
/// up the commits a patch names (`Fixes:`, "commit <sha>") with git in its
/// working directory, which would otherwise be the caller's.
pub fn checkpatch_command(tree: &Path, git_dir: &Path, patch: &Path) -> Command {
    // checkpatch runs in the tree: a relative patch path (a relative
    // results directory) would name a file there.
    let patch = std::path::absolute(patch).unwrap_or_else(|_| patch.to_path_buf());
    let mut c = Command::new("perl");
    c.arg(tree.join(CHECKPATCH_ARGS[0]))
        .args(&CHECKPATCH_ARGS[1..])
        .arg(patch)
        .current_dir(tree)
        .env("GIT_DIR", git_dir);
    c
}

/// Run every check of the series; results and logs go to `dir`.
pub fn run(ctx: &StageCtx, dir: &Path) -> Result<SeriesChecks> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let p = ctx.p;
    let checkpatch = p.src().join(CHECKPATCH_ARGS[0]);
    let mut out = SeriesChecks::default();
    let history = has_history_before(p.git_dir(), &p.applied.base)
        && !git2::Repository::open(&p.matrix.kernel).is_ok_and(|r| r.is_shallow());
    for patch in &p.series.patches {
        let file = dir.join(format!("patch-{}.patch", patch.number));
        store::write_atomic(&file, &super::patch_text(&patch.mail))?;
        let mut notes = vec![];
        let cp = if checkpatch.is_file() {
            let log = dir.join(format!("patch-{}.checkpatch.log", patch.number));
            let _ = std::fs::remove_file(&log);
            let c = checkpatch_command(&p.src(), p.git_dir(), &file);
            match proc::run_logged(c, &log, Duration::from_secs(300)) {
                // checkpatch exits 0 when it finds nothing, 1 when it finds
                // something; anything else (2: it could not read the patch,
                // a signal, the time limit) is no verdict at all.
                Ok(o) if !matches!(o, proc::Outcome::Exited(0 | 1)) => {
                    let text = std::fs::read_to_string(&log).unwrap_or_default();
                    let last = text.lines().last().unwrap_or("no output").to_string();
                    notes.push(format!("checkpatch did not finish ({o:?}): {last}"));
                    None
                }
                Ok(_) => {
                    let text = std::fs::read_to_string(&log).unwrap_or_default();
                    let mut r = super::parse_checkpatch(&text);
                    if !history {
                        notes.extend(super::set_aside_unknown_commits(&mut r, &p.applied.base));
                    }
                    // Placeholders, as kernel-doc's: the run directory
                    // moves (merge, curation) and the work tree is ours.
                    let shown = CHECKPATCH_ARGS.map(String::from);
                    r.command = format!(
                        "cd <tree> && {} <run>/checks/{}",
                        proc::shell_line("perl", &shown),
                        file.file_name().unwrap_or_default().to_string_lossy()
                    );
                    Some(r)
                }
                Err(e) => {
                    notes.push(format!("checkpatch did not run: {e}"));
                    None
                }
            }
        } else {
            notes.push(format!("checkpatch not run: no {}", checkpatch.display()));
            None
        };
        out.patches.push(PatchChecks {
            number: patch.number,
            subject: patch.mail.subject.clone(),
            checkpatch: cp,
            dco: super::dco(&patch.mail),
            whitespace: super::whitespace(&patch.mail.diff),
            notes,
        });
    }
    let (new, command) = kernel_doc(ctx, dir)?;
    out.kernel_doc_new = new;
    out.kernel_doc_command = command;
    store::write_json(&dir.join("checks.json"), &out)?;
    Ok(out)
}

/// Whether the repository knows a parent of `base`: if not (a source
/// import, a clone of depth 1), checkpatch cannot look up the commits that
/// patches name. When in doubt, yes (checkpatch's word stands). A deeper
/// shallow clone has the parent; the caller asks the kernel tree itself.
fn has_history_before(git_dir: &Path, base: &str) -> bool {
    let Ok(repo) = git2::Repository::open(git_dir) else {
        return true;
    };
    let commit = git2::Oid::from_str(base).and_then(|o| repo.find_commit(o));
    commit.map_or(true, |c| c.parent(0).is_ok())
}

/// kernel-doc -none -Wall over the series' C and header files, at base
/// and at patched; the warnings patched adds.
fn kernel_doc(ctx: &StageCtx, dir: &Path) -> Result<(Vec<String>, String)> {
    let p = ctx.p;
    let script = p.src().join("scripts/kernel-doc");
    let files: Vec<String> = ctx
        .touched
        .iter()
        .filter(|f| f.ends_with(".c") || f.ends_with(".h"))
        .cloned()
        .collect();
    if !script.is_file() || files.is_empty() {
        return Ok((vec![], String::new()));
    }
    let mut said = Vec::new();
    let mut command = String::new();
    for (tree, commit) in [
        ("base", &p.applied.base),
        ("patched", &p.applied.head().to_string()),
    ] {
        let root = dir.join(format!("kernel-doc-{tree}"));
        let _ = std::fs::remove_dir_all(&root);
        let mut present = Vec::new();
        for f in &files {
            if let Some(data) = p.file_at(commit, f)? {
                store::write_atomic(&root.join(f), &data)?;
                present.push(f.clone());
            }
        }
        let log = dir.join(format!("kernel-doc-{tree}.log"));
        let _ = std::fs::remove_file(&log);
        let mut args = vec![
            script.display().to_string(),
            "-none".to_string(),
            "-Wall".to_string(),
        ];
        args.extend(present);
        let mut c = Command::new(&args[0]);
        c.args(&args[1..]).current_dir(&root);
        let _ = proc::run_logged(c, &log, Duration::from_secs(300));
        said.push(std::fs::read_to_string(&log).unwrap_or_default());
        command = format!("cd <tree> && {}", proc::shell_line(&args[0], &args[1..]));
        let _ = std::fs::remove_dir_all(&root);
    }
    Ok((super::new_kernel_doc(&said[0], &said[1]), command))
}

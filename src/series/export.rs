//! Writing a commit's tree into a plain directory (vmamatrix's source tree
//! for out-of-tree builds). Switching the directory to another commit
//! rewrites only the files that differ, so make rebuilds only what changed.

use crate::error::{Error, Result};
use git2::{Delta, ObjectType, Oid, Repository, TreeWalkMode, TreeWalkResult};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// How a directory was brought to a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    /// Already at that commit: nothing written.
    Unchanged,
    /// Updated from another commit: `n` files written or removed.
    Incremental(usize),
    /// Written from scratch: `n` files.
    Full(usize),
}

fn stamp_path(dir: &Path) -> PathBuf {
    let mut s = dir.as_os_str().to_owned();
    s.push(".commit");
    PathBuf::from(s)
}

/// Bring `dir` to exactly the tree of `commit` from the repository at `repo_path`.
pub fn export_tree(repo_path: &Path, commit: &str, dir: &Path) -> Result<Export> {
    let repo = Repository::open(repo_path)?;
    let target = repo.find_commit(Oid::from_str(commit)?)?.tree()?;
    let stamp = stamp_path(dir);
    let state = std::fs::read_to_string(&stamp).unwrap_or_default();
    let mut ids = state.split_whitespace();
    let from = ids.next().map(str::to_string);
    let pending = ids.next().map(str::to_string);
    if dir.exists() && from.as_deref() == Some(commit) && pending.is_none() {
        return Ok(Export::Unchanged);
    }
    let old_tree = from
        .as_deref()
        .filter(|_| dir.exists())
        .and_then(|f| Oid::from_str(f).ok())
        .and_then(|o| repo.find_commit(o).ok())
        .and_then(|c| c.tree().ok());
    let write_stamp = |s: String| std::fs::write(&stamp, s).map_err(|e| Error::io(&stamp, e));

    if let Some(old) = old_tree {
        // Record both ends first: an interrupted update is redone from `from`.
        write_stamp(format!(
            "{} {commit}\n",
            from.as_deref().unwrap_or_default()
        ))?;
        let diff = repo.diff_tree_to_tree(Some(&old), Some(&target), None)?;
        let mut writes = Vec::new();
        let mut removes = Vec::new();
        for d in diff.deltas() {
            match d.status() {
                Delta::Deleted => removes.push(d.old_file().path().unwrap().to_path_buf()),
                _ => {
                    if let Some(old) = d.old_file().path() {
                        if d.status() != Delta::Added && d.old_file().path() != d.new_file().path()
                        {
                            removes.push(old.to_path_buf());
                        }
                    }
                    let f = d.new_file();
                    writes.push((f.path().unwrap().to_path_buf(), f.id(), u32::from(f.mode())));
                }
            }
        }
        for r in &removes {
            let p = dir.join(r);
            if p.symlink_metadata().is_ok() {
                std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
            }
        }
        let n = removes.len() + writes.len();
        write_entries(repo_path, dir, &writes)?;
        write_stamp(format!("{commit}\n"))?;
        return Ok(Export::Incremental(n));
    }

    let _ = std::fs::remove_file(&stamp);
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mut entries = Vec::new();
    target.walk(TreeWalkMode::PreOrder, |root, e| {
        if e.kind() == Some(ObjectType::Blob) {
            let p = PathBuf::from(root).join(e.name().unwrap_or_default());
            entries.push((p, e.id(), e.filemode() as u32));
        }
        TreeWalkResult::Ok
    })?;
    write_entries(repo_path, dir, &entries)?;
    write_stamp(format!("{commit}\n"))?;
    Ok(Export::Full(entries.len()))
}

fn write_entries(repo_path: &Path, dir: &Path, entries: &[(PathBuf, Oid, u32)]) -> Result<()> {
    entries.par_chunks(512).try_for_each_init(
        || Repository::open(repo_path),
        |repo, chunk| -> Result<()> {
            let repo = repo.as_ref().map_err(|e| Error::Git(e.message().into()))?;
            for (rel, oid, mode) in chunk {
                write_one(repo, &dir.join(rel), *oid, *mode)?;
            }
            Ok(())
        },
    )
}

fn write_one(repo: &Repository, path: &Path, oid: Oid, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let blob = repo.find_blob(oid)?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    if path.symlink_metadata().is_ok() {
        std::fs::remove_file(path).map_err(|e| Error::io(path, e))?;
    }
    if mode == 0o120000 {
        let target = String::from_utf8_lossy(blob.content()).into_owned();
        std::os::unix::fs::symlink(target, path).map_err(|e| Error::io(path, e))?;
    } else {
        std::fs::write(path, blob.content()).map_err(|e| Error::io(path, e))?;
        if mode == 0o100755 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| Error::io(path, e))?;
        }
    }
    Ok(())
}

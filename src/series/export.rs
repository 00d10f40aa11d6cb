//! Writing a commit's tree into a plain directory (vmamatrix's source tree
//! for out-of-tree builds). Switching the directory to another commit
//! rewrites only the files that differ, so make rebuilds only what changed.

use crate::error::{Error, Result};
use git2::{ObjectType, Oid, Repository, TreeWalkMode, TreeWalkResult};
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
    // The stamp names the commit the directory last matched whole, then
    // every commit a switch was under way to when it was cut off: each
    // file holds the content of one of them.
    let state = std::fs::read_to_string(&stamp).unwrap_or_default();
    let ids: Vec<&str> = state.split_whitespace().collect();
    let from = ids.first().copied();
    let pending = ids.get(1..).unwrap_or_default();
    if dir.exists() && from == Some(commit) && pending.is_empty() {
        return Ok(Export::Unchanged);
    }
    let tree_of = |id: &str| {
        Oid::from_str(id)
            .ok()
            .and_then(|o| repo.find_commit(o).ok())
            .and_then(|c| c.tree().ok())
    };
    let old_tree = from.filter(|_| dir.exists()).and_then(tree_of);
    let write_stamp = |s: String| std::fs::write(&stamp, s).map_err(|e| Error::io(&stamp, e));

    if let (Some(from), Some(old)) = (from, old_tree) {
        let mut ends: Vec<&str> = pending.to_vec();
        ends.push(commit);
        ends.dedup();
        // Record every end first: an interrupted switch is redone from
        // `from` over all of them.
        write_stamp(format!("{from} {}\n", ends.join(" ")))?;
        // Every path that may differ from `from`: what any interrupted
        // switch may have written, and what this one must.
        let mut paths = std::collections::BTreeSet::new();
        for end in &ends {
            let Some(t) = tree_of(end) else {
                // An end no longer in the repository: start afresh.
                return full_export(repo_path, &target, commit, dir, &stamp);
            };
            let diff = repo.diff_tree_to_tree(Some(&old), Some(&t), None)?;
            for d in diff.deltas() {
                paths.extend(d.old_file().path().map(Path::to_path_buf));
                paths.extend(d.new_file().path().map(Path::to_path_buf));
            }
        }
        let mut writes = Vec::new();
        let mut removes = 0;
        for rel in &paths {
            match target.get_path(rel) {
                Ok(e) if e.kind() == Some(ObjectType::Blob) => {
                    writes.push((rel.clone(), e.id(), e.filemode() as u32));
                }
                _ => {
                    let p = dir.join(rel);
                    if p.symlink_metadata().is_ok_and(|m| !m.is_dir()) {
                        std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
                        removes += 1;
                    }
                }
            }
        }
        // Files already equal to the target are left alone (and keep their
        // mtime), so make rebuilds only what really changed.
        writes.retain(|(rel, oid, mode)| !same_content(&dir.join(rel), *oid, *mode));
        let n = removes + writes.len();
        match switch_pause() {
            // Tests kill a run in the middle of a switch: one file at a
            // time, with a pause after each.
            Some(pause) => {
                for w in &writes {
                    write_entries(repo_path, dir, std::slice::from_ref(w))?;
                    std::thread::sleep(pause);
                }
            }
            None => write_entries(repo_path, dir, &writes)?,
        }
        write_stamp(format!("{commit}\n"))?;
        return Ok(Export::Incremental(n));
    }
    full_export(repo_path, &target, commit, dir, &stamp)
}

/// `VMAMATRIX_TEST_SWITCH_PAUSE_MS`: a pause after each file written by an
/// incremental switch, so that tests can interrupt one half-way.
fn switch_pause() -> Option<std::time::Duration> {
    std::env::var("VMAMATRIX_TEST_SWITCH_PAUSE_MS")
        .ok()?
        .parse()
        .ok()
        .map(std::time::Duration::from_millis)
}

/// Whether the file at `path` already holds blob `oid`.
fn same_content(path: &Path, oid: Oid, mode: u32) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = path.symlink_metadata() else {
        return false;
    };
    let data = if mode == 0o120000 {
        if !meta.file_type().is_symlink() {
            return false;
        }
        match std::fs::read_link(path) {
            Ok(t) => t.as_os_str().as_encoded_bytes().to_vec(),
            Err(_) => return false,
        }
    } else {
        let exec = meta.permissions().mode() & 0o111 != 0;
        if !meta.is_file() || exec != (mode == 0o100755) {
            return false;
        }
        match std::fs::read(path) {
            Ok(d) => d,
            Err(_) => return false,
        }
    };
    Oid::hash_object(ObjectType::Blob, &data).ok() == Some(oid)
}

/// Write the whole tree of `commit` into a fresh `dir`.
fn full_export(
    repo_path: &Path,
    target: &git2::Tree,
    commit: &str,
    dir: &Path,
    stamp: &Path,
) -> Result<Export> {
    let write_stamp = |s: String| std::fs::write(stamp, s).map_err(|e| Error::io(stamp, e));
    let _ = std::fs::remove_file(stamp);
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
    // A directory in the old tree where the new one has a file.
    if path.symlink_metadata().is_ok() {
        crate::store::remove_path(path)?;
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

/// The content of `path` in `commit` of the repository at `repo_path`
/// (None when the file does not exist there).
pub fn file_at(repo_path: &Path, commit: &str, path: &str) -> Result<Option<Vec<u8>>> {
    let repo = Repository::open(repo_path)?;
    let tree = repo.find_commit(Oid::from_str(commit)?)?.tree()?;
    let Ok(entry) = tree.get_path(Path::new(path)) else {
        return Ok(None);
    };
    Ok(repo
        .find_blob(entry.id())
        .ok()
        .map(|b| b.content().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A repository with two commits; returns (repo dir, A, B).
    fn two_commits() -> (tempfile::TempDir, String, String) {
        let d = tempfile::tempdir().unwrap();
        let repo = Repository::init(d.path()).unwrap();
        let sig = git2::Signature::now("t", "t@example.org").unwrap();
        let commit = |files: &[(&str, &str)], parent: Option<Oid>| -> Oid {
            let mut tb = repo.treebuilder(None).unwrap();
            for (name, text) in files {
                let blob = repo.blob(text.as_bytes()).unwrap();
                tb.insert(name, blob, 0o100644).unwrap();
            }
            let tree = repo.find_tree(tb.write().unwrap()).unwrap();
            let parents: Vec<git2::Commit> = parent
                .iter()
                .map(|p| repo.find_commit(*p).unwrap())
                .collect();
            let refs: Vec<&git2::Commit> = parents.iter().collect();
            repo.commit(None, &sig, &sig, "c", &tree, &refs).unwrap()
        };
        let a = commit(&[("a.txt", "A\n"), ("c.txt", "only in A\n")], None);
        let b = commit(&[("a.txt", "B\n"), ("b.txt", "only in B\n")], Some(a));
        (d, a.to_string(), b.to_string())
    }

    fn read(dir: &Path, f: &str) -> Option<String> {
        std::fs::read_to_string(dir.join(f)).ok()
    }

    #[test]
    fn switch_back_after_an_interrupted_switch_restores_the_tree() {
        let (repo, a, b) = two_commits();
        let out = tempfile::tempdir().unwrap();
        let src = out.path().join("src");
        assert!(matches!(
            export_tree(repo.path(), &a, &src).unwrap(),
            Export::Full(2)
        ));
        // A switch A -> B cut off after writing part of B: the stamp says
        // both ends, a.txt and b.txt already hold B's content.
        std::fs::write(stamp_path(&src), format!("{a} {b}\n")).unwrap();
        std::fs::write(src.join("a.txt"), "B\n").unwrap();
        std::fs::write(src.join("b.txt"), "only in B\n").unwrap();
        // The next run asks for A again.
        export_tree(repo.path(), &a, &src).unwrap();
        assert_eq!(read(&src, "a.txt").as_deref(), Some("A\n"));
        assert_eq!(read(&src, "b.txt"), None);
        assert_eq!(read(&src, "c.txt").as_deref(), Some("only in A\n"));
        assert_eq!(
            std::fs::read_to_string(stamp_path(&src)).unwrap(),
            format!("{a}\n")
        );
        // And a whole switch to B after that is exact too.
        export_tree(repo.path(), &b, &src).unwrap();
        assert_eq!(read(&src, "a.txt").as_deref(), Some("B\n"));
        assert_eq!(read(&src, "b.txt").as_deref(), Some("only in B\n"));
        assert_eq!(read(&src, "c.txt"), None);
        assert_eq!(
            export_tree(repo.path(), &b, &src).unwrap(),
            Export::Unchanged
        );
    }

    #[test]
    fn unchanged_files_keep_their_mtime() {
        let (repo, a, b) = two_commits();
        let out = tempfile::tempdir().unwrap();
        let src = out.path().join("src");
        export_tree(repo.path(), &a, &src).unwrap();
        // Interrupted before anything was written: nothing is rewritten.
        std::fs::write(stamp_path(&src), format!("{a} {b}\n")).unwrap();
        let before = std::fs::metadata(src.join("a.txt"))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(
            export_tree(repo.path(), &a, &src).unwrap(),
            Export::Incremental(0)
        );
        let after = std::fs::metadata(src.join("a.txt"))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(before, after);
    }

    #[test]
    fn mode_changes_and_a_directory_that_becomes_a_file() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let repo = Repository::init(d.path()).unwrap();
        let sig = git2::Signature::now("t", "t@example.org").unwrap();
        let blob = repo.blob(b"echo hi\n").unwrap();
        let mut sub = repo.treebuilder(None).unwrap();
        sub.insert("y", blob, 0o100644).unwrap();
        let sub = sub.write().unwrap();
        let mut a = repo.treebuilder(None).unwrap();
        a.insert("s.sh", blob, 0o100644).unwrap();
        a.insert("x", sub, 0o040000).unwrap();
        let a = repo.find_tree(a.write().unwrap()).unwrap();
        let ca = repo.commit(None, &sig, &sig, "a", &a, &[]).unwrap();
        let mut b = repo.treebuilder(None).unwrap();
        b.insert("s.sh", blob, 0o100755).unwrap();
        b.insert("x", blob, 0o100644).unwrap();
        let b = repo.find_tree(b.write().unwrap()).unwrap();
        let parent = repo.find_commit(ca).unwrap();
        let cb = repo.commit(None, &sig, &sig, "b", &b, &[&parent]).unwrap();
        let out = tempfile::tempdir().unwrap();
        let src = out.path().join("src");
        export_tree(d.path(), &ca.to_string(), &src).unwrap();
        export_tree(d.path(), &cb.to_string(), &src).unwrap();
        assert!(src.join("x").is_file());
        let mode = std::fs::metadata(src.join("s.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111, "{mode:o}");
        export_tree(d.path(), &ca.to_string(), &src).unwrap();
        assert!(src.join("x/y").is_file());
        let mode = std::fs::metadata(src.join("s.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0, "{mode:o}");
    }
}

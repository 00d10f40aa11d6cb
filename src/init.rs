//! What vmamatrix brings with it, and what it takes from where it runs.
//!
//! The default matrix.toml and configs/ (with the debug overlay) are built
//! into the binary (build.rs writes the table of `include_str!`s), so a
//! vmamatrix made by `cargo install` works from any directory. Without a
//! matrix.toml the built-in one is used from a copy under the cache,
//! `defaults/<digest>/`, named by its content and written whole (staged,
//! then renamed), so the configure commands it prints name real files.
//! `vmamatrix init [DIR]` writes the same files out for editing.
//!
//! Inside a kernel tree, that tree is the default kernel, as checkpatch,
//! b4 and kunit.py assume.
//!
//! Presentation only: listed in build.rs's PRESENTATION so that it stays
//! out of the source identity, like cli/ itself.

use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

mod table {
    include!(concat!(env!("OUT_DIR"), "/defaults.rs"));
}

/// The built-in files: `(path relative to the matrix directory, text)`,
/// matrix.toml first.
pub fn files() -> &'static [(&'static str, &'static str)] {
    table::FILES
}

/// The built-in matrix.toml's text.
pub fn matrix_toml() -> &'static str {
    files()[0].1
}

/// A hash of every built-in path and text (16 hex digits).
pub fn digest() -> String {
    let mut h = Sha256::new();
    for (path, text) in files() {
        h.update(path.as_bytes());
        h.update([0]);
        h.update(text.as_bytes());
        h.update([0]);
    }
    crate::series::hex(&h.finalize())[..16].to_string()
}

fn write_all(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for (rel, text) in files() {
        let p = dir.join(rel);
        crate::store::write_atomic(&p, text.as_bytes())?;
        out.push(p);
    }
    Ok(out)
}

/// The built-in matrix.toml as a file: `<cache>/defaults/<digest>/matrix.toml`
/// with its configs/ beside it. Made once per content, in a staging
/// directory renamed into place, so a reader never sees half of it.
pub fn materialize(cache: &Path) -> Result<PathBuf> {
    let root = cache.join("defaults");
    let dir = root.join(digest());
    let matrix = dir.join("matrix.toml");
    if matrix.is_file() {
        return Ok(matrix);
    }
    std::fs::create_dir_all(&root).map_err(|e| Error::io(&root, e))?;
    let staged = tempfile::Builder::new()
        .prefix(".staging-")
        .tempdir_in(&root)
        .map_err(|e| Error::io(&root, e))?;
    write_all(staged.path())?;
    let staged = staged.keep();
    match std::fs::rename(&staged, &dir) {
        Ok(()) => {}
        // Another vmamatrix put the same content there first.
        Err(_) if matrix.is_file() => {
            let _ = std::fs::remove_dir_all(&staged);
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staged);
            return Err(Error::io(&dir, e));
        }
    }
    if let Ok(d) = std::fs::File::open(&root) {
        let _ = d.sync_all();
    }
    Ok(matrix)
}

/// `vmamatrix init DIR`: write the built-in matrix.toml and configs/ into
/// `dir`. Without `force`, nothing is written when any of them exists.
pub fn write(dir: &Path, force: bool) -> Result<Vec<PathBuf>> {
    if !force {
        let existing: Vec<PathBuf> = files()
            .iter()
            .map(|(rel, _)| dir.join(rel))
            .filter(|p| p.exists())
            .collect();
        if let Some(first) = existing.first() {
            let more = match existing.len() - 1 {
                0 => String::new(),
                n => format!(" (and {n} more of the files init writes)"),
            };
            return Err(Error::Usage(format!(
                "init: {} already exists{more}; nothing was written \
                 (pass --force to overwrite them with the built-in files)",
                first.display()
            )));
        }
    }
    write_all(dir)
}

/// Is `dir` the top of a Linux source tree? Its Makefile starts with the
/// `VERSION =` and `PATCHLEVEL =` lines, and Kbuild and arch/ are there.
pub fn is_kernel_tree(dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(dir.join("Makefile")) else {
        return false;
    };
    let head: Vec<&str> = text.lines().take(20).collect();
    let has = |key: &str| {
        head.iter().any(|l| {
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
    };
    has("VERSION") && has("PATCHLEVEL") && dir.join("Kbuild").is_file() && dir.join("arch").is_dir()
}

/// The kernel tree `start` is in (itself or its nearest ancestor that is
/// one), as checkpatch, b4 and kunit.py find it.
pub fn enclosing_kernel_tree(start: &Path) -> Option<PathBuf> {
    let start = start.canonicalize().ok()?;
    start
        .ancestors()
        .find(|d| is_kernel_tree(d))
        .map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_the_checkout_s_matrix_and_configs() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        assert_eq!(files()[0].0, "matrix.toml");
        let mut on_disk = vec!["matrix.toml".to_string()];
        let mut stack = vec![root.join("configs")];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                if e.path().is_dir() {
                    stack.push(e.path());
                } else {
                    let rel = e.path().strip_prefix(root).unwrap().to_path_buf();
                    on_disk.push(rel.to_string_lossy().into_owned());
                }
            }
        }
        on_disk[1..].sort();
        let table: Vec<String> = files().iter().map(|(p, _)| p.to_string()).collect();
        assert_eq!(table, on_disk);
        for (rel, text) in files() {
            assert_eq!(std::fs::read_to_string(root.join(rel)).unwrap(), *text);
        }
        assert!(table.contains(&"configs/debug.toml".to_string()));
        assert!(table.contains(&"configs/debug/base.config".to_string()));
    }

    #[test]
    fn materialize_is_content_addressed_and_whole() {
        let cache = tempfile::tempdir().unwrap();
        let m = materialize(cache.path()).unwrap();
        assert_eq!(
            m,
            cache
                .path()
                .join("defaults")
                .join(digest())
                .join("matrix.toml")
        );
        assert_eq!(std::fs::read_to_string(&m).unwrap(), matrix_toml());
        let dir = m.parent().unwrap();
        for (rel, text) in files() {
            assert_eq!(std::fs::read_to_string(dir.join(rel)).unwrap(), *text);
        }
        // Again: the same file, and no staging directory left behind.
        assert_eq!(materialize(cache.path()).unwrap(), m);
        let left: Vec<_> = std::fs::read_dir(cache.path().join("defaults"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left, [std::ffi::OsString::from(digest())]);
        // The matrix it names loads, with the configs beside it.
        let mx = crate::matrix::Matrix::load(Some(&m), &Default::default()).unwrap();
        assert_eq!(mx.configs, [dir.join("configs")]);
        assert_eq!(mx.cells().len(), 28);
    }

    #[test]
    fn init_refuses_to_overwrite_unless_forced() {
        let d = tempfile::tempdir().unwrap();
        let written = write(d.path(), false).unwrap();
        assert_eq!(written.len(), files().len());
        std::fs::write(d.path().join("configs/x86.config"), "# mine\n").unwrap();
        let e = write(d.path(), false).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::exit::USAGE);
        let msg = e.to_string();
        assert!(msg.contains("matrix.toml already exists"), "{msg}");
        assert!(msg.contains("--force"), "{msg}");
        assert_eq!(
            std::fs::read_to_string(d.path().join("configs/x86.config")).unwrap(),
            "# mine\n"
        );
        // Only one file there: it is the one named.
        let e2 = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(e2.path().join("configs")).unwrap();
        std::fs::write(e2.path().join("configs/up.config"), "").unwrap();
        let msg = write(e2.path(), false).unwrap_err().to_string();
        assert!(msg.contains("configs/up.config already exists;"), "{msg}");
        assert!(!e2.path().join("matrix.toml").exists());
        write(d.path(), true).unwrap();
        assert_ne!(
            std::fs::read_to_string(d.path().join("configs/x86.config")).unwrap(),
            "# mine\n"
        );
    }

    #[test]
    fn finds_the_enclosing_kernel_tree() {
        let d = tempfile::tempdir().unwrap();
        let k = d.path().join("linux");
        std::fs::create_dir_all(k.join("arch/x86")).unwrap();
        std::fs::create_dir_all(k.join("mm/sub")).unwrap();
        std::fs::write(
            k.join("Makefile"),
            "# SPDX-License-Identifier: GPL-2.0\nVERSION = 7\nPATCHLEVEL = 3\nSUBLEVEL = 4\n",
        )
        .unwrap();
        assert!(!is_kernel_tree(&k), "no Kbuild yet");
        std::fs::write(k.join("Kbuild"), "").unwrap();
        assert!(is_kernel_tree(&k));
        let k = k.canonicalize().unwrap();
        assert_eq!(enclosing_kernel_tree(&k.join("mm/sub")), Some(k.clone()));
        assert_eq!(enclosing_kernel_tree(&k), Some(k.clone()));
        assert_eq!(enclosing_kernel_tree(d.path()), None);
        // A Makefile that is not the kernel's.
        std::fs::write(k.join("Makefile"), "VERSIONS = 1\nPATCHLEVEL = 2\n").unwrap();
        assert!(!is_kernel_tree(&k));
    }
}

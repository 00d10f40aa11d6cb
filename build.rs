//! The source identity of this vmamatrix: a hash of the code under src/
//! that makes facts, so a cached result made by other code is never
//! replayed as this code's.
//!
//! Presentation code is left out: it reads recorded facts and never makes
//! one, so a new report format or a reworded message does not throw away
//! hours of cached kernel builds and boots. Whatever is not listed in
//! PRESENTATION counts, so a new module is part of the identity until it
//! is moved here on purpose.

use sha2::{Digest, Sha256};
use std::path::Path;

/// Paths (relative to src/) of modules that only present recorded facts.
const PRESENTATION: &[&str] = &["report/", "cli.rs", "main.rs", "doctor.rs", "init.rs"];

fn walk(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, files);
        } else {
            files.push(p);
        }
    }
}

fn main() {
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=Cargo.lock");
    let mut files = Vec::new();
    walk(Path::new("src"), &mut files);
    files.retain(|f| {
        let rel = f
            .strip_prefix("src")
            .unwrap_or(f)
            .to_string_lossy()
            .replace('\\', "/");
        !PRESENTATION
            .iter()
            .any(|p| rel == *p || (p.ends_with('/') && rel.starts_with(p)))
    });
    files.push("Cargo.lock".into());
    files.sort();
    let mut h = Sha256::new();
    for f in &files {
        h.update(f.to_string_lossy().as_bytes());
        h.update([0]);
        h.update(std::fs::read(f).unwrap_or_default());
        h.update([0]);
    }
    let id: String = h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    println!("cargo:rustc-env=VMAMATRIX_SOURCE_ID={id}");
}

//! Two things made at build time: the source identity of this vmamatrix,
//! and the table of built-in defaults (`defaults()`, below).
//!
//! The source identity is a hash of the code under src/ that makes facts,
//! so a cached result made by other code is never replayed as this code's.
//!
//! Presentation code is left out: it reads recorded facts and never makes
//! one, so a new report format or a reworded message does not throw away
//! hours of cached kernel builds and boots. Whatever is not listed in
//! PRESENTATION counts, so a new module is part of the identity until it
//! is moved here on purpose.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Paths (relative to src/) of modules that only present recorded facts.
const PRESENTATION: &[&str] = &["report/", "cli/", "main.rs", "doctor/", "init.rs"];

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

/// The default matrix.toml and every file under configs/, as a table of
/// `include_str!`s in `$OUT_DIR/defaults.rs` (src/init.rs builds them into
/// the binary, so an installed vmamatrix has them).
fn defaults() {
    println!("cargo:rerun-if-changed=matrix.toml");
    println!("cargo:rerun-if-changed=configs");
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let mut files = Vec::new();
    walk(&root.join("configs"), &mut files);
    let mut rel: Vec<String> = files
        .iter()
        .map(|f| {
            f.strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    rel.sort();
    rel.insert(0, "matrix.toml".into());
    let mut out = String::from(
        "/// The built-in defaults: (path relative to the matrix directory, text).\n\
         pub const FILES: &[(&str, &str)] = &[\n",
    );
    for r in &rel {
        out.push_str(&format!(
            "    ({r:?}, include_str!({:?})),\n",
            root.join(r).display().to_string()
        ));
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("defaults.rs");
    std::fs::write(dest, out).unwrap();
}

fn main() {
    defaults();
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

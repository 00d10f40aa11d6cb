//! Applying a series with git2, without touching the user's repository.
//!
//! vmamatrix keeps a bare scratch repository in its cache whose object store
//! borrows the user's objects through `objects/info/alternates`. The user's
//! repository is only ever opened to resolve the base revision; every new
//! object and every ref (`refs/vmamatrix/...`) lives in the scratch repository.

use super::{Patch, Series};
use crate::error::{Error, Result};
use git2::{ApplyOptions, Diff, Oid, Repository, Signature, Time};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::path::{Path, PathBuf};

/// vmamatrix's own repository for one kernel tree.
pub struct Scratch {
    pub repo: Repository,
    pub path: PathBuf,
}

/// The result of applying a series: one commit per patch, in order.
#[derive(Debug, Clone)]
pub struct Applied {
    pub base: String,
    pub commits: Vec<String>,
}

impl Applied {
    /// The commit the whole series produces (the base for an empty series).
    pub fn head(&self) -> &str {
        self.commits.last().unwrap_or(&self.base)
    }
}

impl Scratch {
    /// Open (creating if needed) the scratch repository for `kernel` under
    /// `cache`, and resolve `base` (a revision in the user's tree) to a commit.
    pub fn open(kernel: &Path, cache: &Path, base: &str) -> Result<(Scratch, String)> {
        let user = Repository::open(kernel).map_err(|e| {
            Error::Setup(format!(
                "kernel tree {}: not a git repository ({})",
                kernel.display(),
                e.message()
            ))
        })?;
        let base_commit = user
            .revparse_single(base)
            .and_then(|o| o.peel_to_commit())
            .map_err(|e| {
                Error::Setup(format!(
                    "kernel tree {}: base revision {base:?} not found: {}",
                    kernel.display(),
                    e.message()
                ))
            })?
            .id()
            .to_string();
        let objects = user.path().join("objects");
        let objects = objects.canonicalize().map_err(|e| Error::io(&objects, e))?;
        let key = super::hex(&Sha256::digest(objects.to_string_lossy().as_bytes()));
        let path = cache.join("git").join(&key[..16]);
        let repo = if path.join("HEAD").exists() {
            Repository::open_bare(&path)?
        } else {
            std::fs::create_dir_all(&path).map_err(|e| Error::io(&path, e))?;
            Repository::init_bare(&path)?
        };
        let alt = path.join("objects/info/alternates");
        let want = format!("{}\n", objects.display());
        if std::fs::read_to_string(&alt).ok().as_deref() != Some(want.as_str()) {
            std::fs::create_dir_all(alt.parent().unwrap()).map_err(|e| Error::io(&alt, e))?;
            std::fs::write(&alt, want).map_err(|e| Error::io(&alt, e))?;
        }
        // Re-open so libgit2 reads the alternates file.
        let repo = if repo.find_commit(Oid::from_str(&base_commit)?).is_ok() {
            repo
        } else {
            Repository::open_bare(&path)?
        };
        Ok((Scratch { repo, path }, base_commit))
    }

    /// Apply every patch of `series` on `base`, one commit each, and point
    /// `refs/vmamatrix/series/<hash>` at the result.
    pub fn apply(&self, series: &Series, base: &str) -> Result<Applied> {
        let mut parent = self.repo.find_commit(Oid::from_str(base)?)?;
        let mut commits = Vec::new();
        for patch in &series.patches {
            let oid = self.apply_one(patch, &parent)?;
            commits.push(oid.to_string());
            parent = self.repo.find_commit(oid)?;
        }
        let name = format!("refs/vmamatrix/series/{}", &series.hash[..16]);
        self.repo
            .reference(&name, parent.id(), true, "vmamatrix: applied series")?;
        Ok(Applied {
            base: base.to_string(),
            commits,
        })
    }

    fn apply_one(&self, patch: &Patch, parent: &git2::Commit) -> Result<Oid> {
        let m = &patch.mail;
        let conflict = |file: &str, hunk: &str, msg: &str| Error::PatchConflict {
            number: patch.number,
            subject: m.subject.clone(),
            file: file.to_string(),
            hunk: hunk.to_string(),
            msg: msg.to_string(),
        };
        let diff = Diff::from_buffer(&m.diff)
            .map_err(|e| conflict("-", "-", &format!("cannot parse diff: {}", e.message())))?;
        let last_file = RefCell::new(String::new());
        let last_hunk = RefCell::new(String::new());
        let mut opts = ApplyOptions::new();
        opts.delta_callback(|d| {
            if let Some(d) = d {
                let p = d.new_file().path().or(d.old_file().path());
                *last_file.borrow_mut() = p.map(|p| p.display().to_string()).unwrap_or_default();
                last_hunk.borrow_mut().clear();
            }
            true
        });
        opts.hunk_callback(|h| {
            if let Some(h) = h {
                *last_hunk.borrow_mut() = String::from_utf8_lossy(h.header()).trim().to_string();
            }
            true
        });
        let tree = parent.tree()?;
        let mut index = match self.repo.apply_to_tree(&tree, &diff, Some(&mut opts)) {
            Ok(i) => i,
            Err(e) => {
                drop(opts);
                let hunk = last_hunk.borrow().clone();
                return Err(conflict(
                    &last_file.borrow(),
                    if hunk.is_empty() {
                        "file header"
                    } else {
                        &hunk
                    },
                    e.message(),
                ));
            }
        };
        let tree_id = index.write_tree_to(&self.repo)?;
        let tree = self.repo.find_tree(tree_id)?;
        let (secs, offset) = m.date.unwrap_or((parent.time().seconds(), 0));
        let (name, email) = m.git_author();
        let author = Signature::new(name, email, &Time::new(secs, offset))?;
        let committer =
            Signature::new("vmamatrix", "vmamatrix@localhost", &Time::new(secs, offset))?;
        let message = if m.message.is_empty() {
            format!("{}\n", m.subject)
        } else {
            format!("{}\n\n{}\n", m.subject, m.message)
        };
        let oid = self
            .repo
            .commit(None, &author, &committer, &message, &tree, &[parent])?;
        Ok(oid)
    }

    /// Remove the refs vmamatrix made for `series`.
    pub fn cleanup(&self, series: &Series) -> Result<()> {
        let name = format!("refs/vmamatrix/series/{}", &series.hash[..16]);
        if let Ok(mut r) = self.repo.find_reference(&name) {
            r.delete()?;
        }
        Ok(())
    }
}

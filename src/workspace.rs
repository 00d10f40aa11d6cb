//! The workspace of a run: the series applied in the scratch repository,
//! the locked working directory for this kernel tree, its shared source
//! directory and one `O=` build directory per cell.

use crate::error::{Error, Result};
use crate::events::{Event, Sink, Tree};
use crate::matrix::{Cell, Matrix};
use crate::proc;
use crate::series::{self, Applied, Scratch, Series};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A matrix with its series applied, ready to plan or run.
pub struct Prepared {
    pub matrix: Matrix,
    pub series: Series,
    pub applied: Applied,
    /// Why this base: "--base", "the series' base-commit trailer", ...
    pub base_source: String,
    /// vmamatrix's working directory for this kernel tree (source + builds).
    pub work: PathBuf,
    scratch: PathBuf,
    _lock: File,
}

impl Prepared {
    /// Load the series, apply it in the scratch repository and lock the
    /// working directory for this kernel tree.
    pub fn new(matrix: Matrix, cache: &Path, sink: &dyn Sink) -> Result<Prepared> {
        check_kernel(&matrix.kernel)?;
        if !matrix.series.exists() {
            return Err(Error::Setup(format!(
                "series {} not found (pass --series DIR|MBOX)",
                matrix.series.display()
            )));
        }
        let series = Series::load(&matrix.series)?;
        // The base, as 0-day picks it: --base when given, else the series'
        // base-commit trailer when the tree has that commit, else the
        // matrix's base.
        let trailer = series.base_commit().map(str::to_string);
        let from_trailer = match (&trailer, matrix.base_from) {
            (Some(c), from) if from != "--base" => {
                let found = Scratch::open(&matrix.kernel, cache, c).ok();
                if found.is_none() {
                    sink.event(Event::Notice {
                        msg: format!(
                            "the series' base-commit {c} is not in {}; using {} base {:?}",
                            matrix.kernel.display(),
                            matrix.base_from,
                            matrix.base
                        ),
                    });
                }
                found
            }
            _ => None,
        };
        let (scratch, base, base_source) = match from_trailer {
            Some((s, b)) => (s, b, "the series' base-commit trailer".to_string()),
            None => {
                if trailer.is_none() {
                    sink.event(Event::Notice {
                        msg: format!(
                            "the series has no base-commit trailer (git format-patch --base); using {} base {:?}",
                            matrix.base_from, matrix.base
                        ),
                    });
                }
                let (s, b) = Scratch::open(&matrix.kernel, cache, &matrix.base)?;
                let why = format!("{} base {:?}", matrix.base_from, matrix.base);
                (s, b, why)
            }
        };
        let applied = scratch.apply(&series, &base)?;
        sink.event(Event::SeriesApplied {
            base: applied.base.clone(),
            head: applied.head().to_string(),
            patches: series.patches.len(),
        });
        let key = scratch
            .path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let work = cache.join("work").join(key);
        std::fs::create_dir_all(&work).map_err(|e| Error::io(&work, e))?;
        let lock_path = work.join("lock");
        let lock = File::create(&lock_path).map_err(|e| Error::io(&lock_path, e))?;
        if lock.try_lock().is_err() {
            sink.event(Event::Notice {
                msg: format!(
                    "waiting for another vmamatrix that is using {}",
                    work.display()
                ),
            });
            while lock.try_lock().is_err() {
                if proc::interrupted() {
                    return Err(Error::Interrupted);
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        let scratch_path = scratch.path.clone();
        scratch.cleanup(&series)?;
        Ok(Prepared {
            matrix,
            series,
            applied,
            base_source,
            work,
            scratch: scratch_path,
            _lock: lock,
        })
    }

    /// The shared source directory.
    pub fn src(&self) -> PathBuf {
        self.work.join("src")
    }

    pub fn build_dir(&self, cell: &Cell) -> PathBuf {
        self.work.join("build").join(cell.id())
    }

    /// The scratch repository (bare; the kernel tree's objects through
    /// alternates): the history the series applies to, for tools that look
    /// commits up, as checkpatch does for `Fixes:` tags.
    pub fn git_dir(&self) -> &Path {
        &self.scratch
    }

    /// The content of a file at a commit, from the scratch repository
    /// (the shared source directory is not touched).
    pub fn file_at(&self, commit: &str, path: &str) -> Result<Option<Vec<u8>>> {
        series::file_at(&self.scratch, commit, path)
    }

    /// Bring the shared source directory to `commit`.
    pub fn checkout(&self, tree: &Tree, commit: &str, sink: &dyn Sink) -> Result<()> {
        let t = Instant::now();
        sink.event(Event::TreeSwitching {
            tree: tree.clone(),
            commit: commit.to_string(),
        });
        let how = series::export_tree(&self.scratch, commit, &self.src())?;
        sink.event(Event::TreeReady {
            tree: tree.clone(),
            commit: commit.to_string(),
            how: format!("{how:?}"),
            secs: t.elapsed().as_secs_f64(),
        });
        Ok(())
    }
}

/// The kernel tree must be a git repository (vmamatrix reads its objects).
fn check_kernel(kernel: &Path) -> Result<()> {
    if !kernel.exists() {
        return Err(Error::Setup(format!(
            "kernel tree {} not found (run scripts/setup.sh, or pass --kernel)",
            kernel.display()
        )));
    }
    let bare = kernel.join("HEAD").is_file() && kernel.join("objects").is_dir();
    if !kernel.join(".git").exists() && !bare {
        return Err(Error::Setup(format!(
            "kernel tree {} is not a git repository: vmamatrix applies the series to a git \
             tree (git clone one, or `git init && git add -A && git commit` an unpacked source)",
            kernel.display()
        )));
    }
    Ok(())
}

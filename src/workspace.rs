//! The workspace of a run: the series applied in the scratch repository,
//! the locked working directory for this kernel tree, its shared source
//! directory and the `O=` build directories: one per cell and merged
//! Kconfig fragment text, so that matrices configuring a cell differently
//! (the debug overlay, Rust) keep each other's objects.

use crate::error::{Error, Result};
use crate::events::{Event, Sink, Tree};
use crate::matrix::{Cell, Matrix};
use crate::proc;
use crate::series::{self, Applied, Scratch, Series};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const BUILD_KEY_LEN: usize = 12;
const WARNINGS_SUFFIX: &str = ".warnings.json";

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
    /// Each cell's build directory, fixed at its first use in this run.
    build_dirs: std::sync::Mutex<std::collections::BTreeMap<String, PathBuf>>,
    _lock: File,
}

/// Build directories kept per cell: the most recently configured ones.
const BUILDS_KEPT: usize = 3;

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
            build_dirs: Default::default(),
            _lock: lock,
        })
    }

    /// The shared source directory.
    pub fn src(&self) -> PathBuf {
        self.work.join("src")
    }

    /// A cell's `O=` directory: `build/<cell>/<key>`, the key being a hash
    /// of the merged fragment text that configures it. A run keeps the
    /// directory it first used for a cell. Fragments that cannot be read
    /// get the key `unreadable`; configuring the cell then fails on them.
    pub fn build_dir(&self, cell: &Cell) -> PathBuf {
        let mut dirs = self.build_dirs.lock().unwrap_or_else(|e| e.into_inner());
        dirs.entry(cell.id())
            .or_insert_with(|| {
                let key = crate::kconfig::merged_text(&self.matrix, cell)
                    .map(|text| {
                        use sha2::{Digest, Sha256};
                        series::hex(&Sha256::digest(text.as_bytes()))[..BUILD_KEY_LEN].to_string()
                    })
                    .unwrap_or_else(|_| "unreadable".to_string());
                self.work.join("build").join(cell.id()).join(key)
            })
            .clone()
    }

    /// The warning memory of a cell's build directory
    /// (`build/<cell>/<key>.warnings.json`, see `build::WarningMemory`):
    /// beside the directory, so that it outlives the directory's pruning.
    pub fn warning_memory(&self, cell: &Cell) -> PathBuf {
        let dir = self.build_dir(cell);
        let key = dir.file_name().unwrap_or_default().to_string_lossy();
        dir.with_file_name(format!("{key}{WARNINGS_SUFFIX}"))
    }

    /// Mark a cell's build directory as used now, and remove its other
    /// build directories beyond the [`BUILDS_KEPT`] most recently used, and
    /// anything else there but warning memories (the layout of older
    /// versions: the build itself in `build/<cell>`). Called when the cell
    /// is configured, under the working directory's lock.
    pub fn keep_recent_builds(&self, cell: &Cell) -> Result<()> {
        keep_recent(&self.build_dir(cell), BUILDS_KEPT)
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

/// [`Prepared::keep_recent_builds`] for the build directory `dir`: keep
/// `kept` of its siblings, itself included.
fn keep_recent(dir: &Path, kept: usize) -> Result<()> {
    let stamp = dir.join("vmamatrix.used");
    std::fs::write(&stamp, b"").map_err(|e| Error::io(&stamp, e))?;
    let parent = dir.parent().expect("build/<cell>/<key>");
    let mut keys = Vec::new();
    for e in std::fs::read_dir(parent).map_err(|e| Error::io(parent, e))? {
        let p = e.map_err(|e| Error::io(parent, e))?.path();
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let is_key = name.len() == BUILD_KEY_LEN && name.bytes().all(|b| b.is_ascii_hexdigit());
        let is_memory = name
            .strip_suffix(WARNINGS_SUFFIX)
            .is_some_and(|k| k.len() == BUILD_KEY_LEN);
        if p == *dir || is_memory {
            continue;
        }
        if is_key && p.is_dir() {
            let used = std::fs::metadata(p.join("vmamatrix.used"))
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            keys.push((used, p));
        } else {
            crate::store::remove_path(&p)?;
        }
    }
    keys.sort();
    let extra = keys.len().saturating_sub(kept.saturating_sub(1));
    for (_, p) in keys.into_iter().take(extra) {
        crate::store::remove_path(&p)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    /// A cell keeps its most recently configured build directories, the
    /// one in use included; older ones and the old layout's files go.
    #[test]
    fn a_cell_keeps_its_recent_build_directories() {
        let t = tempfile::tempdir().unwrap();
        let cell = t.path().join("build/x86-up-mmu");
        // The layout before keyed directories: the build itself.
        std::fs::create_dir_all(cell.join("mm")).unwrap();
        std::fs::write(cell.join("vmamatrix-warnings.json"), "{}").unwrap();
        // Warning memories outlive the directories they are of.
        std::fs::write(cell.join("dddddddddddd.warnings.json"), "{}").unwrap();
        std::fs::write(cell.join(".config"), "CONFIG_MMU=y\n").unwrap();
        let old = SystemTime::now() - Duration::from_secs(3600);
        let keys = [
            "aaaaaaaaaaaa",
            "bbbbbbbbbbbb",
            "cccccccccccc",
            "dddddddddddd",
        ];
        for (i, k) in keys.iter().enumerate() {
            std::fs::create_dir_all(cell.join(k)).unwrap();
            let f = File::create(cell.join(k).join("vmamatrix.used")).unwrap();
            // a is the most recent of them, d the oldest.
            f.set_modified(old - Duration::from_secs(60 * i as u64))
                .unwrap();
        }
        // A new configuration: the two most recent others stay.
        let new = cell.join("0123456789ab");
        std::fs::create_dir_all(&new).unwrap();
        keep_recent(&new, 3).unwrap();
        let left = |d: &Path| {
            let mut v: Vec<String> = std::fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        let mem = "dddddddddddd.warnings.json";
        assert_eq!(
            left(&cell),
            ["0123456789ab", "aaaaaaaaaaaa", "bbbbbbbbbbbb", mem]
        );
        // b used again: a is now the least recently used.
        keep_recent(&cell.join("bbbbbbbbbbbb"), 2).unwrap();
        assert_eq!(left(&cell), ["0123456789ab", "bbbbbbbbbbbb", mem]);
        keep_recent(&new, 1).unwrap();
        assert_eq!(left(&cell), ["0123456789ab", mem]);
    }
}

//! Results on disk: `results/<run-id>/run.json` (the run summary) and
//! `results/<run-id>/<cell>/<tree>/<stage>.json` (one record per cell, tree
//! and stage) with logs beside them. Every file is written atomically
//! (temporary file in the same directory, then rename).

use crate::error::{Error, Result};
use crate::events::Stage;
pub use crate::model::*;
use serde::{de::DeserializeOwned, Serialize};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Write `bytes` to `path` atomically, readable by all (0644, less the
/// umask) like a file `>` would make: reports are meant to be served.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_mode(path, bytes, 0o666)
}

/// `write_atomic` with the file mode `mode` (less the umask): 0o777 for a
/// program, executable before it is renamed into place.
pub fn write_atomic_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mode = mode & !umask();
    let mut tmp = tempfile::Builder::new()
        .permissions(std::fs::Permissions::from_mode(mode))
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(path, e))?;
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// The process's umask, from /proc/self/status (setting it to read it
/// would race with other threads creating files); 022 when unreadable.
fn umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

pub fn write_json<T: Serialize>(path: &Path, v: &T) -> Result<()> {
    let mut s = serde_json::to_string_pretty(v).expect("serializable");
    s.push('\n');
    write_atomic(path, s.as_bytes())
}

pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let t = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&t).map_err(|e| Error::io(path, format!("bad JSON: {e}")))
}

/// A results directory: holds runs and a lock while a run writes.
pub struct Results {
    pub root: PathBuf,
    _lock: Option<File>,
}

impl Results {
    /// Open for reading (no lock).
    pub fn open(root: &Path) -> Results {
        Results {
            root: root.to_path_buf(),
            _lock: None,
        }
    }

    /// Open for a run: take the directory's lock or refuse. The lock is
    /// an flock on the directory itself, so nothing is left behind.
    pub fn lock(root: &Path) -> Result<Results> {
        std::fs::create_dir_all(root).map_err(|e| Error::io(root, e))?;
        let f = File::open(root).map_err(|e| Error::io(root, e))?;
        match f.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::Setup(format!(
                    "{}: another vmamatrix run is using this results directory; wait for it or use --results",
                    root.display()
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(root, e)),
        }
        Ok(Results {
            root: root.to_path_buf(),
            _lock: Some(f),
        })
    }

    pub fn run_dir(&self, run_id: &str) -> PathBuf {
        self.root.join(run_id)
    }

    pub fn cell_dir(&self, run_id: &str, cell: &str, tree: &str) -> PathBuf {
        self.root.join(run_id).join(cell).join(tree)
    }

    pub fn record_path(&self, run_id: &str, cell: &str, tree: &str, stage: Stage) -> PathBuf {
        self.cell_dir(run_id, cell, tree)
            .join(format!("{}.json", stage.name()))
    }

    pub fn write_record(&self, run_id: &str, r: &Record) -> Result<()> {
        write_json(&self.record_path(run_id, &r.cell, &r.tree, r.stage), r)
    }

    pub fn read_record(
        &self,
        run_id: &str,
        cell: &str,
        tree: &str,
        stage: Stage,
    ) -> Option<Record> {
        read_json(&self.record_path(run_id, cell, tree, stage)).ok()
    }

    pub fn write_summary(&self, s: &RunSummary) -> Result<()> {
        write_json(&self.run_dir(&s.run_id).join("run.json"), s)?;
        // results/latest -> <run-id>, replaced atomically.
        let tmp = self.root.join(format!(".latest.{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&s.run_id, &tmp).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, self.root.join("latest")).map_err(|e| Error::io(&tmp, e))
    }

    /// Resolve a run: an id, a path, or the latest run when `None`.
    pub fn find_run(&self, run: Option<&str>) -> Result<(Results, RunSummary)> {
        let dir = match run {
            Some(r) if Path::new(r).join("run.json").is_file() => PathBuf::from(r),
            Some(r) => self.root.join(r),
            None => {
                let latest = self.root.join("latest");
                if latest.exists() {
                    latest
                } else {
                    let mut runs: Vec<PathBuf> = std::fs::read_dir(&self.root)
                        .map_err(|e| {
                            Error::io(
                                &self.root,
                                format!(
                                    "{e}: no runs to report (looked for {}/latest); \
                                     name one (RUN), or pass --results DIR",
                                    self.root.display()
                                ),
                            )
                        })?
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.join("run.json").is_file())
                        .collect();
                    runs.sort();
                    runs.pop().ok_or_else(|| {
                        Error::Setup(format!("{}: no runs here", self.root.display()))
                    })?
                }
            }
        };
        let summary: RunSummary = read_json(&dir.join("run.json"))?;
        if summary.schema != SCHEMA {
            return Err(Error::Setup(format!(
                "{}: schema {} is not the {} this vmamatrix reads",
                dir.display(),
                summary.schema,
                SCHEMA
            )));
        }
        let root = dir
            .canonicalize()
            .ok()
            .and_then(|d| d.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| self.root.clone());
        Ok((Results::open(&root), summary))
    }
}

/// Copy a directory tree (files and subdirectories). Files are hard-linked
/// when possible: nothing vmamatrix writes is modified in place (records are
/// replaced by rename, logs are recreated), so sharing inodes is safe and
/// makes replaying cached results (boot images included) cheap.
/// Remove a file, a symlink (not what it points to) or a directory tree.
pub fn remove_path(p: &Path) -> Result<()> {
    let r = match p.symlink_metadata() {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(p),
        _ => std::fs::remove_file(p),
    };
    r.map_err(|e| Error::io(p, e))
}

pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(|e| Error::io(to, e))?;
    for e in std::fs::read_dir(from)
        .map_err(|e| Error::io(from, e))?
        .flatten()
    {
        let p = e.path();
        if p.is_dir() {
            copy_tree(&p, &to.join(e.file_name()))?;
        } else {
            let dest = to.join(e.file_name());
            let _ = std::fs::remove_file(&dest);
            if std::fs::hard_link(&p, &dest).is_err() {
                std::fs::copy(&p, &dest).map_err(|e| Error::io(&dest, e))?;
            }
        }
    }
    Ok(())
}

/// UTC timestamp `YYYY-MM-DDTHH:MM:SSZ`.
pub fn now_utc() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (t.div_euclid(86400), t.rem_euclid(86400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// A run id from a timestamp: `20261124-171500`.
pub fn run_id_from(ts: &str) -> String {
    ts.replace(['-', ':'], "")
        .replace('T', "-")
        .trim_end_matches('Z')
        .to_string()
}

/// `(year, month, day)` of a day count since 1970-01-01 (Howard Hinnant's
/// civil_from_days).
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(
            civil_from_days(crate::series::mail::days_from_civil(2026, 11, 24)),
            (2026, 11, 24)
        );
        assert_eq!(run_id_from("2026-11-24T17:05:09Z"), "20261124-170509");
    }

    #[test]
    fn atomic_writes_are_readable_by_all() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.html");
        write_atomic(&p, b"x").unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o666 & !umask(), "{mode:o}");
        assert_eq!(mode & 0o044, 0o044 & !umask());
    }

    #[test]
    fn atomic_write_and_lock() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b.json");
        write_json(&p, &vec![1, 2]).unwrap();
        assert_eq!(read_json::<Vec<i32>>(&p).unwrap(), [1, 2]);
        let leftovers = std::fs::read_dir(p.parent().unwrap()).unwrap().count();
        assert_eq!(leftovers, 1);
        let _held = Results::lock(dir.path()).unwrap();
        let e = Results::lock(dir.path()).err().unwrap().to_string();
        assert!(e.contains("another vmamatrix run"), "{e}");
    }
}

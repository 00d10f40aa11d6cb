//! The result cache: records, logs and the boot image of a cell at a
//! commit, reused by later runs with identical inputs.
//!
//! Policy: only outcomes that are facts of the inputs are kept. A build
//! that succeeded or that the compiler refused, an infeasible configuration,
//! a boot that reached its result marker (or a cell that cannot boot) are
//! cached. Timeouts, signals, killed compilers, QEMU failures, silence and
//! panics are not: the next run redoes them without `--force`. A build kept
//! without its boot is booted again from the kept image.
//!
//! Every key holds the source identity of the vmamatrix that made the
//! record (a hash of its src/, taken at build time) and every setting that
//! can change an outcome, so a fix to a parser or a new timeout is never
//! answered from records made without it.

use crate::boot;
use crate::build;
use crate::error::Result;
use crate::events::{Stage, Tree};
use crate::kconfig;
use crate::matrix::Cell;
use crate::model::{Record, Status};
use crate::series;
use crate::stage::StageCtx;
use crate::store;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Identity of this vmamatrix's source (see build.rs).
pub const SOURCE_ID: &str = env!("VMAMATRIX_SOURCE_ID");

/// What the cache holds for a cell at a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Nothing usable: run every stage.
    Miss,
    /// Every stage's record: replay them.
    Complete,
    /// Records and the boot image, but no current boot record.
    NeedsBoot,
}

/// Where the host vma test result of a commit is cached.
pub fn host_record(cache: &Path, commit: &str) -> PathBuf {
    cache
        .join("records/host")
        .join(format!("{commit}-{SOURCE_ID}.json"))
}

pub struct Cache<'a> {
    ctx: &'a StageCtx<'a>,
}

impl<'a> Cache<'a> {
    pub fn new(ctx: &'a StageCtx<'a>) -> Cache<'a> {
        Cache { ctx }
    }

    /// Inputs that decide the configure, build and measure results of a
    /// cell at a commit. The boot recipe is not part of it: a cached build
    /// is booted again when its boot record was made with another recipe.
    fn key(&self, cell: &Cell, commit: &str) -> Option<String> {
        let ctx = self.ctx;
        let m = &ctx.p.matrix;
        let text = kconfig::merged_text(m, cell).ok()?;
        let facts = m.facts(cell);
        let mut key = serde_json::json!({
            "vmamatrix": SOURCE_ID,
            "cell": cell.id(),
            "commit": commit,
            "fragments": text,
            "toolchain": m.toolchain,
            "srcarch": facts.srcarch(&cell.arch),
            "target": facts.target(),
            "image": facts.image,
            "structs": m.structs,
            "probe": m.probe,
            "track": m.track,
            "timeout": m.timeout,
            "structs_only": ctx.opts.structs_only,
        });
        // A dtb built with the image (only recipes that name one).
        if let Some(dtb) = &facts.dtb {
            key["dtb"] = serde_json::json!(dtb);
        }
        // The series' file list decides the coverage of its own trees only:
        // the base key leaves it out, so base results are shared by every
        // series on the same base.
        if commit != ctx.p.applied.base {
            key["touched"] = serde_json::json!(ctx.touched);
        }
        Some(series::hex(&Sha256::digest(key.to_string().as_bytes())))
    }

    fn dir(&self, cell: &Cell, commit: &str) -> Option<PathBuf> {
        self.key(cell, commit)
            .map(|k| self.ctx.opts.cache.join("records").join(&k[..2]).join(k))
    }

    /// What the cache holds for a cell at a commit.
    pub fn state(&self, cell: &Cell, commit: &str) -> State {
        let ctx = self.ctx;
        let Some(cd) = self.dir(cell, commit) else {
            return State::Miss;
        };
        if ctx.opts.force || !cd.join("complete").exists() {
            return State::Miss;
        }
        let built = store::read_json::<Record>(&cd.join("build.json"))
            .is_ok_and(|r| r.status == Status::Ok);
        let key = boot::boot_key(&ctx.p.matrix.facts(cell), ctx.opts.workload_secs);
        let booted = store::read_json::<Record>(&cd.join("boot.json"))
            .is_ok_and(|r| r.boot.is_some_and(|b| b.key == key));
        if !built || booted || ctx.opts.structs_only || ctx.opts.no_boot {
            State::Complete
        } else if cd.join(build::run::IMAGE).exists() {
            State::NeedsBoot
        } else {
            State::Miss
        }
    }

    /// Keep a finished cell-tree's records and logs, as far as the policy
    /// allows: nothing when the build's outcome was transient, everything
    /// but the boot when only the boot's was.
    pub fn store(&self, cell: &Cell, commit: &str, dir: &Path) {
        let Some(cd) = self.dir(cell, commit) else {
            return;
        };
        let _ = std::fs::remove_dir_all(&cd);
        match keep(dir) {
            Keep::Nothing => {}
            keep => {
                if store::copy_tree(dir, &cd).is_ok() {
                    if keep == Keep::AllButBoot {
                        for f in [
                            "boot.json",
                            "console.log",
                            "registers.txt",
                            "pc-samples.txt",
                        ] {
                            let _ = std::fs::remove_file(cd.join(f));
                        }
                    }
                    let _ = std::fs::write(cd.join("complete"), "");
                }
            }
        }
    }

    /// Copy a cell-tree's cached records and logs into `dir` and return
    /// them, marked as cached and relabelled to `tree`.
    pub fn replay(
        &self,
        cell: &Cell,
        tree: &Tree,
        commit: &str,
        dir: &Path,
    ) -> Result<Vec<Record>> {
        let cd = self
            .dir(cell, commit)
            .expect("replay after state() found it");
        store::copy_tree(&cd, dir)?;
        let _ = std::fs::remove_file(dir.join("complete"));
        let mut out = Vec::new();
        for stage in [Stage::Configure, Stage::Build, Stage::Measure, Stage::Boot] {
            let p = dir.join(format!("{}.json", stage.name()));
            let Ok(mut r) = store::read_json::<Record>(&p) else {
                continue;
            };
            r.cached = true;
            r.tree = tree.name();
            out.push(r);
        }
        Ok(out)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    Nothing,
    AllButBoot,
    All,
}

/// What of a finished cell-tree directory the policy keeps.
fn keep(dir: &Path) -> Keep {
    let read = |s: Stage| store::read_json::<Record>(&dir.join(format!("{}.json", s.name()))).ok();
    let Some(conf) = read(Stage::Configure) else {
        return Keep::Nothing;
    };
    if conf.status == Status::Failed {
        // Kconfig itself failed: whatever the reason, redo it.
        return Keep::Nothing;
    }
    if let Some(b) = read(Stage::Build) {
        let fact =
            b.status == Status::Ok || b.build.as_ref().is_some_and(build::run::deterministic);
        if !fact {
            return Keep::Nothing;
        }
    }
    // A probe compile that failed (timed out, killed) leaves no sizes.
    if read(Stage::Measure).is_some_and(|m| m.status == Status::Failed) {
        return Keep::Nothing;
    }
    match read(Stage::Boot).and_then(|r| r.boot) {
        Some(b) if !boot::run::deterministic(&b) => Keep::AllButBoot,
        _ => Keep::All,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BootData, BootOutcome, BuildData, Diagnostic};

    fn write(dir: &Path, stage: Stage, f: impl FnOnce(&mut Record)) {
        let mut r = Record::new("x86-up-mmu", "base", stage, "c0ffee");
        f(&mut r);
        store::write_json(&dir.join(format!("{}.json", stage.name())), &r).unwrap();
    }

    fn build(outcome: &str, errors: usize, tail: &[&str]) -> BuildData {
        BuildData {
            outcome: outcome.into(),
            jobs: 2,
            warnings: vec![],
            errors: (0..errors)
                .map(|i| Diagnostic {
                    file: "mm/mmap.c".into(),
                    line: i as u32,
                    kind: "error".into(),
                    text: "no member named 'x'".into(),
                })
                .collect(),
            new_warnings: vec![],
            compiled: vec![],
            not_compiled: vec![],
            tail: tail.iter().map(|s| s.to_string()).collect(),
            ccache: None,
            structs_only: false,
        }
    }

    #[test]
    fn transient_outcomes_are_not_kept() {
        let cases: Vec<(&str, BuildData, Option<BootOutcome>, Keep)> = vec![
            (
                "ok+booted",
                build("exit status 0", 0, &[]),
                Some(BootOutcome::Booted),
                Keep::All,
            ),
            (
                "compiler error",
                build("exit status 2", 1, &[]),
                None,
                Keep::All,
            ),
            ("timed out", build("timed out", 0, &[]), None, Keep::Nothing),
            (
                "killed compiler",
                build(
                    "exit status 2",
                    1,
                    &["clang: error: unable to execute command: Killed"],
                ),
                None,
                Keep::Nothing,
            ),
            (
                "signal",
                build("killed by a signal", 0, &[]),
                None,
                Keep::Nothing,
            ),
            (
                "no diagnostics",
                build("exit status 2", 0, &[]),
                None,
                Keep::Nothing,
            ),
            (
                "boot timeout",
                build("exit status 0", 0, &[]),
                Some(BootOutcome::Timeout),
                Keep::AllButBoot,
            ),
            (
                "qemu failed",
                build("exit status 0", 0, &[]),
                Some(BootOutcome::QemuFailed),
                Keep::AllButBoot,
            ),
            (
                "silent",
                build("exit status 0", 0, &[]),
                Some(BootOutcome::Silent),
                Keep::AllButBoot,
            ),
            (
                "panic",
                build("exit status 0", 0, &[]),
                Some(BootOutcome::Panic),
                Keep::AllButBoot,
            ),
            (
                "not bootable",
                build("exit status 0", 0, &[]),
                Some(BootOutcome::NotBootable),
                Keep::All,
            ),
        ];
        for (name, b, boot, want) in cases {
            let d = tempfile::tempdir().unwrap();
            write(d.path(), Stage::Configure, |_| {});
            let ok = b.outcome == "exit status 0";
            write(d.path(), Stage::Build, |r| {
                r.status = if ok { Status::Ok } else { Status::Failed };
                r.build = Some(b);
            });
            if let Some(o) = boot {
                write(d.path(), Stage::Boot, |r| {
                    r.boot = Some(BootData::not_run(o, "x".into()));
                });
            }
            assert_eq!(keep(d.path()), want, "{name}");
        }
        let d = tempfile::tempdir().unwrap();
        write(d.path(), Stage::Configure, |r| r.status = Status::Failed);
        assert_eq!(keep(d.path()), Keep::Nothing, "Kconfig failure");
        let d = tempfile::tempdir().unwrap();
        write(d.path(), Stage::Configure, |_| {});
        write(d.path(), Stage::Measure, |r| r.status = Status::Failed);
        assert_eq!(keep(d.path()), Keep::Nothing, "probe compile failed");
        let d = tempfile::tempdir().unwrap();
        write(d.path(), Stage::Configure, |_| {});
        write(d.path(), Stage::Boot, |r| {
            let mut b = BootData::not_run(BootOutcome::Booted, String::new());
            b.transient = Some("building the guest vma tests timed out".into());
            r.boot = Some(b);
        });
        assert_eq!(keep(d.path()), Keep::AllButBoot, "guest test build failed");
        let d = tempfile::tempdir().unwrap();
        write(d.path(), Stage::Configure, |r| {
            r.status = Status::Infeasible
        });
        assert_eq!(keep(d.path()), Keep::All, "infeasible");
    }
}

/// What one part of the cache directory holds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Usage {
    pub what: &'static str,
    pub path: PathBuf,
    /// Entries (records, work directories, ...) in it.
    pub entries: usize,
    /// Disk use in bytes (hard-linked files counted once).
    pub bytes: u64,
}

/// The parts of a cache directory and what `prune` may remove of each.
const PARTS: [(&str, &str, bool); 8] = [
    (
        "records",
        "cached stage records, logs and boot images",
        true,
    ),
    (
        "work",
        "source trees and O= build directories, per kernel tree",
        true,
    ),
    (
        "git",
        "scratch repositories (series applied), per kernel tree",
        true,
    ),
    ("ccache", "compiler cache of run --ccache", true),
    (
        "bin",
        "the wrapper of kernel builds through distcc or icecc",
        true,
    ),
    ("linux", "the kernel tree made by scripts/setup.sh", false),
    (
        "sysroot",
        "target libraries for guest tests (scripts/setup.sh)",
        false,
    ),
    (
        "debs",
        "downloaded Debian packages (scripts/setup.sh)",
        false,
    ),
];

/// Disk use of every part of the cache directory.
pub fn inventory(cache: &Path) -> Vec<Usage> {
    PARTS
        .iter()
        .map(|(name, what, _)| {
            let path = cache.join(name);
            let entries = std::fs::read_dir(&path).map_or(0, |rd| rd.count());
            let mut seen = std::collections::HashSet::new();
            Usage {
                what,
                entries,
                bytes: du(&path, &mut seen),
                path,
            }
        })
        .collect()
}

fn du(p: &Path, seen: &mut std::collections::HashSet<(u64, u64)>) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(m) = p.symlink_metadata() else {
        return 0;
    };
    if m.is_dir() {
        std::fs::read_dir(p).map_or(0, |rd| {
            rd.flatten().map(|e| du(&e.path(), seen)).sum::<u64>()
        }) + m.blocks() * 512
    } else if seen.insert((m.dev(), m.ino())) {
        m.blocks() * 512
    } else {
        0
    }
}

/// Remove cache entries that vmamatrix can make again: those not changed
/// for `older_than` (every entry when None) in the parts `prune` may
/// touch. A work directory another vmamatrix holds locked is left alone,
/// and while one is, so are the records, scratch repositories and ccache.
/// Returns the entries removed and the bytes freed.
pub fn prune(cache: &Path, older_than: Option<std::time::Duration>) -> Result<(usize, u64)> {
    let now = std::time::SystemTime::now();
    let (mut n, mut freed) = (0, 0);
    // A run in progress reads and writes records/, git/ and ccache/ too:
    // while any work directory is locked, only the others are pruned.
    let busy = std::fs::read_dir(cache.join("work"))
        .map(|rd| rd.flatten().any(|e| locked(&e.path().join("lock"))))
        .unwrap_or(false);
    for (name, _, prunable) in PARTS {
        if !prunable || (busy && name != "work") {
            continue;
        }
        let part = cache.join(name);
        // records/ and ccache/ hold two-level fan-out directories.
        let entries: Vec<PathBuf> = match std::fs::read_dir(&part) {
            Ok(rd) => rd.flatten().map(|e| e.path()).collect(),
            Err(_) => continue,
        };
        for e in entries {
            let age = e
                .symlink_metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .unwrap_or_default();
            if older_than.is_some_and(|limit| age < limit) {
                continue;
            }
            if name == "work" && locked(&e.join("lock")) {
                continue;
            }
            let mut seen = std::collections::HashSet::new();
            let bytes = du(&e, &mut seen);
            let gone = if e.is_dir() {
                std::fs::remove_dir_all(&e)
            } else {
                std::fs::remove_file(&e)
            };
            gone.map_err(|err| crate::error::Error::io(&e, err))?;
            n += 1;
            freed += bytes;
        }
    }
    Ok((n, freed))
}

/// Whether another process holds the lock file `p`.
fn locked(p: &Path) -> bool {
    std::fs::File::open(p).is_ok_and(|f| match f.try_lock() {
        Ok(()) => {
            let _ = f.unlock();
            false
        }
        Err(_) => true,
    })
}

#[cfg(test)]
mod housekeeping_tests {
    use super::*;

    #[test]
    fn prune_keeps_the_kernel_tree_and_locked_work_dirs() {
        let d = tempfile::tempdir().unwrap();
        let c = d.path();
        for f in [
            "records/ab/abc/build.json",
            "work/k1/src/Makefile",
            "work/k2/lock",
            "linux/Makefile",
        ] {
            std::fs::create_dir_all(c.join(f).parent().unwrap()).unwrap();
            std::fs::write(c.join(f), "x").unwrap();
        }
        let held = std::fs::File::open(c.join("work/k2/lock")).unwrap();
        held.lock().unwrap();
        let inv = inventory(c);
        let rec = inv.iter().find(|u| u.path.ends_with("records")).unwrap();
        assert_eq!(rec.entries, 1);
        assert!(rec.bytes > 0);
        // Nothing is old enough.
        assert_eq!(
            prune(c, Some(std::time::Duration::from_secs(3600)))
                .unwrap()
                .0,
            0
        );
        let (n, _) = prune(c, None).unwrap();
        assert_eq!(n, 1, "work/k1 only while work/k2 is in use");
        assert!(
            c.join("records/ab").exists(),
            "records kept while a run holds a work dir"
        );
        assert!(!c.join("work/k1").exists());
        assert!(c.join("work/k2/lock").exists(), "locked work dir kept");
        drop(held);
        let (n, _) = prune(c, None).unwrap();
        assert_eq!(n, 2, "records/ab and work/k2");
        assert!(c.join("linux/Makefile").exists(), "kernel tree kept");
    }
}

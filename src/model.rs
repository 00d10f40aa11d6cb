//! The data vmamatrix records: run summaries and per-stage records with
//! their stage data. Plain types only; `store` reads and writes them, the
//! stages fill them, `report` renders them.

use crate::events::Stage;
use crate::kconfig::Verdict;
use crate::measure::{Layout, Sections};
use crate::series::SeriesInfo;
use serde::{Deserialize, Serialize};

/// Version of the on-disk format; bump on incompatible change.
pub const SCHEMA: u32 = 1;

/// The summary of one run.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunSummary {
    pub schema: u32,
    pub run_id: String,
    pub vmamatrix: String,
    pub started: String,
    pub finished: Option<String>,
    pub kernel: String,
    pub base: String,
    pub patched: String,
    pub toolchain: Vec<String>,
    pub matrix: Option<String>,
    pub series: SeriesInfo,
    pub structs: Vec<String>,
    /// Every cell of the matrix, selected or not.
    pub cells: Vec<CellEntry>,
    pub regressions: Vec<Regression>,
    pub interrupted: bool,
    /// Trees built, in order: base, patch-1.. (with --per-patch), patched.
    #[serde(default)]
    pub trees: Vec<String>,
    /// Per cell, the first patch that breaks the build or adds a warning.
    #[serde(default)]
    pub first_bad: std::collections::BTreeMap<String, String>,
    /// `(K, N)` when this run is shard K of N.
    #[serde(default)]
    pub shard: Option<(usize, usize)>,
    /// With `--weights`: the digest of the weights file the shard's cells
    /// were dealt by (every shard of one run must use the same).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_weights: Option<String>,
    /// With `--shard`: every cell the deal was made from (the selection
    /// before sharding); the shards of one run must have dealt the same.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dealt: Vec<String>,
    /// Why `base` is the base ("the series' base-commit trailer", "--base
    /// \"v7.3\"", ...).
    #[serde(default)]
    pub base_source: String,
    /// The Kconfig fragment directories, base first, overlays after.
    #[serde(default)]
    pub configs: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CellEntry {
    pub id: String,
    pub arch: String,
    pub smp: String,
    pub mmu: String,
    pub selected: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Failed,
    Infeasible,
    Skipped,
}

/// One stage's result for one cell and tree.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub schema: u32,
    pub cell: String,
    pub tree: String,
    pub stage: Stage,
    pub commit: String,
    pub status: Status,
    pub secs: f64,
    /// Reused from an earlier run with identical inputs.
    #[serde(default)]
    pub cached: bool,
    /// Reproducer: the exact command(s) run.
    pub commands: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub configure: Option<ConfigureData>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub build: Option<BuildData>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub measure: Option<MeasureData>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub boot: Option<BootData>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub vmatest: Option<VmaTestData>,
}

impl Record {
    /// An empty `Ok` record of `stage` for a cell and tree at `commit`.
    pub fn new(cell: &str, tree: &str, stage: Stage, commit: &str) -> Record {
        Record {
            schema: SCHEMA,
            cell: cell.to_string(),
            tree: tree.to_string(),
            stage,
            commit: commit.to_string(),
            status: Status::Ok,
            secs: 0.0,
            cached: false,
            commands: vec![],
            configure: None,
            build: None,
            measure: None,
            boot: None,
            vmatest: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConfigureData {
    pub fragments: Vec<String>,
    pub verdict: Verdict,
    pub config_sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildData {
    pub outcome: String,
    pub jobs: usize,
    pub warnings: Vec<Diagnostic>,
    pub errors: Vec<Diagnostic>,
    /// Warnings not present in the base build of the same cell.
    #[serde(default)]
    pub new_warnings: Vec<Diagnostic>,
    /// Series files (C, Rust under rust/) compiled into this cell's kernel,
    /// and not.
    pub compiled: Vec<String>,
    pub not_compiled: Vec<String>,
    /// Last lines of the log when the build failed.
    #[serde(default)]
    pub tail: Vec<String>,
    /// ccache results of this build's compilations (`--ccache`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ccache: Option<CcacheStats>,
    /// Only the probe object was built (`--structs-only`): no image.
    #[serde(default)]
    pub structs_only: bool,
}

/// How ccache answered the compiler calls of one build.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CcacheStats {
    pub hits: u64,
    pub misses: u64,
    /// Calls ccache could not cache (preprocessing only, links, ...).
    pub uncacheable: u64,
}

impl CcacheStats {
    /// Hits over cacheable calls, in percent.
    pub fn hit_rate(&self) -> Option<f64> {
        let n = self.hits + self.misses;
        (n > 0).then(|| 100.0 * self.hits as f64 / n as f64)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MeasureData {
    pub image: Option<u64>,
    pub vmlinux: Option<Sections>,
    pub structs: Vec<Layout>,
    pub errors: Vec<String>,
}

/// One compiler diagnostic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Diagnostic {
    pub file: String,
    pub line: u32,
    pub kind: String,
    pub text: String,
}

impl Diagnostic {
    /// Identity that survives line shifts: file, kind and text.
    pub fn key(&self) -> (String, String, String) {
        (self.file.clone(), self.kind.clone(), self.text.clone())
    }
}

/// How a boot ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum BootOutcome {
    /// The result marker appeared.
    Booted,
    /// The kernel panicked.
    Panic,
    /// No result marker within the time limit.
    Timeout,
    /// No console output for too long.
    Silent,
    /// QEMU exited (or could not start) without a marker or panic.
    QemuFailed,
    /// This cell cannot be booted here; see `reason`.
    NotBootable,
}

/// What the boot stage records.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BootData {
    pub outcome: BootOutcome,
    /// Seconds from QEMU start to the result marker.
    pub secs_to_marker: Option<f64>,
    pub panic: Option<String>,
    /// Exit status /init reported for its payload.
    pub exit_status: Option<i32>,
    /// `(run, passed, failed)` of the vma tests when they ran in the guest.
    pub tests: Option<(u32, u32, u32)>,
    pub reason: Option<String>,
    pub qemu: String,
    /// Why the vma tests did not run in this guest, when they did not.
    #[serde(default)]
    pub guest_tests_note: Option<String>,
    /// `boot_key()` of the recipe this boot used.
    #[serde(default)]
    pub key: String,
    /// Exit status of /init's exec-and-exit child (-1: it failed).
    #[serde(default)]
    pub child: Option<i32>,
    /// Kernel warnings, BUGs and oopses seen on the console.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The kernel's own reports (warnings, BUGs, lockdep, KASAN, ...),
    /// one per report, with the key that compares them across trees.
    #[serde(default)]
    pub splats: Vec<crate::boot::splat::Splat>,
    /// The guest VMA workload's report, when it ran.
    #[serde(default)]
    pub workload: Option<WorkloadData>,
    /// The kernel selftests that ran in the guest.
    #[serde(default)]
    pub selftests: Vec<crate::selftests::SelftestRun>,
    /// Why this outcome may be the machine's rather than the kernel's (a
    /// guest test build that failed): such a boot is never cached.
    #[serde(default)]
    pub transient: Option<String>,
}

impl BootData {
    /// A boot that did not get to run QEMU, and why.
    pub fn not_run(outcome: BootOutcome, reason: String) -> BootData {
        BootData {
            outcome,
            secs_to_marker: None,
            panic: None,
            exit_status: None,
            tests: None,
            reason: Some(reason),
            qemu: String::new(),
            guest_tests_note: None,
            key: String::new(),
            child: None,
            warnings: vec![],
            splats: vec![],
            workload: None,
            selftests: vec![],
            transient: None,
        }
    }
}

/// The result of one run of the vma tests.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct VmaTestData {
    pub built: bool,
    /// `(run, passed, failed)` from the summary line.
    pub tests: Option<(u32, u32, u32)>,
    pub outcome: String,
    pub commands: Vec<String>,
}

impl VmaTestData {
    pub fn passed(&self) -> bool {
        matches!(self.tests, Some((r, p, 0)) if r == p && r > 0)
    }
}

/// The plan of one cell: feasibility and the commands that reproduce it.
#[derive(Debug, Clone, Serialize)]
pub struct PlanCell {
    pub id: String,
    pub arch: String,
    pub smp: String,
    pub mmu: String,
    pub feasible: bool,
    pub reason: Option<String>,
    pub warnings: Vec<crate::kconfig::Dropped>,
    pub tracked: std::collections::BTreeMap<String, String>,
    pub commands: Vec<String>,
}

/// The per-VMA lock counters of /proc/vmstat (CONFIG_PER_VMA_LOCK_STATS).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct VmaLockStats {
    pub success: u64,
    pub abort: u64,
    pub retry: u64,
    pub miss: u64,
}

/// One kind of operation of the guest workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WorkloadOp {
    pub kind: String,
    pub ops: u64,
    pub failed: u64,
}

/// What the guest's VMA workload (src/boot/workload.c) reported.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WorkloadData {
    /// "mmu" or "nommu".
    pub mode: String,
    /// Counters before and after; None when /proc/vmstat has none (the
    /// kernel has no per-VMA lock, or PER_VMA_LOCK_STATS is off).
    pub before: Option<VmaLockStats>,
    pub after: Option<VmaLockStats>,
    pub ops: Vec<WorkloadOp>,
    pub total: u64,
    pub failed: u64,
    /// The end marker was printed.
    pub finished: bool,
    /// Exit status /init saw.
    pub exit: Option<i32>,
    /// `VMAMATRIX-WORKLOAD-FAIL` lines: kind, step, value.
    pub fails: Vec<String>,
    pub notes: Vec<String>,
    /// `VMAMATRIX-WORKLOAD-VMA` lines: the /proc/self/maps lines around the
    /// mutator's region after a failure the layout may explain.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vmas: Vec<String>,
}

impl WorkloadData {
    /// Counter deltas over the workload, when both readings exist.
    pub fn lock_delta(&self) -> Option<VmaLockStats> {
        let (b, a) = (self.before?, self.after?);
        Some(VmaLockStats {
            success: a.success.saturating_sub(b.success),
            abort: a.abort.saturating_sub(b.abort),
            retry: a.retry.saturating_sub(b.retry),
            miss: a.miss.saturating_sub(b.miss),
        })
    }

    /// Ran to its end with every operation done and none failed.
    pub fn clean(&self) -> bool {
        self.finished && self.failed == 0 && self.exit == Some(0) && self.total > 0
    }
}

/// What got worse from base to patched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RegressionKind {
    /// tools/testing/vma on the host.
    HostVmaTests,
    /// The configuration became infeasible.
    Infeasible,
    /// Kconfig itself failed.
    Kconfig,
    /// The build fails.
    Build,
    /// The build has warnings base does not have.
    NewWarnings,
    /// The kernel does not boot.
    Boot,
    /// tools/testing/vma in the guest.
    GuestVmaTests,
    /// A kernel report (warning, BUG, lockdep, KASAN, ...) base does not have.
    Splat,
    /// /init's exec-and-exit child.
    Exec,
    /// A kernel selftest.
    Selftest,
    /// The guest VMA workload.
    Workload,
    /// Page faults that never took the per-VMA lock.
    VmaLock,
    /// A per-patch check (`run --strict-checks`).
    Check,
    /// Read from an older run.json that kept only the text.
    Other,
}

/// One regression: its subject (a cell id, `host`, `patch N` or `series`),
/// what kind of thing got worse, and the sentence that says how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Regression {
    pub subject: String,
    pub kind: RegressionKind,
    pub text: String,
}

impl Regression {
    pub fn new(subject: &str, kind: RegressionKind, text: impl Into<String>) -> Regression {
        Regression {
            subject: subject.to_string(),
            kind,
            text: text.into(),
        }
    }
}

impl std::fmt::Display for Regression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.subject, self.text)
    }
}

impl<'de> Deserialize<'de> for Regression {
    /// The record, or the `"subject: text"` line older runs kept.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Any {
            Full {
                subject: String,
                kind: RegressionKind,
                text: String,
            },
            Line(String),
        }
        Ok(match Any::deserialize(d)? {
            Any::Full {
                subject,
                kind,
                text,
            } => Regression {
                subject,
                kind,
                text,
            },
            Any::Line(l) => {
                let (s, t) = l.split_once(": ").unwrap_or(("", &l));
                Regression::new(s, RegressionKind::Other, t)
            }
        })
    }
}

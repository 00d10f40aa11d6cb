//! Judging a run: what makes the patched tree worse than the base, and the
//! first patch that breaks a cell.

use crate::events::{Stage, Tree};
use crate::matrix::{Cell, Mmu, Smp};
use crate::model::{Record, Regression, RegressionKind as Kind, Status, WorkloadData};
use crate::store::{self, Results};

/// What makes the patched tree worse than the base, per cell.
pub fn regressions(results: &Results, run_id: &str, cells: &[Cell]) -> Vec<Regression> {
    let mut out = Vec::new();
    let host = |tree: &str| -> Option<Record> {
        store::read_json(
            &results
                .root
                .join(run_id)
                .join("host")
                .join(tree)
                .join("vmatest.json"),
        )
        .ok()
    };
    if let (Some(b), Some(p)) = (host("base"), host("patched")) {
        if b.status == Status::Ok && p.status != Status::Ok {
            out.push(Regression::new(
                "host",
                Kind::HostVmaTests,
                "tools/testing/vma passes on base, fails on patched",
            ));
        }
    }
    for c in cells {
        let id = c.id();
        let get = |tree: &str, st: Stage| results.read_record(run_id, &id, tree, st);
        let (bc, pc) = (
            get("base", Stage::Configure),
            get("patched", Stage::Configure),
        );
        if let (Some(b), Some(p)) = (&bc, &pc) {
            if b.status == Status::Ok && p.status == Status::Infeasible {
                out.push(Regression::new(
                    &id,
                    Kind::Infeasible,
                    "configuration became infeasible",
                ));
            }
            if b.status != Status::Failed && p.status == Status::Failed {
                out.push(Regression::new(
                    &id,
                    Kind::Kconfig,
                    "Kconfig fails on patched",
                ));
            }
        }
        let (bb, pb) = (get("base", Stage::Build), get("patched", Stage::Build));
        if let (Some(b), Some(p)) = (&bb, &pb) {
            if b.status == Status::Ok && p.status == Status::Failed {
                out.push(Regression::new(
                    &id,
                    Kind::Build,
                    "patched build fails, base builds",
                ));
            }
            let nw = p.build.as_ref().map_or(0, |d| d.new_warnings.len());
            if nw > 0 {
                out.push(Regression::new(
                    &id,
                    Kind::NewWarnings,
                    format!("{nw} new warning(s)"),
                ));
            }
        }
        let (bb, pb) = (get("base", Stage::Boot), get("patched", Stage::Boot));
        if let (Some(b), Some(p)) = (&bb, &pb) {
            if b.status == Status::Ok && p.status == Status::Failed {
                out.push(Regression::new(
                    &id,
                    Kind::Boot,
                    "base boots, patched does not",
                ));
            }
            let passed = |r: &Record| {
                r.boot
                    .as_ref()
                    .and_then(|b| b.tests)
                    .map(|(n, p, f)| n > 0 && n == p && f == 0)
            };
            if passed(b) == Some(true) && passed(p) != Some(true) {
                out.push(Regression::new(
                    &id,
                    Kind::GuestVmaTests,
                    "guest vma tests pass on base, not on patched",
                ));
            }
            out.extend(new_splats(&id, b, p));
            let child = |r: &Record| r.boot.as_ref().and_then(|b| b.child);
            if child(b) == Some(0) && child(p) != Some(0) {
                out.push(Regression::new(
                    &id,
                    Kind::Exec,
                    "exec/exit in the patched guest fails",
                ));
            }
            let tests = |r: &Record| {
                r.boot
                    .as_ref()
                    .map(|b| b.selftests.clone())
                    .unwrap_or_default()
            };
            for t in crate::selftests::regressions(&tests(b), &tests(p)) {
                out.push(Regression::new(
                    &id,
                    Kind::Selftest,
                    format!("selftest {t}"),
                ));
            }
            let work = |r: &Record| r.boot.as_ref().and_then(|b| b.workload.clone());
            out.extend(workload(c, work(b).as_ref(), work(p).as_ref(), p.status));
        }
    }
    out
}

/// Kernel reports of the patched boot that the base boot does not have
/// (compared by `Splat::key`, as a multiset): each one a regression.
fn new_splats(id: &str, base: &Record, patched: &Record) -> Vec<Regression> {
    let splats = |r: &Record| {
        r.boot
            .as_ref()
            .map(|b| b.splats.clone())
            .unwrap_or_default()
    };
    let mut seen: std::collections::BTreeMap<String, usize> = Default::default();
    for s in splats(base) {
        *seen.entry(s.key()).or_default() += 1;
    }
    let mut out = Vec::new();
    for s in splats(patched) {
        match seen.get_mut(&s.key()) {
            Some(n) if *n > 0 => *n -= 1,
            _ => out.push(Regression::new(
                id,
                Kind::Splat,
                format!(
                    "the patched kernel reports {}: {}{}",
                    s.kind,
                    s.title,
                    s.frames
                        .first()
                        .map(|f| format!(" (in {f})"))
                        .unwrap_or_default()
                ),
            )),
        }
    }
    out
}

/// What the guest workload says against the patched tree: operations that
/// fail where base's did not, and, on UP MMU cells, where the series makes
/// the per-VMA lock new, page faults that never took it.
fn workload(
    c: &Cell,
    base: Option<&WorkloadData>,
    patched: Option<&WorkloadData>,
    booted: Status,
) -> Vec<Regression> {
    let id = c.id();
    let mut out = Vec::new();
    let Some(p) = patched else {
        return out;
    };
    let base_clean = base.is_none_or(WorkloadData::clean);
    if !p.clean() && base_clean && booted == Status::Ok {
        out.push(Regression::new(
            &id,
            Kind::Workload,
            if p.finished {
                format!(
                    "guest workload: {} of {} operations failed on patched",
                    p.failed, p.total
                )
            } else {
                "guest workload did not finish on patched".to_string()
            },
        ));
    }
    // A UP MMU kernel with the counters (the per-VMA lock is on) whose
    // faults never took the lock. Without the counters the kernel has no
    // per-VMA lock, which is no regression of a series that does not add
    // one; the report shows it.
    if c.smp == Smp::Up && c.mmu == Mmu::Mmu && p.finished {
        if let Some(d) = p.lock_delta().filter(|d| d.success == 0) {
            out.push(Regression::new(
                &id,
                Kind::VmaLock,
                format!(
                    "no page fault of the patched guest's workload was handled \
                     under a per-VMA lock (vma_lock_success +{}, miss +{})",
                    d.success, d.miss
                ),
            ));
        }
    }
    out
}

/// The per-patch checks' findings, one line per patch that has any, and
/// one for new kernel-doc warnings (`run --strict-checks`).
pub fn check_findings(c: &crate::checks::SeriesChecks) -> Vec<Regression> {
    let patch = |n: usize| format!("patch {n}");
    let mut out: Vec<Regression> = c
        .patches
        .iter()
        .filter(|p| p.checkpatch.is_none())
        .map(|p| {
            Regression::new(
                &patch(p.number),
                Kind::Check,
                format!("checkpatch did not run ({})", p.notes.join("; ")),
            )
        })
        .collect();
    out.extend(c
        .patches
        .iter()
        .filter(|p| p.findings() > 0)
        .map(|p| {
            let cp = p.checkpatch.clone().unwrap_or_default();
            Regression::new(&patch(p.number), Kind::Check, format!(
                "checkpatch {} errors, {} warnings, {} checks; {} sign-off and {} whitespace problem(s)",
                cp.errors,
                cp.warnings,
                cp.checks,
                p.dco.len(),
                p.whitespace.len()
            ))
        }));
    if !c.kernel_doc_new.is_empty() {
        out.push(Regression::new(
            "series",
            Kind::Check,
            format!("{} new kernel-doc warning(s)", c.kernel_doc_new.len()),
        ));
    }
    out
}

/// Per cell, the first tree after base whose build fails or adds warnings.
pub fn first_bad(
    results: &Results,
    run_id: &str,
    cells: &[Cell],
    trees: &[(Tree, String)],
    patches: usize,
) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    for c in cells {
        let id = c.id();
        for (t, _) in trees.iter().filter(|(t, _)| *t != Tree::Base) {
            let Some(r) = results.read_record(run_id, &id, &t.name(), Stage::Build) else {
                continue;
            };
            let patch = match t {
                Tree::Patch(n) => *n,
                _ => patches,
            };
            let nw = r.build.as_ref().map_or(0, |b| b.new_warnings.len());
            let what = if r.status == Status::Failed {
                "build fails".to_string()
            } else if nw > 0 {
                format!("{nw} new warning(s)")
            } else {
                continue;
            };
            out.insert(id.clone(), format!("patch {patch}: {what}"));
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BootData, BootOutcome, VmaLockStats};

    fn cell(id: &str) -> Cell {
        let p: Vec<&str> = id.split('-').collect();
        Cell {
            arch: p[0].into(),
            smp: if p[1] == "smp" { Smp::Smp } else { Smp::Up },
            mmu: if p[2] == "mmu" { Mmu::Mmu } else { Mmu::Nommu },
        }
    }

    fn boot(res: &Results, id: &str, tree: &str, w: Option<WorkloadData>, warnings: usize) {
        let mut b = BootData::not_run(BootOutcome::Booted, String::new());
        b.workload = w;
        let warning = "------------[ cut here ]------------\n\
            WARNING: mm/mmap_lock.c:338 at lock_vma_under_rcu+0xda/0x100, CPU#0: init/1\n\
            ---[ end trace 0000000000000000 ]---\n";
        b.splats = crate::boot::splat::parse(&warning.repeat(warnings));
        b.child = Some(0);
        let r = Record {
            boot: Some(b),
            ..Record::new(id, tree, Stage::Boot, "c")
        };
        res.write_record("run", &r).unwrap();
    }

    fn work(failed: u64, success: Option<(u64, u64)>) -> WorkloadData {
        let stats = |n| VmaLockStats {
            success: n,
            ..Default::default()
        };
        WorkloadData {
            mode: "mmu".into(),
            before: success.map(|(b, _)| stats(b)),
            after: success.map(|(_, a)| stats(a)),
            total: 100,
            failed,
            finished: true,
            exit: Some(i32::from(failed > 0)),
            ..Default::default()
        }
    }

    #[test]
    fn workload_failures_and_missing_vma_lock_use_are_regressions() {
        let d = tempfile::tempdir().unwrap();
        let res = Results::open(d.path());
        // UP MMU: base has no counters (no per-VMA lock), patched took it.
        boot(&res, "x86-up-mmu", "base", Some(work(0, None)), 0);
        boot(
            &res,
            "x86-up-mmu",
            "patched",
            Some(work(0, Some((5, 900)))),
            0,
        );
        // SMP: patched fails operations base did not.
        boot(&res, "x86-smp-mmu", "base", Some(work(0, Some((1, 2)))), 0);
        boot(
            &res,
            "x86-smp-mmu",
            "patched",
            Some(work(3, Some((2, 9)))),
            0,
        );
        // UP MMU whose patched faults never took the lock, and that warns
        // once more than base (which had the same warning once: shown, but
        // not new).
        boot(&res, "arm-up-mmu", "base", Some(work(0, None)), 1);
        boot(
            &res,
            "arm-up-mmu",
            "patched",
            Some(work(0, Some((7, 7)))),
            2,
        );
        let cells: Vec<Cell> = ["x86-up-mmu", "x86-smp-mmu", "arm-up-mmu"]
            .iter()
            .map(|i| cell(i))
            .collect();
        let r = regressions(&res, "run", &cells);
        let kinds: Vec<Kind> = r.iter().map(|r| r.kind).collect();
        assert_eq!(kinds, [Kind::Workload, Kind::Splat, Kind::VmaLock]);
        let r: Vec<String> = r.iter().map(|r| r.to_string()).collect();
        assert_eq!(
            r,
            [
                "x86-smp-mmu: guest workload: 3 of 100 operations failed on patched",
                "arm-up-mmu: the patched kernel reports warning: WARNING: mm/mmap_lock.c:338 \
                 at lock_vma_under_rcu+0xda/0x100, CPU#0: init/1",
                "arm-up-mmu: no page fault of the patched guest's workload was handled \
                 under a per-VMA lock (vma_lock_success +0, miss +0)",
            ],
            "{r:#?}"
        );
    }

    #[test]
    fn first_bad_names_the_first_failing_patch() {
        let d = tempfile::tempdir().unwrap();
        let res = Results::open(d.path());
        let trees = [
            (Tree::Base, "b".to_string()),
            (Tree::Patch(1), "1".into()),
            (Tree::Patch(2), "2".into()),
            (Tree::Patched, "3".into()),
        ];
        for (t, st) in [
            ("base", Status::Ok),
            ("patch-1", Status::Ok),
            ("patch-2", Status::Failed),
            ("patched", Status::Ok),
        ] {
            let r = Record {
                status: st,
                ..Record::new("x86-up-mmu", t, Stage::Build, "c")
            };
            res.write_record("run", &r).unwrap();
        }
        let fb = first_bad(&res, "run", &[cell("x86-up-mmu")], &trees, 3);
        assert_eq!(fb["x86-up-mmu"], "patch 2: build fails");
    }
}

//! The other way round from a regression: what the base tree does wrong in
//! a cell and the patched tree does not. A build that now succeeds, a
//! kernel that now reaches /init's result marker, a kernel report that is
//! gone, guest tests and workload operations that now pass. Computed from
//! the report's rows, so every run (older ones too) shows it.
//!
//! One run is one observation: a report that comes from a race may just
//! not have come on patched this time. The renderers say so.

use super::load::{BothVerdicts, BuildStatus, FailingOnBoth, Row};
use crate::model::{BootOutcome, Regression, RegressionKind as Kind};
use crate::selftests::Verdict;

/// What base does wrong that patched does not, per cell, in matrix order.
pub fn fixed(rows: &[Row]) -> Vec<Regression> {
    let mut out = Vec::new();
    for row in rows.iter().filter(|r| r.selected) {
        let id = row.id.as_str();
        if let (Some(b), Some(p)) = (&row.build.base, &row.build.patched) {
            let built = matches!(p.status, BuildStatus::Ok | BuildStatus::ProbeOnly);
            if b.status == BuildStatus::Failed && built {
                out.push(Regression::new(
                    id,
                    Kind::Build,
                    "base build fails, patched builds",
                ));
            }
        }
        let (Some(b), Some(p)) = (&row.boot.base, &row.boot.patched) else {
            continue;
        };
        // Only what the patched kernel did in full counts against base: a
        // console cut short says nothing of what did not come.
        if p.outcome != BootOutcome::Booted {
            continue;
        }
        // QEMU's failures include host faults (initramfs, boot shim).
        let failed = |o: BootOutcome| {
            matches!(
                o,
                BootOutcome::Panic | BootOutcome::Timeout | BootOutcome::Silent
            )
        };
        if failed(b.outcome) {
            let why = b.panic.as_ref().or(b.reason.as_ref());
            out.push(Regression::new(
                id,
                Kind::Boot,
                format!(
                    "base does not boot ({}{}), patched does",
                    outcome_word(b.outcome),
                    why.map(|w| format!(": {w}")).unwrap_or_default()
                ),
            ));
        }
        // Base's reports that patched does not have, by key, as a multiset;
        // one line per key with its count.
        let mut left: Vec<(&crate::boot::splat::Splat, usize)> = Vec::new();
        let mut patched_keys: Vec<String> = p.splats.iter().map(|s| s.key()).collect();
        for s in &b.splats {
            let key = s.key();
            if let Some(i) = patched_keys.iter().position(|k| *k == key) {
                patched_keys.swap_remove(i);
                continue;
            }
            match left.iter_mut().find(|(f, _)| f.key() == key) {
                Some((_, n)) => *n += 1,
                None => left.push((s, 1)),
            }
        }
        for (s, n) in left {
            out.push(Regression::new(
                id,
                Kind::Splat,
                format!(
                    "the base kernel reports {}: {}{}{}; the patched kernel does not",
                    s.kind,
                    s.title,
                    s.frames
                        .first()
                        .map(|f| format!(" (in {f})"))
                        .unwrap_or_default(),
                    if n > 1 {
                        format!(" ({n} times)")
                    } else {
                        String::new()
                    }
                ),
            ));
        }
        let failed_some = b.vma_tests.is_some_and(|c| c.run > 0 && c.failed > 0);
        let all_passed = p.vma_tests.is_some_and(|c| c.run > 0 && c.all_passed());
        if failed_some && all_passed {
            out.push(Regression::new(
                id,
                Kind::GuestVmaTests,
                "guest vma tests fail on base, pass on patched",
            ));
        }
        for t in &p.selftests {
            let Some(bt) = b.selftests.iter().find(|x| x.name == t.name) else {
                continue;
            };
            // An error (a timeout, a guest that stopped) is not a failure
            // of the test: only a failing test counts, or one that crashed.
            if t.verdict() != Verdict::Pass {
                continue;
            }
            let how = if bt.verdict() == Verdict::Fail {
                match bt.failures() {
                    Some(f) => format!("fails on base ({f})"),
                    None => "fails on base".to_string(),
                }
            } else if bt.crashed() {
                format!("{} on base", bt.incomplete.as_deref().unwrap_or("crashed"))
            } else {
                continue;
            };
            out.push(Regression::new(
                id,
                Kind::Selftest,
                format!("selftest {}: {how}, passes on patched", t.name),
            ));
        }
        if let (Some(bw), Some(pw)) = (&b.workload, &p.workload) {
            if bw.finished && bw.failed > 0 && pw.clean() {
                out.push(Regression::new(
                    id,
                    Kind::Workload,
                    format!(
                        "guest workload: {} of {} operations failed on base, none on patched",
                        bw.failed, bw.total
                    ),
                ));
            }
        }
    }
    out
}

/// Selftests that do not pass on either tree, per cell: what the series
/// neither broke nor fixed, which "no regression" alone would hide.
/// In matrix order.
pub fn failing_on_both(rows: &[Row]) -> Vec<FailingOnBoth> {
    let bad = |v: Verdict| matches!(v, Verdict::Fail | Verdict::Error);
    let mut out = Vec::new();
    for row in rows.iter().filter(|r| r.selected) {
        let (Some(b), Some(p)) = (&row.boot.base, &row.boot.patched) else {
            continue;
        };
        // A guest that stopped says nothing of the tests it cut short.
        if b.outcome != BootOutcome::Booted || p.outcome != BootOutcome::Booted {
            continue;
        }
        let tests: Vec<BothVerdicts> = p
            .selftests
            .iter()
            .filter(|t| bad(t.verdict()))
            .filter_map(|t| {
                let x = b.selftests.iter().find(|x| {
                    // New failing subtests make it a regression instead.
                    x.name == t.name
                        && bad(x.verdict())
                        && crate::selftests::regressions(
                            std::slice::from_ref(x),
                            std::slice::from_ref(t),
                        )
                        .is_empty()
                })?;
                Some(BothVerdicts {
                    name: t.name.clone(),
                    base: x.verdict(),
                    patched: t.verdict(),
                })
            })
            .collect();
        if !tests.is_empty() {
            out.push(FailingOnBoth {
                cell: row.id.clone(),
                tests,
            });
        }
    }
    out
}

fn outcome_word(o: BootOutcome) -> &'static str {
    match o {
        BootOutcome::Booted => "booted",
        BootOutcome::Panic => "panic",
        BootOutcome::Timeout => "timeout",
        BootOutcome::Silent => "silent",
        BootOutcome::QemuFailed => "QEMU failed",
        BootOutcome::NotBootable => "not bootable",
    }
}

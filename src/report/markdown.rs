//! The markdown report of a run: what a maintainer reads first comes first
//! (summary, regressions, warnings), then the table of the selected cells
//! with a legend, then the details.

use super::load::{BootView, BuildStatus, BuildView, Report, Row, SizeDelta, Trees};
use crate::model::BootOutcome;

/// How many compiler errors of a failed build are quoted.
pub const QUOTED_ERRORS: usize = 5;

/// `+8 B`, `0 B`, `-`.
pub fn bytes_delta(d: &SizeDelta) -> String {
    match d.delta() {
        Some(0) => "0 B".into(),
        Some(x) => format!("{x:+} B"),
        None => "-".into(),
    }
}

/// One build's status in a table cell.
pub fn build_word(b: &Option<BuildView>) -> String {
    match b {
        None => "-".into(),
        Some(b) => match b.status {
            BuildStatus::Ok => "ok".into(),
            BuildStatus::ProbeOnly => "probe only".into(),
            BuildStatus::Failed => match b.exit_status {
                Some(c) => format!("FAIL (exit {c})"),
                None => "FAIL".into(),
            },
            BuildStatus::TimedOut => "FAIL (timed out)".into(),
            BuildStatus::Killed => "FAIL (killed)".into(),
        },
    }
}

/// One boot's outcome in a table cell.
pub fn boot_word(b: &Option<BootView>) -> String {
    match b {
        None => "-".into(),
        Some(b) => match (b.outcome, b.secs_to_marker) {
            (BootOutcome::Booted, Some(s)) => format!("booted ({s:.1} s)"),
            (BootOutcome::Booted, None) => "booted".into(),
            (BootOutcome::NotBootable, _) => "not bootable".into(),
            (BootOutcome::QemuFailed, _) => "QEMU FAILED".into(),
            (o, _) => format!("{o:?}").to_uppercase(),
        },
    }
}

/// The guest vma tests of one boot in a table cell.
fn vma_word(b: &Option<BootView>) -> String {
    match b.as_ref().and_then(|b| b.vma_tests) {
        None => "-".into(),
        Some(t) if t.all_passed() => format!("{} of {} passed", t.passed, t.run),
        Some(t) => format!("{} of {} FAILED", t.failed, t.run),
    }
}

fn pair(t: &Trees<String>) -> String {
    format!("{} / {}", t.base, t.patched)
}

fn map<T, U>(t: &Trees<T>, f: impl Fn(&T) -> U) -> Trees<U> {
    Trees {
        base: f(&t.base),
        patched: f(&t.patched),
    }
}

/// `PER_VMA_LOCK n -> undefined` for the tracked symbols that change,
/// `PER_VMA_LOCK=y` for those that do not.
fn tracked(row: &Row) -> String {
    if row.tracked.is_empty() {
        return "-".into();
    }
    row.tracked
        .iter()
        .map(|(k, t)| {
            let b = t.base.as_deref().unwrap_or("-");
            let p = t.patched.as_deref().unwrap_or("-");
            if b == p {
                format!("{k}={b}")
            } else {
                format!("{k} {b} -> {p}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The header and the struct sizes (`report --struct-size`).
pub fn struct_sizes_only(r: &Report) -> String {
    header(r) + &struct_sizes(r)
}

/// The header and the seconds per cell, tree and stage (`report
/// --timing`): what a cost model of the matrix starts from.
pub fn timing_only(r: &Report) -> String {
    let mut s = header(r);
    s.push_str(
        "\n## Time per stage (seconds; * replayed from the cache: the time of the run that made it)\n\n\
         | cell | tree | configure | build | measure | boot | total | -j |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    let mut keys: Vec<(&str, &str)> = Vec::new();
    for t in &r.timing {
        if !keys.contains(&(t.cell.as_str(), t.tree.as_str())) {
            keys.push((&t.cell, &t.tree));
        }
    }
    let mut sums = [0.0f64; 4];
    for (cell, tree) in keys {
        let mut line = format!("| {cell} | {tree} |");
        let mut total = 0.0;
        let mut jobs = None;
        for (i, st) in ["configure", "build", "measure", "boot"].iter().enumerate() {
            match r
                .timing
                .iter()
                .find(|t| t.cell == cell && t.tree == tree && t.stage == *st)
            {
                Some(t) => {
                    line.push_str(&format!(
                        " {:.1}{} |",
                        t.secs,
                        if t.cached { "*" } else { "" }
                    ));
                    total += t.secs;
                    sums[i] += t.secs;
                    jobs = jobs.or(t.jobs);
                }
                None => line.push_str(" - |"),
            }
        }
        let jobs = jobs.map(|j| j.to_string()).unwrap_or_else(|| "-".into());
        s.push_str(&format!("{line} {total:.1} | {jobs} |\n"));
    }
    s.push_str(&format!(
        "| all | | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | |\n",
        sums[0],
        sums[1],
        sums[2],
        sums[3],
        sums.iter().sum::<f64>()
    ));
    s
}

/// The markdown report: `run`, `merge` and `report` print the same one.
pub fn markdown(r: &Report) -> String {
    let mut s = header(r);
    s.push_str(&summary(r));
    s.push_str(&regressions(r));
    s.push_str(&fixed(r));
    if !r.not_compiled_anywhere.is_empty() {
        s.push_str(&format!(
            "\n**Warning: no selected cell compiled {}**: nothing in this run proves the series' changes there build.\n",
            r.not_compiled_anywhere
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    s.push_str(&table(r));
    s.push_str(&build_failures(r));
    s.push_str(&struct_sizes(r));
    s.push_str(&sections(r));
    s.push_str(&runtime(r));
    s.push_str(&selftests(r));
    s.push_str(&checks(r));
    s.push_str(&per_patch(r));
    s.push_str(&ccache(r));
    s.push_str(&notes(r));
    s.push_str(&infeasible(r));
    s
}

fn short(c: &str) -> &str {
    &c[..12.min(c.len())]
}

fn header(r: &Report) -> String {
    let run = &r.run;
    let mut s = format!("# vmamatrix run {}\n\n", run.run_id);
    if !r.complete {
        s.push_str(&format!(
            "**This run is {}: cells without results were not reached. Resume it with the same `vmamatrix run` command; finished stages are kept.**\n\n",
            if run.interrupted {
                "interrupted"
            } else {
                "not finished"
            }
        ));
    }
    s.push_str(&format!(
        "- kernel: `{}`, base `{}`{}\n- series: {} ({} patches, sha256 `{}`), patched `{}`\n- toolchain: `{}`\n- vmamatrix {}; started {}, finished {}\n",
        run.kernel,
        short(&run.base),
        if run.base_source.is_empty() {
            String::new()
        } else {
            format!(" (from {})", run.base_source)
        },
        run.series.cover_subject.as_deref().unwrap_or(&run.series.path),
        run.series.patches.len(),
        &run.series.hash[..16.min(run.series.hash.len())],
        short(&run.patched),
        run.toolchain.join(" "),
        run.vmamatrix,
        run.started,
        run.finished.as_deref().unwrap_or("(not finished)"),
    ));
    if let Some((k, n)) = run.shard {
        s.push_str(&format!("- shard {k} of {n}\n"));
    }
    if run.configs.len() > 1 {
        s.push_str(&format!(
            "- Kconfig fragments: `{}` with the overlay(s) `{}`: sizes and boots of this run \
             are of kernels with those options (a debug overlay makes VMAs bigger), \
             not production figures.\n",
            run.configs[0],
            run.configs[1..].join("`, `")
        ));
    }
    s
}

fn summary(r: &Report) -> String {
    let m = &r.summary;
    let mut s = format!(
        "\n## Summary\n\n- cells: {} selected of {}, {} feasible, {} refused by Kconfig\n- built: base {}, patched {} (failed: base {}, patched {})\n- booted: base {}, patched {} (failed: base {}, patched {})\n- regressions: {}\n{}",
        m.selected,
        m.cells,
        m.feasible,
        m.infeasible,
        m.built.base,
        m.built.patched,
        m.build_failed.base,
        m.build_failed.patched,
        m.booted.base,
        m.booted.patched,
        m.boot_failed.base,
        m.boot_failed.patched,
        if m.regressions == 0 {
            "none".to_string()
        } else {
            format!("**{}**", m.regressions)
        },
        if m.fixed == 0 {
            String::new()
        } else {
            format!("- fixed on patched (base fails, patched does not): {}\n", m.fixed)
        },
    );
    let both = &r.failing_on_both;
    if !both.is_empty() {
        s.push_str(&format!(
            "- selftests that fail on both trees (not regressions; see \"Kernel selftests in the guests\"): {}\n",
            both.iter()
                .map(|f| format!("{} {}", f.cell, f.tests_text()))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    let host: Vec<String> = r
        .host_vma_tests
        .named()
        .iter()
        .filter_map(|(t, c)| {
            c.map(|c| {
                if c.all_passed() {
                    format!("{t} {} of {} passed", c.passed, c.run)
                } else {
                    format!("{t} **{} of {} FAILED**", c.failed, c.run)
                }
            })
        })
        .collect();
    if !host.is_empty() {
        s.push_str(&format!(
            "- tools/testing/vma on the host: {}\n",
            host.join(", ")
        ));
    }
    let measured = r
        .cells
        .iter()
        .filter(|c| c.structs.iter().any(|d| d.delta().is_some()))
        .count();
    if m.struct_growth.is_empty() {
        if measured > 0 {
            s.push_str(&format!(
                "- cost: no measured struct changed size ({measured} cell(s) measured)\n"
            ));
        }
    } else {
        s.push_str("- cost: ");
        s.push_str(
            &m.struct_growth
                .iter()
                .map(|g| {
                    format!(
                        "**{} {} {:+} B** ({} -> {})",
                        g.cell, g.name, g.delta, g.base, g.patched
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
        );
        let grown = m
            .struct_growth
            .iter()
            .map(|g| &g.cell)
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        match measured.saturating_sub(grown) {
            0 => s.push('\n'),
            n => s.push_str(&format!("; no change in the other {n} measured cell(s)\n")),
        }
    }
    s
}

fn regressions(r: &Report) -> String {
    if r.regressions().is_empty() {
        return String::new();
    }
    let mut s = String::from("\n## Regressions\n\n");
    for reg in r.regressions() {
        s.push_str(&format!("- {reg}\n"));
    }
    s
}

/// What base does wrong and patched does not.
fn fixed(r: &Report) -> String {
    if r.fixed.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "\n## Fixed on patched\n\nWhat the base tree does wrong here and the patched tree does not, in this run (one observation each: a race on base may not recur):\n\n",
    );
    for f in &r.fixed {
        s.push_str(&format!("- {f}\n"));
    }
    s
}

/// The table of the selected cells that Kconfig could configure.
fn table(r: &Report) -> String {
    let rows: Vec<&Row> = r
        .cells
        .iter()
        .filter(|c| c.selected && c.feasible != Some(false))
        .collect();
    if rows.is_empty() {
        return "\nNo feasible cell was selected.\n".into();
    }
    let structs: Vec<String> = r.run.structs.clone();
    let mut s = String::from(
        "\n## Cells\n\n| cell | Kconfig | build | new warnings | series files compiled |",
    );
    for st in &structs {
        s.push_str(&format!(" {st} Δ |"));
    }
    s.push_str(" boot | guest vma tests |\n|---|---|---|---|---|");
    for _ in &structs {
        s.push_str("---|");
    }
    s.push_str("---|---|\n");
    for row in &rows {
        let new_w = match &row.build.patched {
            Some(b) if b.status != BuildStatus::ProbeOnly => b.new_warnings.len().to_string(),
            _ => "-".into(),
        };
        let cov = row
            .coverage
            .as_ref()
            .filter(|_| {
                // A failed or probe-only build compiled what it got to.
                row.build
                    .patched
                    .as_ref()
                    .is_some_and(|b| b.status == BuildStatus::Ok)
            })
            .map(|c| {
                let total = c.compiled.len() + c.not_compiled.len() + c.failed.len();
                format!("{} of {total}", c.compiled.len())
            })
            .unwrap_or_else(|| "-".into());
        s.push_str(&format!(
            "| {}{} | {} | {} | {new_w} | {cov} |",
            row.id,
            if row.regression {
                " **REGRESSION**"
            } else {
                ""
            },
            tracked(row),
            pair(&map(&row.build, build_word)),
        ));
        for d in &row.structs {
            s.push_str(&format!(" {} |", bytes_delta(d)));
        }
        s.push_str(&format!(
            " {} | {} |\n",
            pair(&map(&row.boot, boot_word)),
            pair(&map(&row.boot, vma_word)),
        ));
    }
    s.push_str(
        "\nLegend: every \"x / y\" is base / patched. Kconfig: the tracked symbols, \
         `A -> B` where the series changes them (`undefined`: the tree's Kconfig has \
         no such symbol, as when a series removes it). build: ok, \"probe only\" \
         (`--structs-only`: only the struct probe object was compiled, no kernel), \
         or FAIL with make's exit status. new warnings: compiler warnings of the \
         patched build that base does not have. series files compiled: the series' C \
         and Rust (rust/) files the patched build compiled, of those it touches. Δ: size change of \
         the struct in bytes (patched minus base). boot: how the kernel ended in \
         QEMU, and the seconds to /init's result (boot, guest tests, selftests and \
         workload together: not a boot time). guest vma tests: tools/testing/vma in \
         the booted guest.\n",
    );
    let rest: Vec<&str> = r
        .cells
        .iter()
        .filter(|c| !c.selected)
        .map(|c| c.id.as_str())
        .collect();
    if !rest.is_empty() {
        s.push_str(&format!(
            "\nNot selected ({}): {}.\n",
            rest.len(),
            rest.join(", ")
        ));
    }
    s
}

/// Failed builds with their first compiler errors and the log's path.
fn build_failures(r: &Report) -> String {
    let mut s = String::new();
    for row in &r.cells {
        for (tree, b) in row.build.named() {
            let Some(b) = b else { continue };
            if matches!(b.status, BuildStatus::Ok | BuildStatus::ProbeOnly) {
                continue;
            }
            if s.is_empty() {
                s.push_str("\n## Build failures\n");
            }
            s.push_str(&format!(
                "\n{} {tree}: {} after {:.0} s; log `{}`\n\n```\n",
                row.id,
                build_word(&Some(b.clone())),
                b.secs,
                r.path(&b.log).display()
            ));
            if b.errors.is_empty() {
                for l in &b.tail {
                    s.push_str(&format!("{l}\n"));
                }
            } else {
                for e in b.errors.iter().take(QUOTED_ERRORS) {
                    s.push_str(&format!("{}:{}: {}: {}\n", e.file, e.line, e.kind, e.text));
                }
                if b.errors.len() > QUOTED_ERRORS {
                    s.push_str(&format!(
                        "... {} more error(s) in the log\n",
                        b.errors.len() - QUOTED_ERRORS
                    ));
                }
            }
            s.push_str("```\n");
        }
    }
    s
}

fn struct_sizes(r: &Report) -> String {
    let rows: Vec<&Row> = r
        .cells
        .iter()
        .filter(|c| {
            c.structs
                .iter()
                .any(|d| d.base.is_some() || d.patched.is_some())
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    let mut s = String::from("\n## Struct sizes (bytes, base -> patched)\n\n| cell |");
    for st in &r.run.structs {
        s.push_str(&format!(" {st} |"));
    }
    s.push_str("\n|---|");
    for _ in &r.run.structs {
        s.push_str("---|");
    }
    s.push('\n');
    let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_else(|| "-".into());
    for row in rows {
        s.push_str(&format!("| {} |", row.id));
        for d in &row.structs {
            s.push_str(&format!(
                " {} -> {} ({}) |",
                opt(d.base),
                opt(d.patched),
                bytes_delta(d)
            ));
        }
        s.push('\n');
    }
    s
}

/// vmlinux section size changes, per cell that has both trees measured.
fn sections(r: &Report) -> String {
    let rows: Vec<&Row> = r
        .cells
        .iter()
        .filter(|c| c.sections.iter().any(|d| d.delta().is_some()))
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "\n## vmlinux size change (patched minus base)\n\n| cell | text | rodata | data | bss |\n|---|---|---|---|---|\n",
    );
    for row in rows {
        s.push_str(&format!("| {} |", row.id));
        for d in &row.sections {
            s.push_str(&format!(" {} |", bytes_delta(d)));
        }
        s.push('\n');
    }
    s
}

/// The guest workload and the per-VMA lock counters, per cell and tree.
fn runtime(r: &Report) -> String {
    let rows: Vec<&Row> = r
        .cells
        .iter()
        .filter(|row| {
            row.boot
                .named()
                .iter()
                .any(|(_, b)| b.as_ref().is_some_and(|b| b.workload.is_some()))
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "\n## Runtime: guest VMA workload and per-VMA lock counters\n\n\
         operations: how many VMA operations the workload did in its fixed time \
         (`--workload-secs`), and how many failed; the count follows the guest's speed \
         under QEMU and is not a performance figure. vma_lock: the deltas of \
         /proc/vmstat's `vma_lock_*` over the workload, the whole guest's: success, \
         user page faults handled under a per-VMA lock (one operation faults many \
         pages, so it can exceed the operations); abort, lookups under RCU (page \
         faults, and madvise(MADV_DONTNEED), which the workload does) that found no \
         VMA or could not lock it and fell back to mmap_lock; retry, faults under a \
         VMA lock that had to be retried under mmap_lock; miss, VMAs replaced while \
         being locked (the lookup is repeated). kernel reports: the kernel's own (warnings, \
         BUG, lockdep, KASAN, ...) on the console.\n\n\
         | cell | tree | operations | failed | vma_lock success / abort / retry / miss | kernel reports |\n\
         |---|---|---|---|---|---|\n",
    );
    let mut failures = Vec::new();
    for row in rows {
        for (tree, b) in row.boot.named() {
            let Some(b) = b else { continue };
            let Some(w) = &b.workload else { continue };
            let ops = if w.finished {
                w.total.to_string()
            } else {
                format!("{} (unfinished)", w.ops.iter().map(|o| o.ops).sum::<u64>())
            };
            let failed = if w.failed > 0 || !w.finished {
                format!("**{}**", w.failed)
            } else {
                "0".into()
            };
            let lock = lock_cell(&row.mmu, b.vma_lock);
            let splats = if b.splats.is_empty() {
                "0".to_string()
            } else {
                format!("**{}**", b.splats.len())
            };
            s.push_str(&format!(
                "| {} | {tree} | {ops} | {failed} | {lock} | {splats} |\n",
                row.id
            ));
            if w.failed > 0 {
                failures.push(format!("- {} {tree}: {}", row.id, workload_failures(w)));
                if !w.vmas.is_empty() {
                    failures.push(format!(
                        "\n  The VMAs around the mutator's region after it (/proc/self/maps):\n\n  ```\n  {}\n  ```\n",
                        w.vmas.join("\n  ")
                    ));
                }
            }
        }
    }
    if !failures.is_empty() {
        s.push_str("\nFailed operations (kind: failed of done; what the workload saw):\n\n");
        s.push_str(&failures.join("\n"));
        s.push('\n');
    }
    s
}

/// A cell-tree's `vma_lock_*` deltas: "no per-VMA locks" without the
/// counters; zeros on NOMMU said for what they are (the counters count page
/// faults handled under the lock, and a kernel without an MMU takes none).
fn lock_cell(mmu: &str, d: Option<crate::model::VmaLockStats>) -> String {
    match d {
        Some(d) if mmu == "nommu" && d.success + d.abort + d.retry + d.miss == 0 => {
            "+0 (NOMMU: no page faults to count)".into()
        }
        Some(d) => format!("+{} / +{} / +{} / +{}", d.success, d.abort, d.retry, d.miss),
        None => "no per-VMA locks".into(),
    }
}

/// A workload's failed operations, by kind, with the distinct failures it
/// printed (`FAIL <kind> <step> <value>`) and what a negative errno means.
fn workload_failures(w: &crate::model::WorkloadData) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for f in &w.fails {
        if !seen.contains(&f.as_str()) {
            seen.push(f);
        }
    }
    w.ops
        .iter()
        .filter(|o| o.failed > 0)
        .map(|o| {
            let why: Vec<String> = seen
                .iter()
                .filter(|f| f.split_whitespace().next() == Some(o.kind.as_str()))
                .map(|f| {
                    let mut words = f.split_whitespace().skip(1);
                    let step = words.next().unwrap_or("");
                    let value = words.next().unwrap_or("");
                    match errno_hint(value) {
                        Some(h) => format!("`{step}` {value}: {h}"),
                        None => format!("`{step}` {value}"),
                    }
                })
                .collect();
            let why = if why.is_empty() {
                String::new()
            } else {
                format!(" ({})", why.join("; "))
            };
            format!("{} {} of {}{why}", o.kind, o.failed, o.ops)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a failed system call's negative errno says, for the ones that point
/// at the kernel's configuration rather than at a VMA bug.
fn errno_hint(value: &str) -> Option<&'static str> {
    Some(match value {
        "-38" => "ENOSYS, this kernel lacks the system call (Kconfig)",
        "-2" => "ENOENT, no such file in this kernel (Kconfig)",
        "-12" => "ENOMEM",
        "-14" => "EFAULT",
        "-22" => "EINVAL",
        _ => return None,
    })
}

/// The per-patch checks: one row per patch, then what they found.
fn checks(r: &Report) -> String {
    let Some(c) = &r.checks else {
        return String::new();
    };
    let mut s = String::from(
        "\n## Patch checks\n\n\
         checkpatch.pl --strict (errors / warnings / checks), the author's \
         Signed-off-by, whitespace errors in added lines.\n\n\
         | patch | checkpatch E/W/C | sign-off | whitespace |\n|---|---|---|---|\n",
    );
    for p in &c.patches {
        let cp = match &p.checkpatch {
            Some(cp) => format!("{}/{}/{}", cp.errors, cp.warnings, cp.checks),
            None => "not run".into(),
        };
        s.push_str(&format!(
            "| {} {} | {cp} | {} | {} |\n",
            p.number,
            p.subject,
            if p.dco.is_empty() {
                "ok"
            } else {
                "**missing**"
            },
            if p.whitespace.is_empty() {
                "ok".to_string()
            } else {
                format!("**{}**", p.whitespace.len())
            },
        ));
    }
    for p in &c.patches {
        let cp = p.checkpatch.clone().unwrap_or_default();
        for m in cp
            .messages
            .iter()
            .chain(&p.dco)
            .chain(&p.whitespace)
            .chain(&p.notes)
        {
            s.push_str(&format!("- patch {}: {m}\n", p.number));
        }
    }
    if c.kernel_doc_new.is_empty() {
        s.push_str("\nkernel-doc -Wall on the touched files: no new warnings.\n");
    } else {
        s.push_str("\nkernel-doc -Wall on the touched files, new warnings:\n\n");
        for w in &c.kernel_doc_new {
            s.push_str(&format!("- {w}\n"));
        }
    }
    s
}

/// The kernel selftests in the guests: pass / fail / skip per test, cell
/// and tree (a skip is not a pass).
fn selftests(r: &Report) -> String {
    let tests = |b: &Option<BootView>| b.as_ref().map(|b| b.selftests.clone()).unwrap_or_default();
    let rows: Vec<&Row> = r
        .cells
        .iter()
        .filter(|row| !tests(&row.boot.base).is_empty() || !tests(&row.boot.patched).is_empty())
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "\n## Kernel selftests in the guests\n\n\
         The test's verdict, exit status and subtest counts, base and patched \
         (a skip is not a pass).\n\n\
         | cell | test | base | patched |\n|---|---|---|---|\n",
    );
    for row in rows {
        let both = [tests(&row.boot.base), tests(&row.boot.patched)];
        let mut names: Vec<&str> = Vec::new();
        for t in both.iter().flatten() {
            if !names.contains(&t.name.as_str()) {
                names.push(&t.name);
            }
        }
        for name in names {
            let cell = |i: usize| {
                both[i]
                    .iter()
                    .find(|t| t.name == name)
                    .map(|t| {
                        let all = t.summary();
                        all.strip_prefix(&format!("{}: ", t.name))
                            .unwrap_or(&all)
                            .to_string()
                    })
                    .unwrap_or_else(|| "-".into())
            };
            s.push_str(&format!(
                "| {} | {name} | {} | {} |\n",
                row.id,
                cell(0),
                cell(1)
            ));
        }
    }
    s
}

fn per_patch(r: &Report) -> String {
    if r.per_patch.is_empty() {
        return String::new();
    }
    let mut s = String::from("\n## Per patch (build status, new warnings since base)\n\n| cell |");
    for t in &r.run.trees {
        s.push_str(&format!(" {t} |"));
    }
    s.push_str(" first bad |\n|---|");
    for _ in &r.run.trees {
        s.push_str("---|");
    }
    s.push_str("---|\n");
    for p in &r.per_patch {
        s.push_str(&format!("| {} |", p.cell));
        for t in &r.run.trees {
            match p.steps.iter().find(|st| &st.tree == t) {
                Some(st) => {
                    let w = match st.status {
                        BuildStatus::Ok => "ok",
                        BuildStatus::ProbeOnly => "probe only",
                        _ => "FAIL",
                    };
                    s.push_str(&format!(" {w} (+{}) |", st.new_warnings));
                }
                None => s.push_str(" - |"),
            }
        }
        s.push_str(&format!(
            " {} |\n",
            p.first_bad.as_deref().unwrap_or("none")
        ));
    }
    s
}

fn ccache(r: &Report) -> String {
    let cc: Vec<&Row> = r
        .cells
        .iter()
        .filter(|c| {
            c.build
                .named()
                .iter()
                .any(|(_, b)| b.as_ref().is_some_and(|b| b.ccache.is_some()))
        })
        .collect();
    if cc.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "\n## ccache (hits / cacheable compiler calls)\n\n| cell | base | patched |\n|---|---|---|\n",
    );
    let one = |b: &Option<BuildView>| match b.as_ref().and_then(|b| b.ccache.as_ref()) {
        Some(c) => match c.hit_rate() {
            Some(rate) => format!("{}/{} ({rate:.0}%)", c.hits, c.hits + c.misses),
            None => "no cacheable calls".into(),
        },
        None => "-".into(),
    };
    for row in cc {
        s.push_str(&format!(
            "| {} | {} | {} |\n",
            row.id,
            one(&row.build.base),
            one(&row.build.patched)
        ));
    }
    s
}

/// New warnings, uncompiled files, boot notes per cell, and the requests
/// Kconfig dropped folded into one line per request.
fn notes(r: &Report) -> String {
    let mut v: Vec<String> = Vec::new();
    for row in &r.cells {
        if let Some(b) = &row.build.patched {
            for w in &b.new_warnings {
                v.push(format!(
                    "- {}: new warning: {}:{}: {}",
                    row.id, w.file, w.line, w.text
                ));
            }
        }
        if let Some(c) = &row.coverage {
            if !c.not_compiled.is_empty()
                && row
                    .build
                    .patched
                    .as_ref()
                    .is_some_and(|b| b.status == BuildStatus::Ok)
            {
                v.push(format!(
                    "- {}: series files this configuration does not compile: {}",
                    row.id,
                    c.not_compiled.join(", ")
                ));
            }
        }
        let mut said: Vec<String> = Vec::new();
        for (tree, b) in row.boot.named() {
            let Some(b) = b else { continue };
            let mut lines: Vec<(String, String)> = Vec::new();
            if let Some(why) = b.panic.as_ref().or(b.reason.as_ref()) {
                lines.push((format!("{tree} boot: "), why.clone()));
            }
            if b.exec_child.is_some_and(|c| c != 0) {
                lines.push((
                    format!("{tree} boot: "),
                    "/init's exec-and-exit child failed".into(),
                ));
            }
            if let Some(n) = &b.vma_tests_note {
                lines.push(("guest vma tests not run: ".into(), n.clone()));
            }
            // Say once what both trees say alike.
            for (head, text) in lines {
                if !said.contains(&text) {
                    v.push(format!("- {}: {head}{text}", row.id));
                    said.push(text);
                }
            }
            // One line per kind of report (its key), with how many times the
            // console has it: a ratelimited complaint comes in tens.
            let mut firsts: Vec<(&crate::boot::splat::Splat, usize)> = Vec::new();
            for sp in &b.splats {
                match firsts.iter_mut().find(|(f, _)| f.key() == sp.key()) {
                    Some((_, n)) => *n += 1,
                    None => firsts.push((sp, 1)),
                }
            }
            for (sp, times) in firsts {
                // A new report of the patched kernel is in Regressions
                // already; say here what base has, and what both have.
                let in_base = row
                    .boot
                    .base
                    .as_ref()
                    .is_some_and(|b| b.splats.iter().any(|x| x.key() == sp.key()));
                let what = match (tree, in_base) {
                    ("patched", false) => continue,
                    ("patched", true) => "pre-existing, base has it too",
                    _ => "base",
                };
                let count = if times > 1 {
                    format!(", {times} times from line")
                } else {
                    String::new()
                };
                v.push(format!(
                    "- {}: {tree} kernel reports {}: {}{} (console line{count} {}; {what})",
                    row.id,
                    sp.kind,
                    sp.title,
                    sp.frames
                        .first()
                        .map(|f| format!(" in {f}"))
                        .unwrap_or_default(),
                    sp.line
                ));
            }
        }
    }
    // Dropped requests: one line per request, with the cells it hit.
    let mut dropped: Vec<(String, Vec<String>)> = Vec::new();
    for row in r.cells.iter().filter(|c| c.feasible == Some(true)) {
        for d in &row.dropped {
            let text = format!(
                "CONFIG_{}={} ({}): got {}, {}",
                d.symbol, d.requested, d.from, d.got, d.why
            );
            match dropped.iter_mut().find(|(t, _)| *t == text) {
                Some((_, cells)) => cells.push(row.id.clone()),
                None => dropped.push((text, vec![row.id.clone()])),
            }
        }
    }
    for (text, cells) in dropped {
        v.push(format!("- dropped {text}; on {}", cells.join(", ")));
    }
    if v.is_empty() {
        return String::new();
    }
    format!("\n## Notes\n\n{}\n", v.join("\n"))
}

/// The selected cells Kconfig refuses, in one list.
fn infeasible(r: &Report) -> String {
    let rows: Vec<&Row> = r
        .cells
        .iter()
        .filter(|c| c.selected && c.feasible == Some(false))
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    let mut s = format!("\n## Refused by Kconfig ({} cell(s))\n\n", rows.len());
    for row in rows {
        s.push_str(&format!(
            "- {}: {}\n",
            row.id,
            row.reason.as_deref().unwrap_or("?")
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{WorkloadData, WorkloadOp};

    #[test]
    fn workload_failures_name_the_errno() {
        // As the loongarch-up-mmu guest printed them (run 20261126-155655),
        // a kernel without ADVISE_SYSCALLS and PROC_PAGE_MONITOR.
        let op = |kind: &str, ops, failed| WorkloadOp {
            kind: kind.into(),
            ops,
            failed,
        };
        let w = WorkloadData {
            ops: vec![op("touch", 10, 0), op("maps", 4, 2), op("dontneed", 9, 9)],
            fails: vec![
                "dontneed madvise -38".into(),
                "dontneed madvise -38".into(),
                "maps /proc/self/smaps -2".into(),
            ],
            failed: 11,
            ..Default::default()
        };
        assert_eq!(
            workload_failures(&w),
            "maps 2 of 4 (`/proc/self/smaps` -2: ENOENT, no such file in this kernel (Kconfig)), \
             dontneed 9 of 9 (`madvise` -38: ENOSYS, this kernel lacks the system call (Kconfig))"
        );
        // A failure that is not an errno is shown as printed.
        let w = WorkloadData {
            ops: vec![op("mremap", 5, 1)],
            fails: vec!["mremap contents 0".into()],
            failed: 1,
            ..Default::default()
        };
        assert_eq!(workload_failures(&w), "mremap 1 of 5 (`contents` 0)");
    }

    #[test]
    fn lock_counters_say_what_zero_means_without_an_mmu() {
        let z = crate::model::VmaLockStats::default();
        let d = crate::model::VmaLockStats {
            success: 5,
            abort: 1,
            ..z
        };
        assert_eq!(
            lock_cell("nommu", Some(z)),
            "+0 (NOMMU: no page faults to count)"
        );
        assert_eq!(lock_cell("mmu", Some(z)), "+0 / +0 / +0 / +0");
        assert_eq!(lock_cell("mmu", Some(d)), "+5 / +1 / +0 / +0");
        assert_eq!(lock_cell("nommu", None), "no per-VMA locks");
    }
}

//! The markdown report of a run.

use super::load::{Report, Row, SizeDelta};
use crate::model::Record;

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(T::to_string).unwrap_or_else(|| "-".into())
}

fn delta(d: &SizeDelta) -> String {
    match d.delta() {
        Some(0) => "0".into(),
        Some(x) => format!("{x:+}"),
        None => "-".into(),
    }
}

/// `PER_VMA_LOCK=n->undefined` for every tracked symbol.
fn tracked(row: &Row) -> String {
    row.tracked
        .iter()
        .map(|(k, [b, p])| {
            let b = b.as_deref().unwrap_or("-");
            let p = p.as_deref().unwrap_or("-");
            if b == p {
                format!("{k}={b}")
            } else {
                format!("{k}={b}->{p}")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The markdown report.
pub fn markdown(r: &Report, struct_size: bool) -> String {
    let run = &r.run;
    let mut s = String::new();
    s.push_str(&format!("# vmamatrix run {}\n\n", run.run_id));
    s.push_str(&format!(
        "- kernel: `{}` base `{}`{}\n- series: {} ({} patches, sha256 `{}`), patched `{}`\n- toolchain: `{}`\n- started {}, finished {}{}\n\n",
        run.kernel,
        &run.base[..12.min(run.base.len())],
        if run.base_source.is_empty() {
            String::new()
        } else {
            format!(" (from {})", run.base_source)
        },
        run.series.cover_subject.as_deref().unwrap_or(&run.series.path),
        run.series.patches.len(),
        &run.series.hash[..16.min(run.series.hash.len())],
        &run.patched[..12.min(run.patched.len())],
        run.toolchain.join(" "),
        run.started,
        run.finished.as_deref().unwrap_or("(not finished)"),
        if run.interrupted { " (interrupted)" } else { "" },
    ));
    if run.configs.len() > 1 {
        s.push_str(&format!(
            "Kconfig fragments: `{}` with the overlay(s) `{}`: sizes and boots of this run \
             are of kernels with those options (a debug overlay makes VMAs bigger), \
             not production figures.\n\n",
            run.configs[0],
            run.configs[1..].join("`, `")
        ));
    }
    if let Some(w) = coverage_warning(r) {
        s.push_str(&w);
    }
    s.push_str("| cell | feasible | Kconfig base->patched | base build | patched build | warnings base/patched | new warnings | series .c compiled | text Δ | rodata Δ | data Δ | bss Δ | base boot | patched boot | guest vma tests base/patched |\n");
    s.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for row in &r.rows {
        if !row.selected && row.feasible.is_none() {
            s.push_str(&format!(
                "| {} | not selected | | | | | | | | | | | | | |\n",
                row.id
            ));
            continue;
        }
        let feas = match row.feasible {
            Some(true) => "yes".to_string(),
            Some(false) => "no".to_string(),
            None => "-".to_string(),
        };
        let sec = |n: &str| {
            row.sections
                .iter()
                .find(|d| d.name == n)
                .map(delta)
                .unwrap_or_default()
        };
        s.push_str(&format!(
            "| {}{} | {} | {} | {} | {} | {}/{} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} |\n",
            row.id,
            if row.regression {
                " **REGRESSION**"
            } else {
                ""
            },
            feas,
            tracked(row),
            opt(&row.build[0]),
            opt(&row.build[1]),
            opt(&row.warnings[0]),
            opt(&row.warnings[1]),
            if row.build[1].is_some() {
                row.new_warnings.len().to_string()
            } else {
                "-".into()
            },
            row.coverage
                .map(|(c, t)| format!("{c}/{t}"))
                .unwrap_or_else(|| "-".into()),
            sec("text"),
            sec("rodata"),
            sec("data"),
            sec("bss"),
                        opt(&row.boot[0]),
            opt(&row.boot[1]),
            opt(&row.guest_tests[0]),
            opt(&row.guest_tests[1]),
        ));
    }
    let host: Vec<String> = ["base", "patched"]
        .iter()
        .filter_map(|t| {
            let r: Record = crate::store::read_json(
                &r.results_root
                    .join(&run.run_id)
                    .join("host")
                    .join(t)
                    .join("vmatest.json"),
            )
            .ok()?;
            let d = r.vmatest?;
            Some(match d.tests {
                Some((n, p, f)) => format!("{t}: {n} tests run, {p} passed, {f} failed"),
                None => format!("{t}: {}", d.outcome),
            })
        })
        .collect();
    if !host.is_empty() {
        s.push_str(&format!(
            "\ntools/testing/vma on the host: {}\n",
            host.join("; ")
        ));
    }
    let infeasible: Vec<&Row> = r
        .rows
        .iter()
        .filter(|r| r.feasible == Some(false))
        .collect();
    if !infeasible.is_empty() {
        s.push_str("\n## Infeasible cells\n\n");
        for row in infeasible {
            s.push_str(&format!(
                "- {}: {}\n",
                row.id,
                row.reason.as_deref().unwrap_or("?")
            ));
        }
    }
    if struct_size {
        s.push_str("\n## Struct sizes (bytes, base -> patched)\n\n| cell |");
        for st in &run.structs {
            s.push_str(&format!(" {st} |"));
        }
        s.push_str("\n|---|");
        for _ in &run.structs {
            s.push_str("---|");
        }
        s.push('\n');
        for row in r.rows.iter().filter(|r| {
            r.structs
                .iter()
                .any(|d| d.base.is_some() || d.patched.is_some())
        }) {
            s.push_str(&format!("| {} |", row.id));
            for d in &row.structs {
                s.push_str(&format!(
                    " {} -> {} ({}) |",
                    opt(&d.base),
                    opt(&d.patched),
                    delta(d)
                ));
            }
            s.push('\n');
        }
    }
    let cc: Vec<&Row> = r
        .rows
        .iter()
        .filter(|r| r.ccache.iter().any(Option::is_some))
        .collect();
    if !cc.is_empty() {
        s.push_str("\n## ccache (hits / cacheable compiler calls)\n\n| cell | base | patched |\n|---|---|---|\n");
        let one = |c: &Option<crate::store::CcacheStats>| match c {
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
                one(&row.ccache[0]),
                one(&row.ccache[1])
            ));
        }
    }
    s.push_str(&runtime(r));
    s.push_str(&selftests(r));
    s.push_str(&checks(r));
    let notes: Vec<String> = r
        .rows
        .iter()
        .flat_map(|row| {
            let mut v = Vec::new();
            for w in &row.new_warnings {
                v.push(format!("- {}: new warning: {w}", row.id));
            }
            if !row.not_compiled.is_empty() {
                v.push(format!(
                    "- {}: series files not compiled (no proof they build here): {}",
                    row.id,
                    row.not_compiled.join(", ")
                ));
            }
            for d in &row.dropped {
                v.push(format!("- {}: dropped {d}", row.id));
            }
            for b in &row.boot_notes {
                v.push(format!("- {}: {b}", row.id));
            }
            v
        })
        .collect();
    if !notes.is_empty() {
        s.push_str("\n## Notes\n\n");
        s.push_str(&notes.join("\n"));
        s.push('\n');
    }
    if run.trees.len() > 2 {
        s.push_str("\n## Per patch (build status, warnings new since base)\n\n| cell |");
        for t in &run.trees {
            s.push_str(&format!(" {t} |"));
        }
        s.push_str(" first bad |\n|---|");
        for _ in &run.trees {
            s.push_str("---|");
        }
        s.push_str("---|\n");
        for row in r.rows.iter().filter(|r| r.feasible == Some(true)) {
            s.push_str(&format!("| {} |", row.id));
            for t in &run.trees {
                let cell = match results_cell(r, &row.id, t) {
                    Some((st, nw)) => format!(" {st} (+{nw}) |"),
                    None => " - |".into(),
                };
                s.push_str(&cell);
            }
            s.push_str(&format!(
                " {} |\n",
                run.first_bad
                    .get(&row.id)
                    .map(String::as_str)
                    .unwrap_or("none")
            ));
        }
    }
    if !run.regressions.is_empty() {
        s.push_str("\n## Regressions\n\n");
        for reg in &run.regressions {
            s.push_str(&format!("- {reg}\n"));
        }
    }
    s
}

fn results_cell(r: &Report, id: &str, tree: &str) -> Option<(String, usize)> {
    let b = r.per_tree.get(&(id.to_string(), tree.to_string()))?;
    Some(b.clone())
}

/// Series C files that no selected cell's patched build compiled: a
/// warning at the top, since nothing in the run proves they build.
fn coverage_warning(r: &Report) -> Option<String> {
    let built: Vec<&Row> = r.rows.iter().filter(|row| row.coverage.is_some()).collect();
    if built.is_empty() {
        return None;
    }
    let mut missing: Vec<&String> = built
        .iter()
        .flat_map(|row| row.not_compiled.iter())
        .filter(|f| !built.iter().any(|row| row.compiled.contains(f)))
        .collect();
    missing.sort();
    missing.dedup();
    (!missing.is_empty()).then(|| {
        format!(
            "**Warning: no selected cell compiled {}**: nothing in this run proves the series' changes there build.\n\n",
            missing
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// The guest workload and the per-VMA lock counters, per cell and tree.
fn runtime(r: &Report) -> String {
    let rows: Vec<&Row> = r
        .rows
        .iter()
        .filter(|row| row.workload.iter().any(Option::is_some))
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "\n## Runtime: guest VMA workload and per-VMA lock counters\n\n\
         Operations the workload did and how many failed; /proc/vmstat `vma_lock_*` \
         deltas over the workload (success / abort / retry / miss).\n\n\
         | cell | tree | operations | failed | vma_lock success / abort / retry / miss |\n\
         |---|---|---|---|---|\n",
    );
    for row in rows {
        for (i, tree) in ["base", "patched"].iter().enumerate() {
            let Some(w) = &row.workload[i] else { continue };
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
            let lock = match w.lock_delta() {
                Some(d) => format!("+{} / +{} / +{} / +{}", d.success, d.abort, d.retry, d.miss),
                None => "no per-VMA locks".into(),
            };
            s.push_str(&format!(
                "| {} | {tree} | {ops} | {failed} | {lock} |\n",
                row.id
            ));
        }
    }
    s
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
    let rows: Vec<&Row> = r
        .rows
        .iter()
        .filter(|row| row.selftests.iter().any(|t| !t.is_empty()))
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "\n## Kernel selftests in the guests\n\n\
         Subtests passed / failed / skipped (and the test's verdict), base -> patched.\n\n\
         | cell | test | base | patched |\n|---|---|---|---|\n",
    );
    for row in rows {
        let mut names: Vec<&str> = Vec::new();
        for t in row.selftests.iter().flatten() {
            if !names.contains(&t.name.as_str()) {
                names.push(&t.name);
            }
        }
        for name in names {
            let cell = |i: usize| {
                row.selftests[i]
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

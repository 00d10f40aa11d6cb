//! Scale-out: a deterministic shard of the selected cells, and merging the
//! runs of all shards back into one run.

use crate::error::{Error, Result};
use crate::matrix::Cell;
use crate::regress;
use crate::store::{self, Results, RunSummary};
use std::path::PathBuf;

/// Shard K of N (1-based) of `cells`: every N-th cell starting at K-1, in
/// matrix order, so shards are disjoint, cover all cells and are stable.
pub fn shard(cells: Vec<Cell>, shard: Option<(usize, usize)>) -> Vec<Cell> {
    match shard {
        None => cells,
        Some((k, n)) => cells
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % n == k - 1)
            .map(|(_, c)| c)
            .collect(),
    }
}

/// Combine the runs in `dirs` (shards of one run: same base, series and
/// trees) into a new run in `results`; returns its summary.
pub fn merge(dirs: &[PathBuf], results: &Results) -> Result<RunSummary> {
    let mut runs = Vec::new();
    for d in dirs {
        let s: RunSummary = store::read_json(&d.join("run.json"))?;
        runs.push((d.clone(), s));
    }
    let Some((_, first)) = runs.first() else {
        return Err(Error::Setup("merge: no runs given".into()));
    };
    for (d, s) in &runs {
        let same = s.base == first.base
            && s.patched == first.patched
            && s.series.hash == first.series.hash
            && s.trees == first.trees
            && s.toolchain == first.toolchain;
        if !same {
            return Err(Error::Setup(format!(
                "merge: {} is not a shard of the same run as {} (base, series, trees or toolchain differ)",
                d.display(),
                runs[0].0.display()
            )));
        }
    }
    let mut merged = first.clone();
    let started = store::now_utc();
    merged.run_id = format!("{}-merged", store::run_id_from(&started));
    merged.shard = None;
    merged.interrupted = runs.iter().any(|(_, s)| s.interrupted);
    merged.started = runs
        .iter()
        .map(|(_, s)| s.started.clone())
        .min()
        .unwrap_or_default();
    // Finished when every shard finished: one unfinished shard leaves cells
    // without results, and the merged report must say so.
    merged.finished = runs
        .iter()
        .map(|(_, s)| s.finished.clone())
        .collect::<Option<Vec<_>>>()
        .and_then(|f| f.into_iter().max());
    // Everything goes into a hidden directory first: a merge that fails
    // leaves no partial run behind.
    let out = results.root.join(format!(".{}.partial", merged.run_id));
    let done = fill(&runs, &mut merged, &out, results);
    if done.is_err() {
        let _ = std::fs::remove_dir_all(&out);
    }
    done?;
    let dest = results.run_dir(&merged.run_id);
    std::fs::rename(&out, &dest).map_err(|e| Error::io(&dest, e))?;
    results.write_summary(&merged)?;
    Ok(merged)
}

/// Copy the shards' cells into `out` and judge the merged run.
fn fill(
    runs: &[(PathBuf, RunSummary)],
    merged: &mut RunSummary,
    out: &std::path::Path,
    results: &Results,
) -> Result<()> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    for c in merged.cells.iter_mut() {
        c.selected = false;
        for (d, s) in runs {
            if s.cells.iter().any(|x| x.id == c.id && x.selected) {
                if c.selected {
                    return Err(Error::Setup(format!(
                        "merge: cell {} is in more than one run",
                        c.id
                    )));
                }
                c.selected = true;
                store::copy_tree(&d.join(&c.id), &out.join(&c.id))?;
            }
        }
    }
    // Host tests and the per-patch checks are the same in every shard.
    for part in ["host", "checks"] {
        if runs[0].0.join(part).is_dir() {
            store::copy_tree(&runs[0].0.join(part), &out.join(part))?;
        }
    }
    let cells: Vec<Cell> = merged
        .cells
        .iter()
        .filter(|c| c.selected)
        .map(|c| Cell {
            arch: c.arch.clone(),
            smp: if c.smp == "smp" {
                crate::matrix::Smp::Smp
            } else {
                crate::matrix::Smp::Up
            },
            mmu: if c.mmu == "mmu" {
                crate::matrix::Mmu::Mmu
            } else {
                crate::matrix::Mmu::Nommu
            },
        })
        .collect();
    let name = out.file_name().unwrap_or_default().to_string_lossy();
    merged.regressions = regress::regressions(results, &name, &cells);
    // Findings of the series as a whole (--strict-checks) are in every
    // shard's summary, once.
    for (_, s) in runs {
        for r in &s.regressions {
            let of_series = r.kind == crate::model::RegressionKind::Check;
            if of_series && !merged.regressions.contains(r) {
                merged.regressions.push(r.clone());
            }
        }
    }
    merged.first_bad = runs.iter().flat_map(|(_, s)| s.first_bad.clone()).collect();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::{Matrix, Overrides};

    #[test]
    fn shards_are_disjoint_stable_and_complete() {
        let cells = Matrix::load(None, &Overrides::default()).unwrap().cells();
        let mut seen = Vec::new();
        for k in 1..=3 {
            let s = shard(cells.clone(), Some((k, 3)));
            assert!(s.len() >= 9);
            assert_eq!(s, shard(cells.clone(), Some((k, 3))));
            seen.extend(s);
        }
        seen.sort();
        let mut all = cells.clone();
        all.sort();
        assert_eq!(seen, all);
        assert_eq!(shard(cells.clone(), None), cells);
    }
}

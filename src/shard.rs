//! Scale-out: a deterministic shard of the selected cells, and merging the
//! runs of all shards back into one run.
//!
//! Without weights, shard K of N takes every N-th cell in matrix order. With
//! weights (seconds per cell from an earlier run, `report --weights`), cells
//! are dealt longest first to the shard with the least work so far (LPT), so
//! that N shards finish close together. Every shard computes the same deal
//! from the same cells and weights file, with no shared state: a batch
//! system's array tasks agree without talking to each other.

use crate::error::{Error, Result};
use crate::matrix::Cell;
use crate::regress;
use crate::store::{self, Results, RunSummary};
use sha2::Digest;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Seconds per cell id, as `report --weights` writes them: a TOML table
/// `[weights]` of `"cell-id" = seconds`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Weights {
    pub secs: BTreeMap<String, f64>,
    /// sha256 of the file's bytes (first 16 hex digits): shards of one run
    /// must have dealt their cells from the same weights.
    pub digest: String,
    pub file: PathBuf,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct WeightsFile {
    weights: BTreeMap<String, toml::Value>,
}

impl Weights {
    /// Read a weights file; errors name the file, line and entry.
    pub fn load(path: &Path) -> Result<Weights> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let bad = |line: usize, msg: String| Error::Matrix {
            path: path.to_path_buf(),
            line,
            column: 1,
            msg,
        };
        let f: WeightsFile = toml::from_str(&text).map_err(|e| {
            let line = e.span().map_or(1, |s| {
                text[..s.start.min(text.len())].matches('\n').count() + 1
            });
            bad(line, e.message().to_string())
        })?;
        let line_of = |id: &str| {
            text.lines()
                .position(|l| l.trim_start().trim_start_matches('"').starts_with(id))
                .map_or(1, |i| i + 1)
        };
        let mut secs = BTreeMap::new();
        for (id, v) in f.weights {
            let x = match v {
                toml::Value::Integer(i) => i as f64,
                toml::Value::Float(x) => x,
                _ => {
                    return Err(bad(
                        line_of(&id),
                        format!("weights: {id:?} is not a number of seconds"),
                    ))
                }
            };
            if !(x.is_finite() && x >= 0.0) {
                return Err(bad(
                    line_of(&id),
                    format!("weights: {id:?} = {x}: need seconds >= 0"),
                ));
            }
            secs.insert(id, x);
        }
        Ok(Weights {
            secs,
            digest: crate::series::hex(&sha2::Sha256::digest(text.as_bytes()))[..16].to_string(),
            file: path.to_path_buf(),
        })
    }

    /// Weight of a cell: its seconds, or the median of the known cells for
    /// one the file does not name (a new cell costs a typical cell).
    pub fn of(&self, id: &str) -> f64 {
        self.secs.get(id).copied().unwrap_or_else(|| self.median())
    }

    /// The median of the named cells' seconds (1 when none are named).
    pub fn median(&self) -> f64 {
        let mut v: Vec<f64> = self.secs.values().copied().collect();
        if v.is_empty() {
            return 1.0;
        }
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }
}

/// The deal of `cells` to `n` shards: each shard's cells in matrix order.
/// Without weights, every n-th cell; with weights, longest first to the
/// least loaded shard (ties: the lower matrix index, the lower shard).
pub fn deal(cells: &[Cell], n: usize, weights: Option<&Weights>) -> Vec<Vec<Cell>> {
    let n = n.max(1);
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    match weights {
        None => {
            for i in 0..cells.len() {
                out[i % n].push(i);
            }
        }
        Some(w) => {
            let mut order: Vec<usize> = (0..cells.len()).collect();
            let wt: Vec<f64> = cells.iter().map(|c| w.of(&c.id())).collect();
            order.sort_by(|&a, &b| wt[b].total_cmp(&wt[a]).then(a.cmp(&b)));
            let mut load = vec![0.0f64; n];
            for i in order {
                let s = (0..n)
                    .min_by(|&a, &b| load[a].total_cmp(&load[b]).then(a.cmp(&b)))
                    .unwrap_or(0);
                load[s] += wt[i];
                out[s].push(i);
            }
        }
    }
    out.into_iter()
        .map(|mut ix| {
            ix.sort_unstable();
            ix.into_iter().map(|i| cells[i].clone()).collect()
        })
        .collect()
}

/// Shard K of N (1-based) of `cells`, in matrix order: the shards are
/// disjoint, cover all cells and are the same on every machine.
pub fn shard(
    cells: Vec<Cell>,
    shard: Option<(usize, usize)>,
    weights: Option<&Weights>,
) -> Vec<Cell> {
    match shard {
        None => cells,
        Some((k, n)) => deal(&cells, n, weights).swap_remove(k - 1),
    }
}

/// Combine the runs in `dirs` (shards of one run: same base, series and
/// trees) into a new run in `results`; returns its summary.
pub fn merge(dirs: &[PathBuf], results: &Results) -> Result<RunSummary> {
    let runs = shards(dirs)?;
    merge_shards(runs, results)
}

/// The run summaries of `dirs`, checked to be the shards of one run (same
/// base, series, trees, toolchain and configs; every shard once): what
/// `merge` refuses, found before anything is written.
pub fn shards(dirs: &[PathBuf]) -> Result<Vec<(PathBuf, RunSummary)>> {
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
    // A debug overlay makes other kernels: its sizes and boots must not be
    // reported as a production run's, nor the other way round.
    let recorded: Vec<_> = runs
        .iter()
        .filter_map(|(d, s)| Some((d, s, overlays(&s.configs)?)))
        .collect();
    if let Some((d0, s0, o0)) = recorded.first() {
        if let Some((d, s, _)) = recorded.iter().find(|(_, _, o)| o != o0) {
            return Err(Error::Setup(format!(
                "merge: {} was configured from {} but {} from {}: not the same kernels",
                d.display(),
                s.configs.join(" + "),
                d0.display(),
                s0.configs.join(" + ")
            )));
        }
    }
    check_shards(&runs)?;
    Ok(runs)
}

fn merge_shards(runs: Vec<(PathBuf, RunSummary)>, results: &Results) -> Result<RunSummary> {
    let first = &runs[0].1;
    let mut merged = first.clone();
    let started = store::now_utc();
    merged.run_id = format!("{}-merged", store::run_id_from(&started));
    merged.shard = None;
    merged.shard_weights = None;
    merged.dealt = Vec::new();
    merged.interrupted = runs.iter().any(|(_, s)| s.interrupted);
    // Each version that made a part of it, once, in run order.
    let mut versions: Vec<&str> = Vec::new();
    for (_, s) in &runs {
        if !versions.contains(&s.vmamatrix.as_str()) {
            versions.push(&s.vmamatrix);
        }
    }
    merged.vmamatrix = versions.join(", ");
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

/// The overlays a run was configured with, by directory name (the base
/// directory's path differs between checkouts and caches: the built-in
/// matrix's lives in each cache); None for a run that did not record its
/// directories (older runs), which any run matches.
fn overlays(configs: &[String]) -> Option<Vec<String>> {
    let (_, overlays) = configs.split_first()?;
    Some(
        overlays
            .iter()
            .map(|d| {
                let p = std::path::Path::new(d);
                p.file_name()
                    .map_or_else(|| d.clone(), |n| n.to_string_lossy().into_owned())
            })
            .collect(),
    )
}

/// Runs made with `--shard K/N` must be all N shards of one deal (same N,
/// same weights file), each once: otherwise cells would be missing from the
/// merged run without a word, or dealt twice.
fn check_shards(runs: &[(PathBuf, RunSummary)]) -> Result<()> {
    let sharded: Vec<_> = runs
        .iter()
        .filter_map(|(d, s)| s.shard.map(|k| (d, k, &s.shard_weights)))
        .collect();
    let Some(&(d0, (_, n), w0)) = sharded.first() else {
        return Ok(());
    };
    let mut seen = vec![None; n];
    for &(d, (k, nk), w) in &sharded {
        if nk != n || w != w0 {
            return Err(Error::Setup(format!(
                "merge: {} is shard {k} of {nk}{} but {} is a shard of {n}{}: not one deal of the cells",
                d.display(),
                w.as_deref().map(|w| format!(" by weights {w}")).unwrap_or_default(),
                d0.display(),
                w0.as_deref().map(|w| format!(" by weights {w}")).unwrap_or_default(),
            )));
        }
        if let Some(other) = seen[k - 1].replace(d) {
            return Err(Error::Setup(format!(
                "merge: {} and {} are both shard {k} of {n}",
                other.display(),
                d.display()
            )));
        }
    }
    let missing: Vec<String> = (1..=n)
        .filter(|k| seen[k - 1].is_none())
        .map(|k| k.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(Error::Setup(format!(
            "merge: shard(s) {} of {n} missing: the merged run would lack their cells",
            missing.join(", ")
        )));
    }
    // Every shard dealt the same cells (same matrix and --only), and
    // together they ran each of them: otherwise a cell would be in no shard.
    let dealt = &runs[0].1.dealt;
    if let Some((d, _)) = runs.iter().find(|(_, s)| &s.dealt != dealt) {
        return Err(Error::Setup(format!(
            "merge: {} dealt other cells than {} (another matrix or --only): not one deal",
            d.display(),
            runs[0].0.display()
        )));
    }
    let ran: std::collections::BTreeSet<&str> = runs
        .iter()
        .flat_map(|(_, s)| s.cells.iter().filter(|c| c.selected).map(|c| c.id.as_str()))
        .collect();
    let lost: Vec<&str> = dealt
        .iter()
        .map(String::as_str)
        .filter(|c| !ran.contains(c))
        .collect();
    if !lost.is_empty() {
        return Err(Error::Setup(format!(
            "merge: cell(s) {} dealt but in no shard (shards dealt by different weights or versions)",
            lost.join(", ")
        )));
    }
    Ok(())
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
            let s = shard(cells.clone(), Some((k, 3)), None);
            assert!(s.len() >= 9);
            assert_eq!(s, shard(cells.clone(), Some((k, 3)), None));
            seen.extend(s);
        }
        seen.sort();
        let mut all = cells.clone();
        all.sort();
        assert_eq!(seen, all);
        assert_eq!(shard(cells.clone(), None, None), cells);
    }

    fn weights(pairs: &[(&str, f64)]) -> Weights {
        Weights {
            secs: pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            ..Weights::default()
        }
    }

    fn load(cells: &[Cell], w: &Weights) -> f64 {
        cells.iter().map(|c| w.of(&c.id())).sum()
    }

    #[test]
    fn weighted_deal_is_complete_stable_and_balances_the_load() {
        let cells = Matrix::load(None, &Overrides::default()).unwrap().cells();
        // Full builds of feasible cells against seconds-long infeasible
        // ones, in an order that every-N-th dealing handles badly: all the
        // heavy cells at even matrix indexes.
        let pairs: Vec<(String, f64)> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id(), if i % 2 == 0 { 600.0 + i as f64 } else { 5.0 }))
            .collect();
        let w = Weights {
            secs: pairs.into_iter().collect(),
            ..Weights::default()
        };
        for n in 1..=5 {
            let deal = deal(&cells, n, Some(&w));
            assert_eq!(deal.len(), n);
            let mut all: Vec<Cell> = deal.iter().flatten().cloned().collect();
            all.sort();
            let mut want = cells.clone();
            want.sort();
            assert_eq!(all, want, "{n} shards: every cell exactly once");
            for (k, d) in deal.iter().enumerate() {
                assert_eq!(d, &shard(cells.clone(), Some((k + 1, n)), Some(&w)));
                let mut sorted = d.clone();
                sorted.sort_by_key(|c| cells.iter().position(|x| x == c));
                assert_eq!(d, &sorted, "a shard's cells stay in matrix order");
            }
            // LPT: the longest shard is within the longest cell of the
            // ideal total / n.
            let loads: Vec<f64> = deal.iter().map(|d| load(d, &w)).collect();
            let total: f64 = loads.iter().sum();
            let hi = loads.iter().copied().fold(0.0, f64::max);
            assert!(hi <= total / n as f64 + 627.0, "{n}: {loads:?}");
        }
        let rr = deal(&cells, 2, None);
        let lpt = deal(&cells, 2, Some(&w));
        let rr_hi = rr.iter().map(|d| load(d, &w)).fold(0.0, f64::max);
        let lpt_hi = lpt.iter().map(|d| load(d, &w)).fold(0.0, f64::max);
        assert!(rr_hi > 8000.0 && lpt_hi < 4500.0, "{rr_hi} {lpt_hi}");
    }

    #[test]
    fn equal_or_no_weights_deal_every_nth_cell() {
        let cells = Matrix::load(None, &Overrides::default()).unwrap().cells();
        let w = weights(&[]);
        for n in 1..=4 {
            assert_eq!(deal(&cells, n, Some(&w)), deal(&cells, n, None));
        }
        // A cell the weights do not name weighs the median of those named.
        let w = weights(&[("a", 1.0), ("b", 10.0), ("c", 100.0)]);
        assert_eq!(w.of("x86-up-mmu"), 10.0);
        assert_eq!(w.of("c"), 100.0);
    }

    #[test]
    fn weights_files_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w.toml");
        std::fs::write(
            &p,
            "# made by hand\n[weights]\n\"x86-up-mmu\" = 12.5\n\"arm-up-mmu\" = 3\n",
        )
        .unwrap();
        let w = Weights::load(&p).unwrap();
        assert_eq!(w.of("x86-up-mmu"), 12.5);
        assert_eq!(w.of("arm-up-mmu"), 3.0);
        assert_eq!(w.digest.len(), 16);
        std::fs::write(
            &p,
            "[weights]\n\"x86-up-mmu\" = 1\n\"arm-up-mmu\" = \"fast\"\n",
        )
        .unwrap();
        let e = Weights::load(&p).unwrap_err().to_string();
        assert!(e.contains("w.toml:3:") && e.contains("arm-up-mmu"), "{e}");
        std::fs::write(&p, "[weights]\n\"x86-up-mmu\" = -1\n").unwrap();
        let e = Weights::load(&p).unwrap_err().to_string();
        assert!(e.contains("w.toml:2:") && e.contains(">= 0"), "{e}");
        std::fs::write(&p, "[wieghts]\n").unwrap();
        let e = Weights::load(&p).unwrap_err().to_string();
        assert!(e.contains("w.toml:1:"), "{e}");
    }
}

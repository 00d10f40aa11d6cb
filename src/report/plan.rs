//! The plan of a matrix as text: each cell's verdict, what Kconfig dropped,
//! and the commands that reproduce it.

use crate::matrix::Cell;
use crate::model::PlanCell;
use crate::report::Report;
use crate::shard::{self, Weights};
use std::collections::BTreeMap;

pub fn text(cells: &[PlanCell]) -> String {
    let mut s = String::new();
    let n = cells.iter().filter(|c| c.feasible).count();
    s.push_str(&format!("{n} of {} cells feasible\n\n", cells.len()));
    for c in cells {
        s.push_str(&format!(
            "{:<20} {}\n",
            c.id,
            match &c.reason {
                None => format!(
                    "feasible ({}{} dropped request(s))",
                    c.tracked
                        .iter()
                        .map(|(k, v)| format!("{k}={v}, "))
                        .collect::<String>(),
                    c.warnings.len()
                ),
                Some(r) => format!("infeasible: {r}"),
            }
        ));
        for w in &c.warnings {
            s.push_str(&format!(
                "    dropped CONFIG_{}={} ({}): got {}, {}\n",
                w.symbol, w.requested, w.from, w.got, w.why
            ));
        }
        for cmd in &c.commands {
            s.push_str(&format!("    $ {cmd}\n"));
        }
    }
    s
}

/// How `run --shard K/N` deals `cells` (the selected cells, matrix order)
/// to `n` shards: each shard's cells and, with weights, its predicted
/// seconds, against the plain every-N-th deal under the same weights.
pub fn shards(cells: &[Cell], n: usize, weights: Option<&Weights>) -> String {
    let mut s = String::new();
    let deal = shard::deal(cells, n, weights);
    let Some(w) = weights else {
        s.push_str(&format!(
            "run --shard K/{n} deals the {} selected cells every {n}-th in matrix order (no --weights):\n",
            cells.len()
        ));
        for (k, d) in deal.iter().enumerate() {
            s.push_str(&format!(
                "  shard {}/{n}: {} cells: {}\n",
                k + 1,
                d.len(),
                ids(d)
            ));
        }
        return s;
    };
    let named = cells
        .iter()
        .filter(|c| w.secs.contains_key(&c.id()))
        .count();
    s.push_str(&format!(
        "run --shard K/{n} --weights {} deals the {} selected cells longest first \
         (weights {}; {named} cells named there, the others weigh the median {:.0} s):\n",
        w.file.display(),
        cells.len(),
        w.digest,
        w.median()
    ));
    for (k, d) in deal.iter().enumerate() {
        s.push_str(&format!(
            "  shard {}/{n}: {:>6.0} s, {} cells: {}\n",
            k + 1,
            load(d, w),
            d.len(),
            ids(d)
        ));
    }
    let spread = |deal: &[Vec<Cell>]| {
        let l: Vec<f64> = deal.iter().map(|d| load(d, w)).collect();
        (
            l.iter().copied().fold(0.0, f64::max),
            l.iter().copied().fold(f64::INFINITY, f64::min),
        )
    };
    let total: f64 = cells.iter().map(|c| w.of(&c.id())).sum();
    let (hi, lo) = spread(&deal);
    let (rhi, rlo) = spread(&shard::deal(cells, n, None));
    s.push_str(&format!(
        "  predicted: longest shard {hi:.0} s, shortest {lo:.0} s (total / {n} = {:.0} s); \
         every {n}-th cell instead: longest {rhi:.0} s, shortest {rlo:.0} s\n",
        total / n as f64
    ));
    s
}

fn load(cells: &[Cell], w: &Weights) -> f64 {
    cells.iter().map(|c| w.of(&c.id())).sum()
}

fn ids(cells: &[Cell]) -> String {
    cells.iter().map(Cell::id).collect::<Vec<_>>().join(", ")
}

/// The seconds per cell of a run (every tree and stage, replayed records
/// at the time of the run that made them) as the weights file of
/// `run --shard K/N --weights FILE`.
pub fn weights_toml(rep: &Report) -> String {
    let mut secs: BTreeMap<&str, f64> = BTreeMap::new();
    for t in &rep.timing {
        *secs.entry(t.cell.as_str()).or_default() += t.secs;
    }
    let cached = rep.timing.iter().filter(|t| t.cached).count();
    let mut s = format!(
        "# Seconds per cell (all trees and stages) of vmamatrix run {} ({}),\n\
         # {} stage records, {cached} of them replayed from the cache (the time of\n\
         # the run that made them). Made by `vmamatrix report --weights`, for\n\
         # `vmamatrix run --shard K/N --weights FILE` (every shard the same file).\n\
         [weights]\n",
        rep.run.run_id,
        rep.run.started,
        rep.timing.len()
    );
    for (id, x) in secs {
        s.push_str(&format!("\"{id}\" = {x:.1}\n"));
    }
    s
}

//! Judging a run: what makes the patched tree worse than the base, and the
//! first patch that breaks a cell.

use crate::events::{Stage, Tree};
use crate::matrix::Cell;
use crate::store::{self, Record, Results, Status};

/// What makes the patched tree worse than the base, per cell.
pub fn regressions(results: &Results, run_id: &str, cells: &[Cell]) -> Vec<String> {
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
            out.push("host: tools/testing/vma passes on base, fails on patched".to_string());
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
                out.push(format!("{id}: configuration became infeasible"));
            }
            if b.status != Status::Failed && p.status == Status::Failed {
                out.push(format!("{id}: Kconfig fails on patched"));
            }
        }
        let (bb, pb) = (get("base", Stage::Build), get("patched", Stage::Build));
        if let (Some(b), Some(p)) = (&bb, &pb) {
            if b.status == Status::Ok && p.status == Status::Failed {
                out.push(format!("{id}: patched build fails, base builds"));
            }
            let nw = p.build.as_ref().map_or(0, |d| d.new_warnings.len());
            if nw > 0 {
                out.push(format!("{id}: {nw} new warning(s)"));
            }
        }
        let (bb, pb) = (get("base", Stage::Boot), get("patched", Stage::Boot));
        if let (Some(b), Some(p)) = (&bb, &pb) {
            if b.status == Status::Ok && p.status == Status::Failed {
                out.push(format!("{id}: base boots, patched does not"));
            }
            let passed = |r: &Record| {
                r.boot
                    .as_ref()
                    .and_then(|b| b.tests)
                    .map(|(n, p, f)| n > 0 && n == p && f == 0)
            };
            if passed(b) == Some(true) && passed(p) != Some(true) {
                out.push(format!(
                    "{id}: guest vma tests pass on base, not on patched"
                ));
            }
            let warns = |r: &Record| r.boot.as_ref().map_or(0, |b| b.warnings.len());
            if warns(p) > warns(b) {
                out.push(format!("{id}: the patched kernel warns at boot"));
            }
            let child = |r: &Record| r.boot.as_ref().and_then(|b| b.child);
            if child(b) == Some(0) && child(p) != Some(0) {
                out.push(format!("{id}: exec/exit in the patched guest fails"));
            }
        }
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
        for (t, _) in trees.iter().skip(1) {
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

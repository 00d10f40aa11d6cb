//! The build stage's runner: make the cell's image (or only the probe
//! object), record the diagnostics, the series' coverage and the new
//! warnings against base, and keep the image for the boot stage.

use super::WarningMemory;
use crate::error::{Error, Result};
use crate::events::{Stage, Tree};
use crate::matrix::Cell;
use crate::model::{BuildData, Record, Status};
use crate::proc::{self, Outcome};
use crate::series;
use crate::stage::{tail_lines, StageCtx};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::{Duration, Instant};

/// The boot image of a cell-tree, kept beside its records.
pub const IMAGE: &str = "boot-image";
/// The dtb of a cell-tree whose recipe names one, kept beside the image.
pub const DTB: &str = "boot-dtb";
/// The text symbols of the image's System.map, kept beside it: they name
/// the program counters of a guest that stalls.
pub const SYMBOLS: &str = "boot-symbols";

pub fn build(ctx: &StageCtx, cell: &Cell, tree: &Tree, commit: &str, dir: &Path) -> Result<Record> {
    ctx.started(cell, tree, Stage::Build);
    let t = Instant::now();
    let make = ctx.build_make(cell);
    let log = dir.join("build.log");
    let _ = std::fs::remove_file(&log);
    let mut cmd = make.command(ctx.jobserver.is_some());
    let stats = dir.join("ccache.stats");
    if ctx.ccache_cc.is_some() {
        let _ = std::fs::remove_file(&stats);
        cmd.env("CCACHE_STATSLOG", &stats);
    }
    let mut token = None;
    if let Some(js) = &ctx.jobserver {
        js.attach(&mut cmd);
        token = Some(js.acquire().map_err(|e| {
            if proc::interrupted() {
                Error::Interrupted
            } else {
                Error::Setup(format!("make jobserver: {e}"))
            }
        })?);
    }
    let outcome = proc::run_logged(cmd, &log, Duration::from_secs(ctx.p.matrix.timeout))
        .map_err(|e| Error::Setup(format!("cannot run make: {e}")))?;
    if let Some(t) = token.as_mut() {
        if !matches!(outcome, Outcome::Exited(_)) {
            t.mark_killed();
        }
    }
    drop(token);
    if outcome == Outcome::Interrupted {
        return Err(Error::Interrupted);
    }
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let prefixes = vec![ctx.p.src().display().to_string()];
    let diags = super::parse_diagnostics(&text, &prefixes);
    let (warnings, errors): (Vec<_>, Vec<_>) = diags.into_iter().partition(|d| d.kind == "warning");
    let bdir = ctx.p.build_dir(cell);
    let config = std::fs::read(bdir.join(".config")).unwrap_or_default();
    let mem = ctx.p.warning_memory(cell);
    let mut memory = WarningMemory::load(&mem);
    memory.remember(commit, &series::hex(&Sha256::digest(&config)), &warnings);
    memory.save(&mem)?;
    // Coverage of the series' files is a fact of the trees the series
    // made; the base record stays independent of the series, so another
    // series on the same base reuses it. A failed build proves nothing
    // about the files it did not reach: it records no coverage.
    let (compiled, not_compiled) =
        if ctx.opts.structs_only || *tree == Tree::Base || !outcome.success() {
            (vec![], vec![])
        } else {
            super::coverage(&ctx.touched, &bdir)
        };
    let mut r = ctx.record(cell, tree, Stage::Build, commit);
    r.status = if outcome.success() {
        Status::Ok
    } else {
        Status::Failed
    };
    r.secs = t.elapsed().as_secs_f64();
    r.commands = vec![make.line()];
    r.build = Some(BuildData {
        outcome: outcome.to_string(),
        jobs: ctx.jobs(),
        warnings,
        errors,
        new_warnings: vec![],
        compiled,
        not_compiled,
        tail: if outcome.success() {
            vec![]
        } else {
            tail_lines(&log, 20)
        },
        ccache: ctx
            .ccache_cc
            .as_ref()
            .map(|_| super::ccache_stats(&std::fs::read_to_string(&stats).unwrap_or_default())),
        structs_only: ctx.opts.structs_only,
    });
    if *tree != Tree::Base {
        mark_new_warnings(ctx, cell, &mut r);
    }
    if outcome.success() && !ctx.opts.structs_only {
        let facts = ctx.p.matrix.facts(cell);
        if let Some(img) = &facts.image {
            let from = bdir.join(img);
            let to = dir.join(IMAGE);
            std::fs::copy(&from, &to).map_err(|e| Error::io(&from, e))?;
            // Every kbuild link writes System.map; without it a stall is
            // shown by address only (an optional aid: no error).
            let _ = std::fs::remove_file(dir.join(SYMBOLS));
            if let Ok(map) = std::fs::read_to_string(bdir.join("System.map")) {
                let syms = crate::boot::stall::text_symbols(&map, facts.text_offset.unwrap_or(0));
                let _ = crate::store::write_atomic(&dir.join(SYMBOLS), syms.as_bytes());
            }
        }
        if let Some(dtb) = &facts.dtb {
            let from = bdir
                .join("arch")
                .join(facts.srcarch(&cell.arch))
                .join("boot/dts")
                .join(dtb);
            let to = dir.join(DTB);
            std::fs::copy(&from, &to).map_err(|e| Error::io(&from, e))?;
        }
    }
    ctx.write(&r)?;
    let b = r.build.as_ref().unwrap();
    let summary = format!(
        "{}, {} warnings ({} new), {} errors, {:.0}s",
        b.outcome,
        b.warnings.len(),
        b.new_warnings.len(),
        b.errors.len(),
        r.secs
    );
    ctx.finished(&r, tree, summary);
    Ok(r)
}

/// New warnings of a patched build: against the base record of this run
/// and everything base builds printed in the cell's build directory
/// (`WarningMemory`), so an incremental base build that printed nothing
/// does not make old warnings new.
pub fn mark_new_warnings(ctx: &StageCtx, cell: &Cell, r: &mut Record) {
    let Some((res, id)) = ctx.out else { return };
    let recorded = res
        .read_record(id, &cell.id(), "base", Stage::Build)
        .and_then(|b| b.build)
        .map(|b| b.warnings)
        .unwrap_or_default();
    let memory = WarningMemory::load(&ctx.p.warning_memory(cell));
    let base = super::max_merge(&recorded, memory.recall(&ctx.p.applied.base));
    if let Some(b) = r.build.as_mut() {
        b.new_warnings = super::new_diagnostics(&base, &b.warnings);
    }
}

/// Whether a failed build's outcome is a fact of its inputs (the compiler
/// said why) rather than of the machine (timeout, signal, a killed
/// compiler, an OOM kill): only facts are cached.
pub fn deterministic(b: &BuildData) -> bool {
    let killed = b.tail.iter().any(|l| {
        l.contains("Killed")
            || l.contains("signal terminated program")
            || l.contains("out of memory")
            || l.contains("Terminated")
    });
    b.outcome.starts_with("exit status") && !b.errors.is_empty() && !killed
}

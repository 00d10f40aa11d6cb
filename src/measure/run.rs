//! The measure stage's runner: vmlinux sections, image size, and struct
//! layouts from the DWARF of the probe object, recompiled with kbuild's own
//! command line plus `-g`.

use crate::error::{Error, Result};
use crate::events::{Stage, Tree};
use crate::matrix::Cell;
use crate::model::{MeasureData, Record, Status};
use crate::proc;
use crate::stage::StageCtx;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

pub fn measure(
    ctx: &StageCtx,
    cell: &Cell,
    tree: &Tree,
    commit: &str,
    dir: &Path,
) -> Result<Record> {
    ctx.started(cell, tree, Stage::Measure);
    let t = Instant::now();
    let bdir = ctx.p.build_dir(cell);
    let structs_only = ctx.opts.structs_only;
    let mut errors = Vec::new();
    let vmlinux = match std::fs::read(bdir.join("vmlinux")) {
        _ if structs_only => None,
        Ok(data) => super::elf::sections(&data)
            .map_err(|e| errors.push(format!("vmlinux: {e}")))
            .ok(),
        Err(e) => {
            errors.push(format!("vmlinux: {e}"));
            None
        }
    };
    let image = ctx
        .p
        .matrix
        .facts(cell)
        .image
        .filter(|_| !structs_only)
        .as_ref()
        .and_then(|i| std::fs::metadata(bdir.join(i)).ok())
        .map(|m| m.len());
    let probe = &ctx.p.matrix.probe;
    let obj = ctx.probe_object();
    // Kept with the cell's logs: the object the sizes were read from,
    // for pahole, and not overwritten by a later build of the cell.
    // Absolute: the compile runs in the build directory.
    let out = std::path::absolute(dir.join(super::PROBE_OBJECT)).map_err(|e| Error::io(dir, e))?;
    let mut commands = Vec::new();
    let mut structs = Vec::new();
    match super::recorded_command(&bdir, &obj) {
        Ok(rec) => {
            let cmd_line = super::probe_command(&rec, &obj, &out);
            commands.push(format!("cd {} && {cmd_line}", bdir.display()));
            let log = dir.join("probe.log");
            let _ = std::fs::remove_file(&log);
            let _ = std::fs::remove_file(&out);
            let mut c = Command::new("sh");
            c.arg("-c").arg(&cmd_line).current_dir(&bdir);
            match proc::run_logged(c, &log, Duration::from_secs(300)) {
                Ok(o) if o.success() => match std::fs::read(&out)
                    .map_err(|e| e.to_string())
                    .and_then(|d| super::dwarf::layouts(&d, &ctx.p.matrix.structs))
                {
                    Ok(l) => {
                        for s in &ctx.p.matrix.structs {
                            if !l.iter().any(|x| &x.name == s) {
                                errors.push(format!("struct {s}: not in the DWARF of {probe}"));
                            }
                        }
                        structs = l;
                    }
                    Err(e) => errors.push(format!("probe DWARF: {e}")),
                },
                Ok(o) => errors.push(format!("probe compile: {o} (see probe.log)")),
                Err(e) => errors.push(format!("probe compile: {e}")),
            }
        }
        Err(e) => errors.push(format!("probe: {e}")),
    }
    let mut r = ctx.record(cell, tree, Stage::Measure, commit);
    r.status = if errors.is_empty() {
        Status::Ok
    } else {
        Status::Failed
    };
    r.secs = t.elapsed().as_secs_f64();
    r.commands = commands;
    let summary = structs
        .iter()
        .map(|l| format!("{} {}", l.name, l.size))
        .chain(errors.iter().cloned())
        .collect::<Vec<_>>()
        .join(", ");
    r.measure = Some(MeasureData {
        image,
        vmlinux,
        structs,
        errors,
    });
    ctx.write(&r)?;
    ctx.finished(&r, tree, summary);
    Ok(r)
}

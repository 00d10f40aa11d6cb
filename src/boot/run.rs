//! The boot stage's runner: the initramfs of a cell (/init, plus the
//! guest's test payloads where the arch has a compiler for them), the QEMU
//! boot, and the record of what the console showed.

use crate::build::run::{DTB, IMAGE, SYMBOLS};
use crate::error::Result;
use crate::events::{Stage, Tree};
use crate::matrix::{Cell, Mmu};
use crate::model::{BootData, BootOutcome, Record, Status};
use crate::proc;
use crate::series;
use crate::stage::StageCtx;
use crate::vmatest;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// Initramfs archives built this run, by directory.
#[derive(Default)]
pub struct Images(Mutex<HashMap<PathBuf, Initramfs>>);

/// An initramfs ready to boot.
#[derive(Debug, Clone)]
struct Initramfs {
    path: PathBuf,
    commands: Vec<String>,
    /// Why the vma tests are not in it.
    note: Option<String>,
    /// The vma tests are in it.
    payload: bool,
    /// Building the vma tests for the guest failed (not a fact of the arch).
    payload_failed: bool,
}

/// The cross compiler and extra flags that build the guest's tests (the
/// vma tests and the selftests, with the target's libc), or why the arch
/// has none.
fn guest_compiler(ctx: &StageCtx, cell: &Cell) -> Result<(String, String), String> {
    let facts = ctx.p.matrix.facts(cell);
    match (&facts.vmatest_skip, &facts.vmatest_cc) {
        (Some(why), _) => Err(why.clone()),
        (None, None) => {
            Err("no cross compiler for the guest tests is configured for this arch".into())
        }
        (None, Some(cc)) => Ok((
            cc.clone(),
            facts
                .vmatest_cflags
                .as_deref()
                .unwrap_or_default()
                .replace("{cache}", &ctx.opts.cache.display().to_string()),
        )),
    }
}

/// The guest vma tests for a cell at `commit` (built once per commit,
/// compiler and flags), or why there are none.
fn vma_payload(
    ctx: &StageCtx,
    cell: &Cell,
    commit: &str,
    log: &Path,
) -> (Option<PathBuf>, Option<String>, Option<String>) {
    let (cc, extra) = match guest_compiler(ctx, cell) {
        Ok(c) => c,
        Err(why) => return (None, Some(why), None),
    };
    let cc = &cc;
    let flavour = if extra.is_empty() {
        cc.clone()
    } else {
        let h = series::hex(&Sha256::digest(extra.as_bytes()));
        format!("{cc}-{}", &h[..8])
    };
    let out = ctx
        .p
        .work
        .join("boot/payload")
        .join(&commit[..12])
        .join(flavour)
        .join("vma");
    if out.exists() {
        return (Some(out), None, None);
    }
    match vmatest::build_guest(&ctx.p.src(), cc, &extra, ctx.side_jobs(), &out, log) {
        Ok(line) => (Some(out), None, Some(line)),
        Err(e) => (None, Some(e), None),
    }
}

/// The kernel selftests for a cell's guest at `commit` (built once per
/// commit, compiler and flags; a build whose record exists is whole), or
/// why there are none.
fn selftest_payload(
    ctx: &StageCtx,
    cell: &Cell,
    commit: &str,
    log: &Path,
) -> Result<crate::selftests::GuestBuild, String> {
    let (cc, extra) = guest_compiler(ctx, cell)?;
    let cc = &cc;
    let h = series::hex(&Sha256::digest(format!("{cc}\n{extra}").as_bytes()));
    let out = ctx
        .p
        .work
        .join("boot/selftests")
        .join(&commit[..12])
        .join(&h[..12]);
    let done = out.join("build.json");
    if let Ok(b) = crate::store::read_json(&done) {
        return Ok(b);
    }
    let b = crate::selftests::build_guest(&ctx.p.src(), cc, &extra, &out, log)?;
    crate::store::write_json(&done, &b).map_err(|e| e.to_string())?;
    Ok(b)
}

/// The initramfs for a cell at `commit`: /init (built once per run and arch
/// variant) plus, where the arch allows, the tree's tools/testing/vma built
/// for the guest.
fn initramfs(
    ctx: &StageCtx,
    images: &Images,
    cell: &Cell,
    commit: &str,
    dir: &Path,
) -> std::result::Result<Initramfs, String> {
    let mut built = images.0.lock().unwrap();
    let facts = ctx.p.matrix.facts(cell);
    let triple = facts
        .triple
        .clone()
        .ok_or("no clang triple for this arch")?;
    let nommu = cell.mmu == Mmu::Nommu;
    let variant = match (facts.flat.unwrap_or(false), nommu) {
        (true, true) => format!("{triple}-flat-nommu"),
        (true, false) => format!("{triple}-flat"),
        (false, _) => triple,
    };
    let vdir = ctx.p.work.join("boot").join(variant);
    let log = dir.join("initramfs.log");
    let (payload, note, payload_cmd) = vma_payload(ctx, cell, commit, &log);
    let payload_failed = payload.is_none() && payload_cmd.is_none() && {
        let facts = ctx.p.matrix.facts(cell);
        facts.vmatest_skip.is_none() && facts.vmatest_cc.is_some()
    };
    // The selftests go with the vma tests (same compiler, same libc).
    let selftests = match &payload {
        Some(_) => match selftest_payload(ctx, cell, commit, &log) {
            Ok(b) => Some(b),
            Err(e) => {
                let _ = std::fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(&log)
                    .and_then(|mut f| {
                        std::io::Write::write_all(&mut f, format!("selftests: {e}\n").as_bytes())
                    });
                None
            }
        },
        None => None,
    };
    let secs = ctx.opts.workload_secs;
    let bdir = match &payload {
        Some(_) => vdir.join(format!("{}-w{secs}", &commit[..12])),
        None => vdir.join(format!("plain-w{secs}")),
    };
    if let Some(done) = built.get(&bdir) {
        return Ok(Initramfs {
            note,
            payload_failed,
            ..done.clone()
        });
    }
    let hdr_build = vdir.join("headers-build");
    let headers = vdir.join("headers");
    let make = ctx.toolchain(
        crate::make::Make::kernel(&ctx.p.src())
            .args([
                format!("O={}", hdr_build.display()),
                format!("ARCH={}", ctx.srcarch(cell)),
                format!("INSTALL_HDR_PATH={}", headers.display()),
            ])
            .target("headers_install"),
    );
    let o = proc::run_logged(make.command(false), &log, Duration::from_secs(600))
        .map_err(|e| e.to_string())?;
    if !o.success() {
        return Err(format!(
            "make headers_install failed ({o}); see {}",
            log.display()
        ));
    }
    let clang = super::initramfs::clang_from_toolchain(&ctx.p.matrix.toolchain);
    let (path, mut cmds) = super::initramfs::build_initramfs(
        &clang,
        &facts,
        &ctx.p.src(),
        &headers,
        super::initramfs::Payloads {
            vma: payload.as_deref(),
            workload_secs: (secs > 0).then_some(secs),
            nommu,
            selftests: selftests.as_ref(),
        },
        &bdir,
        &log,
    )?;
    cmds.insert(0, make.line());
    cmds.extend(payload_cmd);
    if let Some(b) = &selftests {
        cmds.extend(b.commands.iter().cloned());
    }
    let done = Initramfs {
        path,
        commands: cmds,
        note: None,
        payload: payload.is_some(),
        payload_failed,
    };
    built.insert(bdir, done.clone());
    Ok(Initramfs { note, ..done })
}

/// Why a cell cannot be booted here, if it cannot.
fn skip_reason(ctx: &StageCtx, cell: &Cell) -> Option<String> {
    let facts = ctx.p.matrix.facts(cell);
    super::not_bootable(&facts).or_else(|| {
        (cell.mmu == Mmu::Nommu && facts.flat != Some(true))
            .then(|| "NOMMU userland must be FLAT: set flat = true for this arch variant".into())
    })
}

pub fn boot(
    ctx: &StageCtx,
    images: &Images,
    cell: &Cell,
    tree: &Tree,
    commit: &str,
    dir: &Path,
) -> Result<Record> {
    ctx.started(cell, tree, Stage::Boot);
    let t = std::time::Instant::now();
    let facts = ctx.p.matrix.facts(cell);
    let mut r = ctx.record(cell, tree, Stage::Boot, commit);
    // Logs may be hard links into the cache: recreate, never append.
    let _ = std::fs::remove_file(dir.join("initramfs.log"));
    let mut data = match skip_reason(ctx, cell) {
        Some(reason) => BootData::not_run(BootOutcome::NotBootable, reason),
        None => match initramfs(ctx, images, cell, commit, dir) {
            Err(e) => BootData::not_run(BootOutcome::QemuFailed, format!("initramfs: {e}")),
            Ok(ird) => 'boot: {
                r.commands = ird.commands.clone();
                let image = dir.join(IMAGE);
                let placed = match &facts.loader {
                    None => vec![],
                    Some(l) => {
                        let cmdline = super::cmdline(&facts);
                        match super::shim::prepare(
                            l,
                            &cmdline,
                            &dir.join(DTB),
                            &image,
                            &ird.path,
                            dir,
                        ) {
                            Ok((placed, note)) => {
                                r.commands.push(note);
                                placed
                            }
                            Err(e) => {
                                break 'boot BootData::not_run(
                                    BootOutcome::QemuFailed,
                                    format!("boot shim: {e}"),
                                )
                            }
                        }
                    }
                };
                let media = match &facts.loader {
                    None => super::Media::Kernel {
                        image: &image,
                        initrd: &ird.path,
                    },
                    Some(_) => super::Media::Placed(&placed),
                };
                let args = super::qemu_args(&facts, cell, media);
                let qemu = facts.qemu.clone().unwrap_or_default();
                let mut limits = super::Limits::default();
                if ird.payload {
                    // The vma tests and the selftests run under emulation
                    // after boot.
                    limits.total = Duration::from_secs(900);
                }
                limits.total += Duration::from_secs(u64::from(ctx.opts.workload_secs) * 2);
                let symbols = dir.join(SYMBOLS);
                let symbols = symbols.exists().then_some(symbols.as_path());
                let mut b = super::boot(&qemu, &args, &dir.join("console.log"), limits, symbols);
                if ird.payload && b.tests.is_none() && b.outcome == BootOutcome::Booted {
                    b.guest_tests_note = Some(format!(
                        "the vma tests ran but printed no summary (exit status {})",
                        b.exit_status.unwrap_or(-1)
                    ));
                } else if !ird.payload {
                    b.guest_tests_note = ird.note.clone();
                }
                if ird.payload_failed {
                    b.transient = ird.note.clone();
                }
                b
            }
        },
    };
    data.key = super::boot_key(&facts, ctx.opts.workload_secs);
    if data.tests.is_none() && data.guest_tests_note.is_none() {
        data.guest_tests_note = Some(match (&data.reason, data.outcome) {
            (Some(why), BootOutcome::NotBootable) => format!("not bootable: {why}"),
            (Some(why), _) => format!("the guest did not finish booting: {why}"),
            (None, _) => "the guest did not finish booting".into(),
        });
    }
    if !data.qemu.is_empty() {
        r.commands.push(data.qemu.clone());
    }
    r.status = match data.outcome {
        BootOutcome::Booted => Status::Ok,
        BootOutcome::NotBootable => Status::Skipped,
        _ => Status::Failed,
    };
    r.secs = t.elapsed().as_secs_f64();
    let summary = match (
        &data.outcome,
        &data.secs_to_marker,
        &data.reason,
        &data.panic,
    ) {
        (BootOutcome::Booted, Some(s), _, _) => format!("booted in {s:.1}s"),
        (_, _, _, Some(p)) => p.clone(),
        (o, _, Some(why), _) => format!("{o:?}: {why}"),
        (o, _, _, _) => format!("{o:?}"),
    };
    r.boot = Some(data);
    ctx.write(&r)?;
    ctx.finished(&r, tree, summary);
    Ok(r)
}

/// Whether a boot's outcome is a fact of the kernel and recipe (worth
/// caching): it reached its result marker, or the cell cannot boot here.
/// Timeouts, silence, QEMU failures and panics are redone on the next run.
pub fn deterministic(b: &BootData) -> bool {
    b.transient.is_none() && matches!(b.outcome, BootOutcome::Booted | BootOutcome::NotBootable)
}

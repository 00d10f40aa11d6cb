//! The configure stage's runner: merged fragments -> allnoconfig -> verdict,
//! recorded. A make that fails (a patch can break Kconfig) is a failed
//! record of that cell, not an error of the run.

use super::{KconfigIndex, Verdict};
use crate::error::{Error, Result};
use crate::events::{Stage, Tree};
use crate::matrix::Cell;
use crate::model::{ConfigureData, Record, Status};
use crate::proc::{self, Outcome};
use crate::series;
use crate::stage::{tail_lines, StageCtx};
use crate::store;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Kconfig trees read once per run, by source arch and commit.
#[derive(Default)]
pub struct Indexes(Mutex<HashMap<(String, String), Arc<KconfigIndex>>>);

impl Indexes {
    fn get(&self, src: &Path, srcarch: &str, commit: &str) -> Arc<KconfigIndex> {
        let key = (srcarch.to_string(), commit.to_string());
        let mut m = self.0.lock().unwrap();
        m.entry(key)
            .or_insert_with(|| Arc::new(KconfigIndex::load(src, srcarch)))
            .clone()
    }
}

/// Configure a cell; returns its record and the verdict (infeasible, with
/// the reason, when make itself failed).
pub fn configure(
    ctx: &StageCtx,
    idx: &Indexes,
    cell: &Cell,
    tree: &Tree,
    commit: &str,
    dir: &Path,
) -> Result<(Record, Verdict)> {
    ctx.started(cell, tree, Stage::Configure);
    let t = Instant::now();
    let m = &ctx.p.matrix;
    let frags = super::fragments(m, cell)?;
    let (text, reqs) = super::merge(&frags)?;
    let bdir = ctx.p.build_dir(cell);
    std::fs::create_dir_all(&bdir).map_err(|e| Error::io(&bdir, e))?;
    ctx.p.keep_recent_builds(cell)?;
    let allconfig = bdir.join("vmamatrix.config");
    store::write_atomic(&allconfig, text.as_bytes())?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let log = dir.join("configure.log");
    let _ = std::fs::remove_file(&log);
    let make = ctx
        .kernel_make(cell)
        .args([format!("KCONFIG_ALLCONFIG={}", allconfig.display())])
        .target("allnoconfig");
    let outcome = proc::run_logged(make.command(false), &log, Duration::from_secs(600))
        .map_err(|e| Error::Setup(format!("cannot run make: {e}")))?;
    if outcome == Outcome::Interrupted {
        return Err(Error::Interrupted);
    }
    let mut r = ctx.record(cell, tree, Stage::Configure, commit);
    r.commands = vec![
        format!(
            "cat {} > {}",
            frags
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(" "),
            allconfig.display()
        ),
        make.line(),
    ];
    r.secs = t.elapsed().as_secs_f64();
    let fragments: Vec<String> = frags.iter().map(|f| super::fragment_label(f)).collect();
    if !outcome.success() {
        let tail = tail_lines(&log, 15);
        // The last line that is Kconfig's, not make's own.
        let said = tail
            .iter()
            .rev()
            .find(|l| !l.starts_with("make") && !l.trim().is_empty())
            .map(String::as_str)
            .unwrap_or("no output");
        let verdict = Verdict::failed(format!("Kconfig failed ({outcome}): {said}"));
        r.status = Status::Failed;
        r.configure = Some(ConfigureData {
            fragments,
            verdict: verdict.clone(),
            config_sha256: String::new(),
        });
        ctx.write(&r)?;
        ctx.finished(
            &r,
            tree,
            format!("failed ({outcome}); see {}", log.display()),
        );
        return Ok((r, verdict));
    }
    let cfg_path = bdir.join(".config");
    let cfg_text = std::fs::read_to_string(&cfg_path).map_err(|e| Error::io(&cfg_path, e))?;
    let _ = store::write_atomic(&dir.join("config"), cfg_text.as_bytes());
    let config = super::parse_config(&cfg_text);
    let srcarch = ctx.srcarch(cell);
    let index = idx.get(&ctx.p.src(), &srcarch, commit);
    let verdict = super::verdict(cell, &reqs, &config, &index, &m.track);
    r.status = if verdict.feasible {
        Status::Ok
    } else {
        Status::Infeasible
    };
    r.configure = Some(ConfigureData {
        fragments,
        verdict: verdict.clone(),
        config_sha256: series::hex(&Sha256::digest(cfg_text.as_bytes())),
    });
    ctx.write(&r)?;
    let summary = match &verdict.reason {
        Some(why) => why.clone(),
        None => format!(
            "feasible, {} dropped{}",
            verdict.warnings.len(),
            verdict
                .tracked
                .iter()
                .map(|(k, v)| format!(", {k}={v}"))
                .collect::<String>()
        ),
    };
    ctx.finished(&r, tree, summary);
    Ok((r, verdict))
}

//! The host vma tests' runner: tools/testing/vma of a tree built and run on
//! the host, once per commit (cached by commit when it completed).

use crate::error::{Error, Result};
use crate::events::{Event, Stage, Tree};
use crate::model::{Record, Status};
use crate::proc;
use crate::stage::StageCtx;
use crate::store;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where the host result of `commit` is cached.
pub fn cache_path(ctx: &StageCtx, commit: &str) -> PathBuf {
    crate::cache::host_record(&ctx.opts.cache, commit)
}

/// Run (or replay) the host vma tests of one tree.
pub fn host(ctx: &StageCtx, tree: &Tree, commit: &str, cached: bool) -> Result<()> {
    let Some((res, id)) = ctx.out else {
        return Ok(());
    };
    let cache = cache_path(ctx, commit);
    let dir = res.root.join(id).join("host").join(tree.name());
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let mut r = if cached {
        let mut r: Record = store::read_json(&cache)?;
        r.cached = true;
        r
    } else {
        run(ctx, tree, commit, &dir, &cache)?
    };
    r.tree = tree.name();
    store::write_json(&dir.join("vmatest.json"), &r)?;
    let summary = match r.vmatest.as_ref().and_then(|d| d.tests) {
        Some((n, p, f)) => format!("{n} tests run, {p} passed, {f} failed"),
        None => r
            .vmatest
            .as_ref()
            .map(|d| d.outcome.clone())
            .unwrap_or_default(),
    };
    ctx.finished(&r, tree, summary);
    Ok(())
}

fn run(ctx: &StageCtx, tree: &Tree, commit: &str, dir: &Path, cache: &Path) -> Result<Record> {
    ctx.sink.event(Event::StageStarted {
        cell: "host".into(),
        tree: tree.clone(),
        stage: Stage::VmaTest,
    });
    let t = Instant::now();
    let data = super::host(&ctx.p.src(), ctx.opts.jobs, &dir.join("vmatest.log"))
        .map_err(|e| Error::Setup(format!("tools/testing/vma: {e}")))?;
    let mut r = Record::new("host", &tree.name(), Stage::VmaTest, commit);
    r.status = if data.passed() {
        Status::Ok
    } else {
        Status::Failed
    };
    r.secs = t.elapsed().as_secs_f64();
    r.commands = data.commands.clone();
    // Only a run that reached the tests' summary is a fact of the tree.
    let complete = data.tests.is_some();
    r.vmatest = Some(data);
    if complete && !proc::interrupted() {
        store::write_json(cache, &r)?;
    }
    Ok(r)
}

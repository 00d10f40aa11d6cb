//! What every stage runner of a run shares: the workspace, the options,
//! where records go, the event sink, and the make invocation of this run
//! (toolchain, ccache, jobserver). The runners themselves sit beside their
//! stages (`kconfig::run`, `build::run`, `measure::run`, `boot::run`,
//! `vmatest::run`); the engine schedules them and the cache replays them.

use crate::build;
use crate::error::{Error, Result};
use crate::events::{Event, Sink, Stage, Tree};
use crate::jobserver::Jobserver;
use crate::make::Make;
use crate::matrix::Cell;
use crate::model::Record;
use crate::options::Options;
use crate::store::Results;
use crate::workspace::Prepared;
use std::path::PathBuf;

pub struct StageCtx<'a> {
    pub p: &'a Prepared,
    pub opts: &'a Options,
    /// Results directory and run id; None for `plan` (nothing recorded).
    pub out: Option<(&'a Results, &'a str)>,
    pub sink: &'a dyn Sink,
    /// Files the series touches.
    pub touched: Vec<String>,
    /// The shared make jobserver (`--jobserver`).
    pub jobserver: Option<Jobserver>,
    /// `ccache <compiler>` (`--ccache`).
    pub ccache_cc: Option<String>,
    /// When the C compiles run through distcc or icecc: the variable that
    /// names it (`CC`, or `CCACHE_PREFIX` under `--ccache`) with the wrapper
    /// `build::KBUILD_WRAP` in front.
    pub wrapped: Option<(&'static str, String)>,
    /// The C compiles run through icecream's icecc (`CC`, or
    /// `CCACHE_PREFIX` under `--ccache`) and the environment leaves
    /// `ICECC_REMOTE_CPP` to vmamatrix: it is set to 1, so clang
    /// preprocesses on the remote host from `-frewrite-includes` output
    /// and reports the warnings a local compile reports (README).
    pub icecc_remote_cpp: bool,
}

/// Which variable brings distcc or icecc into the kernel's C compiles, and
/// its value: `CC` when the toolchain's C compiler runs one of them,
/// `CCACHE_PREFIX` (from the environment) when ccache hands its misses to
/// one. Under `--ccache` such a `CC` is refused: ccache would wrap distcc,
/// not the compiler (README: leave `CC` alone and set
/// `CCACHE_PREFIX=distcc`).
pub fn wrapped_variable(
    toolchain: &[String],
    ccache: bool,
    ccache_prefix: Option<&str>,
) -> Result<Option<(&'static str, String)>> {
    let cc = build::compiler(toolchain).ok();
    match cc {
        Some(cc) if build::runs_remote_wrapper(&cc) => {
            if ccache {
                let w = cc.split_whitespace().next().unwrap_or_default();
                return Err(Error::Setup(format!(
                    "--ccache with CC={cc:?}: ccache would run {w} as the compiler; \
                     leave CC alone and set CCACHE_PREFIX={w} instead"
                )));
            }
            Ok(Some(("CC", cc)))
        }
        _ => Ok(match ccache_prefix {
            Some(pfx) if ccache && build::runs_remote_wrapper(pfx) => {
                Some(("CCACHE_PREFIX", pfx.to_string()))
            }
            _ => None,
        }),
    }
}

impl<'a> StageCtx<'a> {
    pub fn new(
        p: &'a Prepared,
        opts: &'a Options,
        out: Option<(&'a Results, &'a str)>,
        sink: &'a dyn Sink,
    ) -> Result<StageCtx<'a>> {
        let jobserver = opts
            .jobserver
            .then(|| Jobserver::new(opts.jobs))
            .transpose()
            .map_err(|e| Error::Setup(format!("make jobserver pipe: {e}")))?;
        let ccache_cc = opts
            .ccache
            .then(|| build::compiler(&p.matrix.toolchain).map(|cc| format!("ccache {cc}")))
            .transpose()?;
        let raw = wrapped_variable(
            &p.matrix.toolchain,
            opts.ccache,
            std::env::var("CCACHE_PREFIX").ok().as_deref(),
        )?;
        let icecc = raw
            .as_ref()
            .is_some_and(|(_, value)| build::runs_icecc(value));
        let icecc_remote_cpp = icecc && std::env::var_os("ICECC_REMOTE_CPP").is_none();
        let wrapped = raw
            .map(|(var, value)| {
                build::kbuild_wrap(&opts.cache).map(|w| (var, format!("{} {value}", w.display())))
            })
            .transpose()?;
        Ok(StageCtx {
            p,
            opts,
            out,
            sink,
            jobserver,
            ccache_cc,
            wrapped,
            icecc_remote_cpp,
            touched: p.series.touched_files(),
        })
    }

    pub fn srcarch(&self, cell: &Cell) -> String {
        self.p.matrix.facts(cell).srcarch(&cell.arch).to_string()
    }

    /// Compiler jobs of one build: its share of the budget, or the whole
    /// budget when a jobserver keeps the sum within it.
    pub fn jobs(&self) -> usize {
        match self.jobserver {
            Some(_) => self.opts.jobs,
            None => (self.opts.jobs / self.opts.parallel.max(1)).max(1),
        }
    }

    /// Jobs for the makes outside the jobserver (guest test builds): a
    /// share of the budget, or one when the jobserver hands out the rest.
    pub fn side_jobs(&self) -> usize {
        match self.jobserver {
            Some(_) => 1,
            None => self.jobs(),
        }
    }

    /// A kernel make in the shared source directory for `cell`: `O=`,
    /// `ARCH=`, the toolchain and, under `--ccache`, the ccache wrapper and
    /// its environment (all of it in the recorded line).
    pub fn kernel_make(&self, cell: &Cell) -> Make {
        let m = Make::kernel(&self.p.src()).args([
            format!("O={}", self.p.build_dir(cell).display()),
            format!("ARCH={}", self.srcarch(cell)),
        ]);
        self.toolchain(m)
    }

    /// The toolchain variables (and ccache, the distcc/icecc wrapper,
    /// icecream's remote preprocessing) on a kernel make.
    pub fn toolchain(&self, m: Make) -> Make {
        let mut m = m.args(self.p.matrix.toolchain.iter().cloned());
        match &self.wrapped {
            Some(("CCACHE_PREFIX", v)) => m = m.env("CCACHE_PREFIX", v.clone()),
            Some((var, v)) => m = m.args([format!("{var}={v}")]),
            None => {}
        }
        if self.icecc_remote_cpp {
            m = m.env("ICECC_REMOTE_CPP", "1");
        }
        match &self.ccache_cc {
            // Depend mode: kbuild passes -Wp,-MMD, so ccache keys on the
            // compiler's own dependency file and does not run the
            // preprocessor a second time on a miss.
            Some(cc) => m
                .env(
                    "CCACHE_DIR",
                    self.opts.cache.join("ccache").display().to_string(),
                )
                .env("CCACHE_DEPEND", "1")
                .args([format!("CC={cc}")]),
            None => m,
        }
    }

    /// The make that builds a cell: the image target, or only the probe
    /// object with `--structs-only`.
    pub fn build_make(&self, cell: &Cell) -> Make {
        let facts = self.p.matrix.facts(cell);
        let make = self.kernel_make(cell).jobs(self.jobs());
        if self.opts.structs_only {
            return make.target(self.probe_object());
        }
        // The dtb the boot needs is built with the image, from the same tree.
        match &facts.dtb {
            Some(dtb) => make.target(facts.target()).target(dtb.clone()),
            None => make.target(facts.target()),
        }
    }

    /// `mm/init-mm.o` for probe `mm/init-mm.c`.
    pub fn probe_object(&self) -> String {
        format!("{}.o", self.p.matrix.probe.trim_end_matches(".c"))
    }

    /// Where a cell-tree's records and logs go.
    pub fn log_dir(&self, cell: &Cell, tree: &Tree) -> PathBuf {
        match self.out {
            Some((r, id)) => r.cell_dir(id, &cell.id(), &tree.name()),
            None => self.p.build_dir(cell).join("vmamatrix-plan"),
        }
    }

    pub fn write(&self, r: &Record) -> Result<()> {
        if let Some((res, id)) = self.out {
            res.write_record(id, r)?;
        }
        Ok(())
    }

    pub fn started(&self, cell: &Cell, tree: &Tree, stage: Stage) {
        self.sink.event(Event::StageStarted {
            cell: cell.id(),
            tree: tree.clone(),
            stage,
        });
    }

    pub fn finished(&self, r: &Record, tree: &Tree, summary: String) {
        self.sink.event(Event::StageFinished {
            cell: r.cell.clone(),
            tree: tree.clone(),
            stage: r.stage,
            status: format!("{:?}", r.status).to_lowercase(),
            summary,
            secs: r.secs,
            cached: r.cached,
        });
    }

    pub fn record(&self, cell: &Cell, tree: &Tree, stage: Stage, commit: &str) -> Record {
        Record::new(&cell.id(), &tree.name(), stage, commit)
    }
}

/// The last `n` lines of a log file.
pub fn tail_lines(path: &std::path::Path, n: usize) -> Vec<String> {
    let t = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = t.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn distcc_or_icecc_in_cc_or_ccache_prefix() {
        let dcc = words(&["LLVM=-19", "CC=distcc clang-19"]);
        assert_eq!(
            wrapped_variable(&dcc, false, None).unwrap(),
            Some(("CC", "distcc clang-19".to_string()))
        );
        let e = wrapped_variable(&dcc, true, None).unwrap_err().to_string();
        assert!(e.contains("CCACHE_PREFIX=distcc"), "{e}");
        let ice = words(&["LLVM=-19", "CC=icecc clang-19"]);
        assert_eq!(
            wrapped_variable(&ice, false, None).unwrap(),
            Some(("CC", "icecc clang-19".to_string()))
        );
        let plain = words(&["LLVM=-19"]);
        assert_eq!(wrapped_variable(&plain, false, None).unwrap(), None);
        assert_eq!(
            wrapped_variable(&plain, true, Some("distcc")).unwrap(),
            Some(("CCACHE_PREFIX", "distcc".to_string()))
        );
        assert_eq!(
            wrapped_variable(&plain, true, Some("icecc")).unwrap(),
            Some(("CCACHE_PREFIX", "icecc".to_string()))
        );
        // CCACHE_PREFIX matters only to ccache.
        assert_eq!(
            wrapped_variable(&plain, false, Some("distcc")).unwrap(),
            None
        );
        assert_eq!(
            wrapped_variable(&plain, true, Some("sccache")).unwrap(),
            None
        );
    }
}

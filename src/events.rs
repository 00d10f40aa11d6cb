//! Events: the only interface between the engine and whoever displays its
//! progress. The engine emits them and never prints.

use serde::Serialize;

/// Which tree of a cell a stage works on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Tree {
    Base,
    /// The series applied up to and including patch N (per-patch runs).
    Patch(usize),
    Patched,
}

impl Tree {
    pub fn name(&self) -> String {
        match self {
            Tree::Base => "base".into(),
            Tree::Patch(n) => format!("patch-{n}"),
            Tree::Patched => "patched".into(),
        }
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Configure,
    Build,
    Measure,
    Boot,
    VmaTest,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Configure => "configure",
            Stage::Build => "build",
            Stage::Measure => "measure",
            Stage::Boot => "boot",
            Stage::VmaTest => "vmatest",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub enum Event {
    /// The series applied: base and resulting commits.
    SeriesApplied {
        base: String,
        head: String,
        patches: usize,
    },
    RunStarted {
        run_id: String,
        cells: Vec<String>,
        selected: Vec<String>,
    },
    /// The shared source directory is being brought to `tree`.
    TreeSwitching { tree: Tree, commit: String },
    /// The shared source directory now holds `tree`.
    TreeReady {
        tree: Tree,
        commit: String,
        how: String,
        secs: f64,
    },
    StageStarted {
        cell: String,
        tree: Tree,
        stage: Stage,
    },
    StageFinished {
        cell: String,
        tree: Tree,
        stage: Stage,
        status: String,
        summary: String,
        secs: f64,
        cached: bool,
    },
    /// Something the user should know that is not a stage result.
    Notice { msg: String },
    RunFinished {
        run_dir: String,
        regressions: Vec<String>,
        secs: f64,
    },
}

/// Receives events; must be callable from several threads.
pub trait Sink: Sync {
    fn event(&self, e: Event);
}

impl<F: Fn(Event) + Sync> Sink for F {
    fn event(&self, e: Event) {
        self(e)
    }
}

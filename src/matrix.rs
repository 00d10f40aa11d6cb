//! matrix.toml: which kernel tree, base, series, toolchain and cells to run,
//! and `--only` selection of cells.

use crate::arch::{self, Arch};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The seven architectures the default matrix covers.
pub const DEFAULT_ARCHES: [&str; 7] = [
    "arm",
    "arm64",
    "loongarch",
    "powerpc",
    "riscv",
    "s390",
    "x86",
];
pub const DEFAULT_STRUCTS: [&str; 2] = ["vm_area_struct", "mm_struct"];

/// matrix.toml as written by the user. Paths are relative to the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MatrixFile {
    kernel: Option<String>,
    base: Option<String>,
    series: Option<String>,
    toolchain: Option<String>,
    configs: Option<OneOrMany>,
    results: Option<String>,
    arches: Option<Vec<String>>,
    smp: Option<Vec<Smp>>,
    mmu: Option<Vec<Mmu>>,
    structs: Option<Vec<String>>,
    probe: Option<String>,
    track: Option<Vec<String>>,
    timeout: Option<u64>,
    #[serde(default)]
    arch: BTreeMap<String, Arch>,
}

/// `configs = "dir"` or `configs = ["dir", "overlay"]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Smp {
    Smp,
    Up,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mmu {
    Mmu,
    Nommu,
}

impl Smp {
    pub fn name(self) -> &'static str {
        match self {
            Smp::Smp => "smp",
            Smp::Up => "up",
        }
    }
}

impl Mmu {
    pub fn name(self) -> &'static str {
        match self {
            Mmu::Mmu => "mmu",
            Mmu::Nommu => "nommu",
        }
    }
}

/// One cell of the matrix: `<arch>-<smp|up>-<mmu|nommu>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Cell {
    pub arch: String,
    pub smp: Smp,
    pub mmu: Mmu,
}

impl Cell {
    pub fn id(&self) -> String {
        format!("{}-{}-{}", self.arch, self.smp.name(), self.mmu.name())
    }
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.id())
    }
}

/// The resolved matrix: absolute paths, defaults filled in.
#[derive(Debug, Clone)]
pub struct Matrix {
    pub file: Option<PathBuf>,
    pub kernel: PathBuf,
    pub base: String,
    /// Where `base` came from: "--base", "matrix.toml" or "default".
    pub base_from: &'static str,
    pub series: PathBuf,
    /// make variables selecting the toolchain, e.g. `["LLVM=-19"]`.
    pub toolchain: Vec<String>,
    /// Kconfig fragment directories; a later directory's fragments are
    /// applied after (and so win over) an earlier one's.
    pub configs: Vec<PathBuf>,
    pub results: PathBuf,
    pub arches: Vec<String>,
    pub smp: Vec<Smp>,
    pub mmu: Vec<Mmu>,
    pub structs: Vec<String>,
    /// Source file whose kbuild command compiles the struct probe.
    pub probe: String,
    /// Kconfig symbols whose value is recorded for every cell and tree.
    pub track: Vec<String>,
    /// Seconds a single build may take before it counts as failed.
    pub timeout: u64,
    pub arch: BTreeMap<String, Arch>,
}

/// Command-line overrides of matrix.toml fields.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub kernel: Option<PathBuf>,
    pub series: Option<PathBuf>,
    pub results: Option<PathBuf>,
    pub base: Option<String>,
}

/// vmamatrix's cache: `$VMAMATRIX_CACHE`, else `~/.cache/vmamatrix`.
pub fn cache_dir() -> PathBuf {
    if let Some(c) = std::env::var_os("VMAMATRIX_CACHE") {
        return PathBuf::from(c);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".cache/vmamatrix")
}

impl Matrix {
    /// Load `path` (or defaults when `None`) and apply overrides.
    pub fn load(path: Option<&Path>, ov: &Overrides) -> Result<Matrix> {
        let (file, dir, text) = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
                let f = parse(&text, p)?;
                let dir = p.parent().unwrap_or(Path::new(".")).to_path_buf();
                (f, dir, text)
            }
            None => (MatrixFile::default(), PathBuf::from("."), String::new()),
        };
        let line_of = |key: &str| {
            text.lines()
                .position(|l| l.trim_start().starts_with(key))
                .map_or(1, |i| i + 1)
        };
        let rel = |s: &str| -> PathBuf {
            let s = if let Some(rest) = s.strip_prefix("~/") {
                std::env::var("HOME").unwrap_or_default() + "/" + rest
            } else {
                s.to_string()
            };
            let p = PathBuf::from(s);
            if p.is_absolute() {
                p
            } else {
                dir.join(p)
            }
        };
        let arches = file
            .arches
            .unwrap_or_else(|| DEFAULT_ARCHES.iter().map(|s| s.to_string()).collect());
        let table = arch::table(&file.arch);
        for a in &arches {
            if !table.contains_key(a) {
                let known: Vec<_> = table.keys().cloned().collect();
                return Err(Error::Setup(format!(
                    "{}: arches: unknown architecture {a:?} (known: {}; add an [arch.{a}] table)",
                    path.map(|p| p.display().to_string())
                        .unwrap_or_else(|| "matrix".into()),
                    known.join(", ")
                )));
            }
        }
        Ok(Matrix {
            file: path.map(Path::to_path_buf),
            kernel: ov
                .kernel
                .clone()
                .or_else(|| file.kernel.as_deref().map(rel))
                .unwrap_or_else(|| cache_dir().join("linux")),
            base_from: match (&ov.base, &file.base) {
                (Some(_), _) => "--base",
                (None, Some(_)) => "matrix.toml",
                (None, None) => "default",
            },
            base: ov
                .base
                .clone()
                .or(file.base)
                .unwrap_or_else(|| "HEAD".into()),
            series: ov
                .series
                .clone()
                .unwrap_or_else(|| rel(file.series.as_deref().unwrap_or("patches"))),
            toolchain: file
                .toolchain
                .as_deref()
                .map(|t| {
                    split_words(t).map_err(|msg| Error::Matrix {
                        path: path.map(Path::to_path_buf).unwrap_or_default(),
                        line: line_of("toolchain"),
                        column: 1,
                        msg: format!("toolchain: {msg}"),
                    })
                })
                .transpose()?
                .unwrap_or_else(|| vec!["LLVM=-19".into()]),
            configs: match &file.configs {
                None => vec![rel("configs")],
                Some(OneOrMany::One(d)) => vec![rel(d)],
                Some(OneOrMany::Many(ds)) if ds.is_empty() => {
                    return Err(Error::Matrix {
                        path: path.map(Path::to_path_buf).unwrap_or_default(),
                        line: line_of("configs"),
                        column: 1,
                        msg: "configs: give at least one directory".into(),
                    })
                }
                Some(OneOrMany::Many(ds)) => ds.iter().map(|d| rel(d)).collect(),
            },
            results: ov
                .results
                .clone()
                .unwrap_or_else(|| rel(file.results.as_deref().unwrap_or("results"))),
            arches,
            smp: file.smp.unwrap_or_else(|| vec![Smp::Smp, Smp::Up]),
            mmu: file.mmu.unwrap_or_else(|| vec![Mmu::Mmu, Mmu::Nommu]),
            structs: file
                .structs
                .unwrap_or_else(|| DEFAULT_STRUCTS.iter().map(|s| s.to_string()).collect()),
            probe: file.probe.unwrap_or_else(|| "mm/init-mm.c".into()),
            track: file.track.unwrap_or_else(|| vec!["PER_VMA_LOCK".into()]),
            timeout: file.timeout.unwrap_or(3600),
            arch: table,
        })
    }

    /// Every cell of the matrix, in a stable order.
    pub fn cells(&self) -> Vec<Cell> {
        let mut out = Vec::new();
        for a in &self.arches {
            for &smp in &self.smp {
                for &mmu in &self.mmu {
                    out.push(Cell {
                        arch: a.clone(),
                        smp,
                        mmu,
                    });
                }
            }
        }
        out
    }

    /// Per-arch facts for a cell, with `<arch>-<axis>` variants applied.
    pub fn facts(&self, cell: &Cell) -> Arch {
        arch::for_cell(&self.arch, &cell.arch, cell.smp.name(), cell.mmu.name())
    }
}

/// Parse matrix.toml text; errors carry file, line and column.
fn parse(text: &str, path: &Path) -> Result<MatrixFile> {
    toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
        Error::Matrix {
            path: path.to_path_buf(),
            line,
            column,
            msg: e.message().to_string(),
        }
    })
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
    (line, column)
}

/// Split a toolchain string into make arguments as a shell would (shlex),
/// so that `LLVM=-19 CC="distcc clang-19"` gives `CC=distcc clang-19` as
/// one word.
pub fn split_words(s: &str) -> std::result::Result<Vec<String>, String> {
    shlex::split(s).ok_or_else(|| format!("unbalanced quotes or a trailing backslash in {s:?}"))
}

/// `--only` selection: comma-separated cell ids and `key=value` terms
/// (keys: arch, smp, mmu). Terms with the same key are alternatives; different
/// keys must all match. Examples: `arch=riscv,mmu=nommu`, `arch=arm,arm64`
/// (same as `arch=arm,arch=arm64`) or `x86-up-mmu`.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    ids: Vec<String>,
    terms: BTreeMap<String, Vec<String>>,
}

impl Selection {
    pub fn parse(spec: &str) -> Result<Selection> {
        let mut sel = Selection::default();
        // The key of the last `key=value` term: a bare word after it (no
        // '-', so not a cell id) is one more value, as in `arch=arm,arm64`.
        let mut last: Option<String> = None;
        for term in spec.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            match term.split_once('=') {
                Some((k, v)) if ["arch", "smp", "mmu"].contains(&k) => {
                    sel.terms.entry(k.into()).or_default().push(v.into());
                    last = Some(k.into());
                }
                None if !term.contains('-') && last.is_some() => {
                    let k = last.as_deref().unwrap_or_default();
                    sel.terms.entry(k.into()).or_default().push(term.into())
                }
                Some((k, _)) => {
                    return Err(Error::Usage(format!(
                        "--only: unknown key {k:?} in {term:?} (use arch=, smp=, mmu= or a cell id)"
                    )))
                }
                None => sel.ids.push(term.into()),
            }
        }
        Ok(sel)
    }

    pub fn matches(&self, c: &Cell) -> bool {
        let id = c.id();
        if !self.ids.is_empty() && !self.ids.contains(&id) {
            return false;
        }
        let val = |k: &str| match k {
            "arch" => c.arch.clone(),
            "smp" => c.smp.name().into(),
            _ => c.mmu.name().into(),
        };
        self.terms.iter().all(|(k, vs)| vs.contains(&val(k)))
    }

    /// Check every term names something in `cells`.
    pub fn validate(&self, cells: &[Cell]) -> Result<()> {
        for i in &self.ids {
            if !cells.iter().any(|c| c.id() == *i) {
                return Err(Error::Usage(format!(
                    "--only: no cell {i:?} in the matrix (cell ids look like x86-up-mmu; \
                     or use arch=, smp=, mmu=)"
                )));
            }
        }
        for (k, vs) in &self.terms {
            let known: Vec<String> = match k.as_str() {
                "arch" => {
                    let mut a: Vec<String> = cells.iter().map(|c| c.arch.clone()).collect();
                    a.sort();
                    a.dedup();
                    a
                }
                "smp" => vec!["smp".into(), "up".into()],
                _ => vec!["mmu".into(), "nommu".into()],
            };
            for v in vs {
                if !known.contains(v) {
                    return Err(Error::Usage(format!(
                        "--only: unknown {k} {v:?} (this matrix has: {})",
                        known.join(", ")
                    )));
                }
            }
        }
        if !cells.iter().any(|c| self.matches(c)) {
            return Err(Error::Usage("--only: selects no cell".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse(text, Path::new("m.toml")).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_file_line_column() {
        let e = err("base = \"HEAD\"\narches = [\"x86\", 3]\n");
        assert!(e.starts_with("m.toml:2:"), "{e}");
        let e = err("bogus = 1\n");
        assert!(e.starts_with("m.toml:1:1:") && e.contains("bogus"), "{e}");
        let e = err("smp = [\"quad\"]\n");
        assert!(e.starts_with("m.toml:1:8:") && e.contains("quad"), "{e}");
        let e = err("[arch.x86]\nmachin = \"q35\"\n");
        assert!(e.starts_with("m.toml:2:1:") && e.contains("machin"), "{e}");
    }

    #[test]
    fn default_matrix_has_28_cells() {
        let m = Matrix::load(None, &Overrides::default()).unwrap();
        let cells = m.cells();
        assert_eq!(cells.len(), 28);
        assert_eq!(cells[0].id(), "arm-smp-mmu");
        assert!(cells.iter().any(|c| c.id() == "riscv-up-nommu"));
    }

    #[test]
    fn unknown_arch_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.toml");
        std::fs::write(&p, "arches = [\"vax\"]\n").unwrap();
        let e = Matrix::load(Some(&p), &Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("vax"), "{e}");
    }

    #[test]
    fn configs_is_a_directory_or_a_nonempty_list() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.toml");
        std::fs::write(&p, "configs = [\"a\", \"b\"]\n").unwrap();
        let m = Matrix::load(Some(&p), &Overrides::default()).unwrap();
        assert_eq!(m.configs, [dir.path().join("a"), dir.path().join("b")]);
        std::fs::write(&p, "arches = [\"x86\"]\nconfigs = []\n").unwrap();
        let e = Matrix::load(Some(&p), &Overrides::default()).unwrap_err();
        assert!(
            e.to_string().contains("m.toml:2:") && e.to_string().contains("configs"),
            "{e}"
        );
    }

    #[test]
    fn toolchain_words() {
        assert_eq!(split_words("LLVM=-19").unwrap(), ["LLVM=-19"]);
        assert_eq!(
            split_words(" LLVM=-19  CC=\"distcc clang-19\" X='a b'c ").unwrap(),
            ["LLVM=-19", "CC=distcc clang-19", "X=a bc"]
        );
        assert!(split_words("CC=\"ccache clang")
            .unwrap_err()
            .contains("unbalanced"));
    }

    #[test]
    fn selection() {
        let m = Matrix::load(None, &Overrides::default()).unwrap();
        let cells = m.cells();
        let pick = |s: &str| -> Vec<String> {
            let sel = Selection::parse(s).unwrap();
            cells
                .iter()
                .filter(|c| sel.matches(c))
                .map(Cell::id)
                .collect()
        };
        assert_eq!(pick("arch=x86").len(), 4);
        assert_eq!(
            pick("arch=riscv,mmu=nommu"),
            ["riscv-smp-nommu", "riscv-up-nommu"]
        );
        assert_eq!(
            pick("arch=x86,arch=arm,smp=up,mmu=mmu"),
            ["arm-up-mmu", "x86-up-mmu"]
        );
        assert_eq!(pick("x86-up-mmu"), ["x86-up-mmu"]);
        assert_eq!(
            pick("arch=s390,arm64"),
            [
                "arm64-smp-mmu",
                "arm64-smp-nommu",
                "arm64-up-mmu",
                "arm64-up-nommu",
                "s390-smp-mmu",
                "s390-smp-nommu",
                "s390-up-mmu",
                "s390-up-nommu"
            ]
        );
        assert_eq!(pick("arch=arm64,x86-up-mmu"), Vec::<String>::new());
        assert!(Selection::parse("cpu=x").is_err());
        assert!(Selection::parse("x86-quad-mmu")
            .unwrap()
            .validate(&cells)
            .is_err());
    }
}

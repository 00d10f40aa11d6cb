//! Configure stage: merge the Kconfig fragments of a cell, let Kconfig resolve
//! them (`allnoconfig` with `KCONFIG_ALLCONFIG`, the kernel's own mechanism,
//! like `merge_config.sh -n`), then check every requested symbol against the
//! resulting .config and explain, in words, what Kconfig refused.

mod index;
pub mod run;

pub use index::KconfigIndex;

use crate::error::{Error, Result};
use crate::matrix::{Cell, Matrix, Mmu, Smp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A symbol value as written in a fragment or .config: "y", "m", "n", or a
/// literal (`"string"`, number).
pub type Value = String;

/// One `CONFIG_` request of a fragment, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub symbol: String,
    pub value: Value,
    pub file: String,
    pub line: usize,
}

/// A request Kconfig did not honour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Dropped {
    pub symbol: String,
    pub requested: Value,
    pub got: Value,
    pub from: String,
    pub why: String,
}

/// The fragments a cell uses, in order (later ones win): base, arch,
/// smp/up, mmu/nommu, then the optional `<arch>-<smp|up>`,
/// `<arch>-<mmu|nommu>` and `<cell id>` refinements, of each fragment
/// directory in turn (an overlay directory after the one it refines).
/// Missing optional files are skipped; base, smp/up and mmu/nommu must be
/// in at least one directory.
pub fn fragments(m: &Matrix, cell: &Cell) -> Result<Vec<PathBuf>> {
    let required = [
        "base.config".to_string(),
        format!("{}.config", cell.smp.name()),
        format!("{}.config", cell.mmu.name()),
    ];
    for r in &required {
        if !m.configs.iter().any(|d| d.join(r).is_file()) {
            let dirs: Vec<String> = m.configs.iter().map(|d| d.display().to_string()).collect();
            return Err(Error::Setup(format!(
                "{}: missing Kconfig fragment {r}",
                dirs.join(", ")
            )));
        }
    }
    let names = [
        "base.config".to_string(),
        format!("{}.config", cell.arch),
        format!("{}.config", cell.smp.name()),
        format!("{}.config", cell.mmu.name()),
        format!("{}-{}.config", cell.arch, cell.smp.name()),
        format!("{}-{}.config", cell.arch, cell.mmu.name()),
        format!("{}.config", cell.id()),
    ];
    Ok(m.configs
        .iter()
        .flat_map(|d| names.iter().map(move |n| d.join(n)))
        .filter(|p| p.is_file())
        .collect())
}

/// How reports name a fragment: its directory's last component and its
/// file name (`configs/up.config`).
pub fn fragment_label(f: &Path) -> String {
    let dir = f
        .parent()
        .and_then(Path::file_name)
        .map(|d| d.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = f
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{dir}/{name}")
}

/// Parse fragment text into requests. `# CONFIG_X is not set` requests n.
pub fn parse_fragment(text: &str, file: &str) -> Result<Vec<Request>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        let req = |symbol: &str, value: &str| Request {
            symbol: symbol.to_string(),
            value: value.to_string(),
            file: file.to_string(),
            line: i + 1,
        };
        if let Some(rest) = line.strip_prefix("# CONFIG_") {
            if let Some(sym) = rest.strip_suffix(" is not set") {
                out.push(req(sym, "n"));
            }
        } else if line.is_empty() || line.starts_with('#') {
            continue;
        } else if let Some((k, v)) = line.strip_prefix("CONFIG_").and_then(|l| l.split_once('=')) {
            if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(Error::Setup(format!(
                    "{file}:{}: bad symbol name {k:?}",
                    i + 1
                )));
            }
            out.push(req(k, v));
        } else {
            return Err(Error::Setup(format!(
                "{file}:{}: not a Kconfig line: {line:?}",
                i + 1
            )));
        }
    }
    Ok(out)
}

/// The merged fragment text that configures `cell`: what the record cache
/// and the build directory are keyed by.
pub fn merged_text(m: &Matrix, cell: &Cell) -> Result<String> {
    Ok(merge(&fragments(m, cell)?)?.0)
}

/// Merge fragments: later requests of a symbol replace earlier ones.
/// Returns the merged fragment text and the effective requests.
pub fn merge(files: &[PathBuf]) -> Result<(String, Vec<Request>)> {
    let mut text = String::new();
    let mut reqs: Vec<Request> = Vec::new();
    for f in files {
        let t = std::fs::read_to_string(f).map_err(|e| Error::io(f, e))?;
        let name = fragment_label(f);
        for r in parse_fragment(&t, &name)? {
            reqs.retain(|o| o.symbol != r.symbol);
            reqs.push(r);
        }
        text.push_str(&format!("# --- {name}\n{t}\n"));
    }
    Ok((text, reqs))
}

/// Parse a .config into symbol -> value ("n" for "is not set").
pub fn parse_config(text: &str) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if let Some(sym) = line
            .strip_prefix("# CONFIG_")
            .and_then(|r| r.strip_suffix(" is not set"))
        {
            out.insert(sym.to_string(), "n".to_string());
        } else if let Some((k, v)) = line.strip_prefix("CONFIG_").and_then(|l| l.split_once('=')) {
            out.insert(k.to_string(), v.to_string());
        }
    }
    out
}

/// The value a .config gives `sym` (absent means n).
pub fn value<'a>(config: &'a BTreeMap<String, Value>, sym: &str) -> &'a str {
    config.get(sym).map(String::as_str).unwrap_or("n")
}

/// Requests whose value did not survive.
pub fn check(reqs: &[Request], config: &BTreeMap<String, Value>) -> Vec<(Request, Value)> {
    reqs.iter()
        .filter(|r| value(config, &r.symbol) != r.value)
        .map(|r| (r.clone(), value(config, &r.symbol).to_string()))
        .collect()
}

/// The verdict on one cell's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub feasible: bool,
    /// Why the cell is infeasible, in words; None when feasible.
    pub reason: Option<String>,
    /// Requests Kconfig dropped that do not make the cell infeasible.
    pub warnings: Vec<Dropped>,
    pub requested: usize,
    /// Values of the matrix's tracked symbols: "y", "m", "n", or
    /// "undefined" when no Kconfig file of this tree defines the symbol.
    #[serde(default)]
    pub tracked: BTreeMap<String, String>,
}

impl Verdict {
    /// The verdict when Kconfig itself failed: not feasible, and why.
    pub fn failed(reason: String) -> Verdict {
        Verdict {
            feasible: false,
            reason: Some(reason),
            warnings: vec![],
            requested: 0,
            tracked: BTreeMap::new(),
        }
    }
}

/// Judge a resolved .config against the cell's requests.
pub fn verdict(
    cell: &Cell,
    reqs: &[Request],
    config: &BTreeMap<String, Value>,
    kconfig: &KconfigIndex,
    tracked: &[String],
) -> Verdict {
    let mut reasons = Vec::new();
    let mut warnings = Vec::new();
    for (r, got) in check(reqs, config) {
        let why = kconfig.explain(&r.symbol, &r.value, &got, config);
        let axis = (r.symbol == "SMP" && r.value == want_bool(cell.smp == Smp::Smp))
            || (r.symbol == "MMU" && r.value == want_bool(cell.mmu == Mmu::Mmu));
        if axis {
            reasons.push(format!(
                "CONFIG_{}={} requested, got {got}: {why}",
                r.symbol, r.value
            ));
        } else {
            warnings.push(Dropped {
                symbol: r.symbol.clone(),
                requested: r.value.clone(),
                got,
                from: format!("{}:{}", r.file, r.line),
                why,
            });
        }
    }
    Verdict {
        feasible: reasons.is_empty(),
        reason: (!reasons.is_empty()).then(|| reasons.join("; ")),
        warnings,
        requested: reqs.len(),
        tracked: tracked
            .iter()
            .map(|t| {
                let v = if kconfig.defines(t) {
                    value(config, t).to_string()
                } else {
                    "undefined".to_string()
                };
                (t.clone(), v)
            })
            .collect(),
    }
}

fn want_bool(b: bool) -> &'static str {
    if b {
        "y"
    } else {
        "n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(s: &str) -> BTreeMap<String, Value> {
        parse_config(s)
    }

    #[test]
    fn overlay_directories_apply_after_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("configs"), dir.path().join("lean"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        for (d, f, t) in [
            (&a, "base.config", "CONFIG_NET=y\nCONFIG_TTY=y\n"),
            (&a, "up.config", "# CONFIG_SMP is not set\n"),
            (&a, "mmu.config", "CONFIG_MMU=y\n"),
            (&a, "x86.config", "CONFIG_64BIT=y\n"),
            (&b, "base.config", "# CONFIG_NET is not set\n"),
        ] {
            std::fs::write(d.join(f), t).unwrap();
        }
        let m = dir.path().join("m.toml");
        std::fs::write(&m, "configs = [\"configs\", \"lean\"]\n").unwrap();
        let m = Matrix::load(Some(&m), &Default::default()).unwrap();
        let cell = m
            .cells()
            .into_iter()
            .find(|c| c.id() == "x86-up-mmu")
            .unwrap();
        let files = fragments(&m, &cell).unwrap();
        let labels: Vec<String> = files.iter().map(|f| fragment_label(f)).collect();
        assert_eq!(
            labels,
            [
                "configs/base.config",
                "configs/x86.config",
                "configs/up.config",
                "configs/mmu.config",
                "lean/base.config"
            ]
        );
        let (_, reqs) = merge(&files).unwrap();
        let net = reqs.iter().find(|r| r.symbol == "NET").unwrap();
        assert_eq!(
            (net.value.as_str(), net.file.as_str()),
            ("n", "lean/base.config")
        );
        assert!(reqs.iter().any(|r| r.symbol == "TTY" && r.value == "y"));

        // A required fragment missing from every directory names them all.
        std::fs::remove_file(a.join("mmu.config")).unwrap();
        let e = fragments(&m, &cell).unwrap_err().to_string();
        assert!(
            e.contains("configs, ") && e.contains("lean") && e.contains("mmu.config"),
            "{e}"
        );
    }

    #[test]
    fn fragment_parsing() {
        let r = parse_fragment(
            "# c\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=\"x y\"\n",
            "f",
        )
        .unwrap();
        let v: Vec<_> = r
            .iter()
            .map(|r| (r.symbol.as_str(), r.value.as_str(), r.line))
            .collect();
        assert_eq!(v, [("A", "y", 2), ("B", "n", 3), ("C", "\"x y\"", 4)]);
        let e = parse_fragment("CONFIG_A=y\nSMP=y\n", "configs/x.config").unwrap_err();
        assert!(e.to_string().starts_with("configs/x.config:2:"), "{e}");
    }

    #[test]
    fn config_check_finds_dropped() {
        let reqs = parse_fragment(
            "CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=y\nCONFIG_D=m\n",
            "f",
        )
        .unwrap();
        let c = cfg("CONFIG_A=y\nCONFIG_B=y\n# CONFIG_C is not set\nCONFIG_D=y\n");
        let bad: Vec<_> = check(&reqs, &c)
            .into_iter()
            .map(|(r, got)| format!("{}={}->{got}", r.symbol, r.value))
            .collect();
        assert_eq!(bad, ["B=n->y", "C=y->n", "D=m->y"]);
    }

    fn index() -> KconfigIndex {
        let mut k = KconfigIndex::empty("arm64");
        k.add_file(
            "arch/arm64/Kconfig",
            "config ARM64\n\tdef_bool y\n\tselect FOO\n\nconfig SMP\n\tdef_bool y\n\nconfig BIG\n\tbool \"big\"\n\tdepends on MMU && !TINY\n",
        );
        k
    }

    #[test]
    fn explanations() {
        let k = index();
        let c = cfg("CONFIG_ARM64=y\nCONFIG_SMP=y\nCONFIG_FOO=y\nCONFIG_TINY=y\n");
        let why = k.explain("SMP", "n", "y", &c);
        assert_eq!(
            why,
            "arch/arm64/Kconfig:5 defines SMP as `def_bool y` with no prompt: arm64 always has it"
        );
        assert_eq!(
            k.explain("FOO", "n", "y", &c),
            "no Kconfig symbol FOO exists for arm64"
        );
        let why = k.explain("BIG", "y", "n", &c);
        assert_eq!(
            why,
            "depends on MMU && !TINY (arch/arm64/Kconfig:8), but MMU=n, TINY=y"
        );
        let mut k2 = index();
        k2.add_file("lib/Kconfig", "config FOO\n\tbool\n");
        assert_eq!(
            k2.explain("FOO", "n", "y", &c),
            "selected by ARM64 (arch/arm64/Kconfig:3)"
        );
        k2.add_file(
            "drivers/tty/Kconfig",
            "config VT\n\tbool \"Virtual terminal\" if EXPERT\n\tdefault y\nconfig MMU2\n\tbool\n\tdefault y\n",
        );
        assert_eq!(
            k2.explain("VT", "n", "y", &c),
            "its prompt (drivers/tty/Kconfig:1) only shows if EXPERT, but EXPERT=n, so it keeps its default"
        );
        assert_eq!(
            k2.explain("MMU2", "n", "y", &c),
            "drivers/tty/Kconfig:4 defines MMU2 with no prompt and `default y`: arm64 always has it"
        );
    }

    #[test]
    fn axis_drop_makes_cell_infeasible() {
        let k = index();
        let cell = Cell {
            arch: "arm64".into(),
            smp: Smp::Up,
            mmu: Mmu::Mmu,
        };
        let reqs = parse_fragment(
            "# CONFIG_SMP is not set\nCONFIG_BIG=y\n",
            "configs/up.config",
        )
        .unwrap();
        let c = cfg("CONFIG_SMP=y\nCONFIG_MMU=y\n");
        let v = verdict(&cell, &reqs, &c, &k, &["SMP".into(), "NOPE".into()]);
        assert!(!v.feasible);
        assert!(v
            .reason
            .as_deref()
            .unwrap()
            .starts_with("CONFIG_SMP=n requested, got y: arch/arm64/Kconfig:5"));
        assert_eq!(v.warnings.len(), 1);
        assert_eq!(v.warnings[0].from, "configs/up.config:2");
        assert_eq!(v.tracked["SMP"], "y");
        assert_eq!(v.tracked["NOPE"], "undefined");
    }
}

//! The Kconfig definitions of one architecture, read from the kernel
//! tree's Kconfig files: prompts, defaults, `depends on` and `select`, so
//! that a refused request can be explained in words (no prompt, selected by
//! X at file:line, unmet dependencies).

use super::{value, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// The Kconfig definitions visible to one architecture, for explanations.
#[derive(Debug, Default)]
pub struct KconfigIndex {
    srcarch: String,
    defs: BTreeMap<String, Vec<Def>>,
    /// symbol -> (selecting symbol, file:line)
    selects: BTreeMap<String, Vec<(String, String)>>,
}

#[derive(Debug, Clone, Default)]
struct Def {
    at: String,
    prompt: bool,
    /// `if COND` of the prompt: the prompt is only visible when COND holds.
    prompt_if: Option<String>,
    default_bool: Option<String>,
    /// First `default` value.
    default: Option<String>,
    depends: Vec<String>,
}

impl KconfigIndex {
    /// An index with no Kconfig file read yet (tests add theirs).
    #[cfg(test)]
    pub(super) fn empty(srcarch: &str) -> KconfigIndex {
        KconfigIndex {
            srcarch: srcarch.into(),
            ..Default::default()
        }
    }

    /// Read every Kconfig file of `src` that `srcarch` sees.
    pub fn load(src: &Path, srcarch: &str) -> KconfigIndex {
        let mut idx = KconfigIndex {
            srcarch: srcarch.to_string(),
            ..Default::default()
        };
        let mut stack = vec![src.to_path_buf()];
        while let Some(dir) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in rd.flatten() {
                let p = e.path();
                let rel = p
                    .strip_prefix(src)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .into_owned();
                let Ok(ft) = e.file_type() else { continue };
                if ft.is_dir() {
                    let skip = rel.starts_with("arch/")
                        && rel != format!("arch/{srcarch}")
                        && !rel.starts_with(&format!("arch/{srcarch}/"));
                    let skip = skip || rel == "Documentation" || rel == "tools" || rel == ".git";
                    if !skip {
                        stack.push(p);
                    }
                } else if e.file_name().to_string_lossy().starts_with("Kconfig") {
                    if let Ok(t) = std::fs::read_to_string(&p) {
                        idx.add_file(&rel, &t);
                    }
                }
            }
        }
        idx
    }

    pub(super) fn add_file(&mut self, rel: &str, text: &str) {
        let mut cur: Option<(String, Def)> = None;
        let flush = |cur: &mut Option<(String, Def)>, defs: &mut BTreeMap<String, Vec<Def>>| {
            if let Some((s, d)) = cur.take() {
                defs.entry(s).or_default().push(d);
            }
        };
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            let at = format!("{rel}:{}", i + 1);
            let head = line
                .strip_prefix("config ")
                .or_else(|| line.strip_prefix("menuconfig "));
            if let Some(sym) = head.filter(|_| !raw.starts_with([' ', '\t'])) {
                flush(&mut cur, &mut self.defs);
                cur = Some((
                    sym.trim().to_string(),
                    Def {
                        at,
                        ..Default::default()
                    },
                ));
                continue;
            }
            if !raw.starts_with([' ', '\t']) && !line.is_empty() && !line.starts_with('#') {
                flush(&mut cur, &mut self.defs);
                continue;
            }
            let Some((sym, def)) = cur.as_mut() else {
                continue;
            };
            let mut words = line.splitn(2, char::is_whitespace);
            let kw = words.next().unwrap_or("");
            let rest = words.next().unwrap_or("").trim();
            match kw {
                "bool" | "tristate" | "string" | "int" | "hex" | "prompt"
                    if rest.starts_with('"') =>
                {
                    def.prompt = true;
                    let after = rest[1..].find('"').map(|i| &rest[i + 2..]).unwrap_or("");
                    if let Some(c) = after.trim().strip_prefix("if ") {
                        def.prompt_if = Some(c.trim().to_string());
                    }
                }
                "default" if def.default.is_none() => {
                    def.default = Some(rest.split(" if ").next().unwrap_or(rest).trim().to_string())
                }
                "def_bool" | "def_tristate" => def.default_bool = Some(rest.to_string()),
                "depends" => {
                    if let Some(e) = rest.strip_prefix("on") {
                        def.depends.push(e.trim().to_string())
                    }
                }
                "select" => {
                    let target = rest.split_whitespace().next().unwrap_or("").to_string();
                    self.selects
                        .entry(target)
                        .or_default()
                        .push((sym.clone(), at.clone()));
                }
                _ => {}
            }
        }
        flush(&mut cur, &mut self.defs);
    }

    /// Whether any Kconfig file this architecture reads defines `sym`.
    pub fn defines(&self, sym: &str) -> bool {
        self.defs.contains_key(sym)
    }

    /// Why `sym` came out `got` although `requested` was asked for.
    pub fn explain(
        &self,
        sym: &str,
        requested: &str,
        got: &str,
        config: &BTreeMap<String, Value>,
    ) -> String {
        let arch = &self.srcarch;
        let Some(defs) = self.defs.get(sym) else {
            return format!("no Kconfig symbol {sym} exists for {arch}");
        };
        if requested == "n" {
            let sel: Vec<String> = self
                .selects
                .get(sym)
                .into_iter()
                .flatten()
                .filter(|(by, _)| value(config, by) != "n")
                .map(|(by, at)| format!("{by} ({at})"))
                .collect();
            if !sel.is_empty() {
                return format!("selected by {}", sel.join(", "));
            }
            if let Some(d) = defs.iter().find(|d| !d.prompt && d.default_bool.is_some()) {
                return format!(
                    "{} defines {sym} as `def_bool {}` with no prompt: {arch} always has it",
                    d.at,
                    d.default_bool.as_deref().unwrap_or("")
                );
            }
            if let Some(d) = defs.iter().find(|d| !d.prompt && d.default.is_some()) {
                return format!(
                    "{} defines {sym} with no prompt and `default {}`: {arch} always has it",
                    d.at,
                    d.default.as_deref().unwrap_or("")
                );
            }
            if let Some(why) = hidden_prompt(defs, config) {
                return format!("{why}, so it keeps its default");
            }
            return format!("Kconfig kept {sym}={got} ({})", defs[0].at);
        }
        let mut unmet = Vec::new();
        for d in defs {
            for dep in &d.depends {
                let bad: Vec<String> = unmet_symbols(dep, config);
                if !bad.is_empty() {
                    unmet.push(format!(
                        "depends on {dep} ({}), but {}",
                        d.at,
                        bad.join(", ")
                    ));
                }
            }
        }
        if !unmet.is_empty() {
            unmet.dedup();
            return unmet.join("; ");
        }
        if let Some(why) = hidden_prompt(defs, config) {
            return format!("{why}, so it cannot be set by hand");
        }
        if defs.iter().all(|d| !d.prompt) {
            return format!("{} has no prompt, so it cannot be set by hand", defs[0].at);
        }
        format!("Kconfig resolved {sym}={got} ({})", defs[0].at)
    }
}

/// "the prompt of X (file:line) only shows if COND, but A=n" when every
/// prompt of the symbol is hidden by its `if` condition.
fn hidden_prompt(defs: &[Def], config: &BTreeMap<String, Value>) -> Option<String> {
    let prompted: Vec<&Def> = defs.iter().filter(|d| d.prompt).collect();
    if prompted.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    for d in prompted {
        let cond = d.prompt_if.as_ref()?;
        let bad = unmet_symbols(cond, config);
        if bad.is_empty() {
            return None;
        }
        out.push(format!(
            "its prompt ({}) only shows if {cond}, but {}",
            d.at,
            bad.join(", ")
        ));
    }
    Some(out.join("; "))
}

/// Symbols of a `depends on` expression whose value works against it:
/// `X` that is n, or `!X` where X is set.
fn unmet_symbols(expr: &str, config: &BTreeMap<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    let b = expr.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_uppercase() || b[i].is_ascii_digit() || b[i] == b'_' {
            let s = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            let sym = &expr[s..i];
            if sym.bytes().all(|c| c.is_ascii_digit()) {
                continue;
            }
            let negated = expr[..s].trim_end().ends_with('!');
            let v = value(config, sym);
            if !negated && v == "n" {
                out.push(format!("{sym}=n"));
            } else if negated && v != "n" {
                out.push(format!("{sym}={v}"));
            }
        } else {
            i += 1;
        }
    }
    out.dedup();
    out
}

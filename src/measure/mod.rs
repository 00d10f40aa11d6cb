//! Measure stage: vmlinux section sizes (ELF) and struct layouts (DWARF).
//!
//! Struct layouts come from a probe object: the kbuild command recorded in
//! the `.cmd` file of one object (matrix `probe`, default mm/init-mm.c) is
//! re-run with `-g` into a separate output, so the kernel itself needs no
//! debug-info build and the layout is the one this .config produces.

pub mod dwarf;
pub mod elf;
pub mod run;

pub use dwarf::Layout;
pub use elf::Sections;

use std::path::Path;

/// The compile command kbuild recorded for `obj` (e.g. `mm/init-mm.o`),
/// from `<build>/<dir>/.<name>.cmd`, with the post-compile steps dropped.
pub fn recorded_command(build: &Path, obj: &str) -> Result<String, String> {
    let p = Path::new(obj);
    let cmd_file = build
        .join(p.parent().unwrap_or(Path::new("")))
        .join(format!(
            ".{}.cmd",
            p.file_name().unwrap_or_default().to_string_lossy()
        ));
    let text = std::fs::read_to_string(&cmd_file)
        .map_err(|e| format!("{}: {e} (was {obj} built?)", cmd_file.display()))?;
    let line = text
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!("savedcmd_{obj} := "))
                .or_else(|| l.strip_prefix(&format!("cmd_{obj} := ")))
        })
        .ok_or_else(|| format!("{}: no command line for {obj}", cmd_file.display()))?;
    Ok(first_command(&line.replace("$$", "$")))
}

/// The part of a shell line before the first `;` outside quotes.
fn first_command(line: &str) -> String {
    let mut quote: Option<char> = None;
    for (i, ch) in line.char_indices() {
        match (quote, ch) {
            (None, '\'' | '"') => quote = Some(ch),
            (Some(q), c) if c == q => quote = None,
            (None, ';') => return line[..i].trim().to_string(),
            _ => {}
        }
    }
    line.trim().to_string()
}

/// Turn a recorded compile command into the probe command: drop the
/// dependency-file option, write to `out`, and ask for full debug info.
pub fn probe_command(recorded: &str, obj: &str, out: &Path) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut it = recorded.split(' ').filter(|w| !w.is_empty()).peekable();
    while let Some(w) = it.next() {
        if w.starts_with("-Wp,-MMD,") || w.starts_with("-Wp,-MD,") || w == "-g0" {
            continue;
        }
        if w == "-o" && it.peek() == Some(&obj) {
            it.next();
            words.push("-o".into());
            words.push(out.display().to_string());
            continue;
        }
        words.push(w.to_string());
    }
    words.push("-g -gdwarf-4 -fno-eliminate-unused-debug-types".into());
    words.join(" ")
}

/// The probe object's name in a cell's log directory.
pub const PROBE_OBJECT: &str = "probe.o";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_command_from_cmd_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("mm")).unwrap();
        std::fs::write(
            dir.path().join("mm/.init-mm.o.cmd"),
            "savedcmd_mm/init-mm.o := clang-19 -Wp,-MMD,mm/.init-mm.o.d -nostdinc -DX='\"a;b\"' -c -o mm/init-mm.o /s/mm/init-mm.c  ; ./tools/objtool/objtool --orc mm/init-mm.o\n\nsource_mm/init-mm.o := /s/mm/init-mm.c\n",
        )
        .unwrap();
        let rec = recorded_command(dir.path(), "mm/init-mm.o").unwrap();
        assert_eq!(rec, "clang-19 -Wp,-MMD,mm/.init-mm.o.d -nostdinc -DX='\"a;b\"' -c -o mm/init-mm.o /s/mm/init-mm.c");
        let cmd = probe_command(&rec, "mm/init-mm.o", Path::new("/b/probe.o"));
        assert_eq!(
            cmd,
            "clang-19 -nostdinc -DX='\"a;b\"' -c -o /b/probe.o /s/mm/init-mm.c -g -gdwarf-4 -fno-eliminate-unused-debug-types"
        );
        assert!(recorded_command(dir.path(), "mm/nope.o")
            .unwrap_err()
            .contains("was mm/nope.o built?"));
    }
}

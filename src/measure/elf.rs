//! vmlinux section sizes, read from the ELF section headers and classified
//! by flags (not Berkeley `size` totals, which fold rodata into text).

use object::{Object, ObjectSection, SectionFlags, SectionKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Sizes in bytes of the allocated sections of an image, by class.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sections {
    pub text: u64,
    pub rodata: u64,
    pub data: u64,
    pub bss: u64,
    /// Every allocated section by name, for the curious.
    pub by_name: BTreeMap<String, u64>,
}

impl Sections {
    pub fn total(&self) -> u64 {
        self.text + self.rodata + self.data + self.bss
    }
}

const SHF_WRITE: u64 = 0x1;
const SHF_ALLOC: u64 = 0x2;
const SHF_EXECINSTR: u64 = 0x4;
const SHT_NOBITS: u32 = 8;

/// Classify every SHF_ALLOC section: executable -> text; NOBITS -> bss;
/// writable -> data; the rest -> rodata.
pub fn sections(data: &[u8]) -> Result<Sections, String> {
    let file = object::File::parse(data).map_err(|e| format!("not an ELF file: {e}"))?;
    let mut s = Sections::default();
    for sec in file.sections() {
        let (flags, sh_type) = match sec.flags() {
            SectionFlags::Elf { sh_flags } => (sh_flags, elf_type(&sec)),
            _ => continue,
        };
        if flags & SHF_ALLOC == 0 {
            continue;
        }
        let size = sec.size();
        let name = sec.name().unwrap_or("?").to_string();
        if flags & SHF_EXECINSTR != 0 {
            s.text += size;
        } else if sh_type == SHT_NOBITS || sec.kind() == SectionKind::UninitializedData {
            s.bss += size;
        } else if flags & SHF_WRITE != 0 {
            s.data += size;
        } else {
            s.rodata += size;
        }
        *s.by_name.entry(name).or_default() += size;
    }
    Ok(s)
}

fn elf_type(sec: &object::Section<'_, '_>) -> u32 {
    match sec.kind() {
        SectionKind::UninitializedData | SectionKind::UninitializedTls => SHT_NOBITS,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_sections_of_a_real_object() {
        let dir = tempfile::tempdir().unwrap();
        let c = dir.path().join("t.c");
        std::fs::write(
            &c,
            "int zero[100]; int one[3] = {1,2,3}; const int ro[50] = {1}; int f(void) { return one[0]; }\n",
        )
        .unwrap();
        let o = dir.path().join("t.o");
        let st = std::process::Command::new("gcc")
            .args(["-O1", "-fno-common", "-c", "-o"])
            .arg(&o)
            .arg(&c)
            .status()
            .unwrap();
        assert!(st.success());
        let s = sections(&std::fs::read(&o).unwrap()).unwrap();
        assert_eq!(s.bss, 400);
        assert_eq!(s.data, 12);
        assert!(s.rodata >= 200, "{s:?}");
        assert!(s.text > 0);
    }
}

//! ELF to bFLT (FLAT, version 4) conversion for NOMMU guests, whose kernels
//! only run FLAT executables. Enough for vmamatrix's static nolibc /init:
//! the loadable segments are laid out as in memory (so PC-relative code
//! works unchanged), the FLAT header replaces the ELF header at the start of
//! the image, and absolute 64- or 32-bit pointers found through the
//! relocations the linker kept (`--emit-relocs`) and in `.got` become FLAT
//! relocations (offsets counted from the end of the header, as
//! fs/binfmt_flat.c reads them). The file is marked FLAT_FLAG_RAM, so the kernel loads it in
//! one piece.

use object::{Object, ObjectSection, ObjectSegment, RelocationKind, RelocationTarget};

const FLAT_FLAG_RAM: u32 = 0x1;
const HEADER: usize = 64;
const DATA_ALIGN: u64 = 0x20;

/// Convert a static ELF executable to a FLAT file. `data_gap`: the bytes
/// binfmt_flat leaves between text and data (4, one word, unless the arch
/// selects CONFIG_BINFMT_FLAT_NO_DATA_START_OFFSET as riscv does): the
/// file's text is cut that much short, so that the kernel's 32-byte
/// alignment puts the data exactly where the code's PC-relative references
/// expect it, and data addresses are counted without the gap.
pub fn elf_to_flat(elf: &[u8], stack_size: u32, data_gap: u32) -> Result<Vec<u8>, String> {
    let gap = u64::from(data_gap);
    let file = object::File::parse(elf).map_err(|e| format!("not an ELF file: {e}"))?;
    if !file.is_little_endian() {
        return Err("big-endian FLAT conversion is not supported".into());
    }
    let segs: Vec<_> = file.segments().collect();
    if segs.is_empty() {
        return Err("no loadable segments".into());
    }
    let base = segs.iter().map(|s| s.address()).min().unwrap();
    // Text: every segment that is not writable; data: writable ones.
    let writable = |s: &object::Segment<'_, '_>| match s.flags() {
        object::SegmentFlags::Elf { p_flags } => p_flags & 2 != 0,
        _ => false,
    };
    let data_lo = segs
        .iter()
        .filter(|s| writable(s))
        .map(|s| s.address())
        .min()
        .unwrap_or(u64::MAX);
    let mut file_end = 0u64;
    let mut mem_end = 0u64;
    for s in &segs {
        let off = s.address() - base;
        let filesz = s.file_range().1;
        file_end = file_end.max(off + filesz);
        mem_end = mem_end.max(off + s.size());
        if !writable(s) && s.address() > data_lo {
            return Err("a read-only segment follows the writable ones".into());
        }
    }
    let data_start = if data_lo == u64::MAX {
        file_end
    } else {
        data_lo - base
    };
    if data_start % DATA_ALIGN != 0 {
        return Err(format!(
            "data starts at image offset {data_start:#x}, not {DATA_ALIGN}-aligned"
        ));
    }
    if (data_start as usize) < HEADER || mem_end > u32::MAX as u64 {
        return Err("image layout does not fit a FLAT file".into());
    }
    if gap > 0 {
        let text_end = segs
            .iter()
            .filter(|s| !writable(s))
            .map(|s| s.address() - base + s.file_range().1)
            .max()
            .unwrap_or(0);
        if data_lo == u64::MAX || text_end + gap > data_start || gap >= DATA_ALIGN {
            return Err(format!(
                "no room for binfmt_flat's {gap}-byte gap between text (ends at \
                 {text_end:#x}) and data ({data_start:#x})"
            ));
        }
    }
    let mut image = vec![0u8; file_end as usize];
    for s in &segs {
        let data = s.data().map_err(|e| e.to_string())?;
        let off = (s.address() - base) as usize;
        image[off..off + data.len()].copy_from_slice(data);
    }
    if segs
        .iter()
        .any(|s| s.address() - base < HEADER as u64 && s.address() - base + s.file_range().1 > 0)
        && image[..HEADER]
            .iter()
            .zip(&elf[..HEADER])
            .any(|(a, b)| a != b)
    {
        return Err("the first 64 bytes of the image are not the ELF header".into());
    }

    // Image offset f of link address v, and the value FLAT wants for it:
    // binfmt_flat counts text and data addresses from the end of the header
    // (it subtracts the header from text_len before relocating).
    let flat_value = |v: u64| -> Option<u32> {
        let f = v.checked_sub(base)?;
        if f > mem_end {
            return None;
        }
        let f = if f >= data_start { f - gap } else { f };
        Some(f.checked_sub(HEADER as u64)? as u32)
    };
    let mut relocs: Vec<u32> = Vec::new();
    // `strict`: a pointer that cannot be relocated is an error. GOT slots
    // are not strict: linker-defined boundary symbols of empty arrays (such
    // as __init_array_start) may point at the header, where nothing lives.
    let mut patch =
        |image: &mut Vec<u8>, loc: u64, width: usize, strict: bool| -> Result<(), String> {
            let f = (loc - base) as usize;
            let Some(slot) = image.get_mut(f..f + width) else {
                return Ok(()); // bss: nothing stored
            };
            let mut v = 0u64;
            for (i, b) in slot.iter().enumerate() {
                v |= (*b as u64) << (8 * i);
            }
            if v == 0 {
                return Ok(());
            }
            let Some(nv) = flat_value(v) else {
                if !strict {
                    return Ok(());
                }
                return Err(format!("pointer {v:#x} at {loc:#x} is outside the image"));
            };
            // Without FLAT_FLAG_GOTPIC the kernel reads the stored value in
            // network byte order and writes the relocated pointer back natively.
            slot.fill(0);
            slot[..4].copy_from_slice(&nv.to_be_bytes());
            relocs.push(flat_value(loc).ok_or("relocation outside the image")?);
            Ok(())
        };
    for sec in file.sections() {
        let name = sec.name().unwrap_or("");
        let addr = sec.address();
        if name == ".got" {
            let w = if file.is_64() { 8 } else { 4 };
            for i in 0..sec.size() / w {
                patch(&mut image, addr + i * w, w as usize, false)?;
            }
            continue;
        }
        for (off, rel) in sec.relocations() {
            // In an executable, r_offset is already a link address.
            let loc = off;
            if let RelocationTarget::Absolute = rel.target() {
                continue;
            }
            // The kernel loads a FLAT_FLAG_RAM file into writable memory, so
            // pointers in read-only sections are relocated too. Absolute
            // addresses built by instructions cannot be.
            let r_type = match rel.flags() {
                object::RelocationFlags::Elf { r_type } => r_type,
                _ => 0,
            };
            match (rel.kind(), rel.size()) {
                (RelocationKind::Absolute, 64) | (RelocationKind::Absolute, 32) => {
                    patch(&mut image, loc, rel.size() as usize / 8, true)?
                }
                _ if file.architecture() == object::Architecture::Riscv64
                    && matches!(r_type, 26..=28) =>
                {
                    return Err(format!(
                        "absolute addressing in code ({name} at {loc:#x}): build with -mcmodel=medany"
                    ))
                }
                // R_ARM_MOVW_ABS_NC, R_ARM_MOVT_ABS and their Thumb forms.
                _ if file.architecture() == object::Architecture::Arm
                    && matches!(r_type, 43 | 44 | 47 | 48) =>
                {
                    return Err(format!(
                        "absolute addressing in code ({name} at {loc:#x}): build with -mno-movt"
                    ))
                }
                _ => {}
            }
        }
    }
    relocs.sort_unstable();
    relocs.dedup();

    let entry = file
        .entry()
        .checked_sub(base)
        .ok_or("entry below the image")?;
    let data_end = file_end;
    let bss_end = mem_end.max(data_end);
    // The gap's bytes (padding after the text) leave the file.
    let mut out = image;
    out.drain((data_start - gap) as usize..data_start as usize);
    let (data_start, data_end, bss_end) = (data_start - gap, data_end - gap, bss_end - gap);
    let mut hdr = Vec::with_capacity(HEADER);
    hdr.extend_from_slice(b"bFLT");
    for v in [
        4u32,
        entry as u32,
        data_start as u32,
        data_end as u32,
        bss_end as u32,
        stack_size,
        data_end as u32,
        relocs.len() as u32,
        FLAT_FLAG_RAM,
        0,
    ] {
        hdr.extend_from_slice(&v.to_be_bytes());
    }
    hdr.resize(HEADER, 0);
    out[..HEADER].copy_from_slice(&hdr);
    for r in relocs {
        out.extend_from_slice(&r.to_be_bytes());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn be(b: &[u8], i: usize) -> u32 {
        u32::from_be_bytes(b[4 * i..4 * i + 4].try_into().unwrap())
    }

    #[test]
    fn converts_a_static_riscv_program() {
        let dir = tempfile::tempdir().unwrap();
        let c = dir.path().join("t.c");
        std::fs::write(
            &c,
            "static const char msg[] = \"hi\";\nconst char *p = msg;\nint counter;\n\
             void _start(void) { counter = p[0]; for (;;) ; }\n",
        )
        .unwrap();
        let exe = dir.path().join("t");
        let st = std::process::Command::new("clang-19")
            .args([
                "--target=riscv64-linux-gnu",
                "-march=rv64imac",
                "-mabi=lp64",
                "-mcmodel=medany",
                "-fno-pic",
                "-nostdlib",
                "-static",
                "-O1",
                "-fuse-ld=lld",
                "--ld-path=ld.lld-19",
                "-Wl,--emit-relocs",
                "-o",
            ])
            .arg(&exe)
            .arg(&c)
            .status()
            .unwrap();
        assert!(st.success());
        let flat = elf_to_flat(&std::fs::read(&exe).unwrap(), 4096, 0).unwrap();
        assert_eq!(&flat[..4], b"bFLT");
        assert_eq!(be(&flat, 1), 4);
        let (entry, data_start, data_end, bss_end) =
            (be(&flat, 2), be(&flat, 3), be(&flat, 4), be(&flat, 5));
        assert!(
            entry >= 64 && entry < data_start,
            "{entry:#x} {data_start:#x}"
        );
        assert_eq!(data_start % 32, 0);
        assert!(data_end > data_start && bss_end >= data_end + 4);
        assert_eq!(be(&flat, 7), data_end, "relocations follow the data");
        assert_eq!(be(&flat, 8), 1, "one pointer (p) to relocate");
        assert_eq!(be(&flat, 9), FLAT_FLAG_RAM);
        // The relocated pointer now holds msg's offset after the header.
        let r = u32::from_be_bytes(
            flat[data_end as usize..data_end as usize + 4]
                .try_into()
                .unwrap(),
        ) as usize;
        let v = u32::from_be_bytes(flat[r + 64..r + 68].try_into().unwrap()) as usize;
        assert_eq!(&flat[v + 64..v + 66], b"hi");
    }

    /// arm: Thumb-2 for ARMv7-M, whose code reaches .got PC-relatively;
    /// binfmt_flat's one-word gap before the data is taken out of the file.
    #[test]
    fn converts_a_static_thumb_program_with_the_data_gap() {
        let dir = tempfile::tempdir().unwrap();
        let c = dir.path().join("t.c");
        std::fs::write(
            &c,
            "static const char msg[] = \"hi\";\nconst char *p = msg;\nint counter;\n\
             void _start(void) { counter = p[0]; for (;;) ; }\n",
        )
        .unwrap();
        let exe = dir.path().join("t");
        let st = std::process::Command::new("clang-19")
            .args([
                "--target=arm-linux-gnueabihf",
                "-march=armv7-m",
                "-mthumb",
                "-mfloat-abi=soft",
                "-mno-movt",
                "-nostdlib",
                "-static",
                "-O1",
                "-fuse-ld=lld",
                "--ld-path=ld.lld-19",
                "-Wl,--emit-relocs",
                "-Wl,-z,separate-loadable-segments",
                "-Wl,-z,max-page-size=4096",
                "-o",
            ])
            .arg(&exe)
            .arg(&c)
            .status()
            .unwrap();
        assert!(st.success());
        let elf = std::fs::read(&exe).unwrap();
        let plain = elf_to_flat(&elf, 4096, 0).unwrap();
        let flat = elf_to_flat(&elf, 4096, 4).unwrap();
        let (entry, data_start, data_end) = (be(&flat, 2), be(&flat, 3), be(&flat, 4));
        assert_eq!(entry & 1, 1, "Thumb entry");
        // The kernel's ALIGN(text_len + 4, 32) lands on the linked offset.
        assert_eq!(data_start % 32, 28);
        assert_eq!(data_start + 4, be(&plain, 3));
        assert_eq!(data_end + 4, be(&plain, 4));
        assert_eq!(flat.len() + 4, plain.len());
        // p (in .data) is relocated; its location and value (msg, in
        // .rodata, before the data) are counted as the kernel will.
        let n = be(&flat, 8) as usize;
        assert!(n >= 1);
        let relocs: Vec<u32> = (0..n)
            .map(|i| {
                let at = data_end as usize + 4 * i;
                u32::from_be_bytes(flat[at..at + 4].try_into().unwrap())
            })
            .collect();
        let found = relocs.iter().any(|&r| {
            let at = r as usize + 64;
            let v = u32::from_be_bytes(flat[at..at + 4].try_into().unwrap()) as usize;
            v + 66 <= flat.len() && &flat[v + 64..v + 66] == b"hi"
        });
        assert!(found, "{relocs:x?}");
    }

    #[test]
    fn refuses_garbage() {
        assert!(elf_to_flat(b"not an elf", 4096, 0).is_err());
    }
}

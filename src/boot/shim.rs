//! The boot shim for M-profile machines (ARMv7-M: mps2-an385), whose QEMU
//! board has no Linux boot protocol: at reset the CPU takes its stack
//! pointer and its first PC from the vector table at address 0, and
//! `-kernel` only loads a firmware image. vmamatrix places the kernel's
//! `Image`, the tree's dtb (with `/chosen` set: the command line and where
//! the initramfs is) and the initramfs with `-device loader`, and puts this
//! shim at the vector table. It enters the kernel as
//! Documentation/arch/arm/booting.rst asks: r0 = 0, r1 = ~0 (no machine
//! number: a DT boot), r2 = the dtb's address, interrupts masked, Thumb
//! state (an M-profile CPU has no other).
//!
//! Before that it makes the recipe's `pokes` (32-bit stores): what the
//! board's firmware would have set up, such as the console UART.
//!
//! The bytes are written here rather than assembled at run time (no
//! toolchain at boot, nothing to cache); a test assembles the source below
//! with clang-19 and compares.
//!
//! ```text
//! vectors:  .word  vectors + 0x1000      @ initial SP (the shim uses none)
//!           .word  reset + 1             @ reset
//!           .rept  14
//!           .word  hang + 1              @ NMI, HardFault, ... SysTick
//!           .endr
//! reset:    cpsid  i
//!           ldr    r0, addr_N            @ for each poke N
//!           ldr    r1, value_N
//!           str    r1, [r0]
//!           movs   r0, #0
//!           subs   r1, r0, #1            @ r1 = 0xffffffff
//!           ldr    r2, dtb
//!           ldr    r3, kernel
//!           bx     r3
//! hang:     b      hang                  @ a fault before the kernel's VTOR
//!           .p2align 2                   @ (nop)
//! addr_N:   .word  <address>             @ for each poke N
//! value_N:  .word  <value>
//! dtb:      .word  <dtb address>
//! kernel:   .word  <kernel entry> + 1
//! ```

use crate::arch::Loader;
use std::path::{Path, PathBuf};

/// Words in the vector table: SP, reset and the 14 system exceptions.
const VECTORS: u32 = 16;
const NOP: u16 = 0xbf00;

/// One instruction of the shim: a fixed Thumb encoding, or `ldr rN, =lit`
/// from the literal pool after the code.
enum Insn {
    Op(u16),
    Ldr(u16, usize),
}

/// The shim for a loader recipe: vector table, code, literals.
pub fn shim(l: &Loader) -> Vec<u8> {
    use Insn::*;
    let mut lits: Vec<u32> = vec![];
    let mut lit = |v: u32| {
        lits.push(v);
        lits.len() - 1
    };
    let mut code = vec![Op(0xb672)]; // cpsid i
    for [addr, value] in &l.pokes {
        code.extend([Ldr(0, lit(*addr)), Ldr(1, lit(*value)), Op(0x6001)]); // str r1, [r0]
    }
    code.extend([
        Op(0x2000), // movs r0, #0
        Op(0x1e41), // subs r1, r0, #1
        Ldr(2, lit(l.dtb)),
        Ldr(3, lit(l.kernel | 1)),
        Op(0x4718), // bx r3
    ]);
    let hang_at = code.len() as u32;
    code.push(Op(0xe7fe)); // hang: b .
    if code.len() % 2 == 1 {
        code.push(Op(NOP));
    }
    let reset = VECTORS * 4;
    let hang = reset + 2 * hang_at;
    let pool = reset + 2 * code.len() as u32;
    let base = l.vectors;
    let mut out = Vec::with_capacity(pool as usize + 4 * lits.len());
    let word = |out: &mut Vec<u8>, v: u32| out.extend_from_slice(&v.to_le_bytes());
    word(&mut out, base + 0x1000);
    word(&mut out, (base + reset) | 1);
    for _ in 2..VECTORS {
        word(&mut out, (base + hang) | 1);
    }
    for (i, insn) in code.iter().enumerate() {
        let at = reset + 2 * i as u32;
        let op = match insn {
            Op(op) => *op,
            // LDR (literal), T1: from Align(PC, 4), PC = this + 4.
            Ldr(rt, n) => {
                let off = pool + 4 * *n as u32 - ((at + 4) & !3);
                assert!(off.is_multiple_of(4) && off < 1024, "literal out of reach");
                0x4800 | (rt << 8) | (off / 4) as u16
            }
        };
        out.extend_from_slice(&op.to_le_bytes());
    }
    for v in lits {
        word(&mut out, v);
    }
    out
}

/// Where the initramfs goes: page-aligned, ending at or below
/// `initrd_end`, above the kernel image and apart from the shim and the
/// dtb.
pub fn initrd_range(
    l: &Loader,
    image_len: u64,
    dtb_len: u64,
    initrd_len: u64,
) -> Result<(u32, u32), String> {
    let end = u64::from(l.initrd_end);
    let start = end
        .checked_sub(initrd_len)
        .ok_or("the initramfs is larger than the memory below initrd_end")?
        & !0xfff;
    let kernel = (u64::from(l.kernel), u64::from(l.kernel) + image_len);
    let regions = [
        (
            "shim",
            (
                u64::from(l.vectors),
                u64::from(l.vectors) + shim(l).len() as u64,
            ),
        ),
        ("dtb", (u64::from(l.dtb), u64::from(l.dtb) + dtb_len)),
        ("kernel image", kernel),
        ("initramfs", (start, start + initrd_len)),
    ];
    for (i, (a, ra)) in regions.iter().enumerate() {
        for (b, rb) in &regions[i + 1..] {
            if ra.0 < rb.1 && rb.0 < ra.1 {
                return Err(format!(
                    "the {a} ({:#x}..{:#x}) overlaps the {b} ({:#x}..{:#x})",
                    ra.0, ra.1, rb.0, rb.1
                ));
            }
        }
    }
    if start < kernel.1 {
        return Err(format!(
            "the initramfs ({start:#x}..) would sit below the kernel image's end ({:#x})",
            kernel.1
        ));
    }
    Ok((start as u32, (start + initrd_len) as u32))
}

/// What `-device loader` places for a shim boot: files and addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub file: PathBuf,
    pub addr: u32,
}

/// The dtb of a shim boot (`dtb` with `/chosen` set) and the shim, written
/// into `dir` as `boot.dtb` and `boot-shim.bin`; returns what to load where
/// and a line for the record saying what was done.
pub fn prepare(
    l: &Loader,
    cmdline: &str,
    dtb: &Path,
    image: &Path,
    initrd: &Path,
    dir: &Path,
) -> Result<(Vec<Placed>, String), String> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let len = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.len())
            .map_err(|e| format!("{}: {e}", p.display()))
    };
    let (image_len, initrd_len) = (len(image)?, len(initrd)?);
    let tree = read(dtb)?;
    // The edit adds a few hundred bytes at most; size the check generously.
    let (start, end) = initrd_range(l, image_len, tree.len() as u64 + 4096, initrd_len)?;
    let edited = super::fdt::set_chosen(
        &tree,
        &[
            ("bootargs", super::fdt::string(cmdline)),
            ("linux,initrd-start", super::fdt::cell(start)),
            ("linux,initrd-end", super::fdt::cell(end)),
        ],
    )
    .map_err(|e| format!("{}: {e}", dtb.display()))?;
    let (dtb_out, shim_out) = (dir.join("boot.dtb"), dir.join("boot-shim.bin"));
    crate::store::write_atomic(&dtb_out, &edited).map_err(|e| e.to_string())?;
    crate::store::write_atomic(&shim_out, &shim(l)).map_err(|e| e.to_string())?;
    let note = format!(
        "vmamatrix: boot shim (src/boot/shim.rs) at {:#x} enters the kernel at {:#x} \
         with r2 = dtb at {:#x}; dtb /chosen (src/boot/fdt.rs): bootargs={cmdline:?}, \
         linux,initrd-start={start:#x}, linux,initrd-end={end:#x}",
        l.vectors, l.kernel, l.dtb
    );
    let placed = vec![
        Placed {
            file: image.to_path_buf(),
            addr: l.kernel,
        },
        Placed {
            file: dtb_out,
            addr: l.dtb,
        },
        Placed {
            file: initrd.to_path_buf(),
            addr: start,
        },
        Placed {
            file: shim_out,
            addr: l.vectors,
        },
    ];
    Ok((placed, note))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mps2() -> Loader {
        crate::arch::for_cell(&crate::arch::builtin(), "arm", "up", "nommu")
            .loader
            .expect("arm-nommu has a loader recipe")
    }

    fn word(b: &[u8], i: usize) -> u32 {
        u32::from_le_bytes(b[4 * i..4 * i + 4].try_into().unwrap())
    }

    #[test]
    fn vector_table_and_literals() {
        let l = Loader {
            vectors: 0,
            kernel: 0x2100_8000,
            dtb: 0x2000_0000,
            initrd_end: 0x2200_0000,
            pokes: vec![],
        };
        let s = shim(&l);
        assert_eq!(s.len(), 0x58);
        assert_eq!(word(&s, 0), 0x1000, "initial SP");
        assert_eq!(word(&s, 1), 0x41, "reset, Thumb");
        for i in 2..16 {
            assert_eq!(word(&s, i), 0x4d, "exception {i} -> hang, Thumb");
        }
        assert_eq!(&s[0x40..0x42], &[0x72, 0xb6], "cpsid i");
        assert_eq!(&s[0x46..0x48], &[0x02, 0x4a], "ldr r2, [pc, #8]");
        assert_eq!(&s[0x4c..0x4e], &[0xfe, 0xe7], "hang: b .");
        assert_eq!(word(&s, 0x50 / 4), 0x2000_0000, "r2: dtb");
        assert_eq!(word(&s, 0x54 / 4), 0x2100_8001, "kernel entry, Thumb");
        // With the mps2 recipe's two UART stores first.
        let m = shim(&mps2());
        assert_eq!(m.len(), 0x40 + 2 * 14 + 4 * 6);
        assert_eq!(&m[0x42..0x48], &[0x06, 0x48, 0x06, 0x49, 0x01, 0x60]);
        assert_eq!(word(&m, (0x40 + 28) / 4), 0x4000_4010, "BAUDDIV");
        assert_eq!(word(&m, (0x40 + 28) / 4 + 1), 2604);
        assert_eq!(word(&m, 1), 0x41);
        assert_eq!(word(&m, 2), 0x40 + 24 + 1, "hang");
    }

    /// The same shim, assembled by the cell's toolchain: the hand-written
    /// encodings must match what clang makes of the documented source.
    #[test]
    fn bytes_match_the_assembler() {
        for l in [
            mps2(),
            Loader {
                pokes: vec![],
                ..mps2()
            },
            Loader {
                pokes: vec![[1, 2]],
                ..mps2()
            },
        ] {
            assemble_and_compare(&l);
        }
    }

    fn assemble_and_compare(l: &Loader) {
        let mut pokes = String::new();
        let mut pool = String::new();
        for (i, [a, v]) in l.pokes.iter().enumerate() {
            pokes += &format!("ldr r0, addr_{i}\nldr r1, value_{i}\nstr r1, [r0]\n");
            pool += &format!("addr_{i}:\n.word {a:#x}\nvalue_{i}:\n.word {v:#x}\n");
        }
        let src = format!(
            ".syntax unified\n.thumb\n.text\n.global _start\n_start:\nvectors:\n\
             .word vectors + 0x1000\n.word reset + 1\n.rept 14\n.word hang + 1\n.endr\n\
             reset:\ncpsid i\n{pokes}movs r0, #0\nsubs r1, r0, #1\nldr r2, dtb\n\
             ldr r3, kernel\nbx r3\nhang:\nb hang\n.p2align 2\n{pool}dtb:\n.word {:#x}\n\
             kernel:\n.word {:#x} + 1\n",
            l.dtb, l.kernel
        );
        let dir = std::env::temp_dir().join(format!(
            "vmamatrix-shim-{}-{}",
            std::process::id(),
            l.pokes.len()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let (s, o, elf, bin) = (
            dir.join("shim.S"),
            dir.join("shim.o"),
            dir.join("shim.elf"),
            dir.join("shim.bin"),
        );
        std::fs::write(&s, src).unwrap();
        let run = |cmd: &str, args: &[&std::ffi::OsStr]| {
            std::process::Command::new(cmd)
                .args(args)
                .stdout(std::process::Stdio::null())
                .status()
                .map(|st| st.success())
                .unwrap_or(false)
        };
        if !run("clang-19", &["--version".as_ref()]) {
            eprintln!("clang-19 not found: shim bytes not cross-checked");
            return;
        }
        assert!(run(
            "clang-19",
            &[
                "--target=thumbv7m-none-eabi".as_ref(),
                "-c".as_ref(),
                s.as_os_str(),
                "-o".as_ref(),
                o.as_os_str()
            ]
        ));
        let text = format!("-Ttext={:#x}", l.vectors);
        assert!(run(
            "ld.lld-19",
            &[text.as_ref(), o.as_os_str(), "-o".as_ref(), elf.as_os_str()]
        ));
        assert!(run(
            "llvm-objcopy-19",
            &[
                "-O".as_ref(),
                "binary".as_ref(),
                elf.as_os_str(),
                bin.as_os_str()
            ]
        ));
        let assembled = std::fs::read(&bin).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(shim(l), assembled, "{:x?}", l.pokes);
    }

    #[test]
    fn initramfs_sits_below_the_end_of_memory() {
        let l = mps2();
        let (s, e) = initrd_range(&l, 3 << 20, 8192, 0x1_2345).unwrap();
        assert_eq!(s % 4096, 0);
        assert_eq!(e, s + 0x1_2345);
        assert!(e <= l.initrd_end && s >= l.kernel + (3 << 20));
        // An initramfs that reaches into the kernel image is refused.
        let err = initrd_range(&l, 15 << 20, 8192, 1 << 20).unwrap_err();
        assert!(err.contains("overlaps the initramfs"), "{err}");
    }

    #[test]
    fn prepare_writes_dtb_and_shim() {
        let dir = std::env::temp_dir().join(format!("vmamatrix-prep-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (dtb, image, initrd) = (dir.join("in.dtb"), dir.join("Image"), dir.join("i.cpio"));
        std::fs::write(&dtb, crate::boot::fdt::tests::sample(true)).unwrap();
        std::fs::write(&image, vec![0u8; 4096]).unwrap();
        std::fs::write(&initrd, vec![0u8; 5000]).unwrap();
        let l = mps2();
        let (placed, note) = prepare(&l, "console=ttyMPS0", &dtb, &image, &initrd, &dir).unwrap();
        let addrs: Vec<u32> = placed.iter().map(|p| p.addr).collect();
        assert_eq!(addrs[0], l.kernel);
        assert_eq!(addrs[1], l.dtb);
        assert_eq!(addrs[3], l.vectors);
        let p = crate::boot::fdt::chosen(&std::fs::read(dir.join("boot.dtb")).unwrap()).unwrap();
        assert_eq!(p[0], ("bootargs".into(), b"console=ttyMPS0\0".to_vec()));
        assert_eq!(p[1].1, addrs[2].to_be_bytes());
        assert_eq!(p[2].1, (addrs[2] + 5000).to_be_bytes());
        assert_eq!(std::fs::read(dir.join("boot-shim.bin")).unwrap(), shim(&l));
        assert!(note.contains("linux,initrd-start"), "{note}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

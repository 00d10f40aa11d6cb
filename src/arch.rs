//! Per-architecture facts (make target, image, triple, QEMU recipe) as data:
//! the built-in table `arches.toml`, extended or overridden by matrix.toml.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const BUILTIN: &str = include_str!("arches.toml");

/// Facts about one architecture. Every field may be overridden in matrix.toml.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Arch {
    pub srcarch: Option<String>,
    pub target: Option<String>,
    pub image: Option<String>,
    pub triple: Option<String>,
    pub qemu: Option<String>,
    pub machine: Option<String>,
    pub cpu: Option<String>,
    pub console: Option<String>,
    pub firmware: Option<String>,
    pub memory: Option<String>,
    pub append: Option<String>,
    /// Device tree blob the build makes beside the image, as a make target
    /// under arch/<srcarch>/boot/dts (e.g. `arm/mps2-an385.dtb`); the boot
    /// gets it with its `/chosen` set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtb: Option<String>,
    /// Boot without QEMU's Linux loader: a boot shim and the image, dtb and
    /// initramfs placed with `-device loader` (M-profile machines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loader: Option<Loader>,
    /// Why cells of this arch (or variant) cannot be booted, if they cannot.
    pub boot_skip: Option<String>,
    /// Extra clang flags for /init.
    pub init_cflags: Option<String>,
    /// /init must be a FLAT executable (NOMMU kernels).
    pub flat: Option<bool>,
    /// Bytes binfmt_flat leaves between a FLAT file's text and data: 4
    /// unless the arch selects CONFIG_BINFMT_FLAT_NO_DATA_START_OFFSET
    /// (riscv does; arm does not). See src/boot/flat.rs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flat_data_gap: Option<u32>,
    /// Where the booted kernel's text runs minus where System.map puts it:
    /// a relocatable kernel linked at 0 runs where QEMU loads it. The PCs of
    /// a stalled guest are named with System.map shifted by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_offset: Option<u64>,
    /// Why the vma tests cannot run in this arch's guests, if they cannot.
    pub vmatest_skip: Option<String>,
    /// C compiler (with a static target libc and liburcu) that builds
    /// tools/testing/vma for this arch's guests.
    pub vmatest_cc: Option<String>,
    /// Extra flags for that build (include and library paths of a target
    /// liburcu); `{cache}` stands for the vmamatrix cache directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vmatest_cflags: Option<String>,
}

/// Where a shim boot puts things (guest physical addresses); see
/// src/boot/shim.rs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Loader {
    /// The shim's vector table, where the CPU reads its SP and PC at reset.
    pub vectors: u32,
    /// Load address and entry of the kernel image.
    pub kernel: u32,
    /// Load address of the dtb (r2).
    pub dtb: u32,
    /// The initramfs ends at or below this address (page-aligned start).
    pub initrd_end: u32,
    /// `[address, value]` 32-bit stores the shim makes before it enters the
    /// kernel: what the board's firmware would have set up (the console
    /// UART, which earlycon uses as it finds it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pokes: Vec<[u32; 2]>,
}

impl Arch {
    /// Fill every field `self` leaves unset from `base`.
    pub fn or(self, base: &Arch) -> Arch {
        Arch {
            srcarch: self.srcarch.or_else(|| base.srcarch.clone()),
            target: self.target.or_else(|| base.target.clone()),
            image: self.image.or_else(|| base.image.clone()),
            triple: self.triple.or_else(|| base.triple.clone()),
            qemu: self.qemu.or_else(|| base.qemu.clone()),
            machine: self.machine.or_else(|| base.machine.clone()),
            cpu: self.cpu.or_else(|| base.cpu.clone()),
            console: self.console.or_else(|| base.console.clone()),
            firmware: self.firmware.or_else(|| base.firmware.clone()),
            memory: self.memory.or_else(|| base.memory.clone()),
            append: self.append.or_else(|| base.append.clone()),
            dtb: self.dtb.or_else(|| base.dtb.clone()),
            loader: self.loader.or_else(|| base.loader.clone()),
            boot_skip: self.boot_skip.or_else(|| base.boot_skip.clone()),
            init_cflags: self.init_cflags.or_else(|| base.init_cflags.clone()),
            flat: self.flat.or(base.flat),
            flat_data_gap: self.flat_data_gap.or(base.flat_data_gap),
            text_offset: self.text_offset.or(base.text_offset),
            vmatest_skip: self.vmatest_skip.or_else(|| base.vmatest_skip.clone()),
            vmatest_cc: self.vmatest_cc.or_else(|| base.vmatest_cc.clone()),
            vmatest_cflags: self.vmatest_cflags.or_else(|| base.vmatest_cflags.clone()),
        }
    }

    /// `ARCH=` value: `srcarch`, or the table key itself.
    pub fn srcarch<'a>(&'a self, name: &'a str) -> &'a str {
        self.srcarch.as_deref().unwrap_or(name)
    }

    /// Make target that builds the boot image and vmlinux.
    pub fn target(&self) -> &str {
        self.target.as_deref().unwrap_or("vmlinux")
    }
}

/// The built-in table.
pub fn builtin() -> BTreeMap<String, Arch> {
    toml::from_str(BUILTIN).expect("src/arches.toml is valid")
}

/// The facts for one cell: `<arch>` refined by the optional table entries
/// `<arch>-<smp|up>` and `<arch>-<mmu|nommu>` (the latter wins).
pub fn for_cell(table: &BTreeMap<String, Arch>, arch: &str, smp: &str, mmu: &str) -> Arch {
    let mut a = table.get(arch).cloned().unwrap_or_default();
    for variant in [format!("{arch}-{smp}"), format!("{arch}-{mmu}")] {
        if let Some(v) = table.get(&variant) {
            a = v.clone().or(&a);
        }
    }
    a
}

/// Built-in table with `overrides` merged in field by field.
pub fn table(overrides: &BTreeMap<String, Arch>) -> BTreeMap<String, Arch> {
    let mut t = builtin();
    for (name, o) in overrides {
        let merged = o.clone().or(t.get(name).unwrap_or(&Arch::default()));
        t.insert(name.clone(), merged);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_covers_the_seven_arches() {
        let t = builtin();
        for a in crate::matrix::DEFAULT_ARCHES {
            let f = &t[a];
            assert!(
                f.image.is_some() && f.qemu.is_some() && f.triple.is_some(),
                "{a}"
            );
        }
        assert_eq!(t["x86"].target(), "bzImage");
    }

    #[test]
    fn cell_variants_refine_the_arch() {
        let t = builtin();
        let a = for_cell(&t, "riscv", "up", "nommu");
        assert_eq!(a.firmware.as_deref(), Some("none"));
        assert_eq!(a.cpu.as_deref(), Some("rv64,mmu=off"));
        assert_eq!(a.console.as_deref(), Some("ttyS0"));
        assert_eq!(
            for_cell(&t, "riscv", "up", "mmu").firmware.as_deref(),
            Some("default")
        );
    }

    #[test]
    fn override_keeps_other_fields() {
        let mut o = BTreeMap::new();
        o.insert(
            "x86".to_string(),
            Arch {
                machine: Some("q35".into()),
                ..Default::default()
            },
        );
        let t = table(&o);
        assert_eq!(t["x86"].machine.as_deref(), Some("q35"));
        assert_eq!(t["x86"].console.as_deref(), Some("ttyS0"));
    }
}

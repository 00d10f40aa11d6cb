//! Where a stalled guest is: when the console goes silent or the time runs
//! out, QEMU's monitor is asked for every vCPU's registers several times,
//! and the program counters are named with the booted kernel's own symbol
//! table (the text symbols of its System.map, kept beside the image by the
//! build stage). A guest spinning in a loop shows as the functions of the
//! loop, with how many samples fell in each.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// How many times a stalled guest's registers are read.
pub const SAMPLES: usize = 20;
/// The pause between two samples.
pub const GAP: Duration = Duration::from_millis(100);

/// `args` with `-monitor none` turned into a monitor on the unix socket
/// `sock`, which `sample` asks when the guest stalls.
pub fn with_monitor(args: &[String], sock: &Path) -> Vec<String> {
    let mut out = args.to_vec();
    if let Some(i) = out
        .windows(2)
        .position(|w| w[0] == "-monitor" && w[1] == "none")
    {
        out[i + 1] = format!("unix:{},server=on,wait=off", sock.display());
    }
    out
}

/// QEMU's `info registers -a` (every vCPU), asked `n` times on its monitor
/// socket, `gap` apart, within 15 s in all. The guest keeps running: an
/// emulated CPU's PC is then the last one QEMU stored (at the end of a
/// translated block or an indirect jump), which names the functions of a
/// loop. Stopping the guest for each sample was tried on the real riscv
/// hang: QEMU delivered a pending interrupt first, and 12 of 20 samples
/// fell on the trap vector (handle_exception) instead of the loop. Empty when the monitor does not answer; an answer
/// cut short ends the sampling, so every sample is whole.
pub fn sample(sock: &Path, n: usize, gap: Duration) -> Vec<String> {
    use std::io::Write;
    let until = Instant::now() + Duration::from_secs(15);
    let Ok(mut s) = std::os::unix::net::UnixStream::connect(sock) else {
        return vec![];
    };
    if s.set_read_timeout(Some(Duration::from_millis(100)))
        .is_err()
    {
        return vec![];
    }
    let ask = |s: &mut std::os::unix::net::UnixStream, cmd: &str| -> Option<Vec<u8>> {
        s.write_all(format!("{cmd}\n").as_bytes()).ok()?;
        prompt(s, until)
    };
    // The greeting ends with the first prompt.
    let mut out = Vec::new();
    if prompt(&mut s, until).is_none() {
        return out;
    }
    for i in 0..n {
        if i > 0 {
            std::thread::sleep(gap);
        }
        if crate::proc::interrupted() {
            break;
        }
        let regs = ask(&mut s, "info registers -a");
        match regs.as_deref().and_then(body) {
            Some(b) => out.push(b),
            None => break,
        }
    }
    out
}

/// What the monitor prints up to its next prompt, or None when the prompt
/// does not come by `until` or the socket fails.
fn prompt(s: &mut std::os::unix::net::UnixStream, until: Instant) -> Option<Vec<u8>> {
    use std::io::{ErrorKind, Read};
    let mut text = Vec::new();
    let mut buf = [0u8; 8192];
    while !text.ends_with(b"(qemu) ") {
        if Instant::now() >= until {
            return None;
        }
        match s.read(&mut buf) {
            Ok(0) => return None,
            Ok(n) => text.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return None,
        }
    }
    Some(text)
}

/// A monitor answer without the echoed command, the prompt and the
/// terminal's escape sequences.
fn body(raw: &[u8]) -> Option<String> {
    let t = String::from_utf8_lossy(raw)
        .replace("\x1b[K", "")
        .replace('\r', "");
    let body: Vec<&str> = t
        .lines()
        .filter(|l| {
            !l.trim().is_empty() && !l.contains("info registers") && !l.starts_with("(qemu)")
        })
        .collect();
    (!body.is_empty()).then(|| body.join("\n") + "\n")
}

/// Each vCPU's program counter in one `info registers [-a]` answer, as
/// QEMU 10 names it for the guest: `PSW=mask .. addr` (s390), `RIP=` or
/// `EIP=` (x86), `PC=` (arm64, loongarch), `NIP` (powerpc), `pc` (riscv),
/// `R15=` (32-bit arm; on s390 R15 is a general register, so the PSW wins).
pub fn pcs(dump: &str) -> Vec<(u32, u64)> {
    let mut out = Vec::new();
    let mut cpu = 0u32;
    let mut best: Option<(usize, u64)> = None;
    for line in dump.lines() {
        let t = line.trim();
        if let Some(n) = t.strip_prefix("CPU#").and_then(|n| n.parse().ok()) {
            if let Some((_, pc)) = best.take() {
                out.push((cpu, pc));
            }
            cpu = n;
            continue;
        }
        if let Some(c) = pc_in(line) {
            if best.is_none_or(|b| c.0 < b.0) {
                best = Some(c);
            }
        }
    }
    if let Some((_, pc)) = best {
        out.push((cpu, pc));
    }
    out
}

/// The program counter a register line holds, with its key's rank (lower
/// wins when a vCPU's dump has several).
fn pc_in(line: &str) -> Option<(usize, u64)> {
    let t = line.trim_start();
    if let Some(rest) = t.strip_prefix("PSW=mask ") {
        let i = rest.find(" addr ")?;
        return Some((0, hex(&rest[i + 6..])?));
    }
    for (rank, key) in [(1, "RIP="), (1, "EIP="), (2, "PC="), (4, "R15=")] {
        let found = line
            .match_indices(key)
            .find(|(i, _)| *i == 0 || line[..*i].ends_with(char::is_whitespace));
        if let Some((i, _)) = found {
            if let Some(v) = hex(&line[i + key.len()..]) {
                return Some((rank, v));
            }
        }
    }
    for key in ["NIP ", "pc "] {
        if let Some(rest) = t.strip_prefix(key) {
            return Some((3, hex(rest)?));
        }
    }
    None
}

fn hex(s: &str) -> Option<u64> {
    let v: String = s
        .trim_start()
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    u64::from_str_radix(&v, 16).ok()
}

/// The text symbols of a System.map (`addr type name`), the part of it
/// that names program counters, with the bounds of the kernel's text and
/// init text (`_etext`, `_sinittext`, `_einittext`), each address moved by
/// `offset` to where the booted kernel runs (the arch's `text_offset`).
pub fn text_symbols(system_map: &str, offset: u64) -> String {
    let mut out = String::new();
    for l in system_map.lines() {
        let Some((a, ty, name)) = map_line(l) else {
            continue;
        };
        if matches!(ty, "T" | "t" | "W" | "w") || BOUNDS.contains(&name) {
            out.push_str(&format!("{:016x} {ty} {name}\n", a.wrapping_add(offset)));
        }
    }
    out
}

/// `addr type name` of a System.map line, or None for anything else.
fn map_line(l: &str) -> Option<(u64, &str, &str)> {
    let mut f = l.split_whitespace();
    let (a, ty, name) = (f.next()?, f.next()?, f.next()?);
    Some((u64::from_str_radix(a, 16).ok()?, ty, name))
}

const BOUNDS: [&str; 3] = ["_etext", "_sinittext", "_einittext"];

/// A kernel's text symbols, sorted by address, and where its text and
/// init text end.
pub struct Symbols {
    syms: Vec<(u64, String)>,
    etext: Option<u64>,
    init: Option<(u64, u64)>,
}

impl Symbols {
    pub fn parse(map: &str) -> Symbols {
        let mut syms = Vec::new();
        let (mut etext, mut sinit, mut einit) = (None, None, None);
        for l in map.lines() {
            let Some((a, ty, name)) = map_line(l) else {
                continue;
            };
            match name {
                "_etext" => etext = Some(a),
                "_sinittext" => sinit = Some(a),
                "_einittext" => einit = Some(a),
                _ => {}
            }
            if matches!(ty, "T" | "t" | "W" | "w")
                && !name.starts_with(".L")
                && !name.starts_with('$')
            {
                syms.push((a, name.to_string()));
            }
        }
        syms.sort();
        Symbols {
            syms,
            etext,
            init: sinit.zip(einit),
        }
    }

    /// The function `pc` is in and the offset into it, or None outside the
    /// kernel's text and init text (user space, firmware, or a kernel
    /// running elsewhere than the symbols say).
    pub fn name(&self, pc: u64) -> Option<(&str, u64)> {
        let in_init = self.init.is_some_and(|(s, e)| (s..e).contains(&pc));
        if !in_init && self.etext.is_some_and(|e| pc >= e) {
            return None;
        }
        let i = self.syms.partition_point(|(a, _)| *a <= pc);
        let (a, n) = self.syms.get(i.checked_sub(1)?)?;
        Some((n, pc - a))
    }

    /// `pc` as `function+0xoff`, or as the bare address outside the text.
    fn label(&self, pc: u64) -> String {
        match self.name(pc) {
            Some((n, off)) => format!("{n}+{off:#x}"),
            None => format!("{pc:#x}"),
        }
    }
}

/// Every sample's program counters, named where symbols are known: the
/// listing kept beside the console as pc-samples.txt.
pub fn listing(samples: &[String], syms: Option<&Symbols>) -> String {
    let mut out = String::new();
    for (i, s) in samples.iter().enumerate() {
        for (cpu, pc) in pcs(s) {
            let name = syms.map(|y| y.label(pc)).unwrap_or_default();
            out.push_str(&format!("{} CPU#{cpu} {pc:#018x} {name}\n", i + 1));
        }
    }
    out
}

/// Where each vCPU was across the samples, most frequent first: with
/// symbols, the functions (`mas_next_slot 11/20`); outside the kernel's
/// text or without symbols, the addresses. None without any PC.
pub fn summary(samples: &[String], syms: Option<&Symbols>) -> Option<String> {
    let mut per_cpu: BTreeMap<u32, BTreeMap<String, usize>> = BTreeMap::new();
    let mut n = 0;
    for s in samples {
        let p = pcs(s);
        n += usize::from(!p.is_empty());
        for (cpu, pc) in p {
            let key = match syms.and_then(|y| y.name(pc)) {
                Some((name, _)) => name.to_string(),
                None if syms.is_some() => format!("{pc:#x} (outside the kernel's text)"),
                None => format!("{pc:#x}"),
            };
            *per_cpu.entry(cpu).or_default().entry(key).or_default() += 1;
        }
    }
    if per_cpu.is_empty() {
        return None;
    }
    let cpus: Vec<String> = per_cpu
        .into_iter()
        .map(|(cpu, counts)| {
            let mut v: Vec<(String, usize)> = counts.into_iter().collect();
            v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let total: usize = v.iter().map(|x| x.1).sum();
            let mut parts: Vec<String> = v
                .iter()
                .take(4)
                .map(|(k, c)| format!("{k} {c}/{total}"))
                .collect();
            let rest: usize = v.iter().skip(4).map(|x| x.1).sum();
            if rest > 0 {
                parts.push(format!("elsewhere {rest}/{total}"));
            }
            format!("CPU#{cpu} in {}", parts.join(", "))
        })
        .collect();
    Some(format!(
        "{} (PC in {n} samples of QEMU's registers{})",
        cpus.join("; "),
        if syms.is_some() {
            ", named with the kernel's System.map"
        } else {
            ", no symbols kept for this image"
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stalled_guest_is_asked_for_every_cpu() {
        let args: Vec<String> = ["-nographic", "-monitor", "none", "-no-reboot"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            with_monitor(&args, Path::new("/tmp/m.sock")).join(" "),
            "-nographic -monitor unix:/tmp/m.sock,server=on,wait=off -no-reboot"
        );
    }

    /// QEMU 10.0.2's `info registers -a` of every recipe's machine with two
    /// vCPUs (mps2-an385 has one), started with -S, plus x86 in long mode.
    #[test]
    fn program_counters_of_every_guest() {
        let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/registers");
        let want: &[(&str, &[(u32, u64)])] = &[
            ("arm-virt.txt", &[(0, 0), (1, 0)]),
            ("arm-mps2-an385.txt", &[(0, 0)]),
            ("aarch64-virt.txt", &[(0, 0), (1, 0)]),
            (
                "loongarch64-virt.txt",
                &[(0, 0x1c00_0000), (1, 0x1c00_0000)],
            ),
            ("ppc64-pseries.txt", &[(0, 0x100), (1, 0x100)]),
            ("riscv64-virt.txt", &[(0, 0x1000), (1, 0x1000)]),
            // R15 is a general register on s390: the PSW's address wins.
            ("s390x-s390-ccw-virtio.txt", &[(0, 0x7d0_0890), (1, 0)]),
            ("x86_64-pc.txt", &[(0, 0xfff0), (1, 0xfff0)]),
        ];
        for (f, pcs_) in want {
            let t = std::fs::read_to_string(d.join(f)).unwrap();
            let b = body(t.as_bytes()).unwrap();
            assert_eq!(pcs(&b), pcs_.to_vec(), "{f}");
        }
        let long = "CPU#0\nRAX=0000000000000000 RBX=0000000000000000\n\
                    RIP=ffffffff81000000 RFL=00000002 [-------] CPL=0\n";
        assert_eq!(pcs(long), vec![(0, 0xffff_ffff_8100_0000)]);
        // Without a CPU# header (plain `info registers`): vCPU 0.
        assert_eq!(
            pcs(" pc       0000000080200000\n mepc 1\n"),
            vec![(0, 0x8020_0000)]
        );
        assert!(pcs("nothing here\n").is_empty());
    }

    /// The hang of the v3 series on riscv-up-mmu (proc-maps-race): 20 of
    /// the 40 samples taken through the monitor, and the kernel's text
    /// symbols around the functions they fell in (from its vmlinux).
    #[test]
    fn a_spinning_guest_is_named_by_its_functions() {
        let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stall");
        let raw = std::fs::read_to_string(d.join("riscv-up-mmu-samples.txt")).unwrap();
        let samples: Vec<String> = raw
            .split("\n\n")
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.to_string() + "\n")
            .collect();
        assert_eq!(samples.len(), 20);
        let syms =
            Symbols::parse(&std::fs::read_to_string(d.join("riscv-up-mmu-System.map")).unwrap());
        let s = summary(&samples, Some(&syms)).unwrap();
        assert!(
            s.starts_with(
                "CPU#0 in mtree_range_walk 7/20, mas_next_node 3/20, mas_state_walk 3/20"
            ),
            "{s}"
        );
        assert!(s.contains("mas_ascend 2/20, elsewhere 5/20"), "{s}");
        assert!(s.contains("PC in 20 samples"), "{s}");
        let l = listing(&samples, Some(&syms));
        assert_eq!(l.lines().count(), 20);
        let maple = l
            .lines()
            .filter(|x| x.contains(" mas_") || x.contains(" mtree_"));
        // The rest is the timer interrupt that preempts the loop.
        assert_eq!(maple.count(), 17, "{l}");
        assert!(
            l.starts_with("1 CPU#0 0xffffffff8045cbfc mtree_range_walk+0x198\n"),
            "{l}"
        );
        // Without symbols: the addresses.
        let raw_only = summary(&samples, None).unwrap();
        assert!(raw_only.contains("0xffffffff80"), "{raw_only}");
        assert!(raw_only.contains("no symbols kept"), "{raw_only}");
    }

    #[test]
    fn outside_the_text_is_not_named() {
        let syms = Symbols::parse(
            "ffffffff80000000 T _stext\nffffffff80001000 t foo\n\
             ffffffff80002000 T bar\nffffffff80003000 D _etext\n\
             ffffffff80010000 T _sinittext\nffffffff80010000 T start_kernel\n\
             ffffffff80010400 T _einittext\n",
        );
        // Boot-time code lies above _etext, in the init text.
        assert_eq!(
            syms.name(0xffff_ffff_8001_0010),
            Some(("start_kernel", 0x10))
        );
        assert_eq!(syms.name(0xffff_ffff_8001_0400), None, "past _einittext");
        assert_eq!(syms.name(0xffff_ffff_8000_1010), Some(("foo", 0x10)));
        assert_eq!(syms.name(0xffff_ffff_8000_2fff), Some(("bar", 0xfff)));
        assert_eq!(syms.name(0xffff_ffff_8000_3000), None, "past _etext");
        assert_eq!(syms.name(0x1000), None, "user space");
        let s = summary(&["CPU#0\n pc 0000000000001000\n".into()], Some(&syms)).unwrap();
        assert!(s.contains("0x1000 (outside the kernel's text) 1/1"), "{s}");
        assert_eq!(
            text_symbols("1 T a\n2 D d\n3 t b\n4 D _etext\n5 r c\n", 0x8000_0000),
            "0000000080000001 T a\n0000000080000003 t b\n0000000080000004 D _etext\n"
        );
    }
}

//! The one edit vmamatrix makes to a flattened device tree (dtb): set
//! properties of `/chosen` (the command line, where the initramfs is), for
//! machines whose kernel gets its dtb from vmamatrix's boot shim rather
//! than from QEMU. The blob is rewritten from its parts (header, memory
//! reservation map, structure block, strings block), so it may grow.

const MAGIC: u32 = 0xd00d_feed;
const HEADER: usize = 40;
const BEGIN_NODE: u32 = 1;
const END_NODE: u32 = 2;
const PROP: u32 = 3;
const NOP: u32 = 4;
const END: u32 = 9;

fn be32(b: &[u8], at: usize) -> Result<u32, String> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes(s.try_into().unwrap()))
        .ok_or_else(|| format!("dtb truncated at {at:#x}"))
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// The parts of a dtb.
struct Blob<'a> {
    rsvmap: &'a [u8],
    structs: &'a [u8],
    strings: &'a [u8],
    boot_cpuid: u32,
}

fn parse(dtb: &[u8]) -> Result<Blob<'_>, String> {
    if be32(dtb, 0)? != MAGIC {
        return Err("not a dtb (bad magic)".into());
    }
    let field = |i: usize| be32(dtb, 4 * i).map(|v| v as usize);
    let (total, off_struct, off_strings, off_rsv) = (field(1)?, field(2)?, field(3)?, field(4)?);
    let version = field(5)?;
    if version < 17 {
        return Err(format!("dtb version {version}; 17 is needed"));
    }
    let (size_strings, size_struct) = (field(8)?, field(9)?);
    if total > dtb.len() {
        return Err(format!("dtb truncated: {} of {total} bytes", dtb.len()));
    }
    let slice = |off: usize, len: usize| {
        dtb.get(off..off + len)
            .ok_or_else(|| format!("dtb block {off:#x}+{len:#x} outside the blob"))
    };
    // The reservation map ends with an all-zero (address, size) entry.
    let mut end = off_rsv;
    loop {
        let e = slice(end, 16)?;
        end += 16;
        if e.iter().all(|b| *b == 0) {
            break;
        }
    }
    Ok(Blob {
        rsvmap: &dtb[off_rsv..end],
        structs: slice(off_struct, size_struct)?,
        strings: slice(off_strings, size_strings)?,
        boot_cpuid: field(7)? as u32,
    })
}

/// A NUL-terminated string of the strings block at `off`.
fn string_at(strings: &[u8], off: usize) -> Result<&str, String> {
    let s = strings
        .get(off..)
        .ok_or("property name outside the strings")?;
    let n = s.iter().position(|b| *b == 0).ok_or("unterminated name")?;
    std::str::from_utf8(&s[..n]).map_err(|e| e.to_string())
}

/// One token of the structure block, and where the next one starts.
enum Token<'a> {
    Begin(&'a [u8]),
    End,
    Prop { name_off: u32, value: &'a [u8] },
    Nop,
    Finish,
}

fn token(s: &[u8], at: usize) -> Result<(Token<'_>, usize), String> {
    match be32(s, at)? {
        BEGIN_NODE => {
            let rest = s.get(at + 4..).ok_or("truncated node")?;
            let n = rest
                .iter()
                .position(|b| *b == 0)
                .ok_or("unterminated node name")?;
            Ok((Token::Begin(&rest[..n]), at + 4 + align4(n + 1)))
        }
        END_NODE => Ok((Token::End, at + 4)),
        PROP => {
            let len = be32(s, at + 4)? as usize;
            let name_off = be32(s, at + 8)?;
            let value = s.get(at + 12..at + 12 + len).ok_or("truncated property")?;
            Ok((Token::Prop { name_off, value }, at + 12 + align4(len)))
        }
        NOP => Ok((Token::Nop, at + 4)),
        END => Ok((Token::Finish, at + 4)),
        t => Err(format!("bad dtb token {t:#x} at {at:#x}")),
    }
}

fn push_prop(out: &mut Vec<u8>, name_off: u32, value: &[u8]) {
    out.extend_from_slice(&PROP.to_be_bytes());
    out.extend_from_slice(&(value.len() as u32).to_be_bytes());
    out.extend_from_slice(&name_off.to_be_bytes());
    out.extend_from_slice(value);
    out.resize(align4(out.len()), 0);
}

/// A string property's value (NUL-terminated).
pub fn string(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// A one-cell (32-bit) property's value.
pub fn cell(v: u32) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}

/// `dtb` with the properties `props` set in `/chosen` (replacing those of
/// the same name, adding the node if the tree has none); every other
/// property and node is kept as it was.
pub fn set_chosen(dtb: &[u8], props: &[(&str, Vec<u8>)]) -> Result<Vec<u8>, String> {
    let b = parse(dtb)?;
    let mut strings = b.strings.to_vec();
    let mut name_off = |name: &str| -> u32 {
        let want = string(name);
        let mut at = 0;
        while at < strings.len() {
            let n = strings[at..].iter().position(|c| *c == 0).unwrap_or(0);
            if strings[at..].starts_with(&want) {
                return at as u32;
            }
            at += n + 1;
        }
        let off = strings.len() as u32;
        strings.extend_from_slice(&want);
        off
    };
    let new: Vec<(u32, &[u8])> = props
        .iter()
        .map(|(n, v)| (name_off(n), v.as_slice()))
        .collect();
    let replaced = |off: u32| -> Result<bool, String> {
        let name = string_at(b.strings, off as usize)?;
        Ok(props.iter().any(|(n, _)| *n == name))
    };
    let mut out = Vec::with_capacity(b.structs.len() + 256);
    let (mut at, mut depth, mut in_chosen, mut seen) = (0usize, 0usize, false, false);
    loop {
        let (t, next) = token(b.structs, at)?;
        match t {
            Token::Begin(name) => {
                depth += 1;
                out.extend_from_slice(&b.structs[at..next]);
                if depth == 2 && name == b"chosen" {
                    in_chosen = true;
                    seen = true;
                    for (off, v) in &new {
                        push_prop(&mut out, *off, v);
                    }
                }
            }
            Token::End => {
                if depth == 2 {
                    in_chosen = false;
                }
                if depth == 1 && !seen {
                    out.extend_from_slice(&BEGIN_NODE.to_be_bytes());
                    out.extend_from_slice(b"chosen\0\0");
                    for (off, v) in &new {
                        push_prop(&mut out, *off, v);
                    }
                    out.extend_from_slice(&END_NODE.to_be_bytes());
                    seen = true;
                }
                depth = depth.checked_sub(1).ok_or("unbalanced dtb nodes")?;
                out.extend_from_slice(&b.structs[at..next]);
            }
            Token::Prop { name_off, .. } => {
                if !(in_chosen && depth == 2 && replaced(name_off)?) {
                    out.extend_from_slice(&b.structs[at..next]);
                }
            }
            Token::Nop => {}
            Token::Finish => {
                out.extend_from_slice(&b.structs[at..next]);
                break;
            }
        }
        at = next;
    }
    if !seen {
        return Err("dtb has no root node".into());
    }
    let off_rsv = HEADER;
    let off_struct = off_rsv + b.rsvmap.len();
    let off_strings = off_struct + out.len();
    let total = off_strings + strings.len();
    let mut blob = Vec::with_capacity(total);
    for v in [
        MAGIC,
        total as u32,
        off_struct as u32,
        off_strings as u32,
        off_rsv as u32,
        17,
        16,
        b.boot_cpuid,
        strings.len() as u32,
        out.len() as u32,
    ] {
        blob.extend_from_slice(&v.to_be_bytes());
    }
    blob.extend_from_slice(b.rsvmap);
    blob.extend_from_slice(&out);
    blob.extend_from_slice(&strings);
    Ok(blob)
}

/// The properties of `/chosen`, in order.
pub fn chosen(dtb: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let b = parse(dtb)?;
    let mut props = vec![];
    let (mut at, mut depth, mut in_chosen) = (0usize, 0usize, false);
    loop {
        let (t, next) = token(b.structs, at)?;
        match t {
            Token::Begin(name) => {
                depth += 1;
                in_chosen |= depth == 2 && name == b"chosen";
            }
            Token::End => {
                in_chosen &= depth != 2;
                depth = depth.saturating_sub(1);
            }
            Token::Prop { name_off, value } if in_chosen && depth == 2 => {
                props.push((
                    string_at(b.strings, name_off as usize)?.to_string(),
                    value.to_vec(),
                ));
            }
            Token::Finish => break,
            _ => {}
        }
        at = next;
    }
    Ok(props)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A dtb as dtc writes it: `/ { model = "t"; chosen { bootargs =
    /// "earlycon"; stdout-path = "serial0:9600n8"; }; memory@0 { reg = <0 16>; }; };`
    /// (or without the chosen node), one memory reservation.
    pub(crate) fn sample(with_chosen: bool) -> Vec<u8> {
        let mut strings = Vec::new();
        let mut off = |n: &str| {
            let o = strings.len() as u32;
            strings.extend_from_slice(&string(n));
            o
        };
        let (model, bootargs, stdout, reg) = (
            off("model"),
            off("bootargs"),
            off("stdout-path"),
            off("reg"),
        );
        let mut s = Vec::new();
        let begin = |s: &mut Vec<u8>, name: &str| {
            s.extend_from_slice(&BEGIN_NODE.to_be_bytes());
            s.extend_from_slice(&string(name));
            s.resize(align4(s.len()), 0);
        };
        begin(&mut s, "");
        push_prop(&mut s, model, &string("t"));
        if with_chosen {
            begin(&mut s, "chosen");
            push_prop(&mut s, bootargs, &string("earlycon"));
            s.extend_from_slice(&NOP.to_be_bytes());
            push_prop(&mut s, stdout, &string("serial0:9600n8"));
            s.extend_from_slice(&END_NODE.to_be_bytes());
        }
        begin(&mut s, "memory@0");
        push_prop(&mut s, reg, &[0, 0, 0, 0, 0, 0, 0, 16]);
        s.extend_from_slice(&END_NODE.to_be_bytes());
        s.extend_from_slice(&END_NODE.to_be_bytes());
        s.extend_from_slice(&END.to_be_bytes());
        let mut rsv = vec![0u8; 32];
        rsv[..16].copy_from_slice(&[0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0]);
        // dtc's layout: header, reservation map, structs, strings.
        let (o_rsv, o_st) = (HEADER, HEADER + rsv.len());
        let o_str = o_st + s.len();
        let total = o_str + strings.len();
        let mut b = vec![];
        for v in [
            MAGIC,
            total as u32,
            o_st as u32,
            o_str as u32,
            o_rsv as u32,
            17,
            16,
            0,
            strings.len() as u32,
            s.len() as u32,
        ] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b.extend(rsv);
        b.extend(s);
        b.extend(strings);
        b
    }

    fn names(p: &[(String, Vec<u8>)]) -> Vec<&str> {
        p.iter().map(|(n, _)| n.as_str()).collect()
    }

    #[test]
    fn chosen_props_are_replaced_and_added() {
        let dtb = sample(true);
        assert_eq!(names(&chosen(&dtb).unwrap()), ["bootargs", "stdout-path"]);
        let out = set_chosen(
            &dtb,
            &[
                ("bootargs", string("console=ttyMPS0 rdinit=/init")),
                ("linux,initrd-start", cell(0x21ff_0000)),
                ("linux,initrd-end", cell(0x21ff_1234)),
            ],
        )
        .unwrap();
        let p = chosen(&out).unwrap();
        assert_eq!(
            names(&p),
            [
                "bootargs",
                "linux,initrd-start",
                "linux,initrd-end",
                "stdout-path"
            ]
        );
        assert_eq!(p[0].1, b"console=ttyMPS0 rdinit=/init\0");
        assert_eq!(p[1].1, [0x21, 0xff, 0, 0]);
        assert_eq!(p[2].1, [0x21, 0xff, 0x12, 0x34]);
        assert_eq!(p[3].1, b"serial0:9600n8\0");
        // The header is consistent and the reservation map is kept.
        assert_eq!(be32(&out, 4).unwrap() as usize, out.len());
        assert_eq!(&out[HEADER..HEADER + 32], &dtb[HEADER..HEADER + 32]);
        // Setting the same properties again changes nothing.
        let again = set_chosen(
            &out,
            &[
                ("bootargs", string("console=ttyMPS0 rdinit=/init")),
                ("linux,initrd-start", cell(0x21ff_0000)),
                ("linux,initrd-end", cell(0x21ff_1234)),
            ],
        )
        .unwrap();
        assert_eq!(again, out);
    }

    #[test]
    fn chosen_node_is_added_where_missing() {
        let out = set_chosen(&sample(false), &[("bootargs", string("x"))]).unwrap();
        let p = chosen(&out).unwrap();
        assert_eq!(names(&p), ["bootargs"]);
        assert_eq!(p[0].1, b"x\0");
    }

    #[test]
    fn bad_blobs_are_refused() {
        assert!(set_chosen(b"not a dtb at all, not at all.....", &[]).is_err());
        let mut short = sample(true);
        short.truncate(60);
        assert!(set_chosen(&short, &[]).is_err());
    }
}

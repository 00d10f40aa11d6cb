//! Struct layout (size, members, offsets, holes) read from the DWARF of one
//! object file with gimli. Relocatable objects (`.o`) get their debug
//! section relocations applied first, as pahole's libdw does.

use gimli::{AttributeValue, EndianSlice, RunTimeEndian, UnitOffset};
use object::{Object, ObjectSection, ObjectSymbol, RelocationTarget};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::HashMap;

/// The layout of one struct.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Layout {
    pub name: String,
    pub size: u64,
    pub members: Vec<Member>,
    pub holes: Vec<Hole>,
    /// Bytes of padding at the end.
    pub padding: u64,
}

impl Layout {
    /// Sum of byte holes, as pahole's "sum holes" counts them (bit holes
    /// inside a bitfield's storage unit are not included).
    pub fn hole_bytes(&self) -> u64 {
        self.holes
            .iter()
            .filter(|h| !h.in_bitfield)
            .map(|h| h.bits / 8)
            .sum()
    }
}

/// One member, in bytes (a bitfield also in bits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Member {
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub offset: u64,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub bit_offset: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub bit_size: Option<u64>,
}

/// A gap between two members: after `after`, at byte `offset`, `bits` long.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Hole {
    pub after: String,
    pub offset: u64,
    pub bits: u64,
    /// Inside the storage unit of the bitfield before it (a "bit hole").
    pub in_bitfield: bool,
}

#[derive(Debug, Clone)]
struct Node {
    tag: gimli::DwTag,
    name: Option<String>,
    byte_size: Option<u64>,
    ty: Option<UnitOffset>,
    declaration: bool,
    member_location: Option<u64>,
    data_bit_offset: Option<u64>,
    bit_offset: Option<u64>,
    bit_size: Option<u64>,
    count: Option<u64>,
    children: Vec<UnitOffset>,
}

/// Read the layouts of `names` (struct tags) from an object or executable.
/// Structs not found are absent from the result.
pub fn layouts(data: &[u8], names: &[String]) -> Result<Vec<Layout>, String> {
    let file = object::File::parse(data).map_err(|e| format!("not an object file: {e}"))?;
    let endian = if file.is_little_endian() {
        RunTimeEndian::Little
    } else {
        RunTimeEndian::Big
    };
    let load = |id: gimli::SectionId| -> Result<Cow<'_, [u8]>, gimli::Error> {
        Ok(section_data(&file, id.name())
            .map(Cow::Owned)
            .unwrap_or(Cow::Borrowed(&[])))
    };
    let sections = gimli::DwarfSections::load(load).map_err(|e| e.to_string())?;
    let dwarf = sections.borrow(|s| EndianSlice::new(s, endian));
    let mut found: HashMap<String, Layout> = HashMap::new();
    let mut units = dwarf.units();
    while let Some(header) = units.next().map_err(|e| e.to_string())? {
        let unit = dwarf.unit(header).map_err(|e| e.to_string())?;
        let addr_size = unit.encoding().address_size as u64;
        let nodes = read_nodes(&dwarf, &unit).map_err(|e| e.to_string())?;
        let little = endian == RunTimeEndian::Little;
        let ctx = Ctx {
            nodes: &nodes,
            addr_size,
            little,
        };
        for (off, n) in &nodes {
            if n.tag != gimli::DW_TAG_structure_type || n.declaration {
                continue;
            }
            let Some(name) = &n.name else { continue };
            if names.contains(name) && !found.contains_key(name) {
                found.insert(name.clone(), ctx.layout(*off));
            }
        }
    }
    Ok(names.iter().filter_map(|n| found.remove(n)).collect())
}

fn read_nodes(
    dwarf: &gimli::Dwarf<EndianSlice<'_, RunTimeEndian>>,
    unit: &gimli::Unit<EndianSlice<'_, RunTimeEndian>>,
) -> gimli::Result<HashMap<UnitOffset, Node>> {
    let mut nodes: HashMap<UnitOffset, Node> = HashMap::new();
    // path[d] is the latest entry seen at depth d.
    let mut path: Vec<UnitOffset> = Vec::new();
    let mut depth: isize = -1;
    let mut cursor = unit.entries();
    while let Some((delta, e)) = cursor.next_dfs()? {
        depth += delta;
        path.truncate(depth.max(0) as usize);
        let off = e.offset();
        let mut n = Node {
            tag: e.tag(),
            name: None,
            byte_size: None,
            ty: None,
            declaration: false,
            member_location: None,
            data_bit_offset: None,
            bit_offset: None,
            bit_size: None,
            count: None,
            children: Vec::new(),
        };
        let mut attrs = e.attrs();
        while let Some(a) = attrs.next()? {
            match a.name() {
                gimli::DW_AT_name => {
                    if let Ok(s) = dwarf.attr_string(unit, a.value()) {
                        n.name = Some(s.to_string_lossy().into_owned());
                    }
                }
                gimli::DW_AT_byte_size => n.byte_size = a.udata_value(),
                gimli::DW_AT_type => {
                    if let AttributeValue::UnitRef(r) = a.value() {
                        n.ty = Some(r)
                    }
                }
                gimli::DW_AT_declaration => n.declaration = true,
                gimli::DW_AT_data_member_location => n.member_location = a.udata_value(),
                gimli::DW_AT_data_bit_offset => n.data_bit_offset = a.udata_value(),
                gimli::DW_AT_bit_offset => n.bit_offset = a.udata_value(),
                gimli::DW_AT_bit_size => n.bit_size = a.udata_value(),
                gimli::DW_AT_count => n.count = a.udata_value(),
                gimli::DW_AT_upper_bound => n.count = a.udata_value().map(|u| u + 1),
                _ => {}
            }
        }
        if let Some(parent) = path.last() {
            if let Some(p) = nodes.get_mut(parent) {
                p.children.push(off);
            }
        }
        nodes.insert(off, n);
        path.push(off);
    }
    Ok(nodes)
}

struct Ctx<'a> {
    nodes: &'a HashMap<UnitOffset, Node>,
    addr_size: u64,
    little: bool,
}

impl Ctx<'_> {
    fn size(&self, off: Option<UnitOffset>) -> u64 {
        let Some(n) = off.and_then(|o| self.nodes.get(&o)) else {
            return 0;
        };
        match n.tag {
            gimli::DW_TAG_pointer_type | gimli::DW_TAG_reference_type => {
                n.byte_size.unwrap_or(self.addr_size)
            }
            gimli::DW_TAG_array_type => {
                let elem = self.size(n.ty);
                let mut count = 1;
                for c in &n.children {
                    if let Some(s) = self.nodes.get(c) {
                        if s.tag == gimli::DW_TAG_subrange_type {
                            count *= s.count.unwrap_or(0);
                        }
                    }
                }
                elem * count
            }
            _ => n.byte_size.unwrap_or_else(|| self.size(n.ty)),
        }
    }

    fn type_name(&self, off: Option<UnitOffset>) -> String {
        let Some(n) = off.and_then(|o| self.nodes.get(&o)) else {
            return "void".into();
        };
        let name = n.name.clone();
        match n.tag {
            gimli::DW_TAG_structure_type => {
                format!("struct {}", name.unwrap_or_else(|| "{...}".into()))
            }
            gimli::DW_TAG_union_type => format!("union {}", name.unwrap_or_else(|| "{...}".into())),
            gimli::DW_TAG_enumeration_type => {
                format!("enum {}", name.unwrap_or_else(|| "{...}".into()))
            }
            gimli::DW_TAG_pointer_type => format!("{} *", self.type_name(n.ty)),
            gimli::DW_TAG_const_type => format!("const {}", self.type_name(n.ty)),
            gimli::DW_TAG_volatile_type => format!("volatile {}", self.type_name(n.ty)),
            gimli::DW_TAG_atomic_type => format!("_Atomic {}", self.type_name(n.ty)),
            gimli::DW_TAG_array_type => {
                let dims: String = n
                    .children
                    .iter()
                    .filter_map(|c| self.nodes.get(c))
                    .map(|s| format!("[{}]", s.count.unwrap_or(0)))
                    .collect();
                format!("{}{dims}", self.type_name(n.ty))
            }
            gimli::DW_TAG_subroutine_type => "fn".into(),
            _ => name.unwrap_or_else(|| self.type_name(n.ty)),
        }
    }

    fn layout(&self, off: UnitOffset) -> Layout {
        let n = &self.nodes[&off];
        let size = n.byte_size.unwrap_or(0);
        let mut members = Vec::new();
        for c in &n.children {
            let m = &self.nodes[c];
            if m.tag != gimli::DW_TAG_member {
                continue;
            }
            let tsize = self.size(m.ty);
            let loc = m.member_location.unwrap_or(0);
            let (offset, bit_offset) = match (m.bit_size, m.data_bit_offset, m.bit_offset) {
                (Some(_), Some(dbo), _) => (dbo / 8, Some(dbo)),
                (Some(bs), None, Some(bo)) => {
                    let unit_bits = m.byte_size.unwrap_or(tsize) * 8;
                    let start = if self.little {
                        loc * 8 + unit_bits - bo - bs
                    } else {
                        loc * 8 + bo
                    };
                    (start / 8, Some(start))
                }
                _ => (loc, None),
            };
            members.push(Member {
                name: m.name.clone().unwrap_or_else(|| "(anonymous)".into()),
                type_name: self.type_name(m.ty),
                offset,
                size: tsize,
                bit_offset,
                bit_size: m.bit_size,
            });
        }
        // Holes: gaps between the end of what came before and the next start.
        let mut holes = Vec::new();
        let mut end_bits = 0u64;
        let mut last = String::new();
        let mut unit_end_bits = 0u64;
        let mut order: Vec<&Member> = members.iter().collect();
        order.sort_by_key(|m| m.bit_offset.unwrap_or(m.offset * 8));
        for m in order {
            let start = m.bit_offset.unwrap_or(m.offset * 8);
            let len = m.bit_size.unwrap_or(m.size * 8);
            if start > end_bits && !last.is_empty() {
                holes.push(Hole {
                    after: last.clone(),
                    offset: end_bits / 8,
                    bits: start - end_bits,
                    in_bitfield: end_bits < unit_end_bits,
                });
            }
            end_bits = end_bits.max(start + len);
            unit_end_bits = match m.bit_size {
                Some(_) => (m.offset + m.size) * 8,
                None => 0,
            };
            last = m.name.clone();
        }
        let padding = (size * 8).saturating_sub(end_bits) / 8;
        Layout {
            name: n.name.clone().unwrap_or_default(),
            size,
            members,
            holes,
            padding,
        }
    }
}

/// A debug section's bytes with its relocations applied (for `.o` files).
fn section_data(file: &object::File<'_>, name: &str) -> Option<Vec<u8>> {
    let sec = file.section_by_name(name)?;
    let mut data = sec.uncompressed_data().ok()?.into_owned();
    if file.kind() != object::ObjectKind::Relocatable {
        return Some(data);
    }
    let little = file.is_little_endian();
    for (off, rel) in sec.relocations() {
        let width = match (rel.kind(), rel.size()) {
            (object::RelocationKind::Absolute, 32) => 4,
            (object::RelocationKind::Absolute, 64) => 8,
            _ => continue,
        };
        let sym_value = match rel.target() {
            RelocationTarget::Symbol(i) => {
                file.symbol_by_index(i).map(|s| s.address()).unwrap_or(0)
            }
            RelocationTarget::Section(i) => {
                file.section_by_index(i).map(|s| s.address()).unwrap_or(0)
            }
            _ => 0,
        };
        let off = off as usize;
        let Some(slot) = data.get_mut(off..off + width) else {
            continue;
        };
        let implicit = if rel.has_implicit_addend() {
            read_uint(slot, little)
        } else {
            0
        };
        let v = sym_value
            .wrapping_add(rel.addend() as u64)
            .wrapping_add(implicit);
        write_uint(slot, v, little);
    }
    Some(data)
}

fn read_uint(b: &[u8], little: bool) -> u64 {
    let mut v = 0u64;
    for i in 0..b.len() {
        let byte = if little { b[b.len() - 1 - i] } else { b[i] };
        v = (v << 8) | byte as u64;
    }
    v
}

fn write_uint(b: &mut [u8], v: u64, little: bool) {
    let n = b.len();
    for i in 0..n {
        let byte = (v >> (8 * i)) as u8;
        if little {
            b[i] = byte;
        } else {
            b[n - 1 - i] = byte;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(src: &str, extra: &[&str]) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let c = dir.path().join("t.c");
        std::fs::write(&c, src).unwrap();
        let o = dir.path().join("t.o");
        let st = std::process::Command::new("gcc")
            .args(["-g", "-c", "-o"])
            .arg(&o)
            .arg(&c)
            .args(extra)
            .status()
            .unwrap();
        assert!(st.success());
        std::fs::read(&o).unwrap()
    }

    const SRC: &str = "struct inner { short s; };\n\
        struct demo { char c; long l; int bits : 3; int more : 5; struct inner in[2]; void *p; char tail; };\n\
        struct demo d;\n";

    #[test]
    fn reads_layout_from_gcc_object() {
        let o = compile(SRC, &[]);
        let l = layouts(&o, &["demo".into(), "absent".into()]).unwrap();
        assert_eq!(l.len(), 1);
        let d = &l[0];
        assert_eq!(d.size, 40);
        let names: Vec<_> = d
            .members
            .iter()
            .map(|m| (m.name.as_str(), m.offset, m.size))
            .collect();
        assert_eq!(
            names,
            [
                ("c", 0, 1),
                ("l", 8, 8),
                ("bits", 16, 4),
                ("more", 16, 4),
                ("in", 18, 4),
                ("p", 24, 8),
                ("tail", 32, 1)
            ]
        );
        assert_eq!(d.members[2].bit_size, Some(3));
        assert_eq!(d.members[4].type_name, "struct inner[2]");
        assert_eq!(d.members[5].type_name, "void *");
        // As pahole prints it: 7 bytes hole after c, an 8-bit hole after the
        // bitfields, 2 bytes after in; sum holes 9; padding 7.
        let h = |after: &str, offset, bits, in_bitfield| Hole {
            after: after.into(),
            offset,
            bits,
            in_bitfield,
        };
        assert_eq!(
            d.holes,
            [
                h("c", 1, 56, false),
                h("more", 17, 8, true),
                h("in", 22, 16, false)
            ]
        );
        assert_eq!(d.hole_bytes(), 9);
        assert_eq!(d.padding, 7);
    }

    #[test]
    fn dwarf4_and_dwarf5_agree() {
        let a = layouts(&compile(SRC, &["-gdwarf-4"]), &["demo".into()]).unwrap();
        let b = layouts(&compile(SRC, &["-gdwarf-5"]), &["demo".into()]).unwrap();
        assert_eq!(a, b);
    }
}

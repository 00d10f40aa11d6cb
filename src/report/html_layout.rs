//! Struct layouts in the HTML report: a cell's measured structs, base and
//! patched side by side, with changed members, holes and cache lines
//! marked.

use super::load::{Report, Row};
use crate::measure::dwarf::{Hole, Layout};
use std::fmt::Write as _;

/// `s` with `& < > " '` escaped, for text and attribute values alike (the
/// whole HTML report's escaper).
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Bytes per cache line, for the boundaries in struct layouts.
const CACHE_LINE: u64 = 64;

/// How a member changed between the trees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Same,
    Added,
    Removed,
    Moved,
    Changed,
}

impl Change {
    fn class(self) -> &'static str {
        match self {
            Change::Same => "",
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Moved => "moved",
            Change::Changed => "changed",
        }
    }
}

/// Member keys that survive reordering: the name, and for unnamed unions
/// and structs their type and how many came before.
fn member_keys(l: &Layout) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    l.members
        .iter()
        .map(|m| {
            let k = if m.name == "(anonymous)" || m.name.is_empty() {
                format!("{} {}", m.name, m.type_name)
            } else {
                m.name.clone()
            };
            let n = seen.iter().filter(|s| **s == k).count();
            seen.push(k.clone());
            format!("{k}#{n}")
        })
        .collect()
}

/// Each member's change against the other tree's layout (`None`: nothing
/// to compare with). `this_is_base` says which side this is.
fn changes(this: &Layout, other: Option<&Layout>, this_is_base: bool) -> Vec<Change> {
    let Some(other) = other else {
        return vec![Change::Same; this.members.len()];
    };
    let ok = member_keys(other);
    member_keys(this)
        .iter()
        .zip(&this.members)
        .map(|(k, m)| match ok.iter().position(|o| o == k) {
            None if this_is_base => Change::Removed,
            None => Change::Added,
            Some(j) => {
                let o = &other.members[j];
                if o.size != m.size || o.type_name != m.type_name || o.bit_size != m.bit_size {
                    Change::Changed
                } else if o.offset != m.offset || o.bit_offset != m.bit_offset {
                    Change::Moved
                } else {
                    Change::Same
                }
            }
        })
        .collect()
}

fn hole_bytes(l: &Layout) -> u64 {
    l.holes
        .iter()
        .filter(|h| !h.in_bitfield)
        .map(|h| h.bits / 8)
        .sum()
}

fn cache_lines(size: u64) -> u64 {
    size.div_ceil(CACHE_LINE)
}

/// One tree's layout as a table: members in offset order with their
/// change, holes, the padding, and a marker where each cache line starts.
fn layout_table(tree: &str, l: &Layout, other: Option<&Layout>) -> String {
    let is_base = tree == "base";
    let ch = changes(l, other, is_base);
    let okeys = other.map(member_keys).unwrap_or_default();
    let keys = member_keys(l);
    // Members and holes in offset order (a hole after its member).
    enum Item<'a> {
        Member(usize),
        Hole(&'a Hole),
    }
    let mut items: Vec<(u64, u8, Item)> = (0..l.members.len())
        .map(|i| (l.members[i].offset, 0, Item::Member(i)))
        .chain(l.holes.iter().map(|h| (h.offset, 1, Item::Hole(h))))
        .collect();
    items.sort_by_key(|(off, k, _)| (*off, *k));
    let mut s = format!(
        "<table class=\"layout\" data-tree=\"{tree}\"><caption>{tree}: {} B, {} cache line(s), holes {} B, padding {} B</caption>\n\
         <tr><th class=\"num\">offset</th><th class=\"num\">size</th><th>member</th><th>type</th></tr>\n",
        l.size,
        cache_lines(l.size),
        hole_bytes(l),
        l.padding
    );
    let mut next_line = CACHE_LINE;
    let mut boundaries = |upto: u64, s: &mut String| {
        let first = next_line;
        while next_line <= upto && next_line < l.size {
            next_line += CACHE_LINE;
        }
        if next_line > first {
            let last = next_line - CACHE_LINE;
            let (a, b) = (first / CACHE_LINE, last / CACHE_LINE);
            let text = if a == b {
                format!("cache line {a} starts at byte {first}")
            } else {
                format!(
                    "cache lines {a}-{b} start at bytes {first}-{last} (inside the member above)"
                )
            };
            let _ = writeln!(s, "<tr class=\"cl\"><td colspan=\"4\">{text}</td></tr>");
        }
    };
    for (off, _, item) in &items {
        boundaries(*off, &mut s);
        match item {
            Item::Member(i) => {
                let m = &l.members[*i];
                let c = ch[*i];
                let (off_text, size_text) = match (m.bit_offset, m.bit_size) {
                    (Some(bo), Some(bs)) => {
                        (format!("{}:{}", m.offset, bo % 8), format!("{bs} bits"))
                    }
                    _ => (m.offset.to_string(), m.size.to_string()),
                };
                let straddles =
                    m.size > 0 && m.offset / CACHE_LINE != (m.offset + m.size - 1) / CACHE_LINE;
                let mut tags = String::new();
                match c {
                    Change::Same => {}
                    Change::Added | Change::Removed => {
                        let _ = write!(tags, "<span class=\"tag {0}\">{0}</span>", c.class());
                    }
                    Change::Moved | Change::Changed => {
                        let o = other.and_then(|o| {
                            okeys
                                .iter()
                                .position(|k| *k == keys[*i])
                                .map(|j| &o.members[j])
                        });
                        let was = o
                            .map(|o| {
                                if c == Change::Moved {
                                    format!(
                                        "{} {}",
                                        if is_base { "now at" } else { "was at" },
                                        o.offset
                                    )
                                } else {
                                    format!(
                                        "{} {} B {}",
                                        if is_base { "now" } else { "was" },
                                        o.size,
                                        o.type_name
                                    )
                                }
                            })
                            .unwrap_or_default();
                        let _ = write!(
                            tags,
                            "<span class=\"tag {}\" title=\"{}\">{} ({})</span>",
                            c.class(),
                            esc(&was),
                            c.class(),
                            esc(&was)
                        );
                    }
                }
                if straddles {
                    tags.push_str("<span class=\"tag straddle\">crosses a cache line</span>");
                }
                let _ = writeln!(
                    s,
                    "<tr class=\"m {}\"><td class=\"off\">{}</td><td class=\"sz\">{}</td><td><code>{}</code>{}</td><td class=\"ty\">{}</td></tr>",
                    c.class(),
                    esc(&off_text),
                    esc(&size_text),
                    esc(&m.name),
                    tags,
                    esc(&m.type_name)
                );
            }
            Item::Hole(h) => {
                let what = if h.in_bitfield {
                    format!("bit hole, {} bit(s)", h.bits)
                } else {
                    format!("hole, {} byte(s)", h.bits / 8)
                };
                let _ = writeln!(
                    s,
                    "<tr class=\"hole\"><td class=\"off\">{}</td><td class=\"sz\">{}</td><td colspan=\"2\">{} after <code>{}</code></td></tr>",
                    h.offset,
                    if h.in_bitfield {
                        format!("{}b", h.bits)
                    } else {
                        (h.bits / 8).to_string()
                    },
                    what,
                    esc(&h.after)
                );
            }
        }
    }
    let end = l.size.saturating_sub(l.padding);
    boundaries(end, &mut s);
    if l.padding > 0 {
        let _ = writeln!(
            s,
            "<tr class=\"pad\"><td class=\"off\">{end}</td><td class=\"sz\">{}</td><td colspan=\"2\">padding</td></tr>",
            l.padding
        );
    }
    boundaries(l.size, &mut s);
    s.push_str("</table>\n");
    s
}

/// The measured structs of a cell, base and patched side by side; a
/// struct whose layout did not change is folded.
pub(super) fn layouts(r: &Report, row: &Row) -> String {
    let mut names: Vec<&str> = r.run.structs.iter().map(String::as_str).collect();
    for l in row.layouts.base.iter().chain(&row.layouts.patched) {
        if !names.contains(&l.name.as_str()) {
            names.push(&l.name);
        }
    }
    let mut s = String::new();
    for name in names {
        let b = row.layouts.base.iter().find(|l| l.name == name);
        let p = row.layouts.patched.iter().find(|l| l.name == name);
        if b.is_none() && p.is_none() {
            continue;
        }
        if s.is_empty() {
            s.push_str("<h4>Struct layouts (DWARF; 64-byte cache lines)</h4>\n");
        }
        let same = match (b, p) {
            (Some(b), Some(p)) => b.size == p.size && b.members == p.members,
            _ => false,
        };
        let mut what: Vec<String> = Vec::new();
        if let (Some(b), Some(p)) = (b, p) {
            let d = p.size as i64 - b.size as i64;
            what.push(format!("{} &rarr; {} B ({d:+} B)", b.size, p.size));
            let (bk, pk) = (member_keys(b), member_keys(p));
            let name_of = |k: &str| k.rsplit_once('#').map(|x| x.0).unwrap_or(k).to_string();
            let added: Vec<String> = pk
                .iter()
                .filter(|k| !bk.contains(k))
                .map(|k| name_of(k))
                .collect();
            let removed: Vec<String> = bk
                .iter()
                .filter(|k| !pk.contains(k))
                .map(|k| name_of(k))
                .collect();
            let moved = changes(p, Some(b), false)
                .iter()
                .filter(|c| matches!(c, Change::Moved | Change::Changed))
                .count();
            if !added.is_empty() {
                what.push(format!("added: {}", esc(&added.join(", "))));
            }
            if !removed.is_empty() {
                what.push(format!("removed: {}", esc(&removed.join(", "))));
            }
            if moved > 0 {
                what.push(format!("{moved} moved or changed"));
            }
            what.push(format!(
                "holes {} &rarr; {} B",
                hole_bytes(b),
                hole_bytes(p)
            ));
            if same {
                what.push("same layout".into());
            }
        }
        let _ = write!(
            s,
            "<details class=\"struct\" data-struct=\"{}\"{}><summary><b>struct {}</b>: {}</summary>\n<div class=\"layouts\">\n",
            esc(name),
            if same { "" } else { " open" },
            esc(name),
            what.join("; ")
        );
        for (tree, this, other) in [("base", b, p), ("patched", p, b)] {
            match this {
                Some(l) => s.push_str(&layout_table(tree, l, other)),
                None => {
                    let _ = writeln!(s, "<p class=\"muted\">{tree}: not measured</p>");
                }
            }
        }
        s.push_str("</div>\n</details>\n");
    }
    s
}

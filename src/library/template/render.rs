//! Rendering a parsed template for one track.
//!
//! Output goes straight into the returned components: sections and helpers
//! remember a mark (component count, length of the last component) and
//! truncate back to it or rewrite what follows it in place, so a render
//! allocates nothing besides the output strings.

use super::{Helper, MAX_PAD_WIDTH, MAX_PATH_SEGMENTS, Node, Template};
use std::collections::HashMap;

/// How missing fields are rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderOptions {
    /// Per-field fallbacks (`--fallback field=value`), keyed by lower-case
    /// field name: used when the field has no value, before `default`.
    /// Use [`RenderOptions::set_fallback`] to insert with the right key.
    pub fallbacks: HashMap<String, String>,
    /// Used for a field outside optional sections that resolves to nothing.
    pub default: String,
    /// Skip (render `None`) a track with such a field instead of using
    /// `default`.
    pub skip_on_missing: bool,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions::new("Unknown")
    }
}

impl RenderOptions {
    /// Options with this default, no per-field fallback, no skipping.
    pub fn new(default: impl Into<String>) -> RenderOptions {
        RenderOptions {
            fallbacks: HashMap::new(),
            default: default.into(),
            skip_on_missing: false,
        }
    }

    /// Set the fallback of a field (the name is lower-cased).
    pub fn set_fallback(&mut self, field: &str, value: impl Into<String>) {
        self.fallbacks
            .insert(field.trim().to_ascii_lowercase(), value.into());
    }

    /// Builder form of [`RenderOptions::set_fallback`].
    pub fn with_fallback(mut self, field: &str, value: impl Into<String>) -> RenderOptions {
        self.set_fallback(field, value);
        self
    }
}

/// Parse a `field=value` fallback argument (the value may be empty and may
/// contain `=`). The name is lower-cased.
pub fn parse_fallback(spec: &str) -> Result<(String, String), String> {
    let Some((field, value)) = spec.split_once('=') else {
        return Err(format!("expected FIELD=VALUE, found {spec:?}"));
    };
    let field = field.trim();
    if field.is_empty() {
        return Err(format!("missing field name before '=' in {spec:?}"));
    }
    Ok((field.to_ascii_lowercase(), value.to_owned()))
}

/// The track is to be skipped.
struct Skip;

/// Position in the output: (number of components, length of the last).
type Mark = (usize, usize);

fn mark(out: &[String]) -> Mark {
    (out.len(), out.last().map_or(0, String::len))
}

fn restore(out: &mut Vec<String>, (n, len): Mark) {
    out.truncate(n.max(1));
    if let Some(last) = out.last_mut() {
        last.truncate(len);
    }
}

/// The component being written (the output is never empty).
fn cur(out: &mut Vec<String>) -> &mut String {
    if out.is_empty() {
        out.push(String::new());
    }
    let i = out.len() - 1;
    &mut out[i]
}

/// Is a path value's segment kept? (Empty, blank, `.` and `..` are not.)
fn keep_segment(seg: &str) -> bool {
    !(seg.trim().is_empty() || seg == "." || seg == "..")
}

/// Does a value count as present?
fn present(v: &str, path: bool) -> bool {
    if path {
        v.split('/').any(keep_segment)
    } else {
        !v.trim().is_empty()
    }
}

/// Append a regular value: `/` becomes `_`.
fn write_value(out: &mut Vec<String>, v: &str) {
    let c = cur(out);
    if v.contains('/') {
        c.extend(v.chars().map(|ch| if ch == '/' { '_' } else { ch }));
    } else {
        c.push_str(v);
    }
}

/// Append a path value: each kept segment after the first starts a new
/// component; past [`MAX_PATH_SEGMENTS`] segments are joined with `_`.
fn write_path(out: &mut Vec<String>, v: &str) {
    for (n, seg) in v.split('/').filter(|s| keep_segment(s)).enumerate() {
        if n == 0 {
            cur(out).push_str(seg);
        } else if n < MAX_PATH_SEGMENTS {
            out.push(seg.to_owned());
        } else {
            let c = cur(out);
            c.push('_');
            c.push_str(seg);
        }
    }
}

/// Rewrite `s[from..]` char by char, in place (no allocation when the new
/// text fits the capacity).
fn map_tail(s: &mut String, from: usize, ascii: fn(&mut str), f: fn(char, &mut String)) {
    let Some(tail) = s.get_mut(from..) else {
        return;
    };
    if tail.is_ascii() {
        ascii(tail);
        return;
    }
    let end = s.len();
    let mut i = from;
    while let Some(c) = s.get(i..end).and_then(|t| t.chars().next()) {
        i += c.len_utf8();
        f(c, s);
    }
    s.replace_range(from..end, "");
}

/// Apply `ascii`/`f` to everything written since `m`.
fn map_since(out: &mut [String], m: Mark, ascii: fn(&mut str), f: fn(char, &mut String)) {
    let first = m.0.saturating_sub(1);
    for (i, s) in out.iter_mut().enumerate().skip(first) {
        map_tail(s, if i == first { m.1 } else { 0 }, ascii, f);
    }
}

const ZEROS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const _: () = assert!(ZEROS.len() == MAX_PAD_WIDTH);

/// `%pad`: the text written since `m` is a number, optionally followed by
/// `/` or `_` and anything (`3/12`); it becomes the number without leading
/// zeros, zero-padded to `width`. Any other text is left as is.
fn pad(out: &mut [String], m: Mark, width: usize) {
    if out.len() != m.0 {
        return; // the text holds a separator: not a number
    }
    let Some(s) = out.last_mut() else {
        return;
    };
    let Some(text) = s.get(m.1..) else {
        return;
    };
    let lead = text.len() - text.trim_start().len();
    let body = &text[lead..];
    let digits = body.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return;
    }
    let rest = body[digits..].trim_end();
    if !(rest.is_empty() || rest.starts_with('/') || rest.starts_with('_')) {
        return;
    }
    let zeros = body[..digits].bytes().take_while(|&b| b == b'0').count();
    let zeros = zeros.min(digits - 1); // keep one digit of "000"
    let (start, end) = (m.1 + lead + zeros, m.1 + lead + digits);
    let kept = end - start;
    s.truncate(end);
    s.replace_range(
        m.1..start,
        &ZEROS[..width.saturating_sub(kept).min(ZEROS.len())],
    );
}

/// `%first`: the first non-blank character written since `m`, upper-cased
/// if it is a letter; `0-9` for a digit; `#` for anything else or nothing.
fn first(out: &mut Vec<String>, m: Mark) {
    let start = m.0.saturating_sub(1);
    let c = out
        .get(start..)
        .unwrap_or_default()
        .iter()
        .enumerate()
        .flat_map(|(i, s)| {
            s.get(if i == 0 { m.1 } else { 0 }..)
                .unwrap_or_default()
                .chars()
        })
        .find(|c| !c.is_whitespace());
    restore(out, m);
    let s = cur(out);
    match c {
        Some(c) if c.is_alphabetic() => s.extend(c.to_uppercase()),
        Some(c) if c.is_numeric() => s.push_str("0-9"),
        _ => s.push('#'),
    }
}

impl Template {
    /// Render with `lookup` giving the first value of a (lower-case) field.
    ///
    /// Returns the raw components (at least one; the last names the file),
    /// not yet sanitised: regular values have `/` replaced by `_`, so only
    /// literal separators and path fields create directories. Returns `None`
    /// when `opts.skip_on_missing` is set and a field outside optional
    /// sections resolves to nothing.
    pub fn render<'a>(
        &self,
        lookup: impl Fn(&str) -> Option<&'a str>,
        opts: &RenderOptions,
    ) -> Option<Vec<String>> {
        let mut out = Vec::with_capacity(self.components);
        out.push(String::new());
        let r = Renderer {
            lookup: &lookup,
            opts,
        };
        match r.seq(&self.nodes, false, &mut out) {
            Ok(_) => Some(out),
            Err(Skip) => None,
        }
    }
}

struct Renderer<'r, L> {
    lookup: &'r L,
    opts: &'r RenderOptions,
}

impl<'a, L: Fn(&str) -> Option<&'a str>> Renderer<'_, L> {
    /// Render `nodes`; `Ok(true)` when at least one field resolved.
    fn seq(&self, nodes: &[Node], in_section: bool, out: &mut Vec<String>) -> Result<bool, Skip> {
        let mut resolved = false;
        for node in nodes {
            match node {
                Node::Literal(s) => cur(out).push_str(s),
                Node::Separator => out.push(String::new()),
                Node::Field { chain, path } => {
                    resolved |= self.field(chain, *path, in_section, out)?;
                }
                Node::Section(inner) => {
                    let m = mark(out);
                    if self.seq(inner, true, out)? {
                        resolved = true;
                    } else {
                        restore(out, m);
                    }
                }
                Node::Helper { helper, arg } => {
                    let m = mark(out);
                    resolved |= self.seq(arg, in_section, out)?;
                    match *helper {
                        Helper::Pad(width) => pad(out, m, width),
                        Helper::First => first(out, m),
                        Helper::Lower => map_since(out, m, str::make_ascii_lowercase, |c, s| {
                            s.extend(c.to_lowercase());
                        }),
                        Helper::Upper => map_since(out, m, str::make_ascii_uppercase, |c, s| {
                            s.extend(c.to_uppercase());
                        }),
                    }
                }
            }
        }
        Ok(resolved)
    }

    /// Write one field; `Ok(true)` when it resolved.
    fn field(
        &self,
        chain: &[Box<str>],
        path: bool,
        in_section: bool,
        out: &mut Vec<String>,
    ) -> Result<bool, Skip> {
        let tag = chain
            .iter()
            .find_map(|k| (self.lookup)(k).filter(|v| present(v, path)));
        let value = match tag {
            Some(v) => Some(v),
            None if self.opts.fallbacks.is_empty() => None,
            None => chain
                .iter()
                .find_map(|k| self.opts.fallbacks.get(&**k))
                .map(String::as_str),
        };
        let (value, resolved) = match value {
            Some(v) => (v, true),
            None if in_section => return Ok(false),
            None if self.opts.skip_on_missing => return Err(Skip),
            None => (self.opts.default.as_str(), false),
        };
        if path {
            write_path(out, value);
        } else {
            write_value(out, value);
        }
        Ok(resolved)
    }
}

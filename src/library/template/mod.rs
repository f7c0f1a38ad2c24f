//! Path templates: the language that turns a track's tags into a path.
//!
//! The full language is described for users in `docs/TEMPLATES.md`; in short:
//!
//! - `$field`, `${field}`: the first value of a tag (names are
//!   case-insensitive); `${a|b|c}` tries each name in turn.
//! - `$!field`, `$!{a|b}`: a *path field*, whose `/` separators become
//!   directories (empty, `.` and `..` segments dropped, at most
//!   [`MAX_PATH_SEGMENTS`] segments). A regular field's `/` becomes `_`.
//! - `[...]`: an optional section, rendered only when a field inside resolves;
//!   nestable up to [`MAX_SECTION_DEPTH`] levels.
//! - `%pad{2,...}`, `%first{...}`, `%lower{...}`, `%upper{...}`: helpers;
//!   only `%name{` with a known name starts one, an unknown name is an error.
//! - Escapes: `$$ $[ $] $% $, $}` give the character after the `$`; `%%`
//!   gives `%`.
//! - A literal `/` separates directories.
//!
//! [`Template::render`] yields raw path components (the tree sanitises them)
//! or `None` when the track must be skipped.

mod parse;
mod render;

#[cfg(test)]
mod tests;

use std::fmt;

pub use render::{RenderOptions, parse_fallback};

/// The default template.
pub const DEFAULT_TEMPLATE: &str = "$albumartist/$album/$tracknumber - $title";

/// Deepest nesting of optional sections `[...]`.
pub const MAX_SECTION_DEPTH: usize = 8;

/// Deepest nesting of helpers `%name{...}`.
pub const MAX_HELPER_DEPTH: usize = 8;

/// Most directory levels one path field may produce; further segments are
/// joined into the last one with `_`.
pub const MAX_PATH_SEGMENTS: usize = 32;

/// Widest `%pad` width.
pub const MAX_PAD_WIDTH: usize = 64;

/// A parse error with the 1-based column (in characters) where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub column: usize,
    pub message: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "template error at column {}: {}",
            self.column, self.message
        )
    }
}

impl std::error::Error for TemplateError {}

/// A formatting helper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Helper {
    /// Zero-pad the leading number to this many digits.
    Pad(usize),
    /// First letter, upper-cased; digits give `0-9`, anything else `#`.
    First,
    Lower,
    Upper,
}

/// One node of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Literal(Box<str>),
    /// Directory separator from the literal text.
    Separator,
    /// A field reference with its fallback chain (lower-cased names).
    Field {
        chain: Box<[Box<str>]>,
        path: bool,
    },
    /// An optional section.
    Section(Box<[Node]>),
    /// A helper applied to the rendering of its text argument.
    Helper {
        helper: Helper,
        arg: Box<[Node]>,
    },
}

/// A parsed path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    nodes: Box<[Node]>,
    /// Every referenced field name, once, in order of first appearance.
    names: Box<[Box<str>]>,
    /// Components a render usually yields (capacity hint).
    components: usize,
}

/// Literal separators in `nodes`, sections and helpers included.
fn separators(nodes: &[Node]) -> usize {
    nodes
        .iter()
        .map(|n| match n {
            Node::Separator => 1,
            Node::Section(inner) | Node::Helper { arg: inner, .. } => separators(inner),
            Node::Literal(_) | Node::Field { .. } => 0,
        })
        .sum()
}

impl Template {
    /// Parse a template string.
    pub fn parse(src: &str) -> Result<Template, TemplateError> {
        let (nodes, names) = parse::parse(src)?;
        Ok(Template {
            source: src.to_owned(),
            components: 1 + separators(&nodes),
            nodes,
            names,
        })
    }

    /// The text the template was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Every field name the template can reference (lower-case), each once,
    /// in order of first appearance.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(|n| &**n)
    }
}

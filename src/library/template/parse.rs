//! The template parser: a recursive descent over characters whose depth is
//! bounded by [`MAX_SECTION_DEPTH`] + [`MAX_HELPER_DEPTH`], so no input can
//! exhaust the stack. Columns in errors are 1-based character positions.

use super::{Helper, MAX_HELPER_DEPTH, MAX_PAD_WIDTH, MAX_SECTION_DEPTH, Node, TemplateError};

/// Characters `$` can escape (the result is the character itself).
const ESCAPABLE: &[char] = &['$', '[', ']', '%', ',', '}'];

/// Helper names, as written after `%`.
const HELPERS: &[&str] = &["pad", "first", "lower", "upper"];

/// Where a sequence is being parsed, which decides what ends it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Top,
    /// Inside `[...]`: `]` ends the sequence.
    Section,
    /// Directly inside a helper's braces: `,` and `}` end the sequence.
    HelperArg,
}

/// What ended a sequence.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stop {
    End,
    CloseBracket,
    Comma,
    CloseBrace,
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    names: Vec<Box<str>>,
}

fn err(pos: usize, message: impl Into<String>) -> TemplateError {
    TemplateError {
        column: pos + 1,
        message: message.into(),
    }
}

/// Characters of a bare `$name`.
fn is_bare_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Characters refused inside `${...}` names (besides control characters):
/// they almost always mean a typo such as a missing `}`.
fn is_refused_in_braces(c: char) -> bool {
    c.is_control() || matches!(c, '{' | '$' | '[' | ']' | '%')
}

pub(super) type Parsed = (Box<[Node]>, Box<[Box<str>]>);

pub(super) fn parse(src: &str) -> Result<Parsed, TemplateError> {
    let mut p = Parser {
        chars: src.chars().collect(),
        pos: 0,
        names: Vec::new(),
    };
    let (nodes, stop) = p.seq(Ctx::Top, 0, 0)?;
    debug_assert!(stop == Stop::End);
    if !nodes.iter().any(|n| !matches!(n, Node::Separator)) {
        return Err(err(0, "template is empty: it must name at least the file"));
    }
    if matches!(nodes.last(), Some(Node::Separator)) {
        return Err(err(
            p.chars.len().saturating_sub(1),
            "template must not end with '/': the last component names the file",
        ));
    }
    Ok((nodes.into(), p.names.into()))
}

impl Parser {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn text(&self, from: usize, to: usize) -> String {
        self.chars.get(from..to).unwrap_or(&[]).iter().collect()
    }

    fn note_name(&mut self, name: &str) {
        if !self.names.iter().any(|n| &**n == name) {
            self.names.push(name.into());
        }
    }

    /// Parse nodes until the end of input or a character that ends `ctx`.
    /// `sections` and `helpers` are the current nesting depths.
    fn seq(
        &mut self,
        ctx: Ctx,
        sections: usize,
        helpers: usize,
    ) -> Result<(Vec<Node>, Stop), TemplateError> {
        let mut nodes = Vec::new();
        let mut lit = String::new();
        let flush = |lit: &mut String, nodes: &mut Vec<Node>| {
            if !lit.is_empty() {
                nodes.push(Node::Literal(std::mem::take(lit).into()));
            }
        };
        let stop = loop {
            let Some(c) = self.peek(0) else {
                break Stop::End;
            };
            match c {
                '/' => {
                    flush(&mut lit, &mut nodes);
                    nodes.push(Node::Separator);
                    self.pos += 1;
                }
                '$' => match self.peek(1) {
                    Some(e) if ESCAPABLE.contains(&e) => {
                        lit.push(e);
                        self.pos += 2;
                    }
                    _ => {
                        let node = self.field()?;
                        flush(&mut lit, &mut nodes);
                        nodes.push(node);
                    }
                },
                '[' => {
                    let open = self.pos;
                    if sections >= MAX_SECTION_DEPTH {
                        return Err(err(
                            open,
                            format!(
                                "optional sections nested deeper than {MAX_SECTION_DEPTH} levels"
                            ),
                        ));
                    }
                    self.pos += 1;
                    let (inner, stop) = self.seq(Ctx::Section, sections + 1, helpers)?;
                    if stop != Stop::CloseBracket {
                        return Err(err(
                            open,
                            format!("unclosed '[' opened at column {}: expected ']'", open + 1),
                        ));
                    }
                    self.pos += 1;
                    if !contains_field(&inner) {
                        return Err(err(
                            open,
                            format!(
                                "optional section opened at column {} contains no field, so it \
                                 would never be shown; write $[ and $] for literal brackets",
                                open + 1
                            ),
                        ));
                    }
                    flush(&mut lit, &mut nodes);
                    nodes.push(Node::Section(inner.into()));
                }
                ']' if ctx == Ctx::Section => break Stop::CloseBracket,
                ']' => {
                    return Err(err(
                        self.pos,
                        "']' without a matching '['; write $] for a literal ']'",
                    ));
                }
                ',' if ctx == Ctx::HelperArg => break Stop::Comma,
                '}' if ctx == Ctx::HelperArg => break Stop::CloseBrace,
                '%' if self.peek(1) == Some('%') => {
                    lit.push('%');
                    self.pos += 2;
                }
                '%' => match self.helper(sections, helpers)? {
                    Some(node) => {
                        flush(&mut lit, &mut nodes);
                        nodes.push(node);
                    }
                    None => {
                        lit.push('%');
                        self.pos += 1;
                    }
                },
                _ => {
                    lit.push(c);
                    self.pos += 1;
                }
            }
        };
        flush(&mut lit, &mut nodes);
        Ok((nodes, stop))
    }

    /// Parse a field reference at `$` (escapes are handled by the caller).
    fn field(&mut self) -> Result<Node, TemplateError> {
        let dollar = self.pos;
        let mut at = dollar + 1;
        let path = self.chars.get(at) == Some(&'!');
        if path {
            at += 1;
        }
        let what = if path { "$!" } else { "$" };
        match self.chars.get(at).copied() {
            Some('{') => {
                self.pos = at;
                let chain = self.braced(dollar, what)?;
                Ok(Node::Field { chain, path })
            }
            Some(c) if is_bare_char(c) => {
                let start = at;
                let mut end = start;
                while self.chars.get(end).is_some_and(|&c| is_bare_char(c)) {
                    end += 1;
                }
                let name = self.text(start, end).to_ascii_lowercase();
                self.note_name(&name);
                self.pos = end;
                Ok(Node::Field {
                    chain: Box::new([name.into()]),
                    path,
                })
            }
            Some(c) => Err(err(
                at,
                format!(
                    "'{what}' must be followed by a field name or '{{'{}, found {c:?}",
                    if path {
                        ""
                    } else {
                        "; write $$ for a literal '$'"
                    }
                ),
            )),
            None => Err(err(
                dollar,
                format!("'{what}' at the end of the template; write $$ for a literal '$'"),
            )),
        }
    }

    /// Parse `{a|b|c}` at `{`; `dollar` is where the reference began.
    fn braced(&mut self, dollar: usize, what: &str) -> Result<Box<[Box<str>]>, TemplateError> {
        let open = self.pos;
        let Some(close) = self.chars[open..]
            .iter()
            .position(|&c| c == '}')
            .map(|p| p + open)
        else {
            return Err(err(
                dollar,
                format!(
                    "unclosed '{what}{{' opened at column {}: expected '}}'",
                    dollar + 1
                ),
            ));
        };
        let mut chain = Vec::new();
        let mut start = open + 1;
        while start <= close {
            let end = self.chars[start..close]
                .iter()
                .position(|&c| c == '|')
                .map_or(close, |p| p + start);
            let raw = &self.chars[start..end];
            let lead = raw.iter().take_while(|c| c.is_whitespace()).count();
            let trail = raw[lead..]
                .iter()
                .rev()
                .take_while(|c| c.is_whitespace())
                .count();
            let name = &raw[lead..raw.len() - trail];
            if name.is_empty() {
                return Err(err(start, format!("empty field name in '{what}{{...}}'")));
            }
            if let Some(i) = name.iter().position(|&c| is_refused_in_braces(c)) {
                return Err(err(
                    start + lead + i,
                    format!(
                        "invalid character {:?} in field name (did you forget a '}}'?)",
                        name[i]
                    ),
                ));
            }
            let name: String = name.iter().collect::<String>().to_ascii_lowercase();
            self.note_name(&name);
            chain.push(name.into_boxed_str());
            start = end + 1;
        }
        self.pos = close + 1;
        Ok(chain.into())
    }

    /// At `%` (not `%%`): parse a helper if `%word{` follows. Returns `None`
    /// when the `%` is literal text.
    fn helper(&mut self, sections: usize, helpers: usize) -> Result<Option<Node>, TemplateError> {
        let pct = self.pos;
        let start = pct + 1;
        if !self
            .chars
            .get(start)
            .is_some_and(|c| c.is_ascii_alphabetic())
        {
            return Ok(None);
        }
        let mut end = start;
        while self.chars.get(end).is_some_and(|&c| is_bare_char(c)) {
            end += 1;
        }
        if self.chars.get(end) != Some(&'{') {
            return Ok(None);
        }
        let word = self.text(start, end);
        let name = word.to_ascii_lowercase();
        if !HELPERS.contains(&name.as_str()) {
            return Err(err(
                pct,
                format!(
                    "unknown helper %{word} (known: %pad, %first, %lower, %upper); \
                     write %% for a literal '%'"
                ),
            ));
        }
        if helpers >= MAX_HELPER_DEPTH {
            return Err(err(
                pct,
                format!("helpers nested deeper than {MAX_HELPER_DEPTH} levels"),
            ));
        }
        self.pos = end + 1;
        let mut args = Vec::new();
        loop {
            let arg_start = self.pos;
            let (arg, stop) = self.seq(Ctx::HelperArg, sections, helpers + 1)?;
            args.push((arg_start, self.pos, arg));
            match stop {
                Stop::Comma => self.pos += 1,
                Stop::CloseBrace => {
                    self.pos += 1;
                    break;
                }
                Stop::End | Stop::CloseBracket => {
                    return Err(err(
                        pct,
                        format!(
                            "unclosed %{word}{{ opened at column {}: expected '}}'",
                            pct + 1
                        ),
                    ));
                }
            }
        }
        let count = args.len();
        let mut args = args.into_iter();
        let helper = match name.as_str() {
            "pad" => {
                if count > 2 {
                    return Err(err(
                        pct,
                        format!(
                            "%{word} takes a width and a text (%pad{{2,$tracknumber}}), \
                             found {count} arguments"
                        ),
                    ));
                }
                let width = if count == 2 {
                    let (at, to, w) = args.next().unwrap_or_default();
                    pad_width(&w).ok_or_else(|| {
                        err(
                            at,
                            format!(
                                "%{word} width must be a whole number from 1 to {MAX_PAD_WIDTH}, \
                                 found {:?}",
                                self.text(at, to)
                            ),
                        )
                    })?
                } else {
                    2
                };
                Helper::Pad(width)
            }
            other => {
                if count != 1 {
                    return Err(err(
                        pct,
                        format!("%{word} takes one argument, found {count}"),
                    ));
                }
                match other {
                    "first" => Helper::First,
                    "lower" => Helper::Lower,
                    _ => Helper::Upper,
                }
            }
        };
        let (_, _, arg) = args.next().unwrap_or_default();
        Ok(Some(Node::Helper {
            helper,
            arg: arg.into(),
        }))
    }
}

/// The width of `%pad`: a literal whole number in 1..=MAX_PAD_WIDTH.
fn pad_width(arg: &[Node]) -> Option<usize> {
    let text = match arg {
        [Node::Literal(s)] => s.trim(),
        _ => return None,
    };
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let w: usize = text.parse().ok()?;
    (1..=MAX_PAD_WIDTH).contains(&w).then_some(w)
}

fn contains_field(nodes: &[Node]) -> bool {
    nodes.iter().any(|n| match n {
        Node::Field { .. } => true,
        Node::Section(inner) | Node::Helper { arg: inner, .. } => contains_field(inner),
        Node::Literal(_) | Node::Separator => false,
    })
}

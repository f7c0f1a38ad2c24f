//! Path templates: `$field`, `${field}`, `${a|b|c}` fallback chains.
//!
//! A template renders to a list of path components; `/` in the literal text
//! separates directories, while `/` inside a tag value is replaced (a tag
//! value never creates directories).

use std::fmt;

/// A parse error with the 1-based column where it was found.
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

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    /// Directory separator from the literal text.
    Separator,
    /// A field reference with its fallback chain (lower-cased names).
    Field(Vec<String>),
}

/// A parsed path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

/// The default template.
pub const DEFAULT_TEMPLATE: &str = "$albumartist/$album/$tracknumber - $title";

fn is_field_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == ':'
}

impl Template {
    /// Parse a template string.
    pub fn parse(src: &str) -> Result<Template, TemplateError> {
        let chars: Vec<char> = src.chars().collect();
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut i = 0;
        let err = |i: usize, m: &str| TemplateError {
            column: i + 1,
            message: m.to_owned(),
        };
        while i < chars.len() {
            let c = chars[i];
            match c {
                '/' => {
                    if !lit.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut lit)));
                    }
                    parts.push(Part::Separator);
                    i += 1;
                }
                '$' if chars.get(i + 1) == Some(&'$') => {
                    lit.push('$');
                    i += 2;
                }
                '$' if chars.get(i + 1) == Some(&'{') => {
                    let start = i;
                    let close = chars[i + 2..]
                        .iter()
                        .position(|&c| c == '}')
                        .map(|p| p + i + 2)
                        .ok_or_else(|| err(start, "unclosed '${': expected '}'"))?;
                    let inner: String = chars[i + 2..close].iter().collect();
                    let mut chain = Vec::new();
                    let mut col = i + 2;
                    for name in inner.split('|') {
                        let name = name.trim();
                        if name.is_empty() {
                            return Err(err(col, "empty field name in '${...}'"));
                        }
                        if let Some(bad) = name.chars().find(|&c| !is_field_char(c)) {
                            return Err(err(
                                col,
                                &format!("invalid character {bad:?} in field name"),
                            ));
                        }
                        chain.push(name.to_ascii_lowercase());
                        col += name.chars().count() + 1;
                    }
                    if !lit.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut lit)));
                    }
                    parts.push(Part::Field(chain));
                    i = close + 1;
                }
                '$' => {
                    let start = i + 1;
                    let mut end = start;
                    while end < chars.len() && is_field_char(chars[end]) && chars[end] != '-' {
                        end += 1;
                    }
                    if end == start {
                        return Err(err(i, "'$' must be followed by a field name, '{' or '$'"));
                    }
                    if !lit.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut lit)));
                    }
                    let name: String = chars[start..end].iter().collect();
                    parts.push(Part::Field(vec![name.to_ascii_lowercase()]));
                    i = end;
                }
                _ => {
                    lit.push(c);
                    i += 1;
                }
            }
        }
        if !lit.is_empty() {
            parts.push(Part::Literal(lit));
        }
        if parts.is_empty() || parts.iter().all(|p| matches!(p, Part::Separator)) {
            return Err(err(0, "template is empty"));
        }
        if matches!(parts.last(), Some(Part::Separator)) {
            return Err(err(
                src.chars().count().saturating_sub(1),
                "template must not end with '/': the last component names the file",
            ));
        }
        Ok(Template {
            source: src.to_owned(),
            parts,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Every field name the template can reference.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().flat_map(|p| match p {
            Part::Field(chain) => chain.iter().map(String::as_str).collect::<Vec<_>>(),
            _ => Vec::new(),
        })
    }

    /// Render with `lookup` giving the first value of a (lower-case) field.
    /// Missing fields take `default`. Returns raw components (not yet sanitised;
    /// values have `/` replaced).
    pub fn render<'a>(
        &self,
        lookup: impl Fn(&str) -> Option<&'a str>,
        default: &str,
    ) -> Vec<String> {
        let mut comps = vec![String::new()];
        for p in &self.parts {
            match p {
                Part::Literal(s) => comps.last_mut().expect("non-empty").push_str(s),
                Part::Separator => comps.push(String::new()),
                Part::Field(chain) => {
                    let v = chain
                        .iter()
                        .find_map(|k| lookup(k).filter(|v| !v.trim().is_empty()))
                        .unwrap_or(default);
                    let cur = comps.last_mut().expect("non-empty");
                    cur.extend(v.chars().map(|c| if c == '/' { '_' } else { c }));
                }
            }
        }
        comps
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn render(t: &str, tags: &[(&str, &str)]) -> Vec<String> {
        let m: HashMap<&str, &str> = tags.iter().copied().collect();
        Template::parse(t)
            .unwrap()
            .render(|k| m.get(k).copied(), "Unknown")
    }

    #[test]
    fn default_template() {
        let r = render(
            DEFAULT_TEMPLATE,
            &[
                ("albumartist", "AA"),
                ("album", "Al"),
                ("tracknumber", "3"),
                ("title", "T/x"),
            ],
        );
        assert_eq!(r, vec!["AA", "Al", "3 - T_x"]);
    }

    #[test]
    fn fallbacks_and_default() {
        assert_eq!(
            render("${albumartist|artist}/${x}", &[("artist", "A")]),
            vec!["A", "Unknown"]
        );
        assert_eq!(render("$ARTIST - $$", &[("artist", "A")]), vec!["A - $"]);
    }

    #[test]
    fn errors_point_at_column() {
        let e = Template::parse("ab/${x").unwrap_err();
        assert_eq!(e.column, 4);
        let e = Template::parse("a$ b").unwrap_err();
        assert_eq!(e.column, 2);
        assert!(Template::parse("a/").is_err());
        assert!(Template::parse("").is_err());
        assert!(Template::parse("${a||b}").is_err());
    }
}

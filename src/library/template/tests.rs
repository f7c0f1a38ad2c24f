use super::*;
use proptest::prelude::*;
use std::collections::HashMap;

fn tags<'a>(t: &[(&'a str, &'a str)]) -> HashMap<&'a str, &'a str> {
    t.iter().copied().collect()
}

fn render_with(t: &str, tv: &[(&str, &str)], opts: &RenderOptions) -> Option<Vec<String>> {
    let m = tags(tv);
    Template::parse(t)
        .unwrap_or_else(|e| panic!("{t:?}: {e}"))
        .render(|k| m.get(k).copied(), opts)
}

fn render(t: &str, tv: &[(&str, &str)]) -> Vec<String> {
    render_with(t, tv, &RenderOptions::default()).expect("not skipped")
}

fn perr(t: &str) -> TemplateError {
    match Template::parse(t) {
        Ok(_) => panic!("{t:?} parsed"),
        Err(e) => e,
    }
}

/// Assert a parse error's column and that its message contains `needle`.
fn assert_err(t: &str, column: usize, needle: &str) {
    let e = perr(t);
    assert_eq!(e.column, column, "{t:?}: {e}");
    assert!(e.message.contains(needle), "{t:?}: {e}");
}

const FULL: &[(&str, &str)] = &[
    ("albumartist", "AA"),
    ("album", "Al"),
    ("tracknumber", "3"),
    ("title", "T/x"),
];

// ---- fields ---------------------------------------------------------------

#[test]
fn default_template() {
    assert_eq!(render(DEFAULT_TEMPLATE, FULL), ["AA", "Al", "3 - T_x"]);
}

#[test]
fn bare_and_braced_fields_are_case_insensitive() {
    let t = &[("artist", "A"), ("title", "T")];
    assert_eq!(render("$ARTIST-${Title}", t), ["A-T"]);
    assert_eq!(render("${ artist }x", t), ["Ax"]);
    // A bare name stops at the first character that is not [A-Za-z0-9_].
    assert_eq!(render("$artist.$title", t), ["A.T"]);
    assert_eq!(render("${artist}s", t), ["As"]);
}

#[test]
fn braced_names_may_hold_other_characters() {
    assert_eq!(
        render(
            "${musicbrainz album id}-${my:key}",
            &[("musicbrainz album id", "m"), ("my:key", "k")]
        ),
        ["m-k"]
    );
}

#[test]
fn fallback_chains_and_default() {
    assert_eq!(
        render("${albumartist|artist}/${x}", &[("artist", "A")]),
        ["A", "Unknown"]
    );
    // Blank values count as missing.
    assert_eq!(
        render(
            "${albumartist|artist}",
            &[("albumartist", "  "), ("artist", "A")]
        ),
        ["A"]
    );
    assert_eq!(
        render_with("$x", &[], &RenderOptions::new("?")).unwrap(),
        ["?"]
    );
}

#[test]
fn values_slashes_become_underscores() {
    assert_eq!(render("$a", &[("a", "AC/DC")]), ["AC_DC"]);
    // Also the default and per-field fallbacks.
    let o = RenderOptions::new("x/y").with_fallback("b", "p/q");
    assert_eq!(render_with("$a/$b", &[], &o).unwrap(), ["x_y", "p_q"]);
}

#[test]
fn per_field_fallbacks() {
    let o = RenderOptions::default().with_fallback("Date", "0000");
    // Tags of the whole chain win over fallbacks.
    assert_eq!(
        render_with("${date|year}", &[("year", "1999")], &o).unwrap(),
        ["1999"]
    );
    assert_eq!(render_with("${date|year}", &[], &o).unwrap(), ["0000"]);
    // The first fallback of the chain, in chain order.
    let o2 = o.clone().with_fallback("year", "1111");
    assert_eq!(render_with("${year|date}", &[], &o2).unwrap(), ["1111"]);
    // An empty fallback is a value: the field renders as nothing.
    let o3 = RenderOptions::default().with_fallback("x", "");
    assert_eq!(render_with("a$x", &[], &o3).unwrap(), ["a"]);
}

#[test]
fn skip_on_missing() {
    let o = RenderOptions {
        skip_on_missing: true,
        ..RenderOptions::default()
    };
    assert_eq!(
        render_with(DEFAULT_TEMPLATE, FULL, &o),
        Some(render(DEFAULT_TEMPLATE, FULL))
    );
    assert_eq!(render_with("$album/$title", &[("album", "x")], &o), None);
    // A fallback rescues the track; so does a later name of the chain.
    let o2 = o.clone().with_fallback("title", "t");
    assert_eq!(
        render_with("$album/$title", &[("album", "x")], &o2).unwrap(),
        ["x", "t"]
    );
    assert!(render_with("${title|album}", &[("album", "x")], &o).is_some());
    // Fields inside optional sections never cause a skip.
    assert_eq!(
        render_with("[$date - ]$album", &[("album", "x")], &o).unwrap(),
        ["x"]
    );
    // Fields inside top-level helpers do.
    assert_eq!(render_with("%upper{$title}", &[], &o), None);
}

#[test]
fn fields_lists_each_name_once() {
    let t = Template::parse("${A|b}/[$a %pad{2,$c}]$!{d|B}").unwrap();
    assert_eq!(t.fields().collect::<Vec<_>>(), ["a", "b", "c", "d"]);
    assert_eq!(t.source(), "${A|b}/[$a %pad{2,$c}]$!{d|B}");
}

#[test]
fn parse_fallback_specs() {
    assert_eq!(
        parse_fallback("Genre=Misc=x").unwrap(),
        ("genre".to_string(), "Misc=x".to_string())
    );
    assert_eq!(
        parse_fallback("date=").unwrap(),
        ("date".into(), String::new())
    );
    assert!(parse_fallback("date").is_err());
    assert!(parse_fallback(" =x").is_err());
}

// ---- escapes ----------------------------------------------------------------

#[test]
fn escapes() {
    assert_eq!(
        render("$$ $[x$] 100$% %% a$,b$} {c}, d}", &[]),
        ["$ [x] 100% % a,b} {c}, d}"]
    );
    // A lone '%' not starting a helper is literal text.
    assert_eq!(
        render("50% off %d %{ %1{ %x", &[]),
        ["50% off %d %{ %1{ %x"]
    );
    // Escapes inside helpers and sections.
    assert_eq!(render("%upper{a$,b$}c}", &[]), ["A,B}C"]);
    assert_eq!(render("[$[$a$]]", &[("a", "x")]), ["[x]"]);
}

// ---- optional sections ------------------------------------------------------

#[test]
fn sections() {
    let t = "[$date - ]$album";
    assert_eq!(render(t, &[("date", "1999"), ("album", "A")]), ["1999 - A"]);
    assert_eq!(render(t, &[("album", "A")]), ["A"]);
    assert_eq!(render(t, &[("date", " "), ("album", "A")]), ["A"]);
    // One resolving field of several is enough.
    assert_eq!(render("[$a$b!]", &[("b", "B")]), ["B!"]);
    // Fields inside sections do not use the default.
    assert_eq!(render("x[$a|$b]", &[("b", "B")]), ["x|B"]);
}

#[test]
fn sections_nest_and_may_hold_separators() {
    let t = "$a/[$b/[($c) ]]$d";
    let all = &[("a", "A"), ("b", "B"), ("c", "C"), ("d", "D")];
    assert_eq!(render(t, all), ["A", "B", "(C) D"]);
    assert_eq!(
        render(t, &[("a", "A"), ("b", "B"), ("d", "D")]),
        ["A", "B", "D"]
    );
    // The outer section shows for $c, $b is empty: the empty directory
    // component is dropped later by the tree.
    assert_eq!(
        render(t, &[("a", "A"), ("c", "C"), ("d", "D")]),
        ["A", "", "(C) D"]
    );
    assert_eq!(render(t, &[("a", "A"), ("d", "D")]), ["A", "D"]);
    // Deepest allowed nesting.
    let deep = format!("{}$x{}", "[".repeat(8), "]".repeat(8));
    assert_eq!(render(&deep, &[("x", "X")]), ["X"]);
    assert_eq!(render(&format!("a{deep}"), &[]), ["a"]);
}

#[test]
fn per_field_fallbacks_count_inside_sections() {
    let o = RenderOptions::default().with_fallback("discnumber", "1");
    assert_eq!(
        render_with("[$discnumber-]$title", &[("title", "T")], &o).unwrap(),
        ["1-T"]
    );
}

// ---- path fields ------------------------------------------------------------

#[test]
fn path_fields_make_directories() {
    assert_eq!(
        render(
            "$!{relpath}",
            &[("relpath", "Rock/AC/DC - Back in Black/01")]
        ),
        ["Rock", "AC", "DC - Back in Black", "01"]
    );
    assert_eq!(render("x$!p.y", &[("p", "a/b")]), ["xa", "b.y"]);
    // Empty, blank, '.' and '..' segments are dropped.
    assert_eq!(render("$!{p}", &[("p", "/../a//./ /b/..")]), ["a", "b"]);
    // A value with no usable segment is missing: the chain goes on.
    assert_eq!(render("$!{p|q}", &[("p", "/./.."), ("q", "Q")]), ["Q"]);
    assert_eq!(render("$!{p}", &[("p", "..")]), ["Unknown"]);
    // Fallbacks and the default are split too.
    let o = RenderOptions::new("Un/known").with_fallback("q", "x/y");
    assert_eq!(
        render_with("$!q/$!p", &[], &o).unwrap(),
        ["x", "y", "Un", "known"]
    );
}

#[test]
fn path_fields_are_bounded() {
    let v: Vec<String> = (0..40).map(|i| i.to_string()).collect();
    let r = render("$!{p}", &[("p", &v.join("/"))]);
    assert_eq!(r.len(), MAX_PATH_SEGMENTS);
    assert_eq!(r[30], "30");
    assert_eq!(r[31], v[31..].join("_"));
}

#[test]
fn path_fields_in_sections() {
    let t = "[$!{series}/]$album";
    assert_eq!(
        render(t, &[("series", "S/T"), ("album", "A")]),
        ["S", "T", "A"]
    );
    assert_eq!(render(t, &[("album", "A")]), ["A"]);
}

// ---- helpers ----------------------------------------------------------------

#[test]
fn pad() {
    let p = |v: &str| render("%pad{2,$n}", &[("n", v)]).remove(0);
    assert_eq!(p("3"), "03");
    assert_eq!(p("3/12"), "03");
    assert_eq!(p(" 7 "), "07");
    assert_eq!(p("12"), "12");
    assert_eq!(p("123"), "123");
    assert_eq!(p("003"), "03");
    assert_eq!(p("0"), "00");
    assert_eq!(p("000"), "00");
    assert_eq!(p("A1"), "A1");
    assert_eq!(p("3a"), "3a");
    assert_eq!(p("-1"), "-1");
    assert_eq!(p("٣"), "٣");
    assert_eq!(render("%pad{$n}", &[("n", "5")]), ["05"]);
    assert_eq!(render("%PAD{ 4 ,$n}", &[("n", "5")]), ["0005"]);
    assert_eq!(render("x%pad{3,$n}y", &[("n", "5")]), ["x005y"]);
    assert_eq!(render("%pad{3,$a$b}", &[("a", "1"), ("b", "2")]), ["012"]);
    // Missing: the default is not a number.
    assert_eq!(render("%pad{2,$n}", &[]), ["Unknown"]);
    // Text holding a separator is not a number.
    assert_eq!(render("%pad{2,1/2}", &[]), ["1", "2"]);
    assert_eq!(render("%pad{64,1}", &[]), [format!("{:0>64}", 1)]);
}

#[test]
fn first() {
    let f = |v: &str| render("%first{$a}", &[("a", v)]).remove(0);
    assert_eq!(f("abba"), "A");
    assert_eq!(f("  the Beatles"), "T");
    assert_eq!(f("émile"), "É");
    assert_eq!(f("ßa"), "SS");
    assert_eq!(f("2Pac"), "0-9");
    assert_eq!(f("!!!"), "#");
    assert_eq!(f("Ωmega"), "Ω");
    assert_eq!(render("%first{$a}", &[]), ["U"]);
    assert_eq!(render("%first{[$a]}", &[]), ["#"]);
    // The argument's separators go with it.
    assert_eq!(render("%first{/x}/y", &[]), ["X", "y"]);
    assert_eq!(
        render(
            "%first{$albumartist}/$albumartist/[$date - ]$album/[$discnumber-]%pad{2,$tracknumber} $title",
            &[
                ("albumartist", "beatles"),
                ("album", "Abbey Road"),
                ("date", "1969"),
                ("tracknumber", "1/17"),
                ("title", "Come Together")
            ]
        ),
        ["B", "beatles", "1969 - Abbey Road", "01 Come Together"]
    );
}

#[test]
fn lower_upper() {
    assert_eq!(
        render("%lower{$a} %upper{$a}", &[("a", "ÀbC")]),
        ["àbc ÀBC"]
    );
    assert_eq!(render("%lower{ABC}", &[]), ["abc"]);
    assert_eq!(render("x%upper{a/b}y", &[]), ["xA", "By"]);
    assert_eq!(render("%upper{}", &[]), [""]);
    // Nested helpers, a fallback chain inside.
    assert_eq!(
        render(
            "%upper{%first{${x|a}}}%lower{%pad{3,$n}X}",
            &[("a", "q"), ("n", "9")]
        ),
        ["Q009x"]
    );
    // İ lower-cases to two characters.
    assert_eq!(render("%lower{İx}y", &[]), ["i\u{307}xy"]);
}

#[test]
fn helpers_in_sections_follow_their_fields() {
    let t = "[%pad{2,$discnumber}-]%pad{2,$tracknumber}";
    assert_eq!(
        render(t, &[("discnumber", "1"), ("tracknumber", "2")]),
        ["01-02"]
    );
    assert_eq!(render(t, &[("tracknumber", "2")]), ["02"]);
    let deep = format!("{}$x{}", "%lower{".repeat(8), "}".repeat(8));
    assert_eq!(render(&deep, &[("x", "X")]), ["x"]);
}

// ---- errors -------------------------------------------------------------------

#[test]
fn error_empty_and_trailing_separator() {
    assert_err("", 1, "empty");
    assert_err("//", 1, "empty");
    assert_err("a/", 2, "must not end with '/'");
    assert_err("$a/b/", 5, "must not end with '/'");
}

#[test]
fn error_dollar() {
    assert_err("a$", 2, "'$' at the end");
    assert_err("a$ b", 3, "'$' must be followed by a field name");
    assert_err("$-x", 2, "found '-'");
    assert_err("x$!", 2, "'$!' at the end");
    assert_err("$!-", 3, "'$!' must be followed");
}

#[test]
fn error_braces() {
    assert_err("ab/${x", 4, "unclosed '${' opened at column 4");
    assert_err("$!{x", 1, "unclosed '$!{'");
    assert_err("${}", 3, "empty field name");
    assert_err("${a||b}", 5, "empty field name");
    assert_err("${a| }", 5, "empty field name");
    assert_err("${ab$c}", 5, "invalid character '$'");
    assert_err("${a[b}", 4, "invalid character '['");
    assert_err("${a\tb}", 4, "invalid character");
}

#[test]
fn error_sections() {
    assert_err("abcd[$x", 5, "unclosed '[' opened at column 5");
    assert_err("[[$x]", 1, "unclosed '['");
    assert_err("$x]", 3, "']' without a matching '['");
    assert_err("a[b]$x", 2, "contains no field");
    assert_err("[]$x", 1, "contains no field");
    let deep = format!("{}$x{}", "[".repeat(9), "]".repeat(9));
    assert_err(&deep, 9, "nested deeper than 8");
    // ']' inside helper arguments still needs its '['.
    assert_err("%upper{]}", 8, "without a matching '['");
}

#[test]
fn error_helpers() {
    assert_err("ab%foo{x}", 3, "unknown helper %foo");
    assert_err("%Pad2{x}", 1, "unknown helper %Pad2");
    assert_err("x%upper{$a", 2, "unclosed %upper{ opened at column 2");
    assert_err("%upper{[$a}]", 1, "unclosed %upper{");
    assert_err("%pad{x,$a}", 6, "width must be a whole number");
    assert_err("%pad{0,$a}", 6, "width must be a whole number");
    assert_err("%pad{65,$a}", 6, "width must be a whole number");
    assert_err("%pad{$n,$a}", 6, "width must be a whole number");
    assert_err("%pad{2,$a,3}", 1, "found 3 arguments");
    assert_err("%first{a,b}", 1, "takes one argument, found 2");
    assert_err("%lower{a,b,c}", 1, "takes one argument, found 3");
    let deep = format!("{}x{}", "%upper{".repeat(9), "}".repeat(9));
    assert_err(&deep, 57, "nested deeper than 8");
}

#[test]
fn error_columns_count_characters() {
    assert_err("ééé${", 4, "unclosed");
    assert_err("ü[ü]", 2, "contains no field");
}

// ---- properties -----------------------------------------------------------------

/// A piece of a template made only of literals, separators, escapes and
/// fields (no sections, no helpers).
#[derive(Debug, Clone)]
enum Piece {
    Lit(String),
    Sep,
    Esc(&'static str, char),
    Field(Vec<String>),
}

const NAMES: &[&str] = &["artist", "album", "title", "date", "x_1"];

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        "[^$\\[\\]%/]{1,6}".prop_map(Piece::Lit),
        Just(Piece::Sep),
        prop::sample::select(vec![
            ("$$", '$'),
            ("$[", '['),
            ("$]", ']'),
            ("$%", '%'),
            ("%%", '%'),
            ("$,", ','),
            ("$}", '}'),
        ])
        .prop_map(|(s, c)| Piece::Esc(s, c)),
        (prop::collection::vec((prop::sample::select(NAMES), any::<bool>()), 1..4)).prop_map(|v| {
            Piece::Field(
                v.into_iter()
                    .map(|(n, up)| {
                        if up {
                            n.to_ascii_uppercase()
                        } else {
                            n.to_string()
                        }
                    })
                    .collect(),
            )
        }),
    ]
}

fn source_of(pieces: &[Piece]) -> String {
    let mut s = String::new();
    for p in pieces {
        match p {
            Piece::Lit(l) => s.push_str(l),
            Piece::Sep => s.push('/'),
            Piece::Esc(e, _) => s.push_str(e),
            Piece::Field(chain) => {
                s.push_str("${");
                s.push_str(&chain.join("|"));
                s.push('}');
            }
        }
    }
    s
}

/// The obvious substitution the renderer must agree with.
fn reference(
    pieces: &[Piece],
    tags: &HashMap<String, String>,
    opts: &RenderOptions,
) -> Option<Vec<String>> {
    let mut out = vec![String::new()];
    for p in pieces {
        let last = out.len() - 1;
        match p {
            Piece::Lit(l) => out[last].push_str(l),
            Piece::Esc(_, c) => out[last].push(*c),
            Piece::Sep => out.push(String::new()),
            Piece::Field(chain) => {
                let chain: Vec<String> = chain.iter().map(|n| n.to_lowercase()).collect();
                let v = chain
                    .iter()
                    .find_map(|n| tags.get(n).filter(|v| !v.trim().is_empty()))
                    .or_else(|| chain.iter().find_map(|n| opts.fallbacks.get(n)));
                let v = match v {
                    Some(v) => v.clone(),
                    None if opts.skip_on_missing => return None,
                    None => opts.default.clone(),
                };
                out[last].push_str(&v.replace('/', "_"));
            }
        }
    }
    Some(out)
}

fn tag_map() -> impl Strategy<Value = HashMap<String, String>> {
    prop::collection::hash_map(
        prop::sample::select(NAMES).prop_map(str::to_string),
        prop_oneof!["\\PC{0,8}", "[ /a.]{0,4}", ".{0,4}"],
        0..5,
    )
}

fn render_options() -> impl Strategy<Value = RenderOptions> {
    (
        prop::collection::hash_map(
            prop::sample::select(NAMES).prop_map(str::to_string),
            ".{0,4}",
            0..3,
        ),
        ".{0,5}",
        any::<bool>(),
    )
        .prop_map(|(fallbacks, default, skip_on_missing)| RenderOptions {
            fallbacks,
            default,
            skip_on_missing,
        })
}

/// Template text rich in the language's special characters.
fn template_text() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "a", "b", " ", "/", "[", "]", "$", "%", "{", "}", "|", "!", ",", ".", "é", "0", "2", "$a",
        "$b", "${a|b}", "$!p", "$!{p|a}", "%pad{", "%pad{2,", "%first{", "%lower{", "%upper{",
        "%%", "$$", "$[", "$]", "$%", "$,", "$}", "%foo{",
    ]);
    prop::collection::vec(atoms, 0..24).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics(s in "\\PC{0,40}|.{0,40}") {
        let _ = Template::parse(&s);
    }

    #[test]
    fn parse_errors_point_inside_the_text(s in template_text()) {
        if let Err(e) = Template::parse(&s) {
            prop_assert!(e.column >= 1);
            prop_assert!(e.column <= s.chars().count().max(1), "{s:?}: {e}");
        }
    }

    /// Arbitrary values never panic, never produce a component holding '/',
    /// and (without path fields) never change the shape of the output.
    #[test]
    fn values_never_make_directories(
        s in template_text(),
        vals in prop::collection::vec(".{0,12}", 3),
        opts in render_options(),
    ) {
        let Ok(t) = Template::parse(&s) else { return Ok(()) };
        // Every name has a value (bare names such as `$a0` are names too).
        let lookup = |k: &str| Some(vals[k.len() % vals.len()].as_str());
        if let Some(out) = t.render(lookup, &opts) {
            prop_assert!(!out.is_empty());
            prop_assert!(out.iter().all(|c| !c.contains('/')), "{s:?} -> {out:?}");
        }
        let has_path = t.nodes.iter().any(has_path_field);
        let present = vals.iter().all(|v| !v.trim().is_empty());
        if !has_path && present {
            let got = t.render(lookup, &opts).map(|o| o.len());
            let shape = t.render(|_| Some("x"), &opts).map(|o| o.len());
            prop_assert_eq!(got, shape, "{:?}", s);
        }
    }

    /// Without sections and helpers, rendering is plain substitution.
    #[test]
    fn plain_templates_are_substitution(
        pieces in prop::collection::vec(piece(), 0..10),
        tags in tag_map(),
        opts in render_options(),
    ) {
        let src = source_of(&pieces);
        let parsed = Template::parse(&src);
        let invalid = pieces.iter().all(|p| matches!(p, Piece::Sep))
            || matches!(pieces.last(), Some(Piece::Sep));
        prop_assert_eq!(parsed.is_err(), invalid, "{:?}", src);
        if let Ok(t) = parsed {
            let got = t.render(|k| tags.get(k).map(String::as_str), &opts);
            prop_assert_eq!(got, reference(&pieces, &tags, &opts), "{:?}", src);
        }
    }

    /// A path field yields its kept segments, bounded.
    #[test]
    fn path_field_segments(segs in prop::collection::vec("[a. ]{0,3}", 0..40)) {
        let v = segs.join("/");
        let got = render("$!{p}", &[("p", &v)]);
        let kept: Vec<&String> = segs
            .iter()
            .filter(|s| !(s.trim().is_empty() || *s == "." || *s == ".."))
            .collect();
        if kept.is_empty() {
            prop_assert_eq!(got, vec!["Unknown".to_string()]);
        } else {
            let n = kept.len().min(MAX_PATH_SEGMENTS);
            prop_assert_eq!(got.len(), n);
            for (i, c) in got.iter().enumerate() {
                if i + 1 < n {
                    prop_assert_eq!(c, kept[i]);
                } else {
                    let rest: Vec<&str> = kept[i..].iter().map(|s| s.as_str()).collect();
                    prop_assert_eq!(c, &rest.join("_"));
                }
            }
        }
    }
}

fn has_path_field(n: &Node) -> bool {
    match n {
        Node::Field { path, .. } => *path,
        Node::Section(inner) | Node::Helper { arg: inner, .. } => inner.iter().any(has_path_field),
        Node::Literal(_) | Node::Separator => false,
    }
}

/// The examples of docs/TEMPLATES.md.
#[test]
fn doc_examples() {
    let kob = &[
        ("albumartist", "Miles Davis"),
        ("album", "Kind of Blue"),
        ("date", "1959"),
        ("tracknumber", "1"),
        ("title", "So What"),
        ("genre", "Jazz"),
    ];
    assert_eq!(
        render(DEFAULT_TEMPLATE, kob),
        ["Miles Davis", "Kind of Blue", "1 - So What"]
    );
    let t = "%first{$albumartist}/$albumartist/[$date - ]$album/[$discnumber-]%pad{2,$tracknumber} $title";
    assert_eq!(
        render(t, kob),
        ["M", "Miles Davis", "1959 - Kind of Blue", "01 So What"]
    );
    assert_eq!(
        render(
            t,
            &[
                ("albumartist", "Miles Davis"),
                ("album", "Kind of Blue"),
                ("discnumber", "2"),
                ("tracknumber", "3"),
                ("title", "Blue in Green"),
            ]
        ),
        ["M", "Miles Davis", "Kind of Blue", "2-03 Blue in Green"]
    );
    assert_eq!(
        render(
            "${albumartist|artist}/[%pad{4,$date} - ]$album/%pad{$tracknumber}. $title",
            &[
                ("artist", "Nina Simone"),
                ("album", "Pastel Blues"),
                ("date", "1965"),
                ("tracknumber", "1"),
                ("title", "Be My Husband"),
            ]
        ),
        ["Nina Simone", "1965 - Pastel Blues", "01. Be My Husband"]
    );
    assert_eq!(
        render("%lower{$genre}/${albumartist|artist}/$album/$title", kob),
        ["jazz", "Miles Davis", "Kind of Blue", "So What"]
    );
    assert_eq!(
        render(
            "$!{musefs_path}",
            &[(
                "musefs_path",
                "Jazz/Miles Davis/1959 - Kind of Blue/01 So What"
            )]
        ),
        ["Jazz", "Miles Davis", "1959 - Kind of Blue", "01 So What"]
    );
    assert_eq!(
        render(
            "Audiobooks/$artist/$album[ ($date)]/[%pad{2,$discnumber}-]%pad{3,$tracknumber}",
            &[
                ("artist", "Someone"),
                ("album", "A Book"),
                ("date", "2001"),
                ("discnumber", "1"),
                ("tracknumber", "1"),
            ]
        ),
        ["Audiobooks", "Someone", "A Book (2001)", "01-001"]
    );
    assert_eq!(render("$$ $[live$] 100%%", &[]), ["$ [live] 100%"]);
    assert_eq!(
        perr("abcd[$date - $album").to_string(),
        "template error at column 5: unclosed '[' opened at column 5: expected ']'"
    );
    assert_eq!(
        perr("ab%foo{x}").to_string(),
        "template error at column 3: unknown helper %foo (known: %pad, %first, %lower, \
         %upper); write %% for a literal '%'"
    );
}

//! Checks of the Nix packaging that need no nixpkgs, only `nix-instantiate`
//! (Debian's nix-bin; scripts/install-test-deps installs it):
//!
//! - every .nix file of the repository parses;
//! - the pure-data files nixos-module/{hardening,scan-hardening,service}.nix
//!   evaluate to plain data and equal the directives of the plain units in
//!   systemd/, so the NixOS units and the plain ones cannot drift apart;
//! - the NixOS module takes those directives from the data files only;
//! - docs/NIXOS.md documents exactly the options the module declares, and every
//!   check of the NixOS VM test.
//!
//! Building the flake, the module's rendering and the VM test need a Nix machine
//! with nixpkgs (docs/NIXOS.md, "What is checked where").

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    let p = repo().join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

/// Run nix-instantiate with a private state directory (it wants to create
/// per-user profile directories there, which fails for non-root users on a
/// Debian nix-bin install) and a store that never builds anything.
fn nix_instantiate(args: &[&str]) -> String {
    let state = tempfile::tempdir().unwrap();
    let out = Command::new("nix-instantiate")
        .args(["--store", "dummy://"])
        .args(args)
        .current_dir(repo())
        .env("NIX_STATE_DIR", state.path().join("state"))
        .env("NIX_LOG_DIR", state.path().join("log"))
        .env_remove("NIX_REMOTE")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run nix-instantiate ({e}): it is required by this test; install \
                 Debian's nix-bin (scripts/install-test-deps does) or run on a Nix machine"
            )
        });
    assert!(
        out.status.success(),
        "nix-instantiate {args:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("nix-instantiate printed UTF-8")
}

// ------------------------------------------------------------------ JSON

/// The JSON nix-instantiate prints for plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Json {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<Json>),
    Obj(BTreeMap<String, Json>),
}

fn parse_json(text: &str) -> Json {
    let mut p = JsonParser {
        s: text.as_bytes(),
        i: 0,
    };
    let v = p.value();
    p.ws();
    assert_eq!(p.i, p.s.len(), "trailing bytes after JSON: {text}");
    v
}

struct JsonParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl JsonParser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(|b| b.is_ascii_whitespace()) {
            self.i += 1;
        }
    }
    fn next(&mut self) -> u8 {
        let b = *self
            .s
            .get(self.i)
            .unwrap_or_else(|| panic!("JSON ends early at byte {}", self.i));
        self.i += 1;
        b
    }
    fn expect(&mut self, lit: &str) {
        for &c in lit.as_bytes() {
            assert_eq!(self.next(), c, "bad JSON literal at byte {}", self.i);
        }
    }
    fn value(&mut self) -> Json {
        self.ws();
        match self.s.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut m = BTreeMap::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Json::Obj(m);
                }
                loop {
                    self.ws();
                    let Json::Str(k) = self.value() else {
                        panic!("JSON object key is not a string at byte {}", self.i)
                    };
                    self.ws();
                    self.expect(":");
                    let v = self.value();
                    m.insert(k, v);
                    self.ws();
                    match self.next() {
                        b',' => continue,
                        b'}' => return Json::Obj(m),
                        c => panic!("unexpected {:?} in JSON object", c as char),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut v = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Json::Arr(v);
                }
                loop {
                    v.push(self.value());
                    self.ws();
                    match self.next() {
                        b',' => continue,
                        b']' => return Json::Arr(v),
                        c => panic!("unexpected {:?} in JSON array", c as char),
                    }
                }
            }
            Some(b'"') => {
                self.i += 1;
                let mut out = Vec::new();
                loop {
                    match self.next() {
                        b'"' => return Json::Str(String::from_utf8(out).expect("UTF-8 string")),
                        b'\\' => match self.next() {
                            b'"' => out.push(b'"'),
                            b'\\' => out.push(b'\\'),
                            b'/' => out.push(b'/'),
                            b'b' => out.push(8),
                            b'f' => out.push(12),
                            b'n' => out.push(b'\n'),
                            b'r' => out.push(b'\r'),
                            b't' => out.push(b'\t'),
                            b'u' => {
                                let hex: String = (0..4).map(|_| self.next() as char).collect();
                                let cp = u32::from_str_radix(&hex, 16).expect("\\u escape");
                                let c = char::from_u32(cp).expect("no surrogates in our data");
                                out.extend_from_slice(c.to_string().as_bytes());
                            }
                            c => panic!("bad JSON escape \\{}", c as char),
                        },
                        b => out.push(b),
                    }
                }
            }
            Some(b't') => {
                self.expect("true");
                Json::Bool(true)
            }
            Some(b'f') => {
                self.expect("false");
                Json::Bool(false)
            }
            Some(b'n') => {
                self.expect("null");
                Json::Null
            }
            Some(b) if *b == b'-' || b.is_ascii_digit() => {
                let start = self.i;
                while self
                    .s
                    .get(self.i)
                    .is_some_and(|b| b"+-.eE0123456789".contains(b))
                {
                    self.i += 1;
                }
                Json::Num(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
            }
            other => panic!("unexpected JSON at byte {}: {other:?}", self.i),
        }
    }
}

#[test]
fn json_parser_reads_what_nix_prints() {
    let v = parse_json(r#"{"a":"x\"y\\z\u00e9","b":["1",[]],"c":{},"d":true,"e":null,"f":-1.5}"#);
    let Json::Obj(m) = v else { panic!() };
    assert_eq!(m["a"], Json::Str("x\"y\\z\u{e9}".into()));
    assert_eq!(
        m["b"],
        Json::Arr(vec![Json::Str("1".into()), Json::Arr(vec![])])
    );
    assert_eq!(m["c"], Json::Obj(BTreeMap::new()));
    assert_eq!(m["d"], Json::Bool(true));
    assert_eq!(m["e"], Json::Null);
    assert_eq!(m["f"], Json::Num("-1.5".into()));
}

// ------------------------------------------------------------------ unit files

/// A directive's value: one line, or several lines of the same key in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    One(String),
    Many(Vec<String>),
}

type Directives = BTreeMap<String, Value>;

/// One unit file, split into the hardening block and, per section, the
/// directives outside it.
#[derive(Debug, Default)]
struct Unit {
    hardening: Directives,
    sections: BTreeMap<String, Directives>,
}

fn push(d: &mut Directives, key: &str, value: &str) {
    let value = value.to_string();
    match d.get_mut(key) {
        None => {
            d.insert(key.to_string(), Value::One(value));
        }
        Some(Value::One(first)) => {
            let first = std::mem::take(first);
            d.insert(key.to_string(), Value::Many(vec![first, value]));
        }
        Some(Value::Many(v)) => v.push(value),
    }
}

fn parse_unit(rel: &str) -> Unit {
    let text = read(rel);
    let mut unit = Unit::default();
    let mut section = String::new();
    let mut in_block = false;
    let (mut begins, mut ends) = (0, 0);
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let at = format!("{rel}:{}", n + 1);
        if line.starts_with("# BEGIN HARDENING") {
            assert!(!in_block, "{at}: nested BEGIN HARDENING");
            assert_eq!(
                section, "Service",
                "{at}: the hardening block must be in [Service]"
            );
            in_block = true;
            begins += 1;
            continue;
        }
        if line.starts_with("# END HARDENING") {
            assert!(in_block, "{at}: END HARDENING without BEGIN");
            in_block = false;
            ends += 1;
            continue;
        }
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        assert!(
            !line.ends_with('\\'),
            "{at}: continuation lines are not supported here"
        );
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            assert!(!in_block, "{at}: section header inside the hardening block");
            section = name.to_string();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("{at}: not a `Key=value` line: {raw}"));
        let (key, value) = (key.trim(), value.trim());
        if in_block {
            push(&mut unit.hardening, key, value);
        } else {
            push(
                unit.sections.entry(section.clone()).or_default(),
                key,
                value,
            );
        }
    }
    assert!(!in_block, "{rel}: BEGIN HARDENING without END");
    if begins == 0 {
        assert_eq!(ends, 0);
    }
    unit
}

/// A pure-data .nix file: evaluates on its own to plain data, and its source
/// uses no function, import or package set.
fn eval_data(rel: &str) -> Json {
    let code: String = read(rel)
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    for word in ["import", "builtins", "pkgs", "lib.", "with "] {
        assert!(
            !code.contains(word),
            "{rel} must stay pure data (an attribute set of strings), but contains {word:?}"
        );
    }
    parse_json(&nix_instantiate(&["--eval", "--strict", "--json", rel]))
}

/// directive -> value from a Nix attribute set of strings / lists of strings.
fn directives(rel: &str, v: &Json) -> Directives {
    let Json::Obj(m) = v else {
        panic!("{rel}: expected an attribute set, got {v:?}")
    };
    m.iter()
        .map(|(k, v)| {
            let v = match v {
                Json::Str(s) => Value::One(s.clone()),
                Json::Arr(items) => Value::Many(
                    items
                        .iter()
                        .map(|i| match i {
                            Json::Str(s) => s.clone(),
                            other => {
                                panic!("{rel}: {k}: list items must be strings, got {other:?}")
                            }
                        })
                        .collect(),
                ),
                other => panic!(
                    "{rel}: {k}: values must be strings (\"yes\", not true) or lists of strings, \
                     got {other:?}"
                ),
            };
            (k.clone(), v)
        })
        .collect()
}

fn assert_same(what: &str, nix: &Directives, unit: &Directives) {
    let mut diffs = Vec::new();
    for k in nix.keys().chain(unit.keys()).collect::<BTreeSet<_>>() {
        if nix.get(k) != unit.get(k) {
            diffs.push(format!(
                "  {k}: Nix {:?}, unit {:?}",
                nix.get(k),
                unit.get(k)
            ));
        }
    }
    assert!(
        diffs.is_empty(),
        "{what} differ (a directive on n lines of the unit is a list of n strings in Nix):\n{}",
        diffs.join("\n")
    );
}

// ------------------------------------------------------------------ tests

const NIX_FILES: &[&str] = &[
    "flake.nix",
    "nixos-module/default.nix",
    "nixos-module/hardening.nix",
    "nixos-module/scan-hardening.nix",
    "nixos-module/service.nix",
    "vm-tests/nixos.nix",
];

fn find_nix_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        let ty = e.file_type().unwrap();
        if ty.is_dir() {
            if name != "target" && !name.starts_with('.') {
                find_nix_files(&e.path(), out);
            }
        } else if name.ends_with(".nix") {
            out.push(e.path());
        }
    }
}

#[test]
fn every_nix_file_parses() {
    let mut files = Vec::new();
    find_nix_files(&repo(), &mut files);
    let rel: BTreeSet<String> = files
        .iter()
        .map(|p| {
            p.strip_prefix(repo())
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    for f in NIX_FILES {
        assert!(rel.contains(*f), "{f} is missing");
    }
    for f in &rel {
        let out = nix_instantiate(&["--parse", f]);
        assert!(!out.trim().is_empty(), "{f}: empty parse");
    }
}

#[test]
fn mount_hardening_equals_the_plain_unit() {
    let unit = parse_unit("systemd/musefs@.service");
    assert!(
        !unit.hardening.is_empty(),
        "no hardening block in musefs@.service"
    );
    let nix = directives(
        "nixos-module/hardening.nix",
        &eval_data("nixos-module/hardening.nix"),
    );
    assert_same(
        "nixos-module/hardening.nix and the hardening block of systemd/musefs@.service",
        &nix,
        &unit.hardening,
    );
}

#[test]
fn scan_hardening_equals_the_plain_unit() {
    let unit = parse_unit("systemd/musefs-scan@.service");
    assert!(
        !unit.hardening.is_empty(),
        "no hardening block in musefs-scan@.service"
    );
    let nix = directives(
        "nixos-module/scan-hardening.nix",
        &eval_data("nixos-module/scan-hardening.nix"),
    );
    assert_same(
        "nixos-module/scan-hardening.nix and the hardening block of systemd/musefs-scan@.service",
        &nix,
        &unit.hardening,
    );
    // The scanner holds no capability at all.
    for k in ["CapabilityBoundingSet", "AmbientCapabilities"] {
        assert_eq!(nix.get(k), Some(&Value::One(String::new())), "{k}");
    }
}

/// The other directives: each one the module takes from service.nix equals the
/// plain unit's, and the plain unit has no directive the module lacks (apart from
/// those carrying paths, which the module computes).
#[test]
fn service_directives_equal_the_plain_units() {
    let Json::Obj(all) = eval_data("nixos-module/service.nix") else {
        panic!("service.nix: expected an attribute set")
    };
    for (part, file, section, computed) in [
        (
            "mount",
            "systemd/musefs@.service",
            "Service",
            &[
                "Environment",
                "ExecStartPre",
                "ExecStart",
                "ExecReload",
                "ExecStopPost",
            ][..],
        ),
        (
            "scan",
            "systemd/musefs-scan@.service",
            "Service",
            &["Environment", "ExecStart"][..],
        ),
        (
            "timer",
            "systemd/musefs-scan@.timer",
            "Timer",
            &["Unit"][..],
        ),
    ] {
        let nix = directives(
            &format!("service.nix {part}"),
            all.get(part)
                .unwrap_or_else(|| panic!("service.nix has no `{part}`")),
        );
        let unit = parse_unit(file);
        let mut plain = unit.sections.get(section).cloned().unwrap_or_default();
        for k in computed {
            assert!(plain.remove(*k).is_some(), "{file}: no {k}= in [{section}]");
        }
        assert_same(
            &format!("service.nix `{part}` and [{section}] of {file}"),
            &nix,
            &plain,
        );
    }
}

/// Whether Nix code assigns attribute `key` (`key =`, not `fooKey =`).
fn sets_attr(code: &str, key: &str) -> bool {
    code.match_indices(key).any(|(i, _)| {
        let before = code[..i].chars().next_back();
        let after = code[i + key.len()..].trim_start();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.')
            && after.starts_with('=')
            && !after.starts_with("==")
    })
}

#[test]
fn sets_attr_needs_the_whole_name() {
    assert!(sets_attr("{ Type = \"notify\"; }", "Type"));
    assert!(sets_attr("x // {\n  UMask=\"0077\";", "UMask"));
    assert!(!sets_attr("freeformType = t;", "Type"));
    assert!(!sets_attr("a.Type = 1;", "Type"));
    assert!(!sets_attr("if Type == 1", "Type"));
    assert!(!sets_attr("Types = 1;", "Type"));
}

/// The module takes every sandbox and service directive from the data files: it
/// imports them and spells none of those directives itself.
#[test]
fn module_reads_directives_only_from_the_data_files() {
    let module = read("nixos-module/default.nix");
    for f in ["./hardening.nix", "./scan-hardening.nix", "./service.nix"] {
        assert!(
            module.contains(&format!("import {f}")),
            "nixos-module/default.nix does not import {f}"
        );
    }
    let mut keys = BTreeSet::new();
    for f in [
        "nixos-module/hardening.nix",
        "nixos-module/scan-hardening.nix",
    ] {
        keys.extend(directives(f, &eval_data(f)).into_keys());
    }
    let Json::Obj(all) = eval_data("nixos-module/service.nix") else {
        panic!()
    };
    for part in all.values() {
        keys.extend(directives("service.nix", part).into_keys());
    }
    // The timer's schedule is an option whose default comes from service.nix.
    keys.remove("OnCalendar");
    assert!(module.contains("OnCalendar = cfg.scan.schedule"));
    let code: String = module
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    for k in &keys {
        assert!(
            !sets_attr(&code, k),
            "nixos-module/default.nix sets {k} itself; take it from the data files"
        );
    }
    // The Exec lines: the same privileged helpers as the plain unit, from the
    // Nix store instead of /usr/bin.
    let plain = read("systemd/musefs@.service");
    for (needle, unit_needle) in [
        (
            "${pkgs.util-linux}/bin/nsenter --target=1 --mount --",
            "/usr/bin/nsenter --target=1 --mount --",
        ),
        ("${cfg.package}/bin/musefs", "/usr/bin/musefs"),
        ("mount-helper --config", "mount-helper --config"),
        ("unmount-helper --config", "unmount-helper --config"),
        ("serve --config", "serve --config"),
        ("kill -HUP $MAINPID", "kill -HUP $MAINPID"),
    ] {
        assert!(module.contains(needle), "module lacks {needle:?}");
        assert!(
            plain.contains(unit_needle),
            "musefs@.service lacks {unit_needle:?}"
        );
    }
    assert!(module.contains("scan --config"));
    assert!(read("systemd/musefs-scan@.service").contains("/usr/bin/musefs scan --config"));
}

/// A fake `lib` just rich enough to evaluate the module's `options`, and a
/// walker listing every declared option path (`<name>` for attrsOf entries).
const OPTION_WALKER: &str = r#"
module:
let
  leaf = { _type = "leaf"; };
  fn = _: leaf;
  types = {
    bool = leaf; str = leaf; lines = leaf; path = leaf; package = leaf; int = leaf;
    port = leaf; float = leaf; anything = leaf; raw = leaf; attrs = leaf;
    nonEmptyStr = leaf; singleLineStr = leaf; number = leaf;
    enum = fn; strMatching = fn; separatedString = fn; oneOf = fn;
    either = _: _: leaf;
    ints = { between = _: _: leaf; positive = leaf; unsigned = leaf; u8 = leaf; u16 = leaf;
             u32 = leaf; s32 = leaf; };
    nullOr = t: t;
    listOf = t: { _type = "listOf"; elem = t; };
    nonEmptyListOf = t: { _type = "listOf"; elem = t; };
    attrsOf = t: { _type = "attrsOf"; elem = t; };
    lazyAttrsOf = t: { _type = "attrsOf"; elem = t; };
    submodule = m: { _type = "submodule"; modules = if builtins.isList m then m else [ m ]; };
  };
  lib = {
    inherit types;
    mkOption = args: args // { _type = "option"; };
    mkEnableOption = _: { _type = "option"; type = types.bool; };
    mkPackageOption = _: _: _: { _type = "option"; type = types.package; };
    literalExpression = text: { _type = "literalExpression"; inherit text; };
    literalMD = text: { _type = "literalMD"; inherit text; };
  };
  pkgs = { formats.toml = _: { type = { _type = "freeform"; }; }; };
  args = { inherit lib pkgs; config = { }; options = { }; name = "<name>"; };
  call = m: if builtins.isFunction m then m args else if builtins.isPath m then call (import m) else m;
  join = prefix: n: if prefix == "" then n else "${prefix}.${n}";
  walk = prefix: opts:
    builtins.concatMap (n:
      let v = opts.${n}; p = join prefix n; in
      if (v._type or null) == "option" then [ p ] ++ typePaths p (v.type or leaf)
      else walk p v) (builtins.attrNames opts);
  typePaths = p: t:
    if t._type == "attrsOf" then typePaths "${p}.<name>" t.elem
    else if t._type == "listOf" then typePaths "${p}.*" t.elem
    else if t._type == "submodule" then builtins.concatMap (m: walk p ((call m).options or { })) t.modules
    else [ ];
in
walk "" (call module).options
"#;

fn module_options() -> BTreeSet<String> {
    let walker =
        std::env::temp_dir().join(format!("musefs-option-walker-{}.nix", std::process::id()));
    std::fs::write(&walker, OPTION_WALKER).unwrap();
    let expr = format!(
        "import {} {}",
        walker.display(),
        repo().join("nixos-module/default.nix").display()
    );
    let out = nix_instantiate(&["--eval", "--strict", "--json", "--expr", &expr]);
    let _ = std::fs::remove_file(&walker);
    let Json::Arr(items) = parse_json(&out) else {
        panic!("option walker: expected a list, got {out}")
    };
    items
        .into_iter()
        .map(|i| match i {
            Json::Str(s) => s,
            other => panic!("option walker: {other:?}"),
        })
        .collect()
}

/// Backticked `services.musefs.…` names in a Markdown text.
fn documented_names(md: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut in_tables, mut anywhere) = (BTreeSet::new(), BTreeSet::new());
    for line in md.lines() {
        for (i, chunk) in line.split('`').enumerate() {
            if i % 2 == 1 && chunk.starts_with("services.musefs.") && !chunk.contains(' ') {
                anywhere.insert(chunk.to_string());
            }
        }
        if let Some(rest) = line.trim_start().strip_prefix("| `services.musefs.")
            && let Some((name, _)) = rest.split_once('`')
        {
            in_tables.insert(format!("services.musefs.{name}"));
        }
    }
    (in_tables, anywhere)
}

#[test]
fn documented_options_are_the_module_options() {
    let options = module_options();
    for must in [
        "services.musefs.enable",
        "services.musefs.package",
        "services.musefs.settings",
        "services.musefs.mounts.<name>.mountPoint",
        "services.musefs.mounts.<name>.allowOther",
        "services.musefs.scan.paths",
        "services.musefs.scan.schedule",
    ] {
        assert!(
            options.contains(must),
            "the module declares no {must}: {options:?}"
        );
    }
    let (tables, anywhere) = documented_names(&read("docs/NIXOS.md"));
    let undocumented: Vec<_> = options.difference(&tables).collect();
    assert!(
        undocumented.is_empty(),
        "options missing from the option tables of docs/NIXOS.md: {undocumented:?}"
    );
    let unknown: Vec<_> = anywhere.difference(&options).collect();
    assert!(
        unknown.is_empty(),
        "docs/NIXOS.md names options the module does not declare: {unknown:?}"
    );
}

#[test]
fn vm_test_checks_are_documented() {
    let vm = read("vm-tests/nixos.nix");
    let names: Vec<&str> = vm
        .split("subtest(\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap())
        .collect();
    assert!(
        names.len() >= 10,
        "few subtests found in vm-tests/nixos.nix: {names:?}"
    );
    let doc = read("docs/NIXOS.md");
    for n in &names {
        assert!(
            doc.contains(&format!("`{n}`")),
            "VM test check {n} is not listed in docs/NIXOS.md"
        );
    }
    // Names shared with the Debian VM tests stay the same as in their list.
    if let Ok(list) = std::fs::read_to_string(repo().join("vm-tests/checks.txt")) {
        let debian: BTreeSet<&str> = list
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        for shared in ["unit-active-once-mounted", "stop-leaves-no-mount"] {
            assert!(
                debian.contains(shared),
                "vm-tests/checks.txt lacks {shared}"
            );
            assert!(names.contains(&shared), "vm-tests/nixos.nix lacks {shared}");
        }
    }
}

#[test]
fn unit_parser_splits_the_block_and_merges_repeated_keys() {
    let u = parse_unit("systemd/musefs@.service");
    assert!(matches!(
        u.hardening.get("SystemCallFilter"),
        Some(Value::Many(v)) if v.len() == 2 && v[0] == "@system-service"
    ));
    assert!(!u.sections["Service"].contains_key("NoNewPrivileges"));
    assert!(u.sections["Service"].contains_key("ExecStart"));
    assert!(u.sections["Unit"].contains_key("Description"));
}

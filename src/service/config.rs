//! Mount configuration: a TOML file, `MUSEFS_*` environment variables and
//! command-line flags, with flag > environment > file > default.
//!
//! Clap resolves flag-or-environment into [`MountOverrides`]; this module
//! layers them over the file and the defaults and validates every value,
//! naming the key on error.

use crate::fuse::MountOptions;
use crate::library::template::{RenderOptions, Template};
use crate::library::{Mode, Options};
use anyhow::{Context, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The `[mount]`-less flat TOML file describing one mount. Unknown keys are errors.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The store file.
    pub store: Option<PathBuf>,
    /// Directory to mount on.
    pub mountpoint: Option<PathBuf>,
    /// The backing library's root directories: what `musefs scan --config`
    /// scans, and the only places the mount serves files from.
    pub library: Option<Vec<PathBuf>>,
    /// Path template (docs/TEMPLATES.md).
    pub template: Option<String>,
    /// `synthesis` or `structure-only`.
    pub mode: Option<String>,
    /// Value for a missing field.
    pub default_fallback: Option<String>,
    /// Per-field fallback values.
    pub fallbacks: Option<BTreeMap<String, String>>,
    /// Drop tracks missing a top-level template field.
    pub skip_on_missing: Option<bool>,
    /// Owner of every file: a user name or uid.
    pub owner: Option<String>,
    /// Group of every file: a group name or gid.
    pub group: Option<String>,
    /// Permission bits of files, octal (e.g. "0444").
    pub file_mode: Option<String>,
    /// Permission bits of directories, octal (e.g. "0555").
    pub dir_mode: Option<String>,
    /// Let other users read the mount.
    pub allow_other: Option<bool>,
    /// FUSE worker threads.
    pub threads: Option<usize>,
    /// Prometheus text file rewritten every 5 s (node_exporter's textfile
    /// collector reads such files).
    pub metrics_file: Option<PathBuf>,
    /// Header cache budget in MiB.
    pub header_cache_mib: Option<usize>,
    /// Picture cache budget in MiB.
    pub art_cache_mib: Option<usize>,
}

/// Values given by flag or environment (None = not given).
#[derive(Debug, Clone, Default)]
pub struct MountOverrides {
    pub config: Option<PathBuf>,
    pub store: Option<PathBuf>,
    pub mountpoint: Option<PathBuf>,
    pub library: Vec<PathBuf>,
    pub template: Option<String>,
    pub mode: Option<String>,
    pub default_fallback: Option<String>,
    pub fallbacks: Vec<String>,
    pub skip_on_missing: Option<bool>,
    pub owner: Option<String>,
    pub group: Option<String>,
    pub file_mode: Option<String>,
    pub dir_mode: Option<String>,
    pub allow_other: Option<bool>,
    pub threads: Option<usize>,
    pub metrics_file: Option<PathBuf>,
}

/// A fully resolved mount.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub library: Options,
    pub mount: MountOptions,
}

/// Read and parse a config file.
pub fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("config {}", path.display()))?;
    parse_file(&text).with_context(|| format!("config {}", path.display()))
}

/// Parse config text.
pub fn parse_file(text: &str) -> anyhow::Result<FileConfig> {
    toml::from_str(text).map_err(|e| {
        anyhow::anyhow!("{}", e.message().trim_end()).context(match e.span() {
            Some(s) => {
                let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                format!("line {line}")
            }
            None => "invalid TOML".to_string(),
        })
    })
}

fn parse_mode(key: &str, v: &str) -> anyhow::Result<Mode> {
    match v {
        "synthesis" => Ok(Mode::Synthesis),
        "structure-only" | "structure_only" => Ok(Mode::StructureOnly),
        _ => bail!("{key}: {v:?} is not a mode (use synthesis or structure-only)"),
    }
}

fn parse_perm(key: &str, v: &str) -> anyhow::Result<u16> {
    let digits = v.strip_prefix("0o").unwrap_or(v);
    match u16::from_str_radix(digits, 8) {
        Ok(m) if m <= 0o7777 && !digits.is_empty() => Ok(m),
        _ => bail!("{key}: {v:?} is not an octal permission mode such as 0444"),
    }
}

fn parse_user(key: &str, v: &str) -> anyhow::Result<u32> {
    if let Ok(n) = v.parse::<u32>() {
        return Ok(n);
    }
    match nix::unistd::User::from_name(v) {
        Ok(Some(u)) => Ok(u.uid.as_raw()),
        _ => bail!("{key}: no such user {v:?}"),
    }
}

fn parse_group(key: &str, v: &str) -> anyhow::Result<u32> {
    if let Ok(n) = v.parse::<u32>() {
        return Ok(n);
    }
    match nix::unistd::Group::from_name(v) {
        Ok(Some(g)) => Ok(g.gid.as_raw()),
        _ => bail!("{key}: no such group {v:?}"),
    }
}

/// Layer flags/env over the file over defaults.
pub fn resolve(o: MountOverrides) -> anyhow::Result<Resolved> {
    let file = match &o.config {
        Some(p) => read_file(p)?,
        None => FileConfig::default(),
    };
    let store = o
        .store
        .or(file.store)
        .unwrap_or_else(crate::store::default_path);
    let mountpoint = o
        .mountpoint
        .or(file.mountpoint)
        .context("mountpoint: not given (pass MOUNTPOINT or set mountpoint in the config file)")?;
    let template_src = o
        .template
        .or(file.template)
        .unwrap_or_else(|| crate::library::template::DEFAULT_TEMPLATE.to_string());
    let template = Template::parse(&template_src).context("template")?;
    let mode = match o.mode.or(file.mode) {
        Some(m) => parse_mode("mode", &m)?,
        None => Mode::Synthesis,
    };
    let mut render = RenderOptions::new(
        o.default_fallback
            .or(file.default_fallback)
            .unwrap_or_else(|| "Unknown".into())
            .as_str(),
    );
    for (k, v) in file.fallbacks.unwrap_or_default() {
        render.set_fallback(&k, &v);
    }
    for f in &o.fallbacks {
        let (k, v) = crate::library::template::parse_fallback(f)
            .map_err(|e| anyhow::anyhow!("fallback: {e}"))?;
        render.set_fallback(&k, &v);
    }
    render.skip_on_missing = o.skip_on_missing.or(file.skip_on_missing).unwrap_or(false);
    let mut lib = Options::new(store, template, mode);
    lib.render = render;
    // Only files below the library roots are served (a store writer must not
    // be able to expose arbitrary host files through the mount).
    lib.roots = if o.library.is_empty() {
        file.library.unwrap_or_default()
    } else {
        o.library
    };
    for r in &lib.roots {
        if !r.is_absolute() {
            bail!("library: {} is not an absolute path", r.display());
        }
    }
    // SAFETY: getuid/getgid have no preconditions and cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    lib.uid = match o.owner.or(file.owner) {
        Some(u) => parse_user("owner", &u)?,
        None => uid,
    };
    lib.gid = match o.group.or(file.group) {
        Some(g) => parse_group("group", &g)?,
        None => gid,
    };
    if let Some(m) = o.file_mode.or(file.file_mode) {
        lib.file_mode = parse_perm("file_mode", &m)?;
    }
    if let Some(m) = o.dir_mode.or(file.dir_mode) {
        lib.dir_mode = parse_perm("dir_mode", &m)?;
    }
    if let Some(mib) = file.header_cache_mib {
        lib.layout_cache_bytes = mib << 20;
    }
    if let Some(mib) = file.art_cache_mib {
        lib.art_cache_bytes = mib << 20;
    }
    let threads = o.threads.or(file.threads).unwrap_or(4);
    if threads == 0 || threads > 64 {
        bail!("threads: {threads} is out of range (1 to 64)");
    }
    Ok(Resolved {
        library: lib,
        mount: MountOptions {
            mountpoint,
            allow_other: o.allow_other.or(file.allow_other).unwrap_or(false),
            threads,
            metrics_file: o.metrics_file.or(file.metrics_file),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_file_beats_default() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("m.toml");
        std::fs::write(
            &cfg,
            "store = \"/s.db\"\nmountpoint = \"/mnt/x\"\ntemplate = \"$title\"\nfile_mode = \"0440\"\n\
             [fallbacks]\nalbum = \"No Album\"\n",
        )
        .unwrap();
        let r = resolve(MountOverrides {
            config: Some(cfg.clone()),
            template: Some("$album/$title".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(r.library.db, PathBuf::from("/s.db"));
        assert_eq!(r.library.template.source(), "$album/$title");
        assert_eq!(r.library.file_mode, 0o440);
        assert_eq!(r.library.dir_mode, 0o555);
        assert_eq!(r.mount.mountpoint, PathBuf::from("/mnt/x"));
        assert_eq!(
            r.library.render.fallbacks.get("album").map(String::as_str),
            Some("No Album")
        );
    }

    #[test]
    fn bad_values_name_the_key() {
        let e = parse_file("templat = \"x\"").unwrap_err();
        assert!(format!("{e:#}").contains("templat"), "{e:#}");
        for (o, key) in [
            (
                MountOverrides {
                    mode: Some("fast".into()),
                    ..Default::default()
                },
                "mode",
            ),
            (
                MountOverrides {
                    file_mode: Some("rw".into()),
                    ..Default::default()
                },
                "file_mode",
            ),
            (
                MountOverrides {
                    owner: Some("no-such-user-here".into()),
                    ..Default::default()
                },
                "owner",
            ),
            (
                MountOverrides {
                    template: Some("${x".into()),
                    ..Default::default()
                },
                "template",
            ),
            (
                MountOverrides {
                    threads: Some(0),
                    ..Default::default()
                },
                "threads",
            ),
        ] {
            let mut o = o;
            o.mountpoint = Some("/m".into());
            let e = format!("{:#}", resolve(o).unwrap_err());
            assert!(e.starts_with(key), "{e}");
        }
        let e = format!("{:#}", resolve(MountOverrides::default()).unwrap_err());
        assert!(e.starts_with("mountpoint"), "{e}");
    }
}

//! Command-line definitions.

use clap::builder::TypedValueParser;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "musefs",
    version,
    about = "Serve a music library re-tagged and re-organised from a SQLite store, \
             without touching the audio files",
    long_about = "musefs keeps tags and pictures in a SQLite store and mounts a read-only \
                  filesystem whose files are built on the fly: fresh metadata from the store \
                  followed by the untouched audio bytes of the original file. The originals \
                  are never written, so their checksums never change.\n\n\
                  Typical use:\n  musefs scan ~/Music\n  musefs mount ~/MusicView"
)]
pub struct Cli {
    /// More log output (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan directories (or files) into the store. Files already in the store
    /// and unchanged on disk are skipped; edits made in the store are kept.
    Scan(ScanArgs),
    /// Mount the store's library view. Blocks until unmounted, SIGINT or SIGTERM.
    /// Under systemd (`serve`), serves the connection the unit's privileged
    /// helper mounted, and takes it over again after a restart.
    #[command(visible_alias = "serve")]
    Mount(MountArgs),
    /// Service internals: mount in the host namespace and hand the FUSE fd to
    /// systemd's fd store (ExecStartPre=+nsenter --target=1 --mount -- ...).
    #[command(hide = true)]
    MountHelper(MountArgs),
    /// Service internals: unmount after a real stop (ExecStopPost=+...).
    #[command(hide = true)]
    UnmountHelper(MountArgs),
    /// Read and edit tags and pictures in the store. PATH is a file in a mount
    /// or a scanned backing file; a running mount shows edits at once.
    #[command(subcommand)]
    Tag(TagCommand),
    /// Check every stored track against its file: re-read the structure of
    /// files that changed (curated tags kept); report or prune missing ones.
    Revalidate(RevalidateArgs),
    /// Compact the store file. Refused while a mount or scan uses the store.
    Vacuum(VacuumArgs),
}

#[derive(Debug, clap::Args)]
pub struct StoreArg {
    /// The store file [default: $XDG_DATA_HOME/musefs/store.db or
    /// ~/.local/share/musefs/store.db]
    #[arg(long, env = "MUSEFS_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    #[command(flatten)]
    pub store: StoreArg,

    /// A mount's TOML config: its `store` and `library` paths are used when
    /// --db and PATH are not given (the scan service runs this way).
    #[arg(long, short, env = "MUSEFS_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Directories or files to scan (default: the config's `library`).
    #[arg(value_name = "PATH", required_unless_present = "config")]
    pub paths: Vec<PathBuf>,

    /// Probe worker threads (default: one per core).
    #[arg(
        long,
        short = 'j',
        value_name = "N",
        default_value_t = 0,
        hide_default_value = true
    )]
    pub jobs: usize,

    /// Re-read tags and pictures from every file, even unchanged ones,
    /// OVERWRITING edits made in the store (by you, beets, Picard, ...).
    #[arg(long)]
    pub force: bool,

    /// Files per write transaction.
    #[arg(long, value_name = "N", default_value_t = musefs::scan::DEFAULT_BATCH,
          value_parser = clap::value_parser!(u32).range(1..).map(|n| n as usize))]
    pub batch: usize,

    /// Follow symbolic links below the given paths (cycles and files reached
    /// twice are detected; the real path is stored).
    #[arg(long)]
    pub follow_symlinks: bool,

    /// Fingerprint used to recognise moved files: quick (sha256 of the first
    /// and last 64 KiB of the audio and its length) or full (every audio byte).
    #[arg(long, value_enum, value_name = "HOW", default_value = "quick")]
    pub checksum: ChecksumArg,

    /// Print only errors.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ChecksumArg {
    Quick,
    Full,
}

#[derive(Debug, clap::Args)]
pub struct RevalidateArgs {
    #[command(flatten)]
    pub store: StoreArg,

    /// Delete tracks whose file is gone, then pictures no track uses.
    #[arg(long)]
    pub prune: bool,

    /// With --prune: prune even when every stored track is missing (refused
    /// by default: a disk that is not mounted looks the same).
    #[arg(long, requires = "prune")]
    pub yes: bool,

    /// Probe worker threads (default: one per core).
    #[arg(
        long,
        short = 'j',
        value_name = "N",
        default_value_t = 0,
        hide_default_value = true
    )]
    pub jobs: usize,

    /// Fingerprint written for files that changed (see `scan --checksum`).
    #[arg(long, value_enum, value_name = "HOW", default_value = "quick")]
    pub checksum: ChecksumArg,

    /// Print only errors.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, clap::Args)]
pub struct VacuumArgs {
    #[command(flatten)]
    pub store: StoreArg,

    /// Print only errors.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// Fresh metadata from the store, followed by the untouched audio bytes.
    Synthesis,
    /// The original files byte for byte, only re-organised (kernel passthrough when available).
    StructureOnly,
}

/// Every mount setting can also come from a config file (--config) or a
/// MUSEFS_* environment variable: flag > environment > file > default.
#[derive(Debug, clap::Args)]
pub struct MountArgs {
    /// TOML file describing the mount: keys as the long flags with '_' for
    /// '-' (but `store` for --db), plus `library` (roots to scan and serve).
    #[arg(long, short, env = "MUSEFS_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// The store file [default: $XDG_DATA_HOME/musefs/store.db or
    /// ~/.local/share/musefs/store.db]
    #[arg(long, env = "MUSEFS_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,

    /// Empty directory to mount on.
    #[arg(value_name = "MOUNTPOINT", env = "MUSEFS_MOUNTPOINT")]
    pub mountpoint: Option<PathBuf>,

    /// Library root (repeatable; environment: ':'-separated): only backing
    /// files below these directories are served [default: no restriction]
    #[arg(
        long = "library",
        env = "MUSEFS_LIBRARY",
        value_name = "DIR",
        value_delimiter = ':'
    )]
    pub library: Vec<PathBuf>,

    /// Path template (see docs/TEMPLATES.md) [default:
    /// $albumartist/$album/$tracknumber - $title]
    #[arg(long, short, env = "MUSEFS_TEMPLATE", value_name = "TEMPLATE")]
    pub template: Option<String>,

    /// What the served files contain [default: synthesis]
    #[arg(long, value_enum, env = "MUSEFS_MODE")]
    pub mode: Option<ModeArg>,

    /// Value used for a field a track does not have [default: Unknown]
    #[arg(long, env = "MUSEFS_DEFAULT_FALLBACK", value_name = "TEXT")]
    pub default_fallback: Option<String>,

    /// Fallback for one field, FIELD=VALUE (repeatable; environment: comma-separated).
    #[arg(
        long = "fallback",
        env = "MUSEFS_FALLBACK",
        value_name = "FIELD=VALUE",
        value_delimiter = ','
    )]
    pub fallbacks: Vec<String>,

    /// Leave out tracks missing a field outside optional [...] sections.
    #[arg(long, env = "MUSEFS_SKIP_ON_MISSING", num_args = 0..=1,
          default_missing_value = "true", value_name = "BOOL")]
    pub skip_on_missing: Option<bool>,

    /// Owner of all files and directories: user name or uid [default: you]
    #[arg(long, env = "MUSEFS_OWNER", value_name = "USER")]
    pub owner: Option<String>,

    /// Group of all files and directories: group name or gid [default: yours]
    #[arg(long, env = "MUSEFS_GROUP", value_name = "GROUP")]
    pub group: Option<String>,

    /// Permission bits of files, octal [default: 0444]
    #[arg(long, env = "MUSEFS_FILE_MODE", value_name = "MODE")]
    pub file_mode: Option<String>,

    /// Permission bits of directories, octal [default: 0555]
    #[arg(long, env = "MUSEFS_DIR_MODE", value_name = "MODE")]
    pub dir_mode: Option<String>,

    /// Let users other than the mounting one read the mount (permissions are
    /// then checked by the kernel against owner, group and modes).
    #[arg(long, env = "MUSEFS_ALLOW_OTHER", num_args = 0..=1,
          default_missing_value = "true", value_name = "BOOL")]
    pub allow_other: Option<bool>,

    /// Write Prometheus metrics to this file every 5 s (for node_exporter's
    /// textfile collector or any scraper that reads files)
    #[arg(long, env = "MUSEFS_METRICS_FILE", value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,

    /// FUSE worker threads [default: 4]
    #[arg(long, env = "MUSEFS_THREADS", value_name = "N")]
    pub threads: Option<usize>,

    /// Print the counts and the first paths the mount would show, then exit
    /// without mounting.
    #[arg(long)]
    pub dry_run: bool,

    /// With --dry-run: how many paths to print (0 = all).
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub limit: usize,
}

#[derive(Debug, Subcommand)]
pub enum TagCommand {
    /// Print all tags and pictures.
    Show {
        #[command(flatten)]
        store: StoreArg,
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Print the values of one key, one per line.
    Get {
        #[command(flatten)]
        store: StoreArg,
        /// Tag key (case-insensitive).
        key: String,
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Replace tags (repeat -t KEY=VALUE for several values of one key) and/or
    /// set a picture (replacing any picture of the same type).
    Set {
        #[command(flatten)]
        store: StoreArg,
        /// KEY=VALUE; all values of KEY are replaced by the values given.
        #[arg(short = 't', long = "tag", value_name = "KEY=VALUE")]
        tags: Vec<String>,
        /// A JPEG, PNG, GIF or WebP file to link as a picture.
        #[arg(long, value_name = "FILE")]
        picture: Option<PathBuf>,
        /// Picture type: front, back, artist, ... or 0-20.
        #[arg(long = "type", value_name = "TYPE", default_value = "front")]
        picture_type: String,
        /// Picture description.
        #[arg(long, value_name = "TEXT", default_value = "")]
        description: String,
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Append a value to a key, keeping existing values.
    Add {
        #[command(flatten)]
        store: StoreArg,
        #[arg(short = 't', long = "tag", value_name = "KEY=VALUE", required = true)]
        tags: Vec<String>,
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Remove keys and/or pictures.
    Rm {
        #[command(flatten)]
        store: StoreArg,
        /// Key to remove (repeatable).
        #[arg(short = 'k', long = "key", value_name = "KEY")]
        keys: Vec<String>,
        /// Remove all pictures.
        #[arg(long)]
        pictures: bool,
        /// Remove only pictures of this type (front, back, ... or 0-20).
        #[arg(long, value_name = "TYPE")]
        picture_type: Option<String>,
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
}

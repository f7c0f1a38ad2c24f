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
    Mount(MountArgs),
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

    /// Directories or files to scan.
    #[arg(required = true, value_name = "PATH")]
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

#[derive(Debug, clap::Args)]
pub struct MountArgs {
    #[command(flatten)]
    pub store: StoreArg,

    /// Empty directory to mount on.
    #[arg(value_name = "MOUNTPOINT")]
    pub mountpoint: PathBuf,

    /// Path template: $field or ${field}, ${a|b} tries a then b; '/' separates directories.
    #[arg(long, short, env = "MUSEFS_TEMPLATE",
          default_value = crate_template_default())]
    pub template: String,

    /// What the served files contain.
    #[arg(long, value_enum, env = "MUSEFS_MODE", default_value = "synthesis")]
    pub mode: ModeArg,

    /// Value used for a field a track does not have.
    #[arg(long, value_name = "TEXT", default_value = "Unknown")]
    pub default_fallback: String,

    /// Let users other than the mounting one read the mount.
    #[arg(long)]
    pub allow_other: bool,

    /// FUSE worker threads.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub threads: usize,
}

const fn crate_template_default() -> &'static str {
    musefs::library::template::DEFAULT_TEMPLATE
}

//! The `musefs` binary: parse arguments, dispatch. Logic lives in the library.

mod cli;

use clap::Parser;
use cli::{ChecksumArg, Cli, Command, ModeArg};
use musefs::fuse::MountOptions;
use musefs::library::{Mode, Options, template::Template};
use musefs::scan::{
    Checksum, ProgressPrinter, RevalidateOptions, ScanOptions, human_bytes, revalidate, scan,
};
use musefs::store::maintenance::LockError;
use musefs::store::{self, Store};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code when a scan finished but some files could not be read.
const EXIT_SOME_FAILED: u8 = 3;
/// Exit code when the store is locked by another musefs process (sysexits' EX_TEMPFAIL).
const EXIT_BUSY: u8 = 75;
/// Exit code after SIGINT/SIGTERM stopped a scan early (128 + SIGINT).
const EXIT_INTERRUPTED: u8 = 130;

fn busy(e: LockError) -> anyhow::Result<ExitCode> {
    match e {
        LockError::Io { .. } => Err(e.into()),
        _ => {
            eprintln!("musefs: {e}");
            Ok(ExitCode::from(EXIT_BUSY))
        }
    }
}

fn checksum(c: ChecksumArg) -> Checksum {
    match c {
        ChecksumArg::Quick => Checksum::Quick,
        ChecksumArg::Full => Checksum::Full,
    }
}

fn print_issues(failed: &[(PathBuf, String)], warnings: &[(PathBuf, String)], quiet: bool) {
    if !quiet {
        for (p, why) in warnings {
            eprintln!("musefs: warning: {}: {why}", p.display());
        }
    }
    for (p, why) in failed {
        eprintln!("musefs: {}: {why}", p.display());
    }
}

fn outcome(interrupted: bool, all_ok: bool) -> ExitCode {
    if interrupted {
        eprintln!("musefs: interrupted; run the same command again to continue");
        ExitCode::from(EXIT_INTERRUPTED)
    } else if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_SOME_FAILED)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    musefs::service::init_logging(cli.verbose);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("musefs: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Scan(a) => {
            let db = a.store.db.unwrap_or_else(store::default_path);
            for p in &a.paths {
                match std::fs::metadata(p) {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        anyhow::bail!("{}: no such file or directory", p.display())
                    }
                    Err(e) => anyhow::bail!("{}: {e}", p.display()),
                    Ok(_) => {}
                }
            }
            let _lock = match Store::lock_shared(&db) {
                Ok(l) => l,
                Err(e) => return busy(e),
            };
            let st = Store::open_rw(&db)?;
            let stop = musefs::service::shutdown_flag()?;
            let mut opts = ScanOptions::new(a.paths);
            opts.jobs = a.jobs;
            opts.force = a.force;
            opts.batch = a.batch;
            opts.follow_symlinks = a.follow_symlinks;
            opts.checksum = checksum(a.checksum);
            let mut bar = ProgressPrinter::new(a.quiet);
            let report = scan(&st, &opts, &stop, |p| bar.update(p));
            bar.finish();
            let report = report?;
            print_issues(&report.failed, &report.warnings, a.quiet);
            if !a.quiet {
                println!("store {}:", db.display());
                for l in report.summary() {
                    println!("  {l}");
                }
            }
            Ok(outcome(report.interrupted, report.failed.is_empty()))
        }
        Command::Revalidate(a) => {
            let db = a.store.db.unwrap_or_else(store::default_path);
            if !db.exists() {
                anyhow::bail!(store::StoreError::NotFound(db));
            }
            let _lock = match Store::lock_shared(&db) {
                Ok(l) => l,
                Err(e) => return busy(e),
            };
            let st = Store::open_rw(&db)?;
            let stop = musefs::service::shutdown_flag()?;
            let opts = RevalidateOptions {
                jobs: a.jobs,
                checksum: checksum(a.checksum),
                prune: a.prune,
                prune_all: a.yes,
                ..Default::default()
            };
            let mut bar = ProgressPrinter::new(a.quiet);
            let report = revalidate(&st, &opts, &stop, |p| bar.update(p));
            bar.finish();
            let report = report?;
            print_issues(&report.failed, &report.warnings, a.quiet);
            if !a.quiet {
                println!("store {}:", db.display());
                for l in report.summary() {
                    println!("  {l}");
                }
            }
            Ok(outcome(report.interrupted, report.failed.is_empty()))
        }
        Command::Vacuum(a) => {
            let db = a.store.db.unwrap_or_else(store::default_path);
            if !db.exists() {
                anyhow::bail!(store::StoreError::NotFound(db));
            }
            let _lock = match Store::lock_exclusive(&db) {
                Ok(l) => l,
                Err(e) => return busy(e),
            };
            let st = Store::open_rw(&db)?;
            let r = st.vacuum()?;
            if !a.quiet {
                println!(
                    "store {}: {} -> {}",
                    db.display(),
                    human_bytes(r.before),
                    human_bytes(r.after)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Mount(a) => {
            let db = a.store.db.unwrap_or_else(store::default_path);
            let template = Template::parse(&a.template)?;
            let mode = match a.mode {
                ModeArg::Synthesis => Mode::Synthesis,
                ModeArg::StructureOnly => Mode::StructureOnly,
            };
            let mut opts = Options::new(db, template, mode);
            opts.default_fallback = a.default_fallback;
            // SAFETY: getuid/getgid have no preconditions and cannot fail.
            (opts.uid, opts.gid) = unsafe { (libc::getuid(), libc::getgid()) };
            let mount = MountOptions {
                mountpoint: a.mountpoint,
                allow_other: a.allow_other,
                threads: a.threads,
            };
            musefs::service::run_mount(opts, mount)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

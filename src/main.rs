//! The `musefs` binary: parse arguments, dispatch. Logic lives in the library.

mod cli;

use clap::Parser;
use cli::{Cli, Command, ModeArg};
use musefs::fuse::MountOptions;
use musefs::library::{Mode, Options, template::Template};
use musefs::scan::{ScanOptions, scan};
use musefs::store::{self, Store};
use std::process::ExitCode;
use std::sync::atomic::Ordering;

/// Exit code when a scan finished but some files could not be read.
const EXIT_SOME_FAILED: u8 = 3;

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
                if !p.exists() {
                    anyhow::bail!("{}: no such file or directory", p.display());
                }
            }
            let st = Store::open_rw(&db)?;
            let stop = musefs::service::shutdown_flag()?;
            let mut opts = ScanOptions::new(a.paths);
            opts.jobs = a.jobs;
            opts.force = a.force;
            let quiet = a.quiet;
            let report = scan(&st, &opts, &stop, |p| {
                if !quiet && p.total > 0 {
                    eprintln!("scanned {}/{}", p.done, p.total);
                }
            })?;
            if !quiet {
                println!(
                    "store {}: {} added, {} updated, {} unchanged, {} failed",
                    db.display(),
                    report.added,
                    report.updated,
                    report.unchanged,
                    report.failed.len()
                );
                for (reason, n) in &report.skipped {
                    println!("  skipped {n}: {reason}");
                }
            }
            for (p, why) in &report.failed {
                eprintln!("musefs: {}: {why}", p.display());
            }
            if report.interrupted || stop.load(Ordering::Relaxed) {
                eprintln!("musefs: scan interrupted; run it again to continue");
                return Ok(ExitCode::from(130));
            }
            Ok(if report.failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_SOME_FAILED)
            })
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

//! The `musefs` binary: parse arguments, dispatch. Logic lives in the library.

mod cli;

use clap::Parser;
use cli::{ChecksumArg, Cli, Command, ModeArg, TagCommand};
use musefs::scan::{
    Checksum, ProgressPrinter, RevalidateOptions, ScanOptions, human_bytes, revalidate, scan,
};
use musefs::service::config;
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

/// Print a scan or revalidate report and choose the exit code.
fn conclude(
    db: &std::path::Path,
    failed: &[(PathBuf, String)],
    warnings: &[(PathBuf, String)],
    summary: Vec<String>,
    interrupted: bool,
    quiet: bool,
) -> ExitCode {
    print_issues(failed, warnings, quiet);
    if !quiet {
        println!("store {}:", db.display());
        for l in summary {
            println!("  {l}");
        }
    }
    outcome(interrupted, failed.is_empty())
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
        Command::Scan(mut a) => {
            let file = match &a.config {
                Some(c) => config::read_file(c)?,
                None => config::FileConfig::default(),
            };
            let db = a
                .store
                .db
                .or(file.store)
                .unwrap_or_else(store::default_path);
            if a.paths.is_empty() {
                a.paths = file.library.unwrap_or_default();
                if a.paths.is_empty() {
                    anyhow::bail!(
                        "library: no paths to scan (give PATH or set library in the config)"
                    );
                }
            }
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
            // Signals first: an interrupt during the migration waits for it.
            let stop = musefs::service::shutdown_flag()?;
            let st = Store::open_rw(&db)?;
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
            Ok(conclude(
                &db,
                &report.failed,
                &report.warnings,
                report.summary(),
                report.interrupted,
                a.quiet,
            ))
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
            // Signals first, as in scan: an interrupt during the migration waits for it.
            let stop = musefs::service::shutdown_flag()?;
            let st = Store::open_rw(&db)?;
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
            Ok(conclude(
                &db,
                &report.failed,
                &report.warnings,
                report.summary(),
                report.interrupted,
                a.quiet,
            ))
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
        Command::Tag(t) => tag(t),
        Command::Mount(a) => {
            let dry_run = a.dry_run;
            let limit = a.limit;
            let overrides = mount_overrides(a);
            let resolved = config::resolve(overrides.clone())?;
            if dry_run {
                musefs::service::dry_run(resolved.library, limit, &mut std::io::stdout().lock())?;
            } else {
                let first = resolved.mount.clone();
                musefs::service::run_mount(resolved.library, resolved.mount, || {
                    let r = config::resolve(overrides.clone())?;
                    if r.mount.mountpoint != first.mountpoint
                        || r.mount.allow_other != first.allow_other
                        || r.mount.threads != first.threads
                    {
                        tracing::warn!(
                            "mountpoint, allow_other and threads changes take effect at the next restart"
                        );
                    }
                    Ok(r.library)
                })?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::MountHelper(a) => {
            let r = config::resolve(mount_overrides(a))?;
            let (uid, gid) = musefs::service::helper::mount_owner();
            musefs::service::helper::mount_helper(&r.mount, uid, gid)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::UnmountHelper(a) => {
            let r = config::resolve(mount_overrides(a))?;
            musefs::service::helper::unmount_helper(&r.mount)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn mount_overrides(a: cli::MountArgs) -> config::MountOverrides {
    config::MountOverrides {
        config: a.config,
        store: a.db,
        mountpoint: a.mountpoint,
        library: a.library,
        template: a.template,
        mode: a.mode.map(|m| match m {
            ModeArg::Synthesis => "synthesis".into(),
            ModeArg::StructureOnly => "structure-only".into(),
        }),
        default_fallback: a.default_fallback,
        fallbacks: a.fallbacks,
        skip_on_missing: a.skip_on_missing,
        owner: a.owner,
        group: a.group,
        file_mode: a.file_mode,
        dir_mode: a.dir_mode,
        allow_other: a.allow_other,
        threads: a.threads,
        metrics_file: a.metrics_file,
    }
}

fn tag(cmd: TagCommand) -> anyhow::Result<ExitCode> {
    use musefs::tagtool;
    let open = |db: Option<std::path::PathBuf>| -> anyhow::Result<Store> {
        let db = db.unwrap_or_else(store::default_path);
        if !db.exists() {
            anyhow::bail!(
                "store {} does not exist (run `musefs scan` first, or pass --db)",
                db.display()
            );
        }
        Ok(Store::open_rw(&db)?)
    };
    let mut out = std::io::stdout().lock();
    match cmd {
        TagCommand::Show { store, paths } => {
            let st = open(store.db)?;
            for p in &paths {
                let id = tagtool::resolve(&st, p)?;
                if paths.len() > 1 {
                    use std::io::Write;
                    writeln!(out, "== {}", p.display())?;
                }
                tagtool::show(&st, id, &mut out)?;
            }
        }
        TagCommand::Get { store, key, paths } => {
            let st = open(store.db)?;
            let key = key.to_lowercase();
            for p in &paths {
                let id = tagtool::resolve(&st, p)?;
                for t in st.tags_of(id)?.into_iter().filter(|t| t.key == key) {
                    use std::io::Write;
                    writeln!(out, "{}", store::edit::display_value(&t.value))?;
                }
            }
        }
        TagCommand::Set {
            store,
            tags,
            picture,
            picture_type,
            description,
            paths,
        } => {
            if tags.is_empty() && picture.is_none() {
                anyhow::bail!("nothing to set: give -t KEY=VALUE and/or --picture FILE");
            }
            let st = open(store.db)?;
            let mut by_key: Vec<(String, Vec<String>)> = Vec::new();
            for t in &tags {
                let (k, v) = tagtool::key_value(t)?;
                match by_key.iter_mut().find(|(kk, _)| *kk == k) {
                    Some((_, vs)) => vs.push(v),
                    None => by_key.push((k, vec![v])),
                }
            }
            let pic = match &picture {
                Some(f) => Some(tagtool::load_picture(
                    f,
                    tagtool::picture_type(&picture_type)?,
                    &description,
                )?),
                None => None,
            };
            let ids = paths
                .iter()
                .map(|p| tagtool::resolve(&st, p))
                .collect::<anyhow::Result<Vec<_>>>()?;
            for id in ids {
                for (k, vs) in &by_key {
                    st.set_tag(id, k, vs)?;
                }
                if let Some(p) = &pic {
                    st.set_picture(id, p)?;
                }
            }
        }
        TagCommand::Add { store, tags, paths } => {
            let st = open(store.db)?;
            let kvs = tags
                .iter()
                .map(|t| tagtool::key_value(t))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let ids = paths
                .iter()
                .map(|p| tagtool::resolve(&st, p))
                .collect::<anyhow::Result<Vec<_>>>()?;
            for id in ids {
                for (k, v) in &kvs {
                    st.add_tag(id, k, v)?;
                }
            }
        }
        TagCommand::Rm {
            store,
            keys,
            pictures,
            picture_type,
            paths,
        } => {
            if keys.is_empty() && !pictures && picture_type.is_none() {
                anyhow::bail!("nothing to remove: give -k KEY, --pictures or --picture-type TYPE");
            }
            let st = open(store.db)?;
            let ty = picture_type
                .as_deref()
                .map(tagtool::picture_type)
                .transpose()?;
            let ids = paths
                .iter()
                .map(|p| tagtool::resolve(&st, p))
                .collect::<anyhow::Result<Vec<_>>>()?;
            for id in ids {
                for k in &keys {
                    st.set_tag(id, k, &[])?;
                }
                if pictures || ty.is_some() {
                    st.remove_pictures(id, ty)?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

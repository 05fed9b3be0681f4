//! `reqlab serve`: run the lab server until Ctrl-C.

use crate::cli::ServeArgs;
use crate::lab::StartError;
use crate::lab::address;
use crate::lab::db::{DbError, DbLocation};
use crate::lab::listen::Timeouts;
use crate::lab::migrate::SchemaError;
use crate::lab::{LabConfig, start};
use crate::paths;
use crate::term::paint;
use crate::view::style;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

/// Starts the lab, prints the contract line `listening on http://…`, serves until a signal.
pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let data_dir = paths::data_dir(args.data_dir.clone())?;
    let (db, db_shown) = if args.memory {
        (
            DbLocation::Memory,
            "in memory (gone when the server stops)".to_string(),
        )
    } else {
        let path = match args.db {
            Some(path) => path,
            None => {
                paths::ensure_dir(&data_dir)?;
                data_dir.join("lab.db")
            }
        };
        if args.reset {
            reset(&path)?;
        }
        let shown = path.display().to_string();
        (DbLocation::File(path), shown)
    };
    let config = LabConfig {
        host: args.host,
        port: args.port,
        memory: matches!(db, DbLocation::Memory),
        db,
        tracing: !args.no_trace,
        trace_capacity: args.trace_capacity as usize,
        body_limit: args.body_limit,
        timeouts: Timeouts {
            head: Duration::from_secs(args.header_timeout),
            ..Timeouts::default()
        },
        allowed_hosts: args.allowed_host,
        allowed_origins: args.allowed_origin,
        // Beyond this machine, the lab's own endpoints (every request's data) need a token.
        lab_token: (!args.host.is_loopback()).then(|| uuid::Uuid::new_v4().simple().to_string()),
        access_log: args.log_format.is_some(),
        strict_queries: args.strict_queries,
        queue_limit: args.queue_limit as usize,
        replica: args.replica_name.clone(),
        ..LabConfig::ephemeral()
    };
    let token = config.lab_token.clone();
    let tracing = config.tracing;
    let mut lab = start(config)
        .await
        .map_err(|e| explain_start_error(e, &db_shown))?;
    let url = lab.url();
    if args.replica_name.is_some() {
        // One of several behind a proxy: the supervisor records and prints the address.
        let mut out = crate::term::stdout();
        writeln!(out, "listening on {url}")?;
        out.flush()?;
        return serve_until_stopped(lab).await;
    }
    // Where `send`, `trace` and `learn` find this lab. An address bound to every interface
    // is reached locally through loopback.
    let local = if args.host.is_unspecified() {
        format!("http://127.0.0.1:{}", lab.addr.port())
    } else {
        url.clone()
    };
    let _recorded = match address::record(&data_dir, &local, token.clone()) {
        Ok(recorded) => Some(recorded),
        Err(e) => {
            anstream::eprintln!(
                "{} other commands will not find this lab by themselves (pass them --url {local}): {e:#}",
                paint(style::WARN, "warning:")
            );
            None
        }
    };

    // The one line tools wait for; everything else goes to stderr.
    let mut out = crate::term::stdout();
    writeln!(out, "listening on {url}")?;
    out.flush()?;
    if let Some(token) = &token {
        anstream::eprintln!(
            "{} listening on {} makes the lab reachable from other machines. Its endpoints are open to anyone who can reach it; /_lab/* (every request's data) needs the lab token {} (send Authorization: Bearer TOKEN, or reqlab trace --token TOKEN). Other machines must address it by a name or address given with --allowed-host (this machine's IP address, say).",
            paint(style::WARN, "warning:"),
            args.host,
            paint(style::STRONG, token)
        );
    }
    anstream::eprintln!(
        "{} database {db_shown}; tracing {}",
        paint(style::DIM, "reqlab lab:"),
        if tracing { "on" } else { "off" }
    );
    anstream::eprintln!(
        "{} curl -i {url}/tasks   ·   watch traces: reqlab trace --follow --url {url}   ·   Ctrl-C stops",
        paint(style::DIM, "try:"),
    );

    let state = std::sync::Arc::clone(&lab.state);
    tokio::select! {
        _ = shutdown_signal() => {
            anstream::eprintln!("{} finishing in-flight requests…", paint(style::DIM, "stopping:"));
            lab.stop().await?;
            anstream::eprintln!("{}", paint(style::DIM, "stopped"));
        }
        result = lab.finished() => result?,
    }
    strict_verdict(&state)
}

/// A replica serves quietly until a signal (its supervisor's) or until its stdin closes (the
/// supervisor is gone, however it went), then stops gracefully.
async fn serve_until_stopped(mut lab: crate::lab::RunningLab) -> anyhow::Result<ExitCode> {
    let state = std::sync::Arc::clone(&lab.state);
    let (orphaned, supervisor_gone) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        let _ = orphaned.send(());
    });
    tokio::select! {
        _ = shutdown_signal() => lab.stop().await?,
        _ = supervisor_gone => lab.stop().await?,
        result = lab.finished() => result?,
    }
    strict_verdict(&state)
}

/// The exit code: 1 when strict queries found an N+1.
fn strict_verdict(state: &crate::lab::LabState) -> anyhow::Result<ExitCode> {
    // Strict queries: the run fails when any request ran a statement once per item.
    let alarms = state
        .query_alarms
        .load(std::sync::atomic::Ordering::Relaxed);
    if alarms > 0 {
        anstream::eprintln!(
            "{} {alarms} request(s) ran a statement once per item (N+1); the log above says where, and each trace says how to fix it",
            paint(style::FAIL, "strict queries:")
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Deletes a lab database and its journal files, so the lab starts from the seeded state.
pub(super) fn reset(path: &std::path::Path) -> anyhow::Result<()> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => anyhow::bail!(
                "cannot reset the lab: cannot delete {}: {e}",
                file.display()
            ),
        }
    }
    anstream::eprintln!(
        "{} deleted {}; the lab starts from its demo data",
        paint(style::DIM, "reset:"),
        path.display()
    );
    Ok(())
}

/// A database file SQLite cannot read gets a sentence naming it and the way to start fresh.
fn explain_start_error(err: StartError, db_shown: &str) -> anyhow::Error {
    let unreadable = |e: &rusqlite::Error| {
        matches!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
        )
    };
    let sqlite = match &err {
        StartError::Db(DbError::Sqlite(e)) => Some(e),
        StartError::Db(DbError::Schema(SchemaError::Sqlite(e))) => Some(e),
        _ => None,
    };
    match sqlite {
        Some(e) if unreadable(e) => anyhow::anyhow!(
            "the lab database {db_shown} is not a SQLite database, or it is damaged ({e}). To start fresh, move it aside (mv {db_shown} {db_shown}.broken) and run again; --db PATH uses another file, --memory none at all"
        ),
        _ => err.into(),
    }
}

/// Ctrl-C, or SIGTERM on Unix (what `kill` and process managers send).
pub(super) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

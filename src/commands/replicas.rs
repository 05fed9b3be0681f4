//! `reqlab serve --replicas N`: N lab processes sharing one database, behind a real nginx.
//!
//! The supervisor migrates the database once, starts each replica (`reqlab serve` on a free
//! loopback port, named `r1`, `r2`, … in its `X-Replica` header), writes nginx's configuration
//! into a folder of the data directory and runs nginx there, unprivileged. It prints nginx's
//! address as its `listening on` line. Ctrl-C (or SIGTERM) stops nginx and every replica
//! gracefully; if the supervisor itself dies, the replicas stop when their stdin closes, and
//! on Linux the kernel stops nginx too (a parent-death signal).

use crate::cli::ServeArgs;
use crate::lab::address;
use crate::lab::db::{Db, DbLocation};
use crate::nginx;
use crate::paths;
use crate::term::paint;
use crate::view::style;
use anyhow::Context;
use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// How long a replica or nginx may take to start listening.
const START_DEADLINE: Duration = Duration::from_secs(20);
/// How long stopping waits for each process before killing it.
const STOP_DEADLINE: Duration = Duration::from_secs(10);

/// The processes started, stopped on drop so an error half-way leaves none behind.
struct Processes {
    /// Replicas by name, then nginx last (named "nginx").
    children: Vec<(String, Child)>,
}

impl Processes {
    /// Asks each to stop (SIGTERM; SIGQUIT for nginx, its graceful stop), waits, then kills
    /// what is left.
    fn stop(&mut self) {
        use nix::sys::signal::{Signal, kill};
        use nix::unistd::Pid;
        for (name, child) in self.children.iter().rev() {
            let signal = if name == "nginx" {
                Signal::SIGQUIT
            } else {
                Signal::SIGTERM
            };
            let _ = kill(Pid::from_raw(child.id() as i32), signal);
        }
        let start = Instant::now();
        for (_, child) in self.children.iter_mut() {
            while start.elapsed() < STOP_DEADLINE {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if let Ok(None) = child.try_wait() {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
        self.children.clear();
    }

    /// The first process that exited by itself, with how; it is no longer watched.
    fn exited(&mut self) -> Option<(String, std::process::ExitStatus)> {
        let (i, status) = self
            .children
            .iter_mut()
            .enumerate()
            .find_map(|(i, (_, child))| match child.try_wait() {
                Ok(Some(status)) => Some((i, status)),
                _ => None,
            })?;
        let (name, _) = self.children.remove(i);
        Some((name, status))
    }

    /// Replicas still running.
    fn replicas_left(&self) -> usize {
        self.children.iter().filter(|(n, _)| n != "nginx").count()
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs the replicas and nginx until a signal.
pub async fn run(args: ServeArgs, replicas: u8) -> anyhow::Result<ExitCode> {
    let nginx_bin = nginx::find().map_err(anyhow::Error::msg)?;
    let data_dir = paths::data_dir(args.data_dir.clone())?;
    paths::ensure_dir(&data_dir)?;
    let db_path = match &args.db {
        Some(path) => path.clone(),
        None => data_dir.join("lab.db"),
    };
    if args.reset {
        super::serve::reset(&db_path)?;
    }
    // Migrated once, here, so the replicas do not race to create the same tables.
    Db::open(
        &DbLocation::File(db_path.clone()),
        &crate::lab::topics::schemas(),
    )
    .with_context(|| format!("cannot open the lab database {}", db_path.display()))?
    .close();

    let port = if args.port == 0 {
        std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port()
    } else {
        args.port
    };
    let listen = SocketAddr::from(([127, 0, 0, 1], port));
    // Another program on the port would answer in nginx's place: find out before starting.
    if let Err(e) = std::net::TcpListener::bind(listen) {
        anyhow::bail!(
            "cannot listen on {listen}: {e} (another program uses this port; pick another with --port, or --port 0 for any free one)"
        );
    }
    let exe = std::env::current_exe().context("cannot find the reqlab binary to start replicas")?;
    let mut processes = Processes {
        children: Vec::new(),
    };
    let mut addresses = Vec::new();
    for n in 1..=replicas {
        let name = format!("r{n}");
        let mut cmd = Command::new(&exe);
        cmd.args(["serve", "--port", "0", "--host", "127.0.0.1", "--db"])
            .arg(&db_path)
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["--replica-name", &name])
            .args(passed_on(&args))
            // Its end of this pipe closes when the supervisor goes, however it goes: the
            // replica stops then (on every system, where the parent-death signal is Linux's).
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        die_with_parent(&mut cmd);
        own_process_group(&mut cmd);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start replica {name}"))?;
        let stdout = child.stdout.take();
        processes.children.push((name.clone(), child));
        let url = tokio::task::spawn_blocking(move || listening_line(stdout))
            .await?
            .with_context(|| format!("replica {name} did not start"))?;
        let addr: SocketAddr = url.trim_start_matches("http://").parse().with_context(|| {
            format!("replica {name} printed an address reqlab cannot read: {url}")
        })?;
        addresses.push((name, addr));
    }

    let prefix = data_dir.join("nginx");
    let site = nginx::Site {
        listen,
        replicas: &addresses,
        body_limit: args.body_limit,
    };
    let conf = nginx::prepare(&prefix, &site)
        .with_context(|| format!("cannot write nginx's files in {}", prefix.display()))?;
    let error_log = prefix.join("error.log");
    let _ = std::fs::remove_file(&error_log);
    let mut cmd = Command::new(&nginx_bin);
    cmd.arg("-p").arg(&prefix).arg("-c").arg(&conf);
    // The log for errors before the configuration is read; nginx before 1.19.5 has no -e
    // (and then writes those few lines to its compiled-in log, or to stderr).
    if nginx::knows_error_log_flag(&nginx_bin) {
        cmd.arg("-e").arg(&error_log);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(prefix.join("stderr.log"))
                .with_context(|| format!("cannot write in {}", prefix.display()))?,
        ));
    die_with_parent(&mut cmd);
    own_process_group(&mut cmd);
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot start nginx ({})", nginx_bin.display()))?;
    processes.children.push(("nginx".into(), child));
    wait_for_nginx(&mut processes, listen, &prefix).await?;

    let url = format!("http://{listen}");
    let replica_urls = addresses
        .iter()
        .map(|(_, a)| format!("http://{a}"))
        .collect();
    let _recorded = match address::record_replicas(&data_dir, &url, replica_urls) {
        Ok(recorded) => Some(recorded),
        Err(e) => {
            anstream::eprintln!(
                "{} other commands will not find this lab by themselves (pass them --url {url}): {e:#}",
                paint(style::WARN, "warning:")
            );
            None
        }
    };
    let mut out = crate::term::stdout();
    writeln!(out, "listening on {url}")?;
    out.flush()?;
    anstream::eprintln!(
        "{} {replicas} replicas behind nginx ({}), round robin; each answer names its replica in X-Replica, and keeps its trace (reqlab trace <id> looks in each)",
        paint(style::DIM, "reqlab lab:"),
        nginx_bin.display()
    );
    for ((name, addr), (_, child)) in addresses.iter().zip(&processes.children) {
        anstream::eprintln!("  {name}  http://{addr}  pid {}", child.id());
    }
    anstream::eprintln!(
        "{} database {} (shared by every replica); nginx config {}",
        paint(style::DIM, "reqlab lab:"),
        db_path.display(),
        conf.display()
    );
    anstream::eprintln!(
        "{} for i in 1 2 3 4 5 6; do curl -si {url}/health | grep -i x-replica; done   ·   Ctrl-C stops",
        paint(style::DIM, "try:"),
    );

    // A replica that stops is reported and the rest go on: nginx sends its requests to the
    // others, and the jobs it held are taken again when their leases lapse. nginx stopping,
    // or the last replica, ends the run.
    loop {
        let died = tokio::select! {
            _ = super::serve::shutdown_signal() => None,
            died = watch(&mut processes) => Some(died),
        };
        let Some((name, status)) = died else {
            anstream::eprintln!("{}", paint(style::DIM, "stopping nginx and the replicas…"));
            tokio::task::spawn_blocking(move || processes.stop()).await?;
            anstream::eprintln!("{}", paint(style::DIM, "stopped"));
            return Ok(ExitCode::SUCCESS);
        };
        if name == "nginx" || processes.replicas_left() == 0 {
            tokio::task::spawn_blocking(move || processes.stop()).await?;
            let hint = if name == "nginx" {
                format!(" (its log: {})", error_log.display())
            } else {
                " (it was the last replica)".to_string()
            };
            anyhow::bail!("{name} stopped by itself ({status}){hint}; the others were stopped too");
        }
        anstream::eprintln!(
            "{} {name} stopped ({status}); nginx sends its requests to the {} left, and the jobs it was running are taken again once their leases lapse",
            paint(style::WARN, "replica:"),
            processes.replicas_left()
        );
    }
}

/// Resolves when a process exits by itself.
async fn watch(processes: &mut Processes) -> (String, std::process::ExitStatus) {
    loop {
        if let Some(exited) = processes.exited() {
            return exited;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The `serve` flags each replica gets as the supervisor got them.
fn passed_on(args: &ServeArgs) -> Vec<String> {
    let mut flags = vec![
        "--body-limit".to_string(),
        args.body_limit.to_string(),
        "--trace-capacity".into(),
        args.trace_capacity.to_string(),
        "--header-timeout".into(),
        args.header_timeout.to_string(),
        "--queue-limit".into(),
        args.queue_limit.to_string(),
    ];
    if args.no_trace {
        flags.push("--no-trace".into());
    }
    if args.strict_queries {
        flags.push("--strict-queries".into());
    }
    if let Some(format) = args.log_format {
        flags.push("--log-format".into());
        flags.push(
            match format {
                crate::cli::LogFormat::Text => "text",
                crate::cli::LogFormat::Json => "json",
            }
            .into(),
        );
    }
    for origin in &args.allowed_origin {
        flags.push("--allowed-origin".into());
        flags.push(origin.clone());
    }
    for host in &args.allowed_host {
        flags.push("--allowed-host".into());
        flags.push(host.clone());
    }
    flags
}

/// Reads a replica's `listening on URL` line (its first on stdout), within [`START_DEADLINE`].
fn listening_line(stdout: Option<std::process::ChildStdout>) -> anyhow::Result<String> {
    let stdout = stdout.context("no output to read its address from")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = std::io::BufReader::new(stdout);
        let mut line = String::new();
        let _ = tx.send(reader.read_line(&mut line).map(|_| line));
        // Keep reading (and dropping) so the replica never writes into a closed pipe.
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    let line = rx
        .recv_timeout(START_DEADLINE)
        .context("it printed no address in time")??;
    line.trim()
        .strip_prefix("listening on ")
        .map(str::to_string)
        .with_context(|| format!("it printed {:?} instead of its address", line.trim()))
}

/// Waits until nginx accepts connections; if it exits first, says why from its error log.
async fn wait_for_nginx(
    processes: &mut Processes,
    listen: SocketAddr,
    prefix: &Path,
) -> anyhow::Result<()> {
    let start = Instant::now();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    loop {
        if let Some((name, status)) = processes.exited() {
            let log = std::fs::read_to_string(prefix.join("error.log")).unwrap_or_default()
                + &std::fs::read_to_string(prefix.join("stderr.log")).unwrap_or_default();
            let last = log
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            let hint = if last.contains("Address already in use") {
                format!(
                    " — port {} is taken; pick another with --port, or --port 0 for any free one",
                    listen.port()
                )
            } else {
                String::new()
            };
            anyhow::bail!("{name} did not start ({status}): {last}{hint}");
        }
        if answers_as_a_replica(&client, listen).await {
            return Ok(());
        }
        if start.elapsed() > START_DEADLINE {
            anyhow::bail!(
                "nginx did not start listening on {listen} within {START_DEADLINE:?} (its log: {})",
                prefix.join("error.log").display()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// True when `GET /health` at `addr` is answered by one of the replicas (through nginx).
async fn answers_as_a_replica(client: &reqwest::Client, addr: SocketAddr) -> bool {
    client
        .get(format!("http://{addr}/health"))
        .send()
        .await
        .is_ok_and(|r| r.headers().contains_key("x-replica"))
}

/// Makes the kernel stop the child (SIGTERM) if this process dies, so no replica or nginx
/// outlives a supervisor that was killed.
fn die_with_parent(cmd: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM)
                    .map_err(std::io::Error::from)
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cmd;
}

/// Puts the child in a process group of its own, so Ctrl-C in the terminal reaches the
/// supervisor alone, which then stops each child gracefully and in order.
fn own_process_group(cmd: &mut Command) {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    #[cfg(not(unix))]
    let _ = cmd;
}

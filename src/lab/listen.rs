//! Accepting connections: every one of them bounded in time, their number capped, and all of
//! them finished gracefully at shutdown.
//!
//! `axum::serve` gives hyper no timer, so a client that sends half a request head, or opens a
//! connection and goes quiet, would hold it (and a file descriptor) forever. Here each
//! connection gets hyper's header-read timeout (which also bounds keep-alive idling, as the
//! clock restarts for every new request head), writes that a client does not read time out,
//! and the number of open connections stays below the process's file limit: past the cap,
//! new clients wait in the listen backlog until one finishes. Request bodies are bounded where
//! they are read ([`super::extract::read_body`]).

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_io_timeout::TimeoutWriter;
use tokio_util::sync::CancellationToken;

use super::trace::TraceStore;
use super::wire::Wire;

/// How long the lab waits on a client, at each point where a client could stall it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From the start of a connection, or the end of the previous response, to a complete
    /// request head.
    pub head: Duration,
    /// Longest pause between two pieces of a request body.
    pub body_gap: Duration,
    /// Longest time to receive a whole request body.
    pub body_total: Duration,
    /// Longest a response write may wait for a client that does not read.
    pub write: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            head: Duration::from_secs(10),
            body_gap: Duration::from_secs(10),
            body_total: Duration::from_secs(30),
            write: Duration::from_secs(30),
        }
    }
}

/// File descriptors kept free for everything that is not a client connection (the database,
/// the log, the learner's tools).
const RESERVED_FILES: u64 = 64;
/// Most connections served at once, however high the file limit is.
const MAX_CONNECTIONS: usize = 1024;
/// Most bytes a connection buffers while reading (a request head must fit in it).
const MAX_BUFFER: usize = 64 * 1024;
/// How long shutdown waits for in-flight requests before closing anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The most connections to serve at once: below the process's limit on open files.
pub fn connection_cap() -> usize {
    let soft = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map(|(soft, _)| soft)
        .unwrap_or(256);
    let room = soft.saturating_sub(RESERVED_FILES).max(8);
    usize::try_from(room)
        .unwrap_or(MAX_CONNECTIONS)
        .min(MAX_CONNECTIONS)
}

/// Serves `app` on `listener` until `shutdown` is cancelled, then lets open requests finish
/// (for up to a grace period). Requests hyper refuses by itself are traced into `traces`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    timeouts: Timeouts,
    max_connections: usize,
    traces: Option<Arc<TraceStore>>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(timeouts.head)
        // A client's request head may not make a connection hold more than this.
        .max_buf_size(MAX_BUFFER)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(max_connections.max(1)));
    loop {
        // Past the cap, stop accepting: new clients wait in the kernel's backlog.
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot.expect("the semaphore is never closed"),
            _ = shutdown.cancelled() => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.cancelled() => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of file descriptors, say: wait for connections to finish, then go on.
                tracing::warn!("accepting a connection failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let mut writer = TimeoutWriter::new(stream);
        writer.set_timeout(Some(timeouts.write));
        let io = TokioIo::new(Wire::new(Box::pin(writer), traces.clone()));
        // Handlers that need the client's address (the rate limit) find it in the request.
        let service = TowerToHyperService::new(tower_http::add_extension::AddExtension::new(
            app.clone(),
            axum::extract::ConnectInfo(peer),
        ));
        let connection = graceful.watch(http.serve_connection(io, service));
        tokio::spawn(async move {
            // A connection ends in an error when a client misbehaves or a timeout fires;
            // either way there is nobody left to tell.
            let _ = connection.await;
            drop(slot);
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(SHUTDOWN_GRACE) => {}
    }
    Ok(())
}

/// Errors that concern one connection, not the listener.
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn a_write_to_a_client_that_does_not_read_times_out() {
        // A pipe with a tiny buffer whose other end never reads.
        let (near, _far) = tokio::io::duplex(64);
        let mut writer = TimeoutWriter::new(near);
        writer.set_timeout(Some(Duration::from_millis(50)));
        let mut writer = Box::pin(writer);
        let result = tokio::time::timeout(Duration::from_secs(5), writer.write_all(&[b'x'; 4096]))
            .await
            .expect("the write gives up by itself");
        assert_eq!(result.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    }

    #[test]
    fn the_cap_stays_below_the_file_limit() {
        let cap = connection_cap();
        assert!((8..=MAX_CONNECTIONS).contains(&cap), "{cap}");
    }
}

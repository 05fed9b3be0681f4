//! The check session as a library: a program (a UI, say) consumes its events directly.

use reqlab::check::event::{Event, EventSink};
use reqlab::check::plan::{Plan, Selection, Target};
use reqlab::check::session::Ending;
use reqlab::course::{ContentSource, Course};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Bounds every wait: a run against the lab takes well under a second.
const DEADLINE: Duration = Duration::from_secs(30);

fn course() -> Arc<Course> {
    Arc::new(Course::load(&ContentSource::Embedded).unwrap())
}

/// A short name for an event, with the numbers that place it.
fn label(event: &Event) -> String {
    match event {
        Event::LabStarted { .. } => "lab started".into(),
        Event::ChallengeStarted { id, checks, .. } => format!("challenge {id} ({checks} checks)"),
        Event::CheckStarted { index, .. } => format!("check {index} started"),
        Event::RequestSent { check, .. } => format!("check {check} request"),
        Event::CheckFinished { index, .. } => format!("check {index} finished"),
        Event::ChallengeFinished(o) => format!("challenge {} finished", o.id),
        Event::Report(outcomes) => format!("report of {}", outcomes.len()),
        Event::RunFinished { passed } => format!("run finished, passed: {passed}"),
        other => format!("{other:?}"),
    }
}

#[tokio::test]
async fn a_run_against_the_lab_reports_each_step_in_order() {
    let mut plan = Plan::new(course(), Target::Lab, Duration::from_secs(5));
    plan.choose(Selection::One("http-basics")).unwrap();
    let (tx, mut rx) = mpsc::channel(8);
    let run = plan.run(EventSink::to(tx), CancellationToken::new());
    let collect = async {
        let mut events = Vec::new();
        while let Some(event) = rx.recv().await {
            events.push(event);
        }
        events
    };
    let (ending, events) = tokio::time::timeout(DEADLINE, async { tokio::join!(run, collect) })
        .await
        .expect("the run ends");
    assert_eq!(ending.unwrap(), Ending::Passed);

    let labels: Vec<String> = events.iter().map(label).collect();
    let shown = labels.join("\n");
    // Collapse each check's requests into one mark, so the expected order reads plainly.
    let mut order: Vec<&str> = labels.iter().map(String::as_str).collect();
    order.dedup();
    assert_eq!(
        order,
        [
            "lab started",
            "challenge http-basics (4 checks)",
            "check 0 started",
            "check 0 request",
            "check 0 finished",
            "check 1 started",
            "check 1 request",
            "check 1 finished",
            "check 2 started",
            "check 2 request",
            "check 2 finished",
            "check 3 started",
            "check 3 request",
            "check 3 finished",
            "challenge http-basics finished",
            "report of 1",
            "run finished, passed: true",
        ],
        "{shown}"
    );
    // The request events carry the exchange itself: what was sent and what came back.
    let Some(Event::RequestSent { exchange, .. }) = events
        .iter()
        .find(|e| matches!(e, Event::RequestSent { check: 1, .. }))
    else {
        panic!("no request for check 1:\n{shown}")
    };
    assert_eq!(exchange.request.method, "DELETE");
    assert_eq!(exchange.response.as_ref().unwrap().status, 405);
    let Some(Event::CheckFinished { outcome, .. }) = events
        .iter()
        .find(|e| matches!(e, Event::CheckFinished { .. }))
    else {
        panic!("no finished check:\n{shown}")
    };
    assert_eq!(outcome.name, "GET /health returns JSON with status");
}

#[tokio::test]
async fn a_cancelled_run_stops_the_learners_server() {
    let port = crate::util::free_port();
    // A server that accepts connections and never answers: the check waits on it until the
    // run is cancelled.
    let server = format!(
        "exec python3 -c 'import socket, time\ns = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind((\"127.0.0.1\", {port}))\ns.listen()\nconns = []\nwhile True:\n    conns.append(s.accept())\n'"
    );
    let target = Target::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    let mut plan = Plan::new(course(), target, Duration::from_secs(60))
        .with_server(Some(server))
        .unwrap();
    plan.choose(Selection::One("http-basics")).unwrap();
    let (tx, mut rx) = mpsc::channel(8);
    let cancel = CancellationToken::new();
    let run = plan.run(EventSink::to(tx), cancel.clone());
    let watch = async {
        let mut pid = None;
        let mut seen = Vec::new();
        while let Some(event) = rx.recv().await {
            seen.push(label(&event));
            match event {
                Event::ServerStarted { pid: p, .. } => pid = p,
                // The first check is waiting for an answer that will never come.
                Event::CheckStarted { .. } => cancel.cancel(),
                _ => {}
            }
        }
        (pid, seen)
    };
    let (ending, (pid, seen)) = tokio::time::timeout(DEADLINE, async { tokio::join!(run, watch) })
        .await
        .expect("a cancelled run ends promptly");
    assert_eq!(ending.unwrap(), Ending::Interrupted, "{seen:?}");
    assert!(
        !seen.iter().any(|e| e.starts_with("report")),
        "an interrupted run reports nothing: {seen:?}"
    );
    let pid = nix::unistd::Pid::from_raw(pid.expect("the server's pid was reported") as i32);
    assert_eq!(
        nix::sys::signal::kill(pid, None),
        Err(nix::errno::Errno::ESRCH),
        "the server process is gone"
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing listens on the server's port any more"
    );
}

/// With --watch, reading a watched file (as `cat main.py` or a server importing it does) is
/// not a change; writing one is, and starts exactly one more run.
#[tokio::test]
async fn a_watch_loop_reruns_on_writes_and_not_on_reads() {
    let dir = tempfile::tempdir().unwrap();
    let read = dir.path().join("main.py");
    let written = dir.path().join("routes.py");
    std::fs::write(&read, "app = None\n").unwrap();
    std::fs::write(&written, "routes = []\n").unwrap();
    let mut plan = Plan::new(course(), Target::Lab, Duration::from_secs(5))
        .with_watch(Some(reqlab::check::plan::Watch {
            path: dir.path().to_path_buf(),
            ignore: Vec::new(),
        }))
        .unwrap();
    plan.choose(Selection::One("http-basics")).unwrap();
    let (tx, mut rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let run = plan.run(EventSink::to(tx), cancel.clone());
    let drive = async {
        let mut runs = 0;
        let mut changes = Vec::new();
        let mut watching = 0;
        while let Some(event) = rx.recv().await {
            match event {
                Event::RunFinished { .. } => runs += 1,
                Event::ChangeSeen { path, .. } => changes.push(path),
                Event::Watching { .. } => {
                    watching += 1;
                    if watching == 1 {
                        // Read the file many times, then write another one.
                        for _ in 0..20 {
                            assert_eq!(std::fs::read_to_string(&read).unwrap(), "app = None\n");
                        }
                        std::fs::write(&written, "routes = ['/health']\n").unwrap();
                    } else {
                        cancel.cancel();
                    }
                }
                _ => {}
            }
        }
        (runs, changes)
    };
    let (ending, (runs, changes)) =
        tokio::time::timeout(DEADLINE, async { tokio::join!(run, drive) })
            .await
            .expect("the watch loop ends when cancelled");
    assert_eq!(ending.unwrap(), Ending::Passed);
    assert_eq!(
        changes
            .iter()
            .map(|p| p.file_name().unwrap())
            .collect::<Vec<_>>(),
        [written.file_name().unwrap()],
        "only the write counts"
    );
    assert_eq!(runs, 2, "the first run, and one for the write");
}

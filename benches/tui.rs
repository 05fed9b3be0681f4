//! The guide's frame and update times in a long session: the real `App`, `update` and
//! `draw` on a 160×45 test backend after 10,000 requests' traces have arrived.
//!
//! Prints, for a lesson screen with the trace pane focused:
//! - how long taking in 10,000 traces takes, one by one and as the loop batches them;
//! - how many traces the guide keeps afterwards (bounded), and the resident memory;
//! - one frame drawn as the loop draws it, and one repainted in full (median, p99);
//! - `update` for `j` moving the trace selection;
//! - a response (`Msg::Sent`) or its trace (`Msg::Trace`) arriving, handled and drawn: the
//!   frame after it must show both.
//!
//! Run with `cargo bench --bench tui` (scripts/bench-tui.sh runs it along with the
//! terminal measurements). `ROUNDS` sets the samples per figure (default 200).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use reqlab::check::http::{Exchange, Received};
use reqlab::course::request::Outgoing;
use reqlab::course::{ContentSource, Course};
use reqlab::lab::trace::{Outcome, SqlRecord, Timestamp, Trace, TraceEvent};
use reqlab::progress::Place;
use reqlab::stage::Stage;
use reqlab::tui::app::{App, Standing};
use reqlab::tui::draw::draw;
use reqlab::tui::msg::{Effect, Msg};
use reqlab::tui::traces::KEPT;
use reqlab::tui::update::update;
use std::alloc::{GlobalAlloc, Layout};
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The reqlab binary's allocator, counting the bytes live on the heap.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on unchanged to mimalloc; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Heap in use, in KiB.
fn heap_kib() -> usize {
    LIVE.load(Ordering::Relaxed) / 1024
}

const WIDTH: u16 = 160;
const HEIGHT: u16 = 45;
const TRACES: usize = 10_000;
/// Messages the loop handles before it draws again (runtime.rs's `BATCH`).
const BATCH: usize = 256;
/// A frame at 60 Hz.
const FRAME: Duration = Duration::from_micros(16_667);

fn press(c: char) -> Msg {
    press_code(KeyCode::Char(c))
}

fn press_code(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

/// A trace like the lab's for `GET /tasks/{n}`, with its SQL.
fn trace(request_id: String, n: usize, status: u16) -> Trace {
    let event = |stage, at_us, duration_us, message: String, sql: Option<SqlRecord>| TraceEvent {
        stage,
        outcome: if status >= 400 && stage == Stage::Logic {
            Outcome::Fail
        } else {
            Outcome::Ok
        },
        at_us,
        duration_us,
        message,
        sql,
    };
    Trace {
        request_id,
        started_at: Timestamp(1_764_590_400_000_000 + n as i64 * 1_000),
        method: "GET".into(),
        path: format!("/tasks/{n}"),
        route: Some("/tasks/{id}".into()),
        status,
        duration_us: 420,
        caller: None,
        request: None,
        events: vec![
            event(
                Stage::Http,
                0,
                0,
                format!("received GET /tasks/{n} over HTTP/1.1 with no body"),
                None,
            ),
            event(
                Stage::Routing,
                30,
                0,
                "matched route GET /tasks/{id}".into(),
                None,
            ),
            event(
                Stage::Parsing,
                40,
                10,
                format!("path parameter id = {n}"),
                None,
            ),
            event(
                Stage::Data,
                60,
                250,
                format!("read task {n}"),
                Some(SqlRecord {
                    statement:
                        "SELECT id, title, done, created_at, updated_at FROM tasks WHERE id = ?1"
                            .into(),
                    params: vec![n.to_string()],
                    rows: u64::from(status == 200),
                    call_site: None,
                }),
            ),
            event(
                Stage::Logic,
                320,
                5,
                if status == 200 {
                    format!("found task {n}")
                } else {
                    format!("no task {n} → 404")
                },
                None,
            ),
            event(
                Stage::Response,
                400,
                20,
                format!("{status} with 158 bytes of JSON"),
                None,
            ),
        ],
    }
}

/// Request `n` from elsewhere: one task of a thousand, one in seven missing.
fn bulk(request_id: String, n: usize) -> Trace {
    let status = if n.is_multiple_of(7) { 404 } else { 200 };
    trace(request_id, n % 1000 + 1, status)
}

/// The lab's answer to the console's request.
fn answer(request: Outgoing, request_id: &str) -> Exchange {
    Exchange {
        request,
        response: Ok(Received {
            status: 200,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("etag".into(), "\"7-20261201120000000000\"".into()),
                ("x-request-id".into(), request_id.into()),
            ],
            body: br#"{"id":7,"title":"Water the plants","done":false,"created_at":"2026-12-01T12:00:00Z","updated_at":"2026-12-01T12:00:00Z"}"#.to_vec(),
            truncated: false,
            elapsed: Duration::from_micros(1800),
        }),
    }
}

/// Resident memory of this process, in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

struct Samples(Vec<Duration>);

impl Samples {
    fn time<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = f();
        self.0.push(start.elapsed());
        out
    }

    fn at(&self, q: f64) -> Duration {
        let mut v = self.0.clone();
        v.sort();
        let i = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
        v[i]
    }

    fn report(&self, what: &str) {
        let (p50, p99, max) = (self.at(0.5), self.at(0.99), self.at(1.0));
        println!(
            "  {what:<52} median {:>9}  p99 {:>9}  max {:>9}  ({} samples, p99 = {:.1}% of a 60 Hz frame)",
            show(p50),
            show(p99),
            show(max),
            self.0.len(),
            100.0 * p99.as_secs_f64() / FRAME.as_secs_f64()
        );
    }
}

fn show(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.1} µs")
    }
}

fn frame(terminal: &mut Terminal<TestBackend>, app: &App) {
    terminal
        .draw(|f| draw(f, app, true))
        .expect("a test backend draws");
}

fn screen(terminal: &Terminal<TestBackend>) -> String {
    terminal.backend().to_string()
}

fn main() {
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(200);

    // Start-up, in process: what the guide does before its first frame, minus the lab.
    let start = Instant::now();
    let course = Arc::new(Course::load(&ContentSource::Embedded).expect("the course loads"));
    let loaded = start.elapsed();
    let start = Instant::now();
    let mut app = App::new(
        Arc::clone(&course),
        "http://127.0.0.1:4747".into(),
        Standing::default(),
        Place::default(),
        (WIDTH, HEIGHT),
    );
    let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).expect("a test terminal");
    frame(&mut terminal, &app);
    let first = start.elapsed();
    assert!(screen(&terminal).contains("the life of a request"));
    println!(
        "in process: course loaded in {}, App::new + first frame of the map in {}",
        show(loaded),
        show(first)
    );

    // Lesson 2, whose first preset is GET /tasks/7; the trace pane focused.
    update(&mut app, press_code(KeyCode::Down));
    update(&mut app, press_code(KeyCode::Enter));
    update(&mut app, press('4'));
    frame(&mut terminal, &app);
    let memory = || format!("heap {} KiB, resident {} KiB", heap_kib(), rss_kib());
    let before = memory();

    // 10,000 requests from elsewhere (curl, a check run): their traces arrive one by one.
    let mut at_kept = String::new();
    let start = Instant::now();
    for n in 0..TRACES {
        update(&mut app, Msg::Trace(Box::new(bulk(format!("bulk-{n}"), n))));
        if n + 1 == KEPT {
            at_kept = memory();
        }
    }
    let one_by_one = start.elapsed();
    let kept = app.traces.len();
    let at_all = memory();
    // 10,000 more as the loop takes a burst: BATCH messages, then a frame.
    let start = Instant::now();
    for n in 0..TRACES {
        update(
            &mut app,
            Msg::Trace(Box::new(bulk(format!("burst-{n}"), n))),
        );
        if (n + 1) % BATCH == 0 || n + 1 == TRACES {
            frame(&mut terminal, &app);
        }
    }
    let batched = start.elapsed();
    println!(
        "{TRACES} traces taken in: {} ({} each); {TRACES} more with a frame every {BATCH} as the loop does: {}",
        show(one_by_one),
        show(one_by_one / TRACES as u32),
        show(batched)
    );
    println!(
        "traces kept: {kept} after {TRACES} requests, {} after {} (cap {KEPT}; {} let go)",
        app.traces.len(),
        2 * TRACES,
        app.traces.dropped,
    );
    println!(
        "memory: {before} before; {at_kept} after {KEPT} traces; {at_all} after {TRACES}; {} after {}",
        memory(),
        2 * TRACES
    );
    assert_eq!(kept, KEPT, "the trace list is bounded");
    assert_eq!(app.traces.len(), KEPT, "the trace list is bounded");

    println!(
        "{WIDTH}×{HEIGHT}, lesson screen, trace pane focused, {} traces kept:",
        app.traces.len()
    );

    // A frame as the loop draws it (render, then write the changed cells), with the
    // selection moved between frames so each differs from the last.
    for _ in 0..20 {
        frame(&mut terminal, &app);
    }
    let mut draws = Samples(Vec::new());
    let mut full = Samples(Vec::new());
    for i in 0..rounds {
        update(&mut app, press(if i % 2 == 0 { 'k' } else { 'j' }));
        draws.time(|| frame(&mut terminal, &app));
    }
    // Repainted in full: every cell written, as after a resize or the editor.
    for _ in 0..rounds {
        terminal.clear().expect("a test backend clears");
        full.time(|| frame(&mut terminal, &app));
    }
    draws.report("draw (changed cells written)");
    full.report("draw (full repaint)");

    // `j` in the trace pane: one trace down (after an untimed `k` up, so it moves).
    let mut keys = Samples(Vec::new());
    for _ in 0..rounds {
        update(&mut app, press('k'));
        let before = app.traces.selected;
        black_box(keys.time(|| update(&mut app, press('j'))));
        assert_eq!(app.traces.selected, before + 1, "j moves the selection");
    }
    keys.report("update(j) in the trace pane");
    let mut key_frames = Samples(Vec::new());
    for _ in 0..rounds {
        update(&mut app, press('k'));
        key_frames.time(|| {
            update(&mut app, press('j'));
            frame(&mut terminal, &app);
        });
    }
    key_frames.report("update(j) + draw");

    // The console sends GET /tasks/7 (s); its answer and its trace arrive. Whichever comes
    // second, the frame drawn after it shows both.
    let mut sent_last = Samples(Vec::new());
    let mut trace_last = Samples(Vec::new());
    for i in 0..rounds {
        let fx = update(&mut app, press('s'));
        let [Effect::Send { id, request, .. }] = fx.as_slice() else {
            panic!("s sends one request: {fx:?}")
        };
        let (id, request) = (*id, request.clone());
        frame(&mut terminal, &app);
        let request_id = format!("console-{i}");
        let arrives_trace = Msg::Trace(Box::new(trace(request_id.clone(), 7, 200)));
        let arrives_sent = Msg::Sent {
            id,
            exchange: Box::new(answer(request, &request_id)),
        };
        if i % 2 == 0 {
            update(&mut app, arrives_trace);
            frame(&mut terminal, &app);
            sent_last.time(|| {
                update(&mut app, arrives_sent);
                frame(&mut terminal, &app);
            });
        } else {
            update(&mut app, arrives_sent);
            frame(&mut terminal, &app);
            trace_last.time(|| {
                update(&mut app, arrives_trace);
                frame(&mut terminal, &app);
            });
        }
        // Both are on screen now.
        assert_eq!(
            app.traces.current().map(|t| t.request_id.as_str()),
            Some(request_id.as_str())
        );
        assert_eq!(app.responses.current().and_then(|r| r.status()), Some(200));
        let text = screen(&terminal);
        assert!(text.contains("as the lesson expects"), "{text}");
        assert!(text.contains("found task 7"), "{text}");
    }
    sent_last.report("response arrives (trace already in): update + draw");
    trace_last.report("trace arrives (response already in): update + draw");
    println!(
        "after {rounds} more sends: {} traces kept, {} responses kept",
        app.traces.len(),
        app.responses.history.len()
    );
}

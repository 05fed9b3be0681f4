//! The guide, tested in three layers: `update` on message sequences (no I/O), every screen
//! drawn on a test backend (text snapshots plus style checks where color carries meaning),
//! and the real loop driven by keys against a real lab, waiting for text on screen.

mod harness;
mod screens;
mod updates;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use reqlab::check::http::{Exchange, Received};
use reqlab::course::request::Outgoing;
use reqlab::course::{ContentSource, Course};
use reqlab::lab::trace::{Outcome, SqlRecord, Timestamp, Trace, TraceEvent};
use reqlab::progress::Place;
use reqlab::stage::Stage;
use reqlab::tui::app::{App, Standing};
use reqlab::tui::msg::{Effect, Msg};
use reqlab::tui::update::update;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The built-in course, loaded once.
pub fn course() -> Arc<Course> {
    static COURSE: OnceLock<Arc<Course>> = OnceLock::new();
    Arc::clone(COURSE.get_or_init(|| Arc::new(Course::load(&ContentSource::Embedded).unwrap())))
}

/// A guide on an 80×24 terminal with a lab at a fixed address, starting on the map.
pub fn app() -> App {
    app_sized(80, 24)
}

/// The same at another size.
pub fn app_sized(width: u16, height: u16) -> App {
    App::new(
        course(),
        "http://127.0.0.1:4747".into(),
        Standing::default(),
        Place::default(),
        (width, height),
    )
}

/// A key press.
pub fn press(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

/// Presses each character of `keys` in turn, collecting the effects.
pub fn keys(app: &mut App, keys: &str) -> Vec<Effect> {
    keys.chars()
        .flat_map(|c| update(app, press(KeyCode::Char(c))))
        .collect()
}

/// A key with modifiers.
pub fn chord(code: KeyCode, modifiers: KeyModifiers) -> Msg {
    Msg::Key(KeyEvent {
        code,
        modifiers,
        kind: KeyEventKind::Press,
        state: crossterm::event::KeyEventState::NONE,
    })
}

/// A response as the console would receive it.
pub fn answer(request: Outgoing, status: u16, request_id: &str, body: &str) -> Exchange {
    Exchange {
        request,
        response: Ok(Received {
            status,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("etag".into(), "\"7-20261201120000000000\"".into()),
                ("x-request-id".into(), request_id.into()),
            ],
            body: body.as_bytes().to_vec(),
            truncated: false,
            elapsed: Duration::from_micros(1800),
        }),
    }
}

/// A trace with fixed times, as the lab would record `GET /tasks/7`.
pub fn trace(request_id: &str, status: u16) -> Trace {
    let event = |stage, at_us, duration_us, message: &str, sql: Option<SqlRecord>| TraceEvent {
        stage,
        outcome: if status >= 400 && stage == Stage::Logic {
            Outcome::Fail
        } else {
            Outcome::Ok
        },
        at_us,
        duration_us,
        message: message.into(),
        sql,
    };
    Trace {
        request_id: request_id.into(),
        started_at: Timestamp(1_764_590_400_000_000),
        method: "GET".into(),
        path: "/tasks/7".into(),
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
                "received GET /tasks/7 over HTTP/1.1 with no body",
                None,
            ),
            event(Stage::Routing, 30, 0, "matched route GET /tasks/{id}", None),
            event(Stage::Parsing, 40, 10, "path parameter id = 7", None),
            event(
                Stage::Data,
                60,
                250,
                "read task 7",
                Some(SqlRecord {
                    statement:
                        "SELECT id, title, done, created_at, updated_at FROM tasks WHERE id = ?1"
                            .into(),
                    params: vec!["7".into()],
                    rows: 1,
                    call_site: None,
                }),
            ),
            event(
                Stage::Logic,
                320,
                5,
                if status == 200 {
                    "found task 7"
                } else {
                    "no task 7 → 404"
                },
                None,
            ),
            event(
                Stage::Response,
                400,
                20,
                "200 OK with 158 bytes of JSON",
                None,
            ),
        ],
    }
}

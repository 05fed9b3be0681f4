//! Every screen drawn on a test backend: text snapshots (reviewed), and style checks where a
//! color carries meaning (status classes, the selection, NO_COLOR).

use super::*;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::{Color, Modifier};
use reqlab::check::event::Event;
use reqlab::check::result::{CheckOutcome, Finding, Status};
use reqlab::lab::step::{Go, Held};
use reqlab::tui::draw::draw;

/// The app drawn on a terminal of its size.
fn drawn(app: &App, colors: bool) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(app.size.0, app.size.1)).unwrap();
    terminal.draw(|f| draw(f, app, colors)).unwrap();
    terminal
}

fn snapshot(name: &str, app: &App) {
    let terminal = drawn(app, true);
    insta::assert_snapshot!(name, terminal.backend());
}

/// The screen's text.
fn text(terminal: &Terminal<TestBackend>) -> String {
    terminal.backend().to_string()
}

/// The first cell whose row contains `needle`, at the needle's first character.
fn find(terminal: &Terminal<TestBackend>, needle: &str) -> (u16, u16) {
    let buffer = terminal.backend().buffer();
    for y in 0..buffer.area.height {
        let row: String = (0..buffer.area.width)
            .map(|x| buffer[(x, y)].symbol().to_string())
            .collect();
        if let Some(byte) = row.find(needle) {
            let x = row[..byte].chars().count() as u16;
            return (x, y);
        }
    }
    panic!("{needle:?} is not on screen:\n{}", text(terminal));
}

fn open(app: &mut App, index: usize) {
    for _ in 0..index {
        update(app, press(KeyCode::Down));
    }
    update(app, press(KeyCode::Enter));
}

/// Lesson 2 with `GET /tasks/7` sent and answered, its trace shown.
fn with_exchange(width: u16, height: u16, status: u16) -> App {
    let mut app = app_sized(width, height);
    open(&mut app, 1);
    let fx = keys(&mut app, "s");
    let [Effect::Send { id, request, .. }] = fx.as_slice() else {
        panic!()
    };
    update(&mut app, Msg::Trace(Box::new(trace("r-1", status))));
    update(
        &mut app,
        Msg::Sent {
            id: *id,
            exchange: Box::new(answer(
                request.clone(),
                status,
                "r-1",
                r#"{"id":7,"title":"Water the plants","done":false}"#,
            )),
        },
    );
    app
}

#[test]
fn the_map() {
    snapshot("map_80x24", &app());
}

#[test]
fn the_map_marks_progress_and_the_selection() {
    let mut app = app();
    app.standing.passed.insert("http-basics".into(), 99);
    app.standing
        .read
        .insert(("rest-resources".into(), "constraints".into()));
    update(&mut app, press(KeyCode::Down));
    let t = drawn(&app, true);
    let screen = text(&t);
    assert_contains!(screen, "✓ challenge passed");
    assert_contains!(screen, "read 1/");
    // Passed is green; the selected lesson's number under its stages is reversed.
    let (x, y) = find(&t, "✓ challenge passed");
    assert_eq!(t.backend().buffer()[(x, y)].fg, Color::Green);
    let buffer = t.backend().buffer();
    let reversed_two = (0..buffer.area.width).any(|x| {
        let c = &buffer[(x, 5)];
        c.symbol() == "2" && c.modifier.contains(Modifier::REVERSED)
    });
    assert!(
        reversed_two,
        "lesson 2 is highlighted under its stages:\n{screen}"
    );
}

#[test]
fn a_lesson_with_its_console() {
    let mut app = app();
    open(&mut app, 1);
    snapshot("lesson_80x24", &app);
}

#[test]
fn a_response_and_its_trace() {
    snapshot("exchange_80x24", &with_exchange(80, 24, 200));
}

#[test]
fn side_by_side_on_a_wide_terminal() {
    snapshot("exchange_160x40", &with_exchange(160, 40, 200));
}

#[test]
fn status_lines_are_colored_by_class() {
    for (status, color) in [(200, Color::Green), (404, Color::Yellow), (500, Color::Red)] {
        let app = with_exchange(160, 40, status);
        let t = drawn(&app, true);
        let reason = reqlab::status::reason(status);
        let (x, y) = find(&t, &format!("{status} {reason}"));
        assert_eq!(t.backend().buffer()[(x, y)].fg, color, "{status}");
    }
}

#[test]
fn no_color_keeps_emphasis_and_drops_colors() {
    let app = with_exchange(160, 40, 404);
    let t = drawn(&app, false);
    let buffer = t.backend().buffer();
    assert!(
        buffer
            .content
            .iter()
            .all(|c| c.fg == Color::Reset && c.bg == Color::Reset)
    );
    let (x, y) = find(&t, "404 Not Found");
    assert!(buffer[(x, y)].modifier.contains(Modifier::BOLD));
}

#[test]
fn editing_the_body() {
    let mut app = with_exchange(80, 24, 200);
    keys(&mut app, "2jj");
    update(&mut app, press(KeyCode::Enter));
    keys(&mut app, "{\"done\": true}");
    snapshot("editing_body_80x24", &app);
}

#[test]
fn the_help_for_the_lesson_screen() {
    let mut app = app();
    open(&mut app, 0);
    keys(&mut app, "?");
    snapshot("help_lesson_80x24", &app);
}

#[test]
fn the_sections_of_a_lesson() {
    let mut app = app();
    app.standing
        .read
        .insert(("http-basics".into(), "four-jobs".into()));
    open(&mut app, 0);
    keys(&mut app, "o");
    snapshot("outline_80x24", &app);
}

#[test]
fn a_terminal_too_small() {
    snapshot("too_small", &app_sized(60, 15));
}

/// The http-basics challenge with its first check failed and the rest passed.
fn challenge_ran(app: &mut App) {
    open(app, 0);
    let fx = keys(app, "c");
    let run = fx
        .iter()
        .find_map(|e| match e {
            Effect::RunChallenge { run, .. } => Some(*run),
            _ => None,
        })
        .unwrap();
    let panel = app.panel.as_ref().unwrap();
    let challenge = panel.challenge.clone();
    let rows: Vec<_> = panel
        .rows
        .iter()
        .map(|r| (r.name.clone(), r.stage, r.severity))
        .collect();
    for (index, (name, stage, severity)) in rows.into_iter().enumerate() {
        let failed = index == 0;
        let exchange = answer(
            Outgoing::new(
                axum::http::Method::GET,
                "http://127.0.0.1:8000/health".into(),
            ),
            if failed { 404 } else { 200 },
            "x",
            "{}",
        );
        let mut finding = Finding::new("GET /health answered 404, not 200", Some(exchange.clone()));
        finding.mismatch = None;
        let outcome = CheckOutcome {
            name,
            stage,
            severity,
            status: if failed { Status::Fail } else { Status::Pass },
            duration: Duration::from_millis(2),
            hint: "read “Status codes” in `reqlab learn http-basics#status-codes`".into(),
            why: None,
            finding: failed.then_some(finding),
            server_output: None,
        };
        for event in [
            Event::RequestSent {
                challenge: challenge.clone(),
                check: index,
                exchange: Box::new(exchange),
            },
            Event::CheckFinished {
                challenge: challenge.clone(),
                index,
                outcome: Box::new(outcome),
            },
        ] {
            update(
                app,
                Msg::Check {
                    run,
                    event: Box::new(event),
                },
            );
        }
    }
    update(
        app,
        Msg::Check {
            run,
            event: Box::new(Event::RunFinished { passed: false }),
        },
    );
}

#[test]
fn the_challenge_panel_before_a_run() {
    let mut app = app();
    open(&mut app, 0);
    keys(&mut app, "t");
    update(&mut app, press(KeyCode::Esc));
    snapshot("challenge_idle_80x24", &app);
}

#[test]
fn the_challenge_panel_after_a_failed_run() {
    let mut app = app();
    challenge_ran(&mut app);
    snapshot("challenge_failed_80x24", &app);
    let t = drawn(&app, true);
    let (x, y) = find(&t, "✗");
    assert_eq!(t.backend().buffer()[(x, y)].fg, Color::Red);
}

#[test]
fn a_failed_check_opened() {
    let mut app = app();
    challenge_ran(&mut app);
    update(&mut app, press(KeyCode::Enter));
    snapshot("check_detail_80x24", &app);
    // Enter again opens the lesson section the hint names.
    update(&mut app, press(KeyCode::Enter));
    assert_eq!(app.screen, reqlab::tui::app::Screen::Lesson);
    assert_eq!(
        app.page
            .as_ref()
            .unwrap()
            .reader
            .current_section()
            .unwrap()
            .id,
        "status-codes"
    );
}

/// Lesson 2's create-task preset sent in step mode and held at the data layer, after
/// stopping at every earlier boundary it had work at.
fn stepping(width: u16, height: u16) -> (App, Vec<tokio::sync::oneshot::Receiver<Go>>) {
    use reqlab::lab::step::Carries;
    let mut app = app_sized(width, height);
    open(&mut app, 1);
    while !text(&drawn(&app, true)).contains("create-task") {
        keys(&mut app, "n");
    }
    let fx = keys(&mut app, "S");
    assert!(matches!(
        fx.as_slice(),
        [Effect::Send { stepped: true, .. }]
    ));
    let mut headers = axum::http::HeaderMap::new();
    headers.insert("content-type", "application/json".parse().unwrap());
    headers.insert("host", "127.0.0.1:4747".parse().unwrap());
    let title = "Write the README".to_string();
    let stamp = "2026-12-02T09:00:00Z".to_string();
    let stops = [
        (
            Stage::Http,
            Carries::request_head("POST", "/tasks", "HTTP/1.1", &headers),
        ),
        (
            Stage::Routing,
            Carries::new("matched POST /tasks; the route takes no path parameters")
                .with_field("route", "POST /tasks"),
        ),
        (
            Stage::Validation,
            Carries::new("validation passed: 2 fields kept the contract; the handler may run")
                .with_field("title", "accepted: \"Write the README\"")
                .with_field("done", "accepted: false"),
        ),
        (
            Stage::Data,
            Carries::statement(
                "on the writer thread",
                "INSERT INTO tasks (title, done, created_at, updated_at) VALUES (?1, ?2, ?3, ?3) RETURNING id, title, done, created_at, updated_at",
                &[&title, &false, &stamp],
            ),
        ),
    ];
    let mut gates = Vec::new();
    for (stage, carries) in stops {
        let (held, gate) = Held::new("r-1".into(), stage, carries);
        gates.push(gate);
        let fx = update(&mut app, Msg::Held(Box::new(held)));
        // The stop before is released as this one arrives (it moved on by itself).
        assert!(fx.iter().all(|e| matches!(e, Effect::Release(..))));
    }
    (app, gates)
}

#[test]
fn a_request_held_at_the_data_layer() {
    let (app, _gates) = stepping(120, 36);
    snapshot("step_data_120x36", &app);
    // The stage it is held at is reversed in the header and in the pane.
    let t = drawn(&app, true);
    let (x, y) = find(&t, "▶data");
    assert!(
        t.backend().buffer()[(x, y)]
            .modifier
            .contains(Modifier::REVERSED)
    );
    let screen = text(&t);
    assert_contains!(screen, "–parsing");
    assert_contains!(screen, "?1 'Write the README'");
}

#[test]
fn a_status_explained() {
    let mut app = with_exchange(80, 24, 404);
    keys(&mut app, "3x");
    snapshot("explain_404_80x24", &app);
}

#[test]
fn the_map_scrolls_to_keep_the_selected_lesson_in_view() {
    let mut app = app();
    let last = course().lessons.len() - 1;
    for _ in 0..last {
        update(&mut app, press(KeyCode::Down));
    }
    let t = drawn(&app, true);
    let screen = text(&t);
    let lesson = &course().lessons[last];
    assert_contains!(
        screen,
        format!("▶ {:>2}  {}", lesson.number, &lesson.title[..10])
    );
    // The selected lesson's summary stays on screen below the list, and the map says that
    // earlier lessons are out of view.
    assert_contains!(screen, &lesson.summary[..20]);
    assert_contains!(screen, "↑ ");
    assert!(!screen.contains("↓ "), "{screen}");
}

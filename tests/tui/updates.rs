//! `update` on message sequences: what each key does to the state and which effects it asks
//! for, with no terminal and no lab.

use super::*;
use reqlab::tui::app::{LessonStanding, Overlay, Screen};
use reqlab::tui::challenge::{CheckState, RunState};
use reqlab::tui::keys::Pane;
use reqlab::tui::msg::{Field, RunTarget};

fn open_lesson(app: &mut App, index: usize) -> Vec<Effect> {
    let mut fx = Vec::new();
    for _ in 0..index {
        fx.extend(update(app, press(KeyCode::Down)));
    }
    fx.extend(update(app, press(KeyCode::Enter)));
    fx
}

#[test]
fn enter_on_the_map_opens_the_lesson_and_remembers_it() {
    let mut app = app();
    assert_eq!(app.screen, Screen::Home);
    let fx = open_lesson(&mut app, 1);
    assert_eq!(app.screen, Screen::Lesson);
    let page = app.page.as_ref().unwrap();
    assert_eq!(app.course.lessons[page.lesson].id, "rest-resources");
    assert!(
        fx.iter().any(
            |e| matches!(e, Effect::SavePlace(p) if p.lesson.as_deref() == Some("rest-resources"))
        ),
        "{fx:?}"
    );
    // q goes back to the map; on the map, q quits.
    update(&mut app, press(KeyCode::Char('q')));
    assert_eq!(app.screen, Screen::Home);
    let fx = update(&mut app, press(KeyCode::Char('q')));
    assert!(app.quit);
    assert!(fx.iter().any(|e| matches!(e, Effect::CancelChallenge)));
}

#[test]
fn only_key_presses_count() {
    let mut app = app();
    let release = Msg::Key(KeyEvent {
        code: KeyCode::Enter,
        modifiers: KeyModifiers::NONE,
        kind: KeyEventKind::Release,
        state: crossterm::event::KeyEventState::NONE,
    });
    update(&mut app, release);
    assert_eq!(app.screen, Screen::Home);
}

#[test]
fn s_sends_the_preset_and_its_answer_and_trace_are_shown_together() {
    let mut app = app();
    open_lesson(&mut app, 1);
    let fx = keys(&mut app, "s");
    let [
        Effect::Send {
            id,
            request,
            stepped: false,
        },
    ] = fx.as_slice()
    else {
        panic!("{fx:?}");
    };
    assert_eq!(request.url, "http://127.0.0.1:4747/tasks/7");
    assert_eq!(app.responses.current().unwrap().status(), None, "waiting");
    // The trace may come first: it is shown once the answer names it.
    update(&mut app, Msg::Trace(Box::new(trace("other", 200))));
    update(&mut app, Msg::Trace(Box::new(trace("r-1", 200))));
    update(&mut app, Msg::Trace(Box::new(trace("later", 404))));
    update(
        &mut app,
        Msg::Sent {
            id: *id,
            exchange: Box::new(answer(request.clone(), 200, "r-1", r#"{"id":7}"#)),
        },
    );
    assert_eq!(app.traces.current().unwrap().request_id, "r-1");
    assert_eq!(app.responses.current().unwrap().status(), Some(200));
    assert!(
        app.notice
            .as_ref()
            .unwrap()
            .text
            .contains("as the lesson expects")
    );
    // Or the answer comes first and the trace after it.
    let fx = keys(&mut app, "s");
    let [Effect::Send { id, request, .. }] = fx.as_slice() else {
        panic!()
    };
    update(
        &mut app,
        Msg::Sent {
            id: *id,
            exchange: Box::new(answer(request.clone(), 404, "r-2", "{}")),
        },
    );
    assert!(
        app.notice.as_ref().unwrap().error,
        "404 is not what the lesson expects"
    );
    update(&mut app, Msg::Trace(Box::new(trace("r-2", 404))));
    assert_eq!(app.traces.current().unwrap().request_id, "r-2");
}

#[test]
fn n_and_shift_n_cycle_the_presets_around() {
    let mut app = app();
    open_lesson(&mut app, 0);
    let lesson = &app.course.lessons[0];
    let count = lesson.presets.len();
    let last = lesson.presets[count - 1].id.clone();
    let first = lesson.presets[0].id.clone();
    keys(&mut app, "N");
    assert_eq!(app.page.as_ref().unwrap().composer.preset, Some(count - 1));
    assert!(app.notice.as_ref().unwrap().text.contains(&last));
    keys(&mut app, "n");
    assert_eq!(app.page.as_ref().unwrap().composer.preset, Some(0));
    assert!(app.notice.as_ref().unwrap().text.contains(&first));
}

#[test]
fn in_editing_mode_every_key_types_until_esc() {
    let mut app = app();
    open_lesson(&mut app, 1);
    keys(&mut app, "2"); // the composer
    assert_eq!(app.page.as_ref().unwrap().focus, Pane::Composer);
    keys(&mut app, "j"); // path → headers
    update(&mut app, press(KeyCode::Enter));
    assert_eq!(app.editing, Some(Field::Headers));
    // q, s and c type; they do not quit, send or run.
    let fx = keys(&mut app, "Accept: text/plain qsc");
    assert!(fx.is_empty(), "{fx:?}");
    assert!(!app.quit);
    update(&mut app, press(KeyCode::Esc));
    assert_eq!(app.editing, None);
    let composer = &app.page.as_ref().unwrap().composer;
    assert!(composer.edited);
    let fx = keys(&mut app, "s");
    let [Effect::Send { request, .. }] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    assert!(
        request
            .headers
            .iter()
            .any(|(k, v)| k == "Accept" && v == "text/plain qsc"),
        "{:?}",
        request.headers
    );
}

#[test]
fn alt_enter_sends_from_the_body_and_a_bad_field_is_named() {
    let mut app = app();
    open_lesson(&mut app, 1);
    keys(&mut app, "2jj");
    update(&mut app, press(KeyCode::Enter));
    assert_eq!(app.editing, Some(Field::Body));
    let fx = update(&mut app, chord(KeyCode::Enter, KeyModifiers::ALT));
    assert!(matches!(fx.as_slice(), [Effect::Send { .. }]), "{fx:?}");
    assert_eq!(app.editing, None);
    // A path without its slash is refused, naming the field.
    keys(&mut app, "k");
    keys(&mut app, "k");
    update(&mut app, press(KeyCode::Enter));
    assert_eq!(app.editing, Some(Field::Path));
    update(&mut app, press(KeyCode::Home));
    update(&mut app, press(KeyCode::Delete));
    update(&mut app, press(KeyCode::Enter));
    let fx = keys(&mut app, "s");
    assert!(fx.is_empty());
    assert!(
        app.notice
            .as_ref()
            .unwrap()
            .text
            .starts_with("cannot send: path:"),
        "{:?}",
        app.notice
    );
}

#[test]
fn ctrl_c_quits_even_while_typing() {
    let mut app = app();
    open_lesson(&mut app, 0);
    keys(&mut app, "/");
    assert_eq!(app.editing, Some(Field::Search));
    update(&mut app, chord(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(app.quit);
}

#[test]
fn scrolling_through_sections_marks_them_read_once() {
    let mut app = app();
    open_lesson(&mut app, 0);
    let mut marked = Vec::new();
    for _ in 0..400 {
        for e in update(&mut app, press(KeyCode::PageDown)) {
            if let Effect::MarkRead { section, .. } = e {
                marked.push(section);
            }
        }
    }
    let lesson = &app.course.lessons[0];
    assert_eq!(
        marked.len(),
        lesson.sections.len(),
        "each section once: {marked:?}"
    );
    assert_eq!(
        app.lesson_standing(0),
        LessonStanding::Read {
            read: marked.len(),
            of: marked.len()
        }
    );
}

#[test]
fn the_guide_resumes_at_the_lesson_and_section_left() {
    let place = Place {
        lesson: Some("validation".into()),
        section: Some("layers".into()),
        target: Some("http://127.0.0.1:9000".into()),
        command: None,
    };
    let mut app = App::new(
        course(),
        "http://127.0.0.1:4747".into(),
        Standing::default(),
        place,
        (80, 24),
    );
    assert_eq!(app.screen, Screen::Lesson);
    let page = app.page.as_ref().unwrap();
    assert_eq!(page.reader.current_section().unwrap().id, "layers");
    // The challenge panel checks the remembered target.
    let fx = keys(&mut app, "c");
    let run = fx.iter().find_map(|e| match e {
        Effect::RunChallenge {
            challenge, target, ..
        } => Some((challenge.clone(), target.clone())),
        _ => None,
    });
    assert_eq!(
        run,
        Some((
            "validation".into(),
            RunTarget::Learner {
                url: "http://127.0.0.1:9000".into(),
                command: None
            }
        ))
    );
}

#[test]
fn t_edits_the_target_and_enter_confirms_and_remembers_it() {
    let mut app = app();
    open_lesson(&mut app, 0);
    keys(&mut app, "t");
    assert_eq!(app.screen, Screen::Challenge);
    assert_eq!(app.editing, Some(Field::Target));
    // The old URL is selected: typing replaces it.
    keys(&mut app, "http://localhost:3000");
    let fx = update(&mut app, press(KeyCode::Enter));
    assert_eq!(app.editing, None);
    assert!(
        fx.iter().any(|e| matches!(e, Effect::SavePlace(p) if p.target.as_deref() == Some("http://localhost:3000"))),
        "{fx:?}"
    );
}

#[test]
fn a_target_that_is_not_an_address_stays_in_the_field_with_the_reason() {
    let mut app = app();
    open_lesson(&mut app, 0);
    keys(&mut app, "t");
    keys(&mut app, "uvicorn main:app");
    let fx = update(&mut app, press(KeyCode::Enter));
    assert_eq!(app.editing, Some(Field::Target), "still editing");
    assert!(!fx.iter().any(|e| matches!(e, Effect::SavePlace(_))));
    let notice = app.notice.as_ref().unwrap();
    assert!(
        notice
            .text
            .contains("the target `uvicorn main:app` is not a URL"),
        "{}",
        notice.text
    );
}

#[test]
fn a_start_command_that_names_its_port_moves_the_target_there() {
    let mut app = app();
    open_lesson(&mut app, 0);
    keys(&mut app, "t");
    update(&mut app, press(KeyCode::Esc));
    keys(&mut app, "r");
    assert_eq!(app.editing, Some(Field::Command));
    keys(&mut app, "uvicorn main:app --port 8765");
    let fx = update(&mut app, press(KeyCode::Enter));
    let panel = app.panel.as_ref().unwrap();
    assert_eq!(panel.target_text(), "http://127.0.0.1:8765");
    assert!(
        fx.iter().any(|e| matches!(e, Effect::SavePlace(p)
            if p.target.as_deref() == Some("http://127.0.0.1:8765")
            && p.command.as_deref() == Some("uvicorn main:app --port 8765"))),
        "{fx:?}"
    );
}

#[test]
fn a_challenge_run_fills_the_panel_and_a_pass_is_recorded_and_points_on() {
    use reqlab::check::event::Event;
    use reqlab::check::result::{CheckOutcome, Status};
    let mut app = app();
    open_lesson(&mut app, 0);
    let fx = keys(&mut app, "L");
    assert!(fx.is_empty(), "L acts on the challenge panel only");
    let fx = keys(&mut app, "c");
    let run = fx
        .iter()
        .find_map(|e| match e {
            Effect::RunChallenge { run, .. } => Some(*run),
            _ => None,
        })
        .unwrap();
    let panel = app.panel.as_ref().unwrap();
    assert!(matches!(panel.state, RunState::Running { lab: false }));
    let checks = panel.rows.len();
    let challenge = panel.challenge.clone();
    for index in 0..checks {
        let row = &app.panel.as_ref().unwrap().rows[index];
        let outcome = CheckOutcome {
            name: row.name.clone(),
            stage: row.stage,
            severity: row.severity,
            status: Status::Pass,
            duration: Duration::from_millis(3),
            hint: String::new(),
            why: None,
            finding: None,
            server_output: None,
        };
        update(
            &mut app,
            Msg::Check {
                run,
                event: Box::new(Event::CheckFinished {
                    challenge: challenge.clone(),
                    index,
                    outcome: Box::new(outcome),
                }),
            },
        );
    }
    // Events of an older run are ignored.
    update(
        &mut app,
        Msg::Check {
            run: run - 1,
            event: Box::new(Event::RunFinished { passed: false }),
        },
    );
    assert!(app.panel.as_ref().unwrap().running());
    update(
        &mut app,
        Msg::Check {
            run,
            event: Box::new(Event::Recorded {
                challenges: vec![challenge.clone()],
            }),
        },
    );
    update(
        &mut app,
        Msg::Check {
            run,
            event: Box::new(Event::RunFinished { passed: true }),
        },
    );
    let panel = app.panel.as_ref().unwrap();
    assert!(
        panel
            .rows
            .iter()
            .all(|r| matches!(r.state, CheckState::Done(_)))
    );
    assert_eq!(
        panel.state,
        RunState::Finished {
            passed: true,
            lab: false
        }
    );
    assert_eq!(app.lesson_standing(0), LessonStanding::Passed);
    let said = &app.notice.as_ref().unwrap().text;
    assert!(
        said.contains("passed") && said.contains("next: lesson 2"),
        "{said}"
    );
}

#[test]
fn search_finds_the_next_match_in_the_lesson() {
    let mut app = app();
    open_lesson(&mut app, 0);
    keys(&mut app, "/idempotent");
    update(&mut app, press(KeyCode::Enter));
    let first = app
        .page
        .as_ref()
        .unwrap()
        .reader
        .search
        .clone()
        .unwrap()
        .1
        .unwrap();
    keys(&mut app, "/");
    update(&mut app, press(KeyCode::Enter));
    let second = app
        .page
        .as_ref()
        .unwrap()
        .reader
        .search
        .clone()
        .unwrap()
        .1
        .unwrap();
    assert!(second > first, "{first} then {second}");
    assert!(app.notice.as_ref().unwrap().text.contains("matching lines"));
}

#[test]
fn two_responses_can_be_compared() {
    let mut app = app();
    open_lesson(&mut app, 1);
    for (status, body) in [
        (200, r#"{"id":7,"done":false}"#),
        (200, r#"{"id":7,"done":true}"#),
    ] {
        let fx = keys(&mut app, "s");
        let [Effect::Send { id, request, .. }] = fx.as_slice() else {
            panic!()
        };
        update(
            &mut app,
            Msg::Sent {
                id: *id,
                exchange: Box::new(answer(request.clone(), status, "r", body)),
            },
        );
    }
    keys(&mut app, "3");
    keys(&mut app, "D");
    assert!(app.overlay.is_none(), "nothing marked yet");
    keys(&mut app, "[m]D");
    let Some(Overlay::Text { lines, .. }) = &app.overlay else {
        panic!("{:?}", app.overlay)
    };
    let text: String = lines
        .iter()
        .map(reqlab::tui::text::plain)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        text.contains("-  \"done\": false") && text.contains("+  \"done\": true"),
        "{text}"
    );
}

#[test]
fn a_resize_renders_the_lesson_for_its_new_width() {
    let mut app = app();
    open_lesson(&mut app, 0);
    let narrow = app.page.as_ref().unwrap().reader.width;
    update(
        &mut app,
        Msg::Resize {
            width: 200,
            height: 50,
        },
    );
    let wide = app.page.as_ref().unwrap().reader.width;
    assert_ne!(
        wide, narrow,
        "side by side, the lesson pane has another width"
    );
    assert_eq!(wide, app.lesson_width());
    keys(&mut app, "z");
    assert!(
        app.page.as_ref().unwrap().reader.width > 150,
        "zoomed, it takes the width"
    );
}

#[test]
fn a_preset_keeps_a_token_and_the_next_one_sends_it() {
    let mut app = app();
    let auth = course()
        .lessons
        .iter()
        .position(|l| l.id == "auth")
        .unwrap();
    open_lesson(&mut app, auth);
    let position = |id: &str| {
        course().lessons[auth]
            .presets
            .iter()
            .position(|p| p.id == id)
            .unwrap()
    };
    // Before the login, the request that needs the token says which one to send first.
    for _ in 0..position("me-with-token") {
        keys(&mut app, "n");
    }
    let fx = keys(&mut app, "s");
    assert!(fx.is_empty(), "{fx:?}");
    let said = &app.notice.as_ref().unwrap().text;
    assert!(
        said.contains("{{token}}") && said.contains("login-alice"),
        "{said}"
    );

    // Log in: the answer's access_token is kept.
    for _ in 0..(position("me-with-token") - position("login-alice")) {
        keys(&mut app, "N");
    }
    let fx = keys(&mut app, "s");
    let [Effect::Send { id, request, .. }] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    update(
        &mut app,
        Msg::Sent {
            id: *id,
            exchange: Box::new(answer(
                request.clone(),
                200,
                "r-login",
                r#"{"access_token":"aaa.bbb.ccc","token_type":"bearer"}"#,
            )),
        },
    );
    assert!(app.notice.as_ref().unwrap().text.contains("kept {{token}}"));
    keys(&mut app, "n");
    let fx = keys(&mut app, "s");
    let [Effect::Send { request, .. }] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    assert!(
        request
            .headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("authorization") && v == "Bearer aaa.bbb.ccc"),
        "{:?}",
        request.headers
    );
}

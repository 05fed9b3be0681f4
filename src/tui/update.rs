//! `update`: a message in, the state changed, effects out. No I/O happens here, so every
//! behaviour of the guide can be tested by feeding it messages.

use super::app::{App, DEFAULT_TARGET, Overlay, Screen};
use super::challenge::Panel;
use super::composer::Composer;
use super::keys::{self, Action, Pane};
use super::msg::{Effect, Field, Msg, Notice, RunTarget};
use super::responses::{self, LineKind};
use super::text;
use crate::check::event::Event as CheckEvent;
use crate::view;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// Applies one message.
pub fn update(app: &mut App, msg: Msg) -> Vec<Effect> {
    let mut fx = Vec::new();
    match msg {
        Msg::Key(key) if key.kind == KeyEventKind::Press => on_key(app, key, &mut fx),
        Msg::Key(_) => {}
        Msg::Paste(pasted) => on_paste(app, &pasted),
        Msg::Resize { width, height } => {
            app.size = (width, height);
            rerender(app);
        }
        Msg::Trace(trace) => {
            let awaited = app.awaited_trace.as_deref() == Some(trace.request_id.as_str());
            let id = trace.request_id.clone();
            app.traces.push(*trace);
            if awaited {
                app.traces.select_request(&id);
                app.awaited_trace = None;
            }
        }
        Msg::TracesSkipped(n) => app.traces.dropped += n,
        Msg::Sent { id, exchange } => on_sent(app, id, *exchange),
        Msg::Held(held) => on_held(app, held, &mut fx),
        Msg::Check { run, event } => on_check_event(app, run, *event),
        Msg::CheckEnded { run, result } => {
            if let Some(panel) = app.panel.as_mut()
                && panel.run == run
            {
                match result {
                    Err(reason) => {
                        panel.state = super::challenge::RunState::Failed(reason.clone());
                        app.notice = Some(Notice::error(reason));
                    }
                    Ok(_) if panel.running() => {
                        // Stopped before it finished (the learner ran it again or left).
                        panel.state = super::challenge::RunState::Idle;
                    }
                    Ok(_) => {}
                }
            }
        }
        Msg::Compared { check, result } => on_compared(app, check, result),
        Msg::Edited { field, result } => match result {
            Ok(Some(text)) => set_field_text(app, field, &text),
            Ok(None) => app.tell(Notice::info(format!("{} unchanged", field.label()))),
            Err(e) => app.tell(Notice::error(e)),
        },
        Msg::Notice(n) => app.tell(n),
        Msg::Quit => quit(app, &mut fx),
    }
    after_reading(app, &mut fx);
    fx
}

fn quit(app: &mut App, fx: &mut Vec<Effect>) {
    stop_stepping(app, fx);
    app.quit = true;
    fx.push(Effect::CancelChallenge);
    fx.push(Effect::SavePlace(app.place.clone()));
}

fn on_key(app: &mut App, key: KeyEvent, fx: &mut Vec<Effect>) {
    if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
        return quit(app, fx);
    }
    if let Some(field) = app.editing {
        return edit_key(app, field, key, fx);
    }
    if app.overlay.is_some() {
        return overlay_key(app, key);
    }
    let Some(action) = keys::action(app.context(), &key) else {
        return;
    };
    act(app, action, fx);
}

/// Keys while typing into a field: everything printable types; Esc stops; Enter confirms a
/// one-line field; Alt-Enter sends from the composer.
fn edit_key(app: &mut App, field: Field, key: KeyEvent, fx: &mut Vec<Effect>) {
    match key.code {
        KeyCode::Esc => return finish_edit(app, field, fx),
        KeyCode::Enter if key.modifiers.contains(KeyModifiers::ALT) && is_composer(field) => {
            app.editing = None;
            return send(app, false, fx);
        }
        KeyCode::Enter if field.single_line() => return finish_edit(app, field, fx),
        KeyCode::Tab if field.single_line() => return,
        _ => {}
    }
    let Some(area) = field_area(app, field) else {
        app.editing = None;
        return;
    };
    if area.input(key)
        && is_composer(field)
        && let Some(page) = app.page.as_mut()
    {
        page.composer.touched(field);
    }
}

fn is_composer(field: Field) -> bool {
    matches!(
        field,
        Field::Method | Field::Path | Field::Headers | Field::Body
    )
}

fn field_area(app: &mut App, field: Field) -> Option<&mut ratatui_textarea::TextArea<'static>> {
    match field {
        Field::Search => Some(&mut app.search),
        Field::Target => app.panel.as_mut().map(|p| &mut p.target),
        Field::Command => app.panel.as_mut().map(|p| &mut p.command),
        f => app.page.as_mut().and_then(|p| p.composer.field_mut(f)),
    }
}

fn finish_edit(app: &mut App, field: Field, fx: &mut Vec<Effect>) {
    app.editing = None;
    match field {
        Field::Target | Field::Command => {
            if field == Field::Command {
                follow_the_command(app);
            }
            // A target that is not a server's address stays in the field, said why.
            if field == Field::Target
                && let Some(panel) = &app.panel
                && let Err(e) = crate::check::plan::Target::parse(&panel.target_text())
            {
                app.editing = Some(Field::Target);
                app.tell(Notice::error(
                    e.to_string()
                        .replace("--target", "the target")
                        .replace(", or `lab`", " (L runs the checks on the lab)"),
                ));
                return;
            }
            if let Some(panel) = &app.panel {
                app.place.target = Some(panel.target_text()).filter(|t| !t.is_empty());
                app.place.command = panel.command_text();
                fx.push(Effect::SavePlace(app.place.clone()));
                let said = match field {
                    Field::Target => format!("checks will go to {}", panel.target_text()),
                    _ => match panel.command_text() {
                        Some(c) => format!(
                            "the checks will start your server with: {c} (and check {})",
                            panel.target_text()
                        ),
                        None => "the checks will not start a server: start yours yourself".into(),
                    },
                };
                app.tell(Notice::info(said));
            }
        }
        Field::Search => search(app),
        _ => {}
    }
}

/// A start command that names its port (`--port 8765`) moves the target's port there, so
/// the checks knock where the server listens.
fn follow_the_command(app: &mut App) {
    let Some(panel) = app.panel.as_mut() else {
        return;
    };
    let Some(port) = panel
        .command_text()
        .and_then(|c| crate::check::server::port_in_command(&c))
    else {
        return;
    };
    let target = panel.target_text();
    let moved = match reqwest::Url::parse(&target) {
        Ok(mut url) if url.port_or_known_default() != Some(port) => {
            url.set_port(Some(port)).ok().map(|()| url.to_string())
        }
        Ok(_) => None,
        Err(_) => Some(format!("http://127.0.0.1:{port}")),
    };
    if let Some(url) = moved {
        let url = url.trim_end_matches('/').to_string();
        panel.target = ratatui_textarea::TextArea::new(vec![url]);
    }
}

fn on_paste(app: &mut App, pasted: &str) {
    let Some(field) = app.editing else { return };
    let single = field.single_line();
    if let Some(area) = field_area(app, field) {
        let text = if single {
            pasted.replace(['\r', '\n'], " ")
        } else {
            pasted.replace("\r\n", "\n")
        };
        area.insert_str(text);
        if is_composer(field)
            && let Some(page) = app.page.as_mut()
        {
            page.composer.touched(field);
        }
    }
}

fn set_field_text(app: &mut App, field: Field, text: &str) {
    let text = text.trim_end_matches('\n');
    match field {
        Field::Target | Field::Command | Field::Search => {
            if let Some(area) = field_area(app, field) {
                *area = ratatui_textarea::TextArea::new(vec![text.replace('\n', " ")]);
            }
        }
        f => {
            if let Some(page) = app.page.as_mut() {
                page.composer.set_text(f, text);
            }
        }
    }
}

fn overlay_key(app: &mut App, key: KeyEvent) {
    let Some(action) = keys::action(
        keys::Context {
            screen: keys::Scope::Everywhere,
            pane: None,
        },
        &key,
    )
    .or(match key.code {
        KeyCode::Enter => Some(Action::Open),
        _ => None,
    }) else {
        return;
    };
    let page_rows = usize::from(app.size.1.saturating_sub(6)).max(1);
    let app_area = app.area();
    let sections = app.page.as_ref().map_or(0, |p| p.reader.sections.len());
    let Some(overlay) = app.overlay.as_mut() else {
        return;
    };
    match (overlay, action) {
        (_, Action::Back | Action::Help | Action::Quit) => app.overlay = None,
        (Overlay::Outline { selected }, Action::Up) => *selected = selected.saturating_sub(1),
        (Overlay::Outline { selected }, Action::Down) => {
            *selected = (*selected + 1).min(sections.saturating_sub(1))
        }
        (Overlay::Outline { selected }, Action::Open) => {
            let chosen = *selected;
            app.overlay = None;
            if let Some(page) = app.page.as_mut()
                && let Some(id) = page.reader.sections.get(chosen).map(|s| s.id.clone())
            {
                page.reader.jump_to(&id);
                page.focus = Pane::Lesson;
            }
        }
        (Overlay::Text { scroll, lines, .. }, a) => {
            let body = super::layout::frame(app_area).body;
            let width = super::layout::overlay_width(body.width).saturating_sub(2);
            let rows = text::wrap(lines, width).0.len();
            let max = rows.saturating_sub(usize::from(body.height.saturating_sub(2)));
            *scroll = match a {
                Action::Up => scroll.saturating_sub(1),
                Action::Down => (*scroll + 1).min(max),
                Action::PageUp => scroll.saturating_sub(page_rows),
                Action::PageDown => (*scroll + page_rows).min(max),
                Action::Top => 0,
                Action::Bottom => max,
                _ => *scroll,
            };
            if a == Action::Open
                && let Some(Overlay::Text {
                    jump: Some((lesson, section)),
                    ..
                }) = app.overlay.take()
            {
                open_section(app, &lesson, &section);
            }
        }
        _ => {}
    }
}

/// Opens a lesson at a section (from an explanation or a check's hint).
fn open_section(app: &mut App, lesson: &str, section: &str) {
    let Some(i) = app.course.lessons.iter().position(|l| l.id == lesson) else {
        return;
    };
    if app.page.as_ref().map(|p| p.lesson) != Some(i) {
        app.home = i;
        app.open_lesson(i);
    }
    app.screen = Screen::Lesson;
    if let Some(page) = app.page.as_mut() {
        page.reader.jump_to(section);
        page.focus = Pane::Lesson;
        page.zoom = false;
    }
}

fn act(app: &mut App, action: Action, fx: &mut Vec<Effect>) {
    match action {
        Action::Quit => quit(app, fx),
        Action::Help => {
            app.overlay = Some(Overlay::Text {
                title: "keys".into(),
                lines: help_lines(app.context()),
                scroll: 0,
                jump: None,
            })
        }
        Action::Back => back(app, fx),
        _ => match app.screen {
            Screen::Home => home_action(app, action, fx),
            Screen::Lesson => lesson_action(app, action, fx),
            Screen::Challenge => challenge_action(app, action, fx),
        },
    }
}

fn back(app: &mut App, fx: &mut Vec<Effect>) {
    match app.screen {
        Screen::Home => quit(app, fx),
        Screen::Lesson => {
            if let Some(page) = app.page.as_mut()
                && page.zoom
            {
                page.zoom = false;
                rerender(app);
                return;
            }
            stop_stepping(app, fx);
            app.screen = Screen::Home;
        }
        Screen::Challenge => {
            app.screen = if app.page.is_some() {
                Screen::Lesson
            } else {
                Screen::Home
            };
        }
    }
}

fn home_action(app: &mut App, action: Action, fx: &mut Vec<Effect>) {
    let count = app.course.lessons.len();
    match action {
        Action::Up => app.home = app.home.saturating_sub(1),
        Action::Down => app.home = (app.home + 1).min(count.saturating_sub(1)),
        Action::Left | Action::Right => {
            // Along the pipeline: to the nearest lesson whose first stage is earlier/later.
            let stage_of = |i: usize| app.course.lessons[i].stages.first().copied();
            let here = stage_of(app.home);
            let found = if action == Action::Right {
                (app.home + 1..count).find(|&i| stage_of(i) > here)
            } else {
                (0..app.home).rev().find(|&i| stage_of(i) < here)
            };
            if let Some(i) = found {
                app.home = i;
            }
        }
        Action::Top => app.home = 0,
        Action::Bottom => app.home = count.saturating_sub(1),
        Action::Open => {
            let i = app.home;
            app.open_lesson(i);
            fx.push(Effect::SavePlace(app.place.clone()));
        }
        Action::RunChallenge => {
            let i = app.home;
            app.open_lesson(i);
            run_challenge(app, false, fx);
        }
        _ => {}
    }
}

fn lesson_action(app: &mut App, action: Action, fx: &mut Vec<Effect>) {
    let Some(focus) = app.page.as_ref().map(|p| p.focus) else {
        app.screen = Screen::Home;
        return;
    };
    let height = app.pane_height(focus);
    match action {
        Action::NextPane | Action::PrevPane | Action::Left | Action::Right => {
            let i = Pane::ALL.iter().position(|p| *p == focus).unwrap_or(0);
            let forward = matches!(action, Action::NextPane | Action::Right);
            let next = if forward {
                (i + 1) % Pane::ALL.len()
            } else {
                (i + Pane::ALL.len() - 1) % Pane::ALL.len()
            };
            focus_pane(app, Pane::ALL[next]);
        }
        Action::Pane(n) => {
            if let Some(p) = Pane::ALL.iter().find(|p| p.number() == n) {
                focus_pane(app, *p);
            }
        }
        Action::Zoom => {
            if let Some(page) = app.page.as_mut() {
                page.zoom = !page.zoom;
            }
            rerender(app);
        }
        Action::Send => send(app, false, fx),
        Action::SendStepped => send(app, true, fx),
        Action::Step => release(app, crate::lab::step::Go::Step, fx),
        Action::Finish => release(app, crate::lab::step::Go::Finish, fx),
        Action::NextPreset | Action::PrevPreset => cycle_preset(app, action == Action::NextPreset),
        Action::RunChallenge => run_challenge(app, false, fx),
        Action::EditTarget => edit_panel_field(app, Field::Target),
        Action::Copy => copy_request(app, fx),
        Action::Search => start_search(app),
        Action::Edit => {
            if let Some(page) = app.page.as_ref() {
                start_editing(app, page.composer.selected);
            }
        }
        Action::Editor => {
            if let Some(page) = app.page.as_ref() {
                let field = page.composer.selected;
                let text = page
                    .composer
                    .field(field)
                    .map(super::composer::text)
                    .unwrap_or_default();
                fx.push(Effect::Edit { field, text });
            }
        }
        Action::Outline => {
            if let Some(page) = app.page.as_ref() {
                app.overlay = Some(Overlay::Outline {
                    selected: page.reader.current_index().unwrap_or(0),
                });
            }
        }
        Action::Explain => explain(app, focus),
        Action::Mark => {
            if let Some(id) = app.responses.current().map(|s| s.id) {
                app.responses.marked = Some(id);
                app.tell(Notice::info(format!(
                    "response #{id} marked: show another and press D to compare"
                )));
            }
        }
        Action::Diff => diff_responses(app),
        Action::Recall => {
            if let Some(sent) = app.responses.current() {
                let composer = Composer::from_outgoing(&sent.request, &app.lab_url);
                if let Some(page) = app.page.as_mut() {
                    page.composer = composer;
                }
                app.tell(Notice::info("the request is back in the composer"));
            }
        }
        _ => move_in_pane(app, focus, action, height),
    }
}

fn focus_pane(app: &mut App, pane: Pane) {
    let zoomed = app.page.as_ref().is_some_and(|p| p.zoom);
    if let Some(page) = app.page.as_mut() {
        page.focus = pane;
    }
    if zoomed {
        rerender(app);
    }
}

/// Arrows, paging and the section/history keys inside the focused pane.
fn move_in_pane(app: &mut App, focus: Pane, action: Action, height: usize) {
    let Some(page) = app.page.as_mut() else {
        return;
    };
    let page_rows = height.saturating_sub(1).max(1) as isize;
    match focus {
        Pane::Lesson => {
            let r = &mut page.reader;
            match action {
                Action::Up => r.scroll_by(-1, height),
                Action::Down => r.scroll_by(1, height),
                Action::PageUp => r.scroll_by(-page_rows, height),
                Action::PageDown => r.scroll_by(page_rows, height),
                Action::Top => r.scroll_to_end(false, height),
                Action::Bottom => r.scroll_to_end(true, height),
                Action::Previous => r.step_section(false),
                Action::Next => r.step_section(true),
                _ => {}
            }
        }
        Pane::Composer => match action {
            Action::Up => page.composer.select_next(false),
            Action::Down => page.composer.select_next(true),
            _ => {}
        },
        Pane::Response => {
            let r = &mut app.responses;
            match action {
                Action::Up => r.move_cursor(-1),
                Action::Down => r.move_cursor(1),
                Action::PageUp => r.move_cursor(-page_rows),
                Action::PageDown => r.move_cursor(page_rows),
                Action::Top => r.move_cursor(isize::MIN / 2),
                Action::Bottom => r.move_cursor(isize::MAX / 2),
                Action::Previous => r.browse(true),
                Action::Next => r.browse(false),
                _ => {}
            }
        }
        Pane::Trace => {
            let t = &mut app.traces;
            match action {
                Action::Up => t.move_by(-1),
                Action::Down => t.move_by(1),
                Action::PageUp => t.move_by(-page_rows),
                Action::PageDown => t.move_by(page_rows),
                Action::Top => t.select(0),
                Action::Bottom => t.select(usize::MAX),
                Action::Previous => t.step_event(false),
                Action::Next => t.step_event(true),
                _ => {}
            }
        }
    }
}

fn cycle_preset(app: &mut App, forward: bool) {
    let Some(page) = app.page.as_mut() else {
        return;
    };
    let lesson = &app.course.lessons[page.lesson];
    let count = lesson.presets.len();
    if count == 0 {
        app.notice = Some(Notice::info("this lesson has no ready-made requests"));
        return;
    }
    let next = match (page.composer.preset, forward) {
        (None, true) => 0,
        (None, false) => count - 1,
        (Some(i), true) => (i + 1) % count,
        (Some(i), false) => (i + count - 1) % count,
    };
    let preset = &lesson.presets[next];
    page.composer = Composer::from_preset(next, preset);
    let mut said = format!(
        "request {}/{count}: {} — {} (expects {})",
        next + 1,
        preset.id,
        preset.title,
        preset.expect_status
    );
    if let Some(note) = &preset.note {
        said.push_str(" · ");
        said.push_str(note);
    }
    app.notice = Some(Notice::info(said));
}

fn send(app: &mut App, stepped: bool, fx: &mut Vec<Effect>) {
    if app.step.is_some() {
        app.tell(Notice::error(
            "a request is being stepped: . moves it one stage on, > runs it to the end",
        ));
        return;
    }
    let Some(page) = app.page.as_ref() else {
        return;
    };
    let request = match page.composer.outgoing(&app.lab_url) {
        Ok(r) => r,
        Err(e) => {
            app.tell(Notice::error(format!("cannot send: {e}")));
            return;
        }
    };
    // `{{name}}`s are filled with what earlier presets captured (a token).
    let request = match request.render(&app.captured) {
        Ok(r) => r,
        Err(missing) => {
            let from = app.course.lessons[page.lesson]
                .presets
                .iter()
                .find(|p| p.captures.iter().any(|(n, _)| *n == missing))
                .map_or_else(String::new, |p| {
                    format!(": send {} first (n/N to find it)", p.id)
                });
            app.tell(Notice::error(format!(
                "this request sends {{{{{missing}}}}}, a value an earlier request captures{from}"
            )));
            return;
        }
    };
    let preset = match (page.composer.preset, page.composer.edited) {
        (Some(i), false) => app.course.lessons[page.lesson]
            .presets
            .get(i)
            .map(|p| p.id.clone()),
        _ => None,
    };
    let id = app.next_id;
    app.next_id += 1;
    app.responses.sending(id, request.clone(), preset, stepped);
    if stepped {
        app.step = Some(super::app::Stepping {
            id,
            held: None,
            seen: Vec::new(),
        });
        // The trace pane is where stepping shows; give it the room.
        if let Some(page) = app.page.as_mut() {
            page.focus = Pane::Trace;
        }
        app.tell(Notice::info(
            "sent in step mode: the lab holds it at each stage — . next stage, > to the end",
        ));
    }
    fx.push(Effect::Send {
        id,
        request,
        stepped,
    });
}

/// A stepped request arrived at a boundary: show it there (or let it go, when the learner
/// has left the lesson meanwhile).
fn on_held(app: &mut App, held: Box<crate::lab::step::Held>, fx: &mut Vec<Effect>) {
    let Some(step) = app.step.as_mut() else {
        fx.push(Effect::Release(held, crate::lab::step::Go::Finish));
        return;
    };
    if let Some(earlier) = step.held.take() {
        fx.push(Effect::Release(earlier, crate::lab::step::Go::Step));
    }
    step.seen.push((held.stage, held.carries.clone()));
    let stage = held.stage;
    step.held = Some(held);
    app.tell(Notice::info(format!(
        "held at {}: . moves it on, > runs it to the end",
        stage.label()
    )));
}

/// Moves the held request on.
fn release(app: &mut App, go: crate::lab::step::Go, fx: &mut Vec<Effect>) {
    match app.step.as_mut().and_then(|s| s.held.take()) {
        Some(held) => fx.push(Effect::Release(held, go)),
        None if app.step.is_some() => {
            app.tell(Notice::info("the request is on its way to the next stage…"))
        }
        None => app.tell(Notice::info(
            "nothing is held: S sends the request in step mode",
        )),
    }
}

/// Lets a stepped request run to the end (the learner left, or quits).
fn stop_stepping(app: &mut App, fx: &mut Vec<Effect>) {
    if let Some(mut step) = app.step.take()
        && let Some(held) = step.held.take()
    {
        fx.push(Effect::Release(held, crate::lab::step::Go::Finish));
    }
}

fn on_sent(app: &mut App, id: u64, exchange: crate::check::http::Exchange) {
    if app.step.as_ref().is_some_and(|s| s.id == id) {
        // Its answer came: the stepping is over (a hold left behind cannot exist any more).
        app.step = None;
    }
    let failed = exchange.response.as_ref().err().map(|e| e.to_string());
    let expected = app
        .responses
        .history
        .iter()
        .find(|s| s.id == id)
        .and_then(|s| {
            let preset = s.preset.as_ref()?;
            let page = app.page.as_ref()?;
            app.course.lessons[page.lesson]
                .presets
                .iter()
                .find(|p| &p.id == preset)
                .map(|p| p.expect_status)
        });
    // A preset that captures values (a token) keeps them for the ones that send them.
    let capturing = app
        .responses
        .history
        .iter()
        .find(|s| s.id == id)
        .and_then(|s| s.preset.clone())
        .and_then(|preset| {
            let page = app.page.as_ref()?;
            app.course.lessons[page.lesson]
                .presets
                .iter()
                .find(|p| p.id == preset && !p.captures.is_empty())
                .cloned()
        });
    let mut kept = Vec::new();
    if let (Some(preset), Ok(response)) = (&capturing, &exchange.response) {
        kept = crate::check::run::keep_captures(preset, response, &mut app.captured);
    }
    if !app.responses.answered(id, exchange) {
        return;
    }
    let sent = app.responses.history.iter().find(|s| s.id == id);
    let status = sent.and_then(|s| s.status());
    if let Some(request_id) = sent.and_then(|s| s.request_id())
        && !app.traces.select_request(&request_id)
    {
        app.awaited_trace = Some(request_id);
    }
    match (failed, status, expected) {
        (Some(e), _, _) => app.tell(Notice::error(format!("the lab did not answer: {e}"))),
        (None, Some(got), Some(want)) if got != want => app.tell(Notice::error(format!(
            "answered {got}, but the lesson expects {want} from a freshly seeded lab"
        ))),
        (None, Some(got), Some(_)) => app.tell(Notice::info(format!(
            "answered {got}, as the lesson expects"
        ))),
        (None, Some(got), None) => app.tell(Notice::info(format!(
            "answered {got} {}",
            crate::status::reason(got)
        ))),
        _ => {}
    }
    if !kept.is_empty() {
        let names: Vec<String> = kept.iter().map(|n| format!("{{{{{n}}}}}")).collect();
        app.tell(Notice::info(format!(
            "kept {} from this answer ({}): the lesson's later requests send it",
            names.join(", "),
            status.map_or_else(String::new, |s| s.to_string())
        )));
    }
}

fn copy_request(app: &mut App, fx: &mut Vec<Effect>) {
    let Some(page) = app.page.as_ref() else {
        return;
    };
    match page.composer.outgoing(&app.lab_url) {
        Ok(request) => {
            let curl = request.curl();
            app.tell(Notice::info(format!("copied: {curl}")));
            fx.push(Effect::Copy(curl));
        }
        Err(e) => app.tell(Notice::error(format!("cannot copy: {e}"))),
    }
}

fn start_search(app: &mut App) {
    start_editing(app, Field::Search);
}

/// Enters editing mode on `field`: a one-line field's text is selected (typing replaces it,
/// Enter keeps it), a multi-line field's cursor goes to its end.
fn start_editing(app: &mut App, field: Field) {
    app.editing = Some(field);
    if let Some(area) = field_area(app, field) {
        area.cancel_selection();
        if matches!(field, Field::Search | Field::Target | Field::Command) {
            area.select_all();
        } else {
            area.move_cursor(ratatui_textarea::CursorMove::Bottom);
            area.move_cursor(ratatui_textarea::CursorMove::End);
        }
    }
}

/// Runs the search typed in the search field, in the focused pane.
fn search(app: &mut App) {
    let query = text::plain(&ratatui::text::Line::raw(app.search.lines().join(" ")));
    let query = query.trim().to_string();
    if query.is_empty() {
        return;
    }
    let focus = app.page.as_ref().map(|p| p.focus);
    let found = match focus {
        Some(Pane::Lesson) => app
            .page
            .as_mut()
            .and_then(|p| p.reader.search(&query))
            .map(|(line, count)| format!("line {} · {count} matching lines", line + 1)),
        Some(Pane::Response) => search_response(app, &query),
        Some(Pane::Trace) => search_traces(app, &query),
        _ => None,
    };
    match found {
        Some(where_) => app.tell(Notice::info(format!(
            "`{query}`: {where_} · / Enter for the next"
        ))),
        None => app.tell(Notice::error(format!("`{query}` is not in this pane"))),
    }
}

fn search_response(app: &mut App, query: &str) -> Option<String> {
    let needle = query.to_lowercase();
    let sent = app.responses.current()?;
    let hits: Vec<usize> = sent
        .lines
        .iter()
        .enumerate()
        .filter(|(_, (_, l))| text::plain(l).to_lowercase().contains(&needle))
        .map(|(i, _)| i)
        .collect();
    let next = hits
        .iter()
        .copied()
        .find(|&h| h > app.responses.cursor)
        .or(hits.first().copied())?;
    app.responses.cursor = next;
    Some(format!("line {} · {} matching lines", next + 1, hits.len()))
}

fn search_traces(app: &mut App, query: &str) -> Option<String> {
    let needle = query.to_lowercase();
    let len = app.traces.len();
    let start = app.traces.selected;
    let found = (1..=len).map(|k| (start + len - k) % len).find(|&i| {
        app.traces.get(i).is_some_and(|t| {
            format!("{} {} {} {}", t.method, t.path, t.status, t.request_id)
                .to_lowercase()
                .contains(&needle)
        })
    })?;
    app.traces.select(found);
    Some(format!("request {} of {len}", found + 1))
}

/// Explains what is under the cursor: the status line or a header of the response, or the
/// stage of the trace event selected — what it means, who set it, and the section that
/// teaches it (Enter opens it).
fn explain(app: &mut App, focus: Pane) {
    use crate::course::Subject;
    let mut context = Vec::new();
    let subject = match focus {
        Pane::Response => match app
            .responses
            .current()
            .and_then(|s| s.lines.get(app.responses.cursor))
            .map(|(kind, _)| kind.clone())
        {
            Some(LineKind::Status(code)) => Subject::Status(code),
            Some(LineKind::Header(name)) => Subject::Header(name),
            _ => {
                app.tell(Notice::info(
                    "move the cursor (j/k) to the status line or a header, then press x",
                ));
                return;
            }
        },
        Pane::Trace => {
            if app.traces.event.is_none() {
                app.traces.step_event(true);
            }
            let Some(trace) = app.traces.current() else {
                app.tell(Notice::info("no request yet: send one with s"));
                return;
            };
            let Some(event) = app.traces.event.and_then(|i| trace.events.get(i)) else {
                app.tell(Notice::info("this request's trace has no stages"));
                return;
            };
            context.push(ratatui::text::Line::styled(
                format!("In {} {}: {}", trace.method, trace.path, event.message),
                view::style::DIM,
            ));
            context.push(ratatui::text::Line::default());
            Subject::Stage(event.stage)
        }
        _ => {
            app.tell(Notice::info(
                "x explains a status or header in the response (3) or a stage in the trace (4)",
            ));
            return;
        }
    };
    let Some(explanation) = app.course.explain().explain(&subject) else {
        app.tell(Notice::info(format!(
            "{subject}: this guide has no note on it yet; the lessons explain the headers the lab sends"
        )));
        return;
    };
    let width = super::layout::overlay_width(app.size.0).saturating_sub(2);
    context.extend(view::explain::lines(&explanation, width));
    let jump = explanation
        .teaches
        .as_ref()
        .map(|r| (r.lesson.clone(), r.section.clone()));
    app.overlay = Some(Overlay::Text {
        title: explanation.title.clone(),
        lines: context,
        scroll: 0,
        jump,
    });
}

fn diff_responses(app: &mut App) {
    let (Some(marked), Some(current)) = (app.responses.marked(), app.responses.current()) else {
        app.tell(Notice::info(
            "mark a response with m first, then show another and press D",
        ));
        return;
    };
    let lines = view::diff::unified(
        &format!("response #{}", marked.id),
        &responses::comparable(marked),
        &format!("response #{}", current.id),
        &responses::comparable(current),
    );
    app.overlay = Some(Overlay::Text {
        title: format!("response #{} compared with #{}", marked.id, current.id),
        lines,
        scroll: 0,
        jump: None,
    });
}

/// Opens the lesson's challenge panel (creating it with the remembered target).
fn ensure_panel(app: &mut App) -> bool {
    let Some(page) = app.page.as_ref() else {
        return false;
    };
    let lesson = &app.course.lessons[page.lesson];
    let Some(challenge) = lesson
        .challenge
        .as_ref()
        .and_then(|id| app.course.challenge(id))
    else {
        app.tell(Notice::info(format!(
            "lesson {} has no challenge",
            lesson.id
        )));
        return false;
    };
    if app.panel.as_ref().map(|p| &p.challenge) != Some(&challenge.id) {
        if app.panel.as_ref().is_some_and(|p| p.running()) {
            app.tell(Notice::error(
                "another challenge is still running: wait for it, or open it and run again",
            ));
            return false;
        }
        let target = app.place.target.as_deref().unwrap_or(DEFAULT_TARGET);
        let command = app.place.command.as_deref().unwrap_or("");
        app.panel = Some(Panel::new(challenge, target, command));
    }
    app.screen = Screen::Challenge;
    true
}

fn edit_panel_field(app: &mut App, field: Field) {
    if ensure_panel(app) {
        start_editing(app, field);
    }
}

fn run_challenge(app: &mut App, on_lab: bool, fx: &mut Vec<Effect>) {
    if !ensure_panel(app) {
        return;
    }
    let run = app.next_run;
    app.next_run += 1;
    let Some(panel) = app.panel.as_mut() else {
        return;
    };
    if panel.running() {
        fx.push(Effect::CancelChallenge);
    }
    let target = if on_lab {
        RunTarget::Lab
    } else {
        let url = panel.target_text();
        if url.is_empty() {
            start_editing(app, Field::Target);
            app.tell(Notice::error("say where your server is first (t)"));
            return;
        }
        RunTarget::Learner {
            url,
            command: panel.command_text(),
        }
    };
    panel.start(run, on_lab);
    fx.push(Effect::RunChallenge {
        run,
        challenge: panel.challenge.clone(),
        target,
    });
}

fn challenge_action(app: &mut App, action: Action, fx: &mut Vec<Effect>) {
    let Some(panel) = app.panel.as_mut() else {
        app.screen = Screen::Lesson;
        return;
    };
    let count = panel.rows.len();
    match action {
        Action::Up => panel.selected = panel.selected.saturating_sub(1),
        Action::Down => panel.selected = (panel.selected + 1).min(count.saturating_sub(1)),
        Action::Top => panel.selected = 0,
        Action::Bottom => panel.selected = count.saturating_sub(1),
        Action::RunChallenge => run_challenge(app, false, fx),
        Action::RunOnLab => run_challenge(app, true, fx),
        Action::EditTarget => start_editing(app, Field::Target),
        Action::EditCommand => start_editing(app, Field::Command),
        Action::Open => {
            let Some(outcome) = panel.selected_outcome() else {
                app.tell(Notice::info(
                    "this check has not run yet: press c to run the checks",
                ));
                return;
            };
            let title = format!("{} — {}", outcome.name, outcome.stage);
            let lines = view::check::check_lines(outcome);
            let jump = hint_section(&outcome.hint);
            app.overlay = Some(Overlay::Text {
                title,
                lines,
                scroll: 0,
                jump,
            });
        }
        Action::CompareWithLab => {
            let row = &panel.rows[panel.selected.min(count.saturating_sub(1))];
            if row.exchanges.is_empty() {
                app.tell(Notice::info(
                    "this check sent no request in the last run: run the checks first (c)",
                ));
                return;
            }
            let challenge = panel.challenge.clone();
            let check = panel.selected;
            app.tell(Notice::info(
                "sending the same check to a fresh lab, to show its answers beside yours…",
            ));
            fx.push(Effect::CompareWithLab { challenge, check });
        }
        Action::Copy => {
            let Some(f) = panel.selected_outcome().and_then(|o| o.finding.as_ref()) else {
                app.tell(Notice::info(
                    "only a failed check has a reproduction to copy",
                ));
                return;
            };
            let script = f.reproduction.lines().join("\n");
            if script.is_empty() {
                app.tell(Notice::info("this check has no request to reproduce"));
                return;
            }
            app.tell(Notice::info(format!(
                "copied the reproduction: {}",
                script.replace('\n', " ; ")
            )));
            fx.push(Effect::Copy(script));
        }
        _ => {}
    }
}

/// Every key for the screen, and how typing works.
fn help_lines(ctx: keys::Context) -> Vec<ratatui::text::Line<'static>> {
    use ratatui::text::{Line, Span};
    let mut lines: Vec<Line<'static>> = keys::help(ctx)
        .into_iter()
        .map(|b| {
            Line::from(vec![
                Span::styled(format!("  {:<12}", b.shown), view::style::ID),
                Span::raw(b.help.to_string()),
            ])
        })
        .collect();
    lines.push(Line::default());
    lines.push(Line::styled(
        "  Typing into a field (i or Enter on it): every key types; Esc stops, Enter confirms a one-line field, Alt-Enter sends.",
        view::style::DIM,
    ));
    lines
}

/// A check's hint (`lesson#section`, or a sentence naming one) as a place to open.
fn hint_section(hint: &str) -> Option<(String, String)> {
    let word = hint
        .split(|c: char| c.is_whitespace() || c == '`' || c == '“' || c == '”')
        .find(|w| w.contains('#'))?;
    let (lesson, section) = word.split_once('#')?;
    Some((
        lesson.to_string(),
        section.trim_end_matches(['.', ',', ')']).to_string(),
    ))
}

fn on_check_event(app: &mut App, run: u64, event: CheckEvent) {
    let Some(panel) = app.panel.as_mut() else {
        return;
    };
    if panel.run != run {
        return;
    }
    if let CheckEvent::Recorded { challenges } = &event {
        for id in challenges {
            if let Some(c) = app.course.challenge(id) {
                let v = app.standing.passed.entry(id.clone()).or_insert(0);
                *v = (*v).max(c.version);
            }
        }
    }
    let finished = matches!(event, CheckEvent::RunFinished { .. });
    panel.event(event);
    if finished {
        let (passed, failed, warned) = panel.tally();
        let lab = matches!(
            panel.state,
            super::challenge::RunState::Finished { lab: true, .. }
        );
        let said = match (failed, lab) {
            (0, true) => format!(
                "the lab passes every check ({passed} passed): this is what your server should do"
            ),
            (0, false) => {
                let next = next_lesson(app);
                format!(
                    "passed: {passed} checks hold{}{}",
                    if warned > 0 {
                        format!(", {warned} with advice")
                    } else {
                        String::new()
                    },
                    next.map(|n| format!(" · next: {n}")).unwrap_or_default()
                )
            }
            (1, _) => "1 check failed: select it and press Enter to see why".to_string(),
            (n, _) => format!("{n} checks failed: select one and press Enter to see why"),
        };
        app.tell(if failed == 0 {
            Notice::info(said)
        } else {
            Notice::error(said)
        });
    }
}

/// The lesson after the open one, as "NN title".
fn next_lesson(app: &App) -> Option<String> {
    let page = app.page.as_ref()?;
    let next = app.course.lessons.get(page.lesson + 1)?;
    Some(format!(
        "lesson {} {} (press q, then open it)",
        next.number, next.title
    ))
}

fn on_compared(
    app: &mut App,
    check: usize,
    result: Result<Vec<crate::check::http::Exchange>, String>,
) {
    let Some(panel) = app.panel.as_mut() else {
        return;
    };
    let lab = match result {
        Ok(lab) => lab,
        Err(e) => {
            app.tell(Notice::error(format!("could not ask the lab: {e}")));
            return;
        }
    };
    let Some(row) = panel.rows.get(check) else {
        return;
    };
    let width = super::layout::overlay_width(app.size.0).saturating_sub(2);
    let mut lines = Vec::new();
    for (i, mine) in row.exchanges.iter().enumerate() {
        let yours = super::responses::Sent {
            id: 0,
            preset: None,
            request: mine.request.clone(),
            stepped: false,
            exchange: Some(mine.clone()),
            lines: Vec::new(),
        };
        let theirs = lab.get(i).map(|e| super::responses::Sent {
            id: 0,
            preset: None,
            request: e.request.clone(),
            stepped: false,
            exchange: Some(e.clone()),
            lines: Vec::new(),
        });
        if i > 0 {
            lines.push(ratatui::text::Line::default());
        }
        lines.extend(view::diff::side_by_side(
            &format!("request {} · your server", i + 1),
            &responses::comparable(&yours),
            "the lab",
            &theirs
                .as_ref()
                .map(responses::comparable)
                .unwrap_or_else(|| "(the lab's run sent no such request)".into()),
            width,
        ));
    }
    let title = format!("{} — your server beside the lab", row.name);
    panel.compared = Some((check, lab));
    app.overlay = Some(Overlay::Text {
        title,
        lines,
        scroll: 0,
        jump: None,
    });
}

/// Renders the open lesson for its pane's width again (after a resize or a zoom).
fn rerender(app: &mut App) {
    let width = app.lesson_width();
    if let Some(page) = app.page.as_mut()
        && page.reader.width != width
    {
        page.reader.render(&app.course.lessons[page.lesson], width);
    }
}

/// Marks sections the learner has scrolled through as read, and remembers the section
/// being read.
fn after_reading(app: &mut App, fx: &mut Vec<Effect>) {
    if app.screen != Screen::Lesson {
        return;
    }
    let height = app.pane_height(Pane::Lesson);
    let Some(page) = app.page.as_mut() else {
        return;
    };
    if height == 0 || page.reader.lines.is_empty() {
        return;
    }
    let lesson = &app.course.lessons[page.lesson];
    for s in page.reader.sections_seen(height) {
        let key = (lesson.id.clone(), s.id.clone());
        if app.standing.read.insert(key) {
            fx.push(Effect::MarkRead {
                lesson: lesson.id.clone(),
                section: s.id.clone(),
            });
        }
    }
    let current = page.reader.current_section().map(|s| s.id.clone());
    if current != page.saved_section {
        page.saved_section = current.clone();
        app.place.lesson = Some(lesson.id.clone());
        app.place.section = current;
        fx.push(Effect::SavePlace(app.place.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_name_a_section() {
        assert_eq!(
            hint_section("read “What to validate” in `reqlab learn validation#what-to-validate`"),
            Some(("validation".into(), "what-to-validate".into()))
        );
        assert_eq!(
            hint_section("validation#layers"),
            Some(("validation".into(), "layers".into()))
        );
        assert_eq!(hint_section("no place named"), None);
    }
}

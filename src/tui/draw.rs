//! Drawing the guide: the frame (header, notice, footer), each screen, and the overlays.
//! Everything here reads the state and writes cells; nothing changes the state.

use super::app::{App, LessonStanding, Overlay, Screen};
use super::challenge::{CheckState, Panel, RunState};
use super::composer::{self, Composer};
use super::keys::{self, Pane};
use super::layout::{self, MIN_HEIGHT, MIN_WIDTH};
use super::msg::Field;
use super::text;
use crate::check::event::Stream;
use crate::check::result::Verdict;
use crate::stage::Stage;
use crate::view::markdown::wrap_spans;
use crate::view::{self, style};
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

/// The stages the pipeline draws, in order.
pub const PIPELINE: [Stage; 8] = [
    Stage::Http,
    Stage::Routing,
    Stage::Parsing,
    Stage::Validation,
    Stage::Auth,
    Stage::Logic,
    Stage::Data,
    Stage::Response,
];
/// The concerns around it.
pub const AROUND: [Stage; 4] = [
    Stage::Middleware,
    Stage::Caching,
    Stage::Security,
    Stage::Observability,
];

const SELECTED: Style = Style::new().add_modifier(Modifier::REVERSED);
const FOCUSED: Style = Style::new().fg(Color::Cyan);

/// Draws the whole guide. Without `colors` (`NO_COLOR`), every color is taken out and only
/// emphasis (bold, reversed) stays.
pub fn draw(frame: &mut Frame<'_>, app: &App, colors: bool) {
    let area = frame.area();
    if !layout::fits(area) {
        too_small(frame, area);
    } else {
        let f = layout::frame(area);
        match app.screen {
            Screen::Home => home(frame, app, f.body),
            Screen::Lesson => lesson_screen(frame, app, f.body),
            Screen::Challenge => challenge_screen(frame, app, f.body),
        }
        header(frame, app, f.header);
        notice(frame, app, f.notice);
        footer(frame, app, f.footer);
        if let Some(overlay) = &app.overlay {
            draw_overlay(frame, app, overlay, f.body);
        }
    }
    if !colors {
        strip_colors(frame.buffer_mut());
    }
}

fn strip_colors(buffer: &mut Buffer) {
    for cell in buffer.content.iter_mut() {
        cell.fg = Color::Reset;
        cell.bg = Color::Reset;
        cell.underline_color = Color::Reset;
    }
}

fn too_small(frame: &mut Frame<'_>, area: Rect) {
    let message = format!(
        "make the window at least {MIN_WIDTH}×{MIN_HEIGHT} (it is {}×{}) · q quits",
        area.width, area.height
    );
    let y = area.height / 2;
    frame.render_widget(
        Paragraph::new(message).wrap(Wrap { trim: true }).centered(),
        Rect::new(
            area.x,
            area.y + y.saturating_sub(1),
            area.width,
            3.min(area.height),
        ),
    );
}

/// A pane's block: its number and name in the border, highlighted when focused.
fn pane_block(pane: Pane, title: String, focused: bool) -> Block<'static> {
    let border = if focused { FOCUSED } else { style::DIM };
    Block::bordered()
        .border_style(border)
        .title(Line::from(vec![
            Span::styled(format!(" {} ", pane.number()), border),
            Span::styled(
                format!("{} ", pane.name()),
                if focused { style::STRONG } else { Style::new() },
            ),
            Span::styled(title, style::DIM),
        ]))
}

fn header(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let right = format!(
        "lab :{} · {} request{} ",
        app.lab_url.rsplit(':').next().unwrap_or(""),
        app.traces.len(),
        if app.traces.len() == 1 { "" } else { "s" }
    );
    let room = usize::from(area.width).saturating_sub(right.chars().count() + 1);
    let mut spans = vec![Span::styled(" reqlab ", style::TITLE)];
    match (app.screen, &app.page) {
        (Screen::Home, _) | (_, None) => {
            spans.push(Span::styled("· the life of a request", style::DIM));
        }
        (_, Some(page)) => {
            let lesson = &app.course.lessons[page.lesson];
            spans.push(Span::raw(format!("· lesson {}  ", lesson.number)));
            let used: usize = spans.iter().map(|s| s.width()).sum();
            // The pipeline, the lesson's stages lit; shortened names when the line is narrow.
            let held = app.step.as_ref().and_then(|s| s.stage());
            for short in [false, true] {
                let strip = pipeline_strip(&lesson.stages, held, short);
                if used + strip.iter().map(|s| s.width()).sum::<usize>() <= room {
                    spans.extend(strip);
                    break;
                }
            }
        }
    }
    let [left_area, right_area] = area.layout(&Layout::horizontal([
        Constraint::Min(1),
        Constraint::Length(right.chars().count() as u16),
    ]));
    frame.render_widget(Line::from(spans), left_area);
    frame.render_widget(Line::styled(right, style::DIM), right_area);
}

/// The stages as `HTTP›routing›…`, those in `lit` highlighted, the one a stepped request is
/// held at reversed.
fn pipeline_strip(lit: &[Stage], held: Option<Stage>, short: bool) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    for (i, stage) in PIPELINE.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled("›", style::DIM));
        }
        let name = short_stage(*stage);
        let name: String = if short {
            name.chars().take(4).collect()
        } else {
            name.to_string()
        };
        let look = if held == Some(*stage) {
            style::WARN.add_modifier(Modifier::REVERSED)
        } else if lit.contains(stage) {
            style::ID
        } else {
            style::DIM
        };
        spans.push(Span::styled(name, look));
    }
    spans
}

/// The stage names the pipeline uses (short enough for boxes).
pub fn short_stage(stage: Stage) -> &'static str {
    match stage {
        Stage::Http => "HTTP",
        other => other.id(),
    }
}

fn notice(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let Some(n) = &app.notice else { return };
    let s = if n.error { style::WARN } else { style::DIM };
    frame.render_widget(Line::styled(format!(" {}", n.text), s), area);
}

fn footer(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let (badge, keys_shown): (String, Vec<(&str, &str)>) = match app.editing {
        Some(field) => (format!(" EDIT {} ", field.label()), edit_keys(field)),
        None if app.overlay.is_some() => {
            let mut keys = vec![("Esc", "close"), ("↑↓ PgUp PgDn", "scroll")];
            match &app.overlay {
                Some(Overlay::Outline { .. }) => keys.push(("Enter", "jump there")),
                Some(Overlay::Text { jump: Some(_), .. }) => {
                    keys.push(("Enter", "read the lesson section"))
                }
                _ => {}
            }
            (" VIEW ".into(), keys)
        }
        None if app.step.as_ref().is_some_and(|s| s.held.is_some()) => {
            let mut keys = vec![(".", "next stage"), (">", "to the end")];
            keys.extend(keys::footer(app.context()));
            (" STEP ".into(), keys)
        }
        None => (" NAV ".into(), keys::footer(app.context())),
    };
    let mut spans = vec![
        Span::styled(
            badge,
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
        ),
        Span::raw(" "),
    ];
    let mut used = spans.iter().map(|s| s.width()).sum::<usize>();
    let room = usize::from(area.width);
    for (k, what) in keys_shown {
        let piece = format!("{k} {what}  ");
        if used + piece.chars().count() + 8 > room {
            // `?` lists the rest, unless the footer already says so.
            if !spans.iter().any(|s| s.content == "?") {
                spans.push(Span::styled("? more", style::DIM));
            }
            break;
        }
        used += piece.chars().count();
        spans.push(Span::styled(k.to_string(), style::ID));
        spans.push(Span::styled(format!(" {what}  "), style::DIM));
    }
    frame.render_widget(Line::from(spans), area);
}

fn edit_keys(field: Field) -> Vec<(&'static str, &'static str)> {
    match field {
        Field::Body => vec![
            ("Esc", "stop editing"),
            ("Alt-Enter", "send"),
            ("Ctrl-Z", "undo"),
        ],
        Field::Headers => vec![
            ("Esc", "stop editing"),
            ("Enter", "new line"),
            ("Alt-Enter", "send"),
        ],
        Field::Search => vec![("Enter", "find"), ("Esc", "cancel")],
        Field::Method | Field::Path => vec![("Enter Esc", "done"), ("Alt-Enter", "send")],
        Field::Target | Field::Command => vec![("Enter", "confirm"), ("Esc", "done")],
    }
}

// ---------------------------------------------------------------------------------------
// The lifecycle map.

fn standing_style(s: LessonStanding) -> Style {
    match s {
        LessonStanding::Passed => style::OK,
        LessonStanding::PassedEarlier | LessonStanding::Read { .. } => style::WARN,
        LessonStanding::NotStarted => Style::new(),
    }
}

fn standing_text(s: LessonStanding) -> String {
    match s {
        LessonStanding::NotStarted => "not started".into(),
        LessonStanding::Read { read, of } => format!("read {read}/{of}"),
        LessonStanding::Passed => "✓ challenge passed".into(),
        LessonStanding::PassedEarlier => "passed an earlier version — run again".into(),
    }
}

/// Lesson numbers under a stage, each colored by its standing, the selected one reversed.
/// The numbers of the lessons that teach `stage`, styled by the learner's standing (the
/// selected one reversed), fitted into `room` columns: as a list when it fits, else with
/// runs of three or more written as ranges (`1–5 8`).
fn lessons_under(app: &App, stage: Stage, room: usize) -> Vec<Span<'static>> {
    let items: Vec<(u32, Style)> = app
        .course
        .lessons
        .iter()
        .enumerate()
        .filter(|(_, lesson)| lesson.stages.contains(&stage))
        .map(|(i, lesson)| {
            let mut s = standing_style(app.lesson_standing(i));
            if i == app.home {
                s = s.add_modifier(Modifier::REVERSED);
            }
            (lesson.number, s)
        })
        .collect();
    let listed = join_spans(items.iter().map(|(n, s)| Span::styled(n.to_string(), *s)));
    if listed.iter().map(|s| s.width()).sum::<usize>() <= room {
        return listed;
    }
    // Runs of consecutive numbers become ranges; a range holding the selected lesson is
    // reversed as a whole.
    let mut runs: Vec<Vec<(u32, Style)>> = Vec::new();
    for item in items {
        match runs.last_mut() {
            Some(run) if run.last().is_some_and(|(n, _)| n + 1 == item.0) => run.push(item),
            _ => runs.push(vec![item]),
        }
    }
    let is_selected = |run: &[(u32, Style)]| {
        run.iter()
            .any(|(_, s)| s.add_modifier.contains(Modifier::REVERSED))
    };
    let dim = |selected: bool| {
        if selected {
            style::DIM.add_modifier(Modifier::REVERSED)
        } else {
            style::DIM
        }
    };
    // Each run as the spans it is written with, and how many lessons it stands for.
    let mut pieces: Vec<(Vec<Span<'static>>, usize, bool)> = runs
        .iter()
        .map(|run| {
            let spans = if run.len() < 3 {
                run.iter()
                    .map(|(n, s)| Span::styled(n.to_string(), *s))
                    .collect()
            } else {
                vec![Span::styled(
                    format!("{}–{}", run[0].0, run[run.len() - 1].0),
                    dim(is_selected(run)),
                )]
            };
            (spans, run.len(), is_selected(run))
        })
        .collect();
    // Still too wide: the last runs give way to a count of the lessons left out, so no
    // number is ever shown cut short.
    // Written out, each span is followed by a space but the last.
    let width = |pieces: &[(Vec<Span<'static>>, usize, bool)], hidden: usize| {
        let spans = pieces.iter().flat_map(|(spans, _, _)| spans);
        let shown: usize = spans.map(|s| s.width() + 1).sum();
        let count = if hidden > 0 {
            format!("+{hidden}").len() + 1
        } else {
            0
        };
        (shown + count).saturating_sub(1)
    };
    let (mut hidden, mut hidden_selected) = (0, false);
    while pieces.len() > 1 && width(&pieces, hidden) > room {
        let (_, count, selected) = pieces.pop().expect("more than one piece");
        hidden += count;
        hidden_selected |= selected;
    }
    let mut spans: Vec<Vec<Span<'static>>> = pieces.into_iter().map(|(s, _, _)| s).collect();
    if hidden > 0 {
        spans.push(vec![Span::styled(
            format!("+{hidden}"),
            dim(hidden_selected),
        )]);
    }
    join_spans(spans.into_iter().flatten())
}

/// Spans separated by single spaces.
fn join_spans(spans: impl IntoIterator<Item = Span<'static>>) -> Vec<Span<'static>> {
    let mut out = Vec::new();
    for span in spans {
        if !out.is_empty() {
            out.push(Span::raw(" "));
        }
        out.push(span);
    }
    out
}

fn home(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let selected_stages = app
        .course
        .lessons
        .get(app.home)
        .map(|l| l.stages.clone())
        .unwrap_or_default();
    let widths: Vec<u16> = PIPELINE
        .iter()
        .map(|s| short_stage(*s).chars().count() as u16 + 2)
        .collect();
    let total: u16 = widths.iter().sum::<u16>() + (PIPELINE.len() as u16 - 1);
    let left = area.x + area.width.saturating_sub(total) / 2;
    let around = Block::bordered()
        .border_style(style::DIM)
        .title(Line::from(vec![
            Span::styled(" around it: ", style::DIM),
            Span::styled(AROUND.map(|s| s.id()).join(" · "), Style::new()),
            Span::raw(" "),
        ]));
    let band = Rect::new(
        left.saturating_sub(2),
        area.y,
        (total + 4).min(area.width),
        7,
    );
    frame.render_widget(around, band);
    // The pipeline: a box per stage, arrows between.
    let mut x = left;
    for (i, stage) in PIPELINE.iter().enumerate() {
        let w = widths[i];
        let on = selected_stages.contains(stage);
        let border = if on { style::ID } else { style::DIM };
        let label = if on {
            style::STRONG.fg(Color::Cyan)
        } else {
            Style::new()
        };
        frame.render_widget(
            Paragraph::new(Span::styled(short_stage(*stage), label))
                .block(Block::bordered().border_style(border)),
            Rect::new(x, area.y + 1, w, 3),
        );
        frame.render_widget(
            Line::from(lessons_under(app, *stage, usize::from(w))).centered(),
            Rect::new(x, area.y + 4, w, 1),
        );
        x += w;
        if i + 1 < PIPELINE.len() {
            frame.render_widget(
                Span::styled("→", style::DIM),
                Rect::new(x, area.y + 2, 1, 1),
            );
            x += 1;
        }
    }
    // The concerns around it, with their lessons: listed when the row has room, else with
    // ranges.
    let row_room = usize::from(band.width.saturating_sub(2));
    let concerns_with = |room: usize| {
        let mut concerns = Vec::new();
        for (i, stage) in AROUND.iter().enumerate() {
            if i > 0 {
                concerns.push(Span::raw("  "));
            }
            concerns.push(Span::raw(format!("{} ", stage.id())));
            let under = lessons_under(app, *stage, room);
            if under.is_empty() {
                concerns.push(Span::styled("–", style::DIM));
            } else {
                concerns.extend(under);
            }
        }
        concerns
    };
    // The widest room per concern that lets the row fit (each concern's list then shows as
    // much as that room holds, and counts the rest).
    let fits = |c: &Vec<Span<'static>>| c.iter().map(|s| s.width()).sum::<usize>() <= row_room;
    let concerns = std::iter::once(usize::MAX)
        .chain((0..=row_room).rev())
        .map(concerns_with)
        .find(fits)
        .unwrap_or_else(|| concerns_with(0));
    frame.render_widget(
        Line::from(concerns).centered(),
        Rect::new(band.x + 1, area.y + 5, band.width.saturating_sub(2), 1),
    );

    // The lessons, one per line.
    let list_area = Rect::new(
        area.x + 1,
        area.y + 8,
        area.width.saturating_sub(2),
        area.height.saturating_sub(8),
    );
    let mut lines = Vec::new();
    for (i, lesson) in app.course.lessons.iter().enumerate() {
        let standing = app.lesson_standing(i);
        let status = standing_text(standing);
        let room = usize::from(list_area.width).saturating_sub(6 + status.chars().count() + 2);
        let title = text_cut(&lesson.title, room);
        let pad = room.saturating_sub(title.chars().count());
        let mut line = Line::from(vec![
            Span::styled(if i == app.home { "▶ " } else { "  " }, style::ID),
            Span::styled(format!("{:>2}  ", lesson.number), style::DIM),
            Span::styled(title, style::STRONG),
            Span::raw(" ".repeat(pad + 2)),
            Span::styled(status, standing_style(standing)),
        ]);
        if i == app.home {
            line = line.style(Style::new().add_modifier(Modifier::BOLD));
        }
        lines.push(line);
    }
    // The selected lesson's summary stays below the list; the list scrolls when the
    // lessons outnumber its rows.
    let mut about = Vec::new();
    if let Some(lesson) = app.course.lessons.get(app.home) {
        about.push(Line::default());
        about.push(Line::styled(format!("  {}", lesson.summary), Style::new()));
        let challenge = lesson
            .challenge
            .as_ref()
            .map(|c| format!("challenge: {c} (c runs it against your server)"))
            .unwrap_or_else(|| "no challenge".into());
        about.push(Line::styled(
            format!(
                "  {} sections · {} requests to try · {challenge}",
                lesson.sections.len(),
                lesson.presets.len()
            ),
            style::DIM,
        ));
    }
    let (about, _) = text::wrap(&about, list_area.width);
    let about_rows = (about.len() as u16).min(list_area.height / 2);
    let [list, summary] = list_area.layout(&Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(about_rows),
    ]));
    let scroll = text::keep_visible(0, app.home, app.home, usize::from(list.height));
    let below = lines
        .len()
        .saturating_sub(scroll + usize::from(list.height));
    let above = scroll;
    frame.render_widget(Paragraph::new(lines).scroll((scroll as u16, 0)), list);
    frame.render_widget(Paragraph::new(about), summary);
    // Say when lessons are out of view, on the blank rows just above and below the list.
    for (count, arrow, y) in [
        (above, "↑", list.y.saturating_sub(1)),
        (below, "↓", list.y + list.height),
    ] {
        if count > 0 {
            let note = format!(" {arrow} {count} more ");
            let w = note.chars().count() as u16;
            frame.render_widget(
                Span::styled(note, style::DIM),
                Rect::new(list.x + list.width.saturating_sub(w), y, w, 1),
            );
        }
    }
}

fn text_cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

// ---------------------------------------------------------------------------------------
// The lesson screen.

fn lesson_screen(frame: &mut Frame<'_>, app: &App, body: Rect) {
    let Some(page) = &app.page else { return };
    let panes = app.panes();
    if let Some(r) = panes.lesson {
        lesson_pane(frame, app, page, r);
    }
    if let Some(r) = panes.composer {
        composer_pane(frame, app, &page.composer, page.focus == Pane::Composer, r);
    }
    if let Some(r) = panes.response {
        response_pane(frame, app, page.focus == Pane::Response, r);
    }
    if let Some(r) = panes.trace {
        trace_pane(frame, app, page.focus == Pane::Trace, r);
    }
    let _ = body;
}

fn lesson_pane(frame: &mut Frame<'_>, app: &App, page: &super::app::Page, area: Rect) {
    let lesson = &app.course.lessons[page.lesson];
    let reader = &page.reader;
    let title = match reader.current_index() {
        Some(i) => {
            let s = &reader.sections[i];
            let read = app
                .standing
                .read
                .contains(&(lesson.id.clone(), s.id.clone()));
            format!(
                "· §{}/{} {}{} ",
                i + 1,
                reader.sections.len(),
                s.title,
                if read { " ✓" } else { "" }
            )
        }
        None => format!("· {} sections (o lists them) ", reader.sections.len()),
    };
    let block = pane_block(Pane::Lesson, title, page.focus == Pane::Lesson);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let height = usize::from(inner.height);
    let shown: Vec<Line<'static>> = reader
        .lines
        .iter()
        .skip(reader.scroll)
        .take(height)
        .enumerate()
        .map(|(i, line)| {
            let n = reader.scroll + i;
            match &reader.search {
                Some((_, Some(hit))) if *hit == n => line.clone().style(SELECTED),
                _ => line.clone(),
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(shown), inner);
    scroll_mark(frame, area, reader.scroll, reader.lines.len(), height);
}

/// A small position mark on a pane's right border.
fn scroll_mark(frame: &mut Frame<'_>, area: Rect, scroll: usize, total: usize, height: usize) {
    if total <= height || area.height < 3 {
        return;
    }
    let track = usize::from(area.height - 2);
    let max = total - height;
    let at = (scroll.min(max) * track.saturating_sub(1)) / max.max(1);
    frame.render_widget(
        Span::styled("┃", style::ID),
        Rect::new(area.right() - 1, area.y + 1 + at as u16, 1, 1),
    );
}

fn composer_pane(frame: &mut Frame<'_>, app: &App, c: &Composer, focused: bool, area: Rect) {
    let preset = match (c.preset, app.page.as_ref()) {
        (Some(i), Some(page)) => {
            let presets = &app.course.lessons[page.lesson].presets;
            let id = presets.get(i).map_or("", |p| p.id.as_str());
            format!(
                "· {}/{} {}{} · n N cycle ",
                i + 1,
                presets.len(),
                id,
                if c.edited { " (edited)" } else { "" }
            )
        }
        _ => "· your own request ".into(),
    };
    let block = pane_block(Pane::Composer, preset, focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 {
        return;
    }
    let editing = app.editing.filter(|f| composer::FIELDS.contains(f));
    let mark = |field: Field| -> Span<'static> {
        if focused && c.selected == field {
            Span::styled("›", style::ID)
        } else {
            Span::raw(" ")
        }
    };
    // First row: method and path.
    let method_text = composer::text(&c.method);
    let [m_mark, m_area, p_mark, p_area] =
        Rect::new(inner.x, inner.y, inner.width, 1).layout(&Layout::horizontal([
            Constraint::Length(1),
            Constraint::Length(8),
            Constraint::Length(1),
            Constraint::Min(1),
        ]));
    frame.render_widget(mark(Field::Method), m_mark);
    frame.render_widget(mark(Field::Path), p_mark);
    match editing {
        Some(Field::Method) => frame.render_widget(&c.method, m_area),
        _ => frame.render_widget(
            Span::styled(method_text, style::STRONG.fg(Color::Magenta)),
            m_area,
        ),
    }
    match editing {
        Some(Field::Path) => frame.render_widget(&c.path, p_area),
        _ => frame.render_widget(Span::raw(composer::text(&c.path)), p_area),
    }
    let rest = Rect::new(
        inner.x,
        inner.y + 1,
        inner.width,
        inner.height.saturating_sub(1),
    );
    if rest.height == 0 {
        return;
    }
    // Then the headers and the body; the field being edited gets the room.
    let header_lines = c.headers.lines().iter().filter(|l| !l.is_empty()).count() as u16;
    let (h_rows, b_rows) = match editing {
        Some(Field::Headers) => (rest.height.saturating_sub(1).max(1), 1.min(rest.height)),
        Some(Field::Body) => (
            1.min(rest.height.saturating_sub(1)),
            rest.height.saturating_sub(1).max(1),
        ),
        _ => {
            let h = header_lines
                .clamp(1, 3)
                .min(rest.height.saturating_sub(1).max(1));
            (h, rest.height.saturating_sub(h))
        }
    };
    let h_area = Rect::new(rest.x + 1, rest.y, rest.width.saturating_sub(1), h_rows);
    let b_area = Rect::new(
        rest.x + 1,
        rest.y + h_rows,
        rest.width.saturating_sub(1),
        b_rows,
    );
    frame.render_widget(mark(Field::Headers), Rect::new(rest.x, rest.y, 1, 1));
    if b_rows > 0 {
        frame.render_widget(mark(Field::Body), Rect::new(rest.x, b_area.y, 1, 1));
    }
    if editing == Some(Field::Headers) {
        frame.render_widget(&c.headers, h_area);
    } else {
        let lines: Vec<Line<'static>> = if header_lines == 0 {
            vec![Line::styled("(no headers)", style::DIM)]
        } else {
            c.headers
                .lines()
                .iter()
                .filter(|l| !l.is_empty())
                .map(|l| match l.split_once(':') {
                    Some((k, v)) => Line::from(vec![
                        Span::styled(format!("{k}:"), style::ID),
                        Span::raw(v.to_string()),
                    ]),
                    None => Line::raw(l.clone()),
                })
                .collect()
        };
        let more = lines.len().saturating_sub(usize::from(h_rows));
        let mut lines: Vec<Line<'static>> = lines.into_iter().take(usize::from(h_rows)).collect();
        if more > 0
            && let Some(last) = lines.last_mut()
        {
            last.spans
                .push(Span::styled(format!("  (+{more})"), style::DIM));
        }
        frame.render_widget(Paragraph::new(lines), h_area);
    }
    if b_rows == 0 {
        return;
    }
    if editing == Some(Field::Body) {
        frame.render_widget(&c.body, b_area);
    } else {
        let body = composer::text(&c.body);
        let lines: Vec<Line<'static>> = match (&c.repeated, body.is_empty()) {
            (Some(r), true) => vec![Line::styled(
                format!(
                    "{} × {} ({} bytes, sent as the lesson wrote it; edit to replace)",
                    text_cut(&r.text, 20),
                    r.times,
                    r.text.len() * r.times
                ),
                style::DIM,
            )],
            (_, true) => vec![Line::styled("(no body)", style::DIM)],
            _ => body.lines().map(|l| Line::raw(l.to_string())).collect(),
        };
        frame.render_widget(Paragraph::new(lines), b_area);
    }
}

fn response_pane(frame: &mut Frame<'_>, app: &App, focused: bool, area: Rect) {
    let r = &app.responses;
    let title = match (r.shown, r.current()) {
        (Some(i), Some(sent)) => {
            let status = sent
                .status()
                .map(|s| format!(" · {s}"))
                .unwrap_or_else(|| " · waiting".into());
            format!(
                "· #{} ({} of {}){status}{} ",
                sent.id,
                i + 1,
                r.history.len(),
                if r.marked == Some(sent.id) {
                    " · marked"
                } else {
                    ""
                }
            )
        }
        _ => "· s sends the request ".into(),
    };
    let block = pane_block(Pane::Response, title, focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(sent) = r.current() else {
        frame.render_widget(
            Paragraph::new(vec![
                Line::styled("Nothing sent yet.", style::DIM),
                Line::styled("s sends the request above to the lab;", style::DIM),
                Line::styled("S sends it in step mode.", style::DIM),
            ])
            .wrap(Wrap { trim: true }),
            inner,
        );
        return;
    };
    let lines: Vec<Line<'static>> = sent
        .lines
        .iter()
        .enumerate()
        .map(|(i, (_, l))| {
            if focused && i == r.cursor {
                l.clone().style(SELECTED)
            } else {
                l.clone()
            }
        })
        .collect();
    let (rows, owners) = text::wrap(&lines, inner.width);
    let first = owners.iter().position(|&o| o == r.cursor).unwrap_or(0);
    let last = owners.iter().rposition(|&o| o == r.cursor).unwrap_or(first);
    let height = usize::from(inner.height);
    let scroll = text::keep_visible(0, first, last, height);
    let shown: Vec<Line<'static>> = rows.into_iter().skip(scroll).take(height).collect();
    frame.render_widget(Paragraph::new(shown), inner);
}

fn trace_pane(frame: &mut Frame<'_>, app: &App, focused: bool, area: Rect) {
    if let Some(step) = &app.step {
        return step_pane(frame, step, focused, area);
    }
    let t = &app.traces;
    let title = if t.is_empty() {
        "· every request the lab serves shows here ".to_string()
    } else {
        format!(
            "· {} of {}{}{} ",
            t.selected + 1,
            t.len(),
            if t.follow { " · following" } else { "" },
            if t.dropped > 0 {
                format!(" · {} older let go", t.dropped)
            } else {
                String::new()
            }
        )
    };
    let block = pane_block(Pane::Trace, title, focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if t.is_empty() {
        frame.render_widget(
            Paragraph::new(vec![
                Line::styled("No requests yet.", style::DIM),
                Line::styled(
                    format!(
                        "Send one with s, or from another terminal: curl {}/tasks",
                        app.lab_url
                    ),
                    style::DIM,
                ),
            ])
            .wrap(Wrap { trim: true }),
            inner,
        );
        return;
    }
    let list_rows = (inner.height / 3).clamp(1, 5).min(t.len() as u16);
    let [list_area, timeline_area] = inner.layout(&Layout::vertical([
        Constraint::Length(list_rows),
        Constraint::Min(1),
    ]));
    // The list: only the rows on screen are built, however many traces there are.
    let rows = usize::from(list_rows);
    let start = (t.selected + 1).saturating_sub(rows);
    let mut list = Vec::with_capacity(rows);
    for i in start..(start + rows).min(t.len()) {
        let Some(trace) = t.get(i) else { break };
        let time = trace
            .started_at
            .to_string()
            .get(11..19)
            .unwrap_or("")
            .to_string();
        let mut line = Line::from(vec![
            Span::styled(format!("{time} "), style::DIM),
            Span::styled(format!("{} ", trace.status), style::status(trace.status)),
            Span::raw(format!("{} {}", trace.method, trace.path)),
            Span::styled(
                format!("  {}", view::trace::format_ms(trace.duration_us)),
                style::DIM,
            ),
        ]);
        if i == t.selected {
            line = line.style(SELECTED);
        }
        list.push(line);
    }
    frame.render_widget(Paragraph::new(list), list_area);
    if let Some(trace) = t.current() {
        let lines = view::trace::timeline_lines(trace, timeline_area.width, t.event);
        let mut head = vec![Line::from(vec![
            Span::styled("── ", style::DIM),
            Span::styled(trace.status.to_string(), style::status(trace.status)),
            Span::raw(format!(" {} {}", trace.method, trace.path)),
            Span::styled(
                format!(
                    "  {}  {}",
                    trace
                        .route
                        .as_deref()
                        .map(|r| format!("route {r}"))
                        .unwrap_or_default(),
                    view::trace::format_ms(trace.duration_us)
                ),
                style::DIM,
            ),
        ])];
        head.extend(lines);
        frame.render_widget(Paragraph::new(head), timeline_area);
    }
}

/// A stepped request: the stages it has passed, the one it waits at, and what it carries
/// there.
fn step_pane(frame: &mut Frame<'_>, step: &super::app::Stepping, focused: bool, area: Rect) {
    use crate::lab::step::BlockKind;
    let title = match step.stage() {
        Some(stage) => format!(
            "· step mode · held at {} · . next  > to the end ",
            stage.label()
        ),
        None => "· step mode · on its way… ".to_string(),
    };
    let block = pane_block(Pane::Trace, title, focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    // Where it is in the lifecycle: passed ✓, here ▶, not yet ·.
    // A stage before the furthest one reached that the request never stopped at had
    // nothing to do for it (a GET has no body to validate): –.
    let here = step.stage();
    let furthest = step
        .seen
        .iter()
        .filter_map(|(s, _)| PIPELINE.iter().position(|p| p == s))
        .max();
    let mut path = Vec::new();
    for (i, stage) in PIPELINE.iter().enumerate() {
        if i > 0 {
            path.push(Span::styled(" ", style::DIM));
        }
        let seen = step.seen.iter().any(|(s, _)| s == stage);
        let (mark, look) = if here == Some(*stage) {
            ("▶", style::WARN.add_modifier(Modifier::REVERSED))
        } else if seen {
            ("✓", style::OK)
        } else if furthest.is_some_and(|f| i < f) {
            ("–", style::DIM)
        } else {
            ("·", style::DIM)
        };
        path.push(Span::styled(format!("{mark}{}", short_stage(*stage)), look));
    }
    let mut lines = vec![Line::from(path), Line::default()];
    match step.seen.last() {
        None => lines.push(Line::styled(
            "Sent. The lab holds it as soon as its head is read…",
            style::DIM,
        )),
        Some((stage, carries)) => {
            let state = if step.held.is_some() {
                "held at"
            } else {
                "leaving"
            };
            let cols = usize::from(inner.width.max(20));
            // Sentences wrap at words; a field's value wraps under itself.
            lines.extend(wrap_spans(
                &[
                    Span::styled(format!("{state} {}: ", stage.label()), style::STRONG),
                    Span::raw(carries.summary.clone()),
                ],
                cols,
                "",
                "",
            ));
            let width = carries
                .fields
                .iter()
                .map(|(k, _)| k.chars().count())
                .max()
                .unwrap_or(0)
                .min(24)
                .min(cols / 3);
            let hang = " ".repeat(width + 3);
            for (name, value) in &carries.fields {
                let mut rows = wrap_spans(&[Span::raw(value.clone())], cols, &hang, &hang);
                if let Some(first) = rows.first_mut() {
                    // Put the name where the first row's indent was.
                    first.spans[0] =
                        Span::styled(format!("  {:<width$} ", text_cut(name, width)), style::ID);
                } else {
                    rows.push(Line::styled(format!("  {name}"), style::ID));
                }
                lines.extend(rows);
            }
            if let Some(b) = &carries.block {
                lines.push(Line::default());
                match b.kind {
                    // Statements wrap at words, continued rows indented.
                    BlockKind::Sql => {
                        for line in b.text.lines() {
                            lines.extend(wrap_spans(
                                &[Span::styled(line.to_string(), style::SQL)],
                                cols,
                                "  ",
                                "      ",
                            ));
                        }
                    }
                    // JSON and text keep their indentation.
                    BlockKind::Json | BlockKind::Text => {
                        let look = if b.kind == BlockKind::Text {
                            style::DIM
                        } else {
                            Style::new()
                        };
                        for line in b.text.lines() {
                            lines.push(Line::styled(format!("  {line}"), look));
                        }
                    }
                }
            }
        }
    }
    let (rows, _) = text::wrap(&lines, inner.width);
    frame.render_widget(Paragraph::new(rows), inner);
}

// ---------------------------------------------------------------------------------------
// The challenge panel.

fn challenge_screen(frame: &mut Frame<'_>, app: &App, body: Rect) {
    let Some(panel) = &app.panel else { return };
    let output_rows = if panel.command_text().is_some() || !panel.output.is_empty() {
        (body.height / 4).max(4)
    } else {
        0
    };
    let [top, checks_area, output_area] = body.layout(&Layout::vertical([
        Constraint::Length(6),
        Constraint::Min(4),
        Constraint::Length(output_rows),
    ]));
    // Where the checks go.
    let block = Block::bordered()
        .border_style(FOCUSED)
        .title(Line::from(vec![
            Span::styled(" challenge ", style::STRONG),
            Span::styled(
                format!("{} — {} ", panel.challenge, panel.title),
                style::DIM,
            ),
        ]));
    let inner = block.inner(top);
    frame.render_widget(block, top);
    let row = |y: u16| Rect::new(inner.x, inner.y + y, inner.width, 1);
    let field_row = |frame: &mut Frame<'_>,
                     y: u16,
                     label: &str,
                     key: &str,
                     area: &ratatui_textarea::TextArea<'static>,
                     field: Field,
                     empty: &str| {
        let r = row(y);
        let [l, v] = r.layout(&Layout::horizontal([
            Constraint::Length(10),
            Constraint::Min(1),
        ]));
        frame.render_widget(
            Line::from(vec![
                Span::styled(format!("{label:<7}"), style::DIM),
                Span::styled(format!("{key} "), style::ID),
            ]),
            l,
        );
        if app.editing == Some(field) {
            frame.render_widget(area, v);
        } else {
            let t = area.lines().join("");
            if t.trim().is_empty() {
                frame.render_widget(Span::styled(empty.to_string(), style::DIM), v);
            } else {
                frame.render_widget(Span::raw(t), v);
            }
        }
    };
    field_row(
        frame,
        0,
        "target",
        "t",
        &panel.target,
        Field::Target,
        "(where your server listens)",
    );
    field_row(
        frame,
        1,
        "start",
        "r",
        &panel.command,
        Field::Command,
        "(none: you start your server yourself · r sets a command)",
    );
    let state = match &panel.state {
        RunState::Idle => Line::styled(
            format!(
                "{} · c runs the checks, L runs them against the lab",
                panel.summary
            ),
            style::DIM,
        ),
        RunState::Running { lab } => Line::styled(
            if *lab {
                "running against a fresh lab…"
            } else {
                "running…"
            },
            style::WARN,
        ),
        RunState::Finished { passed, lab } => {
            let (p, f, w) = panel.tally();
            let who = if *lab { "the lab" } else { "your server" };
            if *passed {
                Line::styled(
                    format!(
                        "✓ {who} passes: {p} passed{}",
                        if w > 0 {
                            format!(", {w} with advice")
                        } else {
                            String::new()
                        }
                    ),
                    style::OK,
                )
            } else {
                Line::styled(
                    format!(
                        "✗ {who}: {f} failed, {p} passed — Enter on a failure shows why, d compares it with the lab"
                    ),
                    style::FAIL,
                )
            }
        }
        RunState::Failed(reason) => Line::styled(format!("could not run: {reason}"), style::FAIL),
    };
    frame.render_widget(
        Paragraph::new(state).wrap(Wrap { trim: true }),
        Rect::new(inner.x, inner.y + 2, inner.width, 2),
    );

    checks(frame, panel, checks_area);
    if output_rows > 0 {
        let block = Block::bordered()
            .border_style(style::DIM)
            .title(" your server's output ");
        let inner = block.inner(output_area);
        frame.render_widget(block, output_area);
        let lines: Vec<Line<'static>> = panel
            .output
            .iter()
            .rev()
            .take(usize::from(inner.height))
            .rev()
            .map(|(stream, line)| match stream {
                Stream::Stderr => Line::styled(line.clone(), style::WARN),
                Stream::Stdout => Line::raw(line.clone()),
            })
            .collect();
        frame.render_widget(Paragraph::new(lines), inner);
    }
}

fn checks(frame: &mut Frame<'_>, panel: &Panel, area: Rect) {
    let block = Block::bordered()
        .border_style(style::DIM)
        .title(Line::from(vec![
            Span::styled(" checks ", style::STRONG),
            Span::styled(
                format!("· {} · Enter opens one ", panel.rows.len()),
                style::DIM,
            ),
        ]));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let mut lines = Vec::new();
    for (i, row) in panel.rows.iter().enumerate() {
        let (mark, mark_style) = match &row.state {
            CheckState::Waiting => ("·", style::DIM),
            CheckState::Running => ("…", style::WARN),
            CheckState::Done(o) => match o.verdict() {
                Verdict::Passed => ("✓", style::OK),
                Verdict::Failed => ("✗", style::FAIL),
                Verdict::Warned => ("!", style::WARN),
                Verdict::NotRun | Verdict::Skipped => ("-", style::DIM),
            },
        };
        let time = match &row.state {
            CheckState::Done(o) => format!("  {} ms", o.duration.as_millis()),
            _ => String::new(),
        };
        let advice = if row.severity == crate::course::challenge::Severity::Should {
            " (advice)"
        } else {
            ""
        };
        let mut line = Line::from(vec![
            Span::styled(format!(" {mark} "), mark_style),
            Span::styled(
                format!("{:<13}", format!("[{}]", row.stage.id())),
                style::ID,
            ),
            Span::raw(row.name.clone()),
            Span::styled(format!("{advice}{time}"), style::DIM),
        ]);
        if i == panel.selected {
            line = line.style(SELECTED);
        }
        lines.push(line);
        if i == panel.selected
            && let CheckState::Done(o) = &row.state
            && let Some(f) = &o.finding
        {
            let s = if f.advice { style::WARN } else { style::FAIL };
            let text = f
                .mismatch
                .as_ref()
                .map(|m| format!("expected {}, got {}", m.expected, m.actual))
                .unwrap_or_else(|| f.message.clone());
            lines.push(Line::styled(
                format!(
                    "     {}",
                    text_cut(&text, usize::from(inner.width).saturating_sub(6) * 2)
                ),
                s,
            ));
        }
    }
    for note in &panel.notes {
        lines.push(Line::styled(format!(" {note}"), style::DIM));
    }
    // Keep the selected check (and its finding, the line after it) on screen, in rows.
    let (rows, owners) = text::wrap(&lines, inner.width);
    let selected_line = lines.iter().position(|l| l.style == SELECTED).unwrap_or(0);
    let first = owners.iter().position(|&o| o == selected_line).unwrap_or(0);
    let last = owners
        .iter()
        .rposition(|&o| o <= selected_line + 1)
        .unwrap_or(first);
    let scroll = text::keep_visible(0, first, last, usize::from(inner.height));
    frame.render_widget(Paragraph::new(rows).scroll((scroll as u16, 0)), inner);
}

// ---------------------------------------------------------------------------------------
// Overlays.

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

fn draw_overlay(frame: &mut Frame<'_>, app: &App, overlay: &Overlay, body: Rect) {
    let (title, lines, scroll): (String, Vec<Line<'static>>, usize) = match overlay {
        Overlay::Outline { selected } => {
            let Some(page) = &app.page else { return };
            let lesson = &app.course.lessons[page.lesson];
            let lines = page
                .reader
                .sections
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let read = app
                        .standing
                        .read
                        .contains(&(lesson.id.clone(), s.id.clone()));
                    let line = Line::from(vec![
                        Span::styled(if read { " ✓ " } else { "   " }, style::OK),
                        Span::raw(format!("{:>2}. {}", i + 1, s.title)),
                    ]);
                    if i == *selected {
                        line.style(SELECTED)
                    } else {
                        line
                    }
                })
                .collect();
            (
                format!("{} — sections (Enter jumps)", lesson.title),
                lines,
                0,
            )
        }
        Overlay::Text {
            title,
            lines,
            scroll,
            ..
        } => (title.clone(), lines.clone(), *scroll),
    };
    let opens = matches!(overlay, Overlay::Text { jump: Some(_), .. });
    let width = layout::overlay_width(body.width);
    let (rows, _) = text::wrap(&lines, width.saturating_sub(2));
    let height = (rows.len() as u16 + 2).clamp(5, body.height);
    let area = centered(body, width, height);
    frame.render_widget(Clear, area);
    let more = rows.len() > usize::from(height.saturating_sub(2)) + scroll;
    let block = Block::bordered()
        .border_style(FOCUSED)
        .title(Line::from(Span::styled(
            format!(" {title} "),
            style::STRONG,
        )))
        .title_bottom(Line::styled(
            match (opens, more) {
                (true, true) => " Enter reads the section · Esc closes · ↓ more ",
                (true, false) => " Enter reads the section · Esc closes ",
                (false, true) => " Esc closes · ↓ more ",
                (false, false) => " Esc closes ",
            },
            style::DIM,
        ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let shown: Vec<Line<'static>> = rows
        .into_iter()
        .skip(scroll)
        .take(usize::from(inner.height))
        .collect();
    frame.render_widget(Paragraph::new(Text::from(shown)), inner);
}

//! Where each part of a screen goes, for a terminal size. `update` uses it too (to page by
//! the pane's height and render the lesson for its width), so the two never disagree.

use super::keys::Pane;
use ratatui::layout::{Constraint, Layout, Rect};

/// The smallest terminal the guide lays out.
pub const MIN_WIDTH: u16 = 80;
/// The smallest terminal the guide lays out.
pub const MIN_HEIGHT: u16 = 24;
/// From this width on, the lesson and the console sit side by side.
pub const SIDE_BY_SIDE: u16 = 140;

/// The frame of every screen: a header line, the body, a notice line and the footer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    /// The top line.
    pub header: Rect,
    /// Everything between.
    pub body: Rect,
    /// The last notice.
    pub notice: Rect,
    /// The keys.
    pub footer: Rect,
}

/// Splits the whole area.
pub fn frame(area: Rect) -> Frame {
    let [header, body, notice, footer] = area.layout(&Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ]));
    Frame {
        header,
        body,
        notice,
        footer,
    }
}

/// True when the terminal is big enough.
pub fn fits(area: Rect) -> bool {
    area.width >= MIN_WIDTH && area.height >= MIN_HEIGHT
}

/// Where the lesson screen's panes go (a pane not shown is `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LessonPanes {
    /// The lesson text.
    pub lesson: Option<Rect>,
    /// The composer.
    pub composer: Option<Rect>,
    /// The response.
    pub response: Option<Rect>,
    /// The traces (or the held request, in step mode).
    pub trace: Option<Rect>,
}

impl LessonPanes {
    /// The rectangle of `pane`.
    pub fn get(&self, pane: Pane) -> Option<Rect> {
        match pane {
            Pane::Lesson => self.lesson,
            Pane::Composer => self.composer,
            Pane::Response => self.response,
            Pane::Trace => self.trace,
        }
    }
}

/// Lays the lesson screen's body out: side by side on wide terminals, stacked otherwise;
/// a zoomed pane takes the whole body. `composer_rows` is the composer's height (border
/// included): what its request needs.
pub fn lesson(body: Rect, focus: Pane, zoom: bool, composer_rows: u16) -> LessonPanes {
    if zoom {
        let mut panes = LessonPanes::default();
        match focus {
            Pane::Lesson => panes.lesson = Some(body),
            Pane::Composer => panes.composer = Some(body),
            Pane::Response => panes.response = Some(body),
            Pane::Trace => panes.trace = Some(body),
        }
        return panes;
    }
    if body.width >= SIDE_BY_SIDE {
        let [left, right] = body.layout(&Layout::horizontal([
            Constraint::Percentage(45),
            Constraint::Percentage(55),
        ]));
        let [composer, response, trace] = right.layout(&Layout::vertical([
            Constraint::Length(composer_rows),
            Constraint::Percentage(45),
            Constraint::Percentage(55),
        ]));
        return LessonPanes {
            lesson: Some(left),
            composer: Some(composer),
            response: Some(response),
            trace: Some(trace),
        };
    }
    // The console gets more room while the learner works in it.
    let lesson_share = match focus {
        Pane::Lesson => 45,
        Pane::Composer => 35,
        Pane::Response | Pane::Trace => 28,
    };
    let [top, composer, bottom] = body.layout(&Layout::vertical([
        Constraint::Percentage(lesson_share),
        Constraint::Length(composer_rows),
        Constraint::Min(5),
    ]));
    let response_share = match focus {
        Pane::Response => 55,
        Pane::Trace => 35,
        _ => 45,
    };
    let [response, trace] = bottom.layout(&Layout::horizontal([
        Constraint::Percentage(response_share),
        Constraint::Percentage(100 - response_share),
    ]));
    LessonPanes {
        lesson: Some(top),
        composer: Some(composer),
        response: Some(response),
        trace: Some(trace),
    }
}

/// The inside of a bordered pane.
pub fn inner(rect: Rect) -> Rect {
    Rect {
        x: rect.x + 1,
        y: rect.y + 1,
        width: rect.width.saturating_sub(2),
        height: rect.height.saturating_sub(2),
    }
}

/// How wide an overlay (an explanation, a comparison) is drawn on a body `width` columns
/// wide, border included; text for it is laid out two columns narrower.
pub fn overlay_width(width: u16) -> u16 {
    (width * 9 / 10).max(60).min(width)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pane_has_room_at_80_by_24() {
        let f = frame(Rect::new(0, 0, 80, 24));
        let panes = lesson(f.body, Pane::Lesson, false, 5);
        for pane in Pane::ALL {
            let r = panes.get(pane).unwrap();
            assert!(r.height >= 5 && r.width >= 30, "{pane:?}: {r:?}");
        }
        let wide = lesson(frame(Rect::new(0, 0, 160, 40)).body, Pane::Lesson, false, 8);
        assert_eq!(
            wide.lesson.unwrap().height,
            37,
            "the lesson takes the full height"
        );
        let zoomed = lesson(f.body, Pane::Trace, true, 8);
        assert_eq!(zoomed.trace, Some(f.body));
        assert_eq!(zoomed.lesson, None);
    }
}

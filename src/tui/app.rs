//! The guide's whole state (the model). `update` changes it; `draw` shows it.

use super::challenge::Panel;
use super::composer::Composer;
use super::keys::{Context, Pane, Scope};
use super::layout;
use super::msg::{Field, Notice};
use super::reader::Reader;
use super::responses::Responses;
use super::traces::TraceLog;
use crate::course::Course;
use crate::progress::Place;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui_textarea::TextArea;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The URL the challenge panel checks until the learner sets one.
pub const DEFAULT_TARGET: &str = "http://127.0.0.1:8000";

/// Which screen is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// The lifecycle map.
    Home,
    /// A lesson with its console.
    Lesson,
    /// The lesson's challenge.
    Challenge,
}

/// A window over the screen.
#[derive(Debug, Clone)]
pub enum Overlay {
    /// The lesson's sections, one selected.
    Outline {
        /// The selected section.
        selected: usize,
    },
    /// A text to read: a check's verdict, a comparison, an explanation.
    Text {
        /// Its title.
        title: String,
        /// Its lines.
        lines: Vec<Line<'static>>,
        /// First line shown.
        scroll: usize,
        /// The lesson section Enter opens, as `(lesson id, section id)`.
        jump: Option<(String, String)>,
    },
}

/// The open lesson.
#[derive(Debug, Clone)]
pub struct Page {
    /// Its index in the course.
    pub lesson: usize,
    /// Its text.
    pub reader: Reader,
    /// The focused pane.
    pub focus: Pane,
    /// The focused pane has the whole body.
    pub zoom: bool,
    /// The request being composed.
    pub composer: Composer,
    /// The section last remembered as the place.
    pub saved_section: Option<String>,
}

/// A request being stepped through the lab's stages.
#[derive(Debug)]
pub struct Stepping {
    /// The console's number for it.
    pub id: u64,
    /// Where it waits now (`None` between a release and the next hold).
    pub held: Option<Box<crate::lab::step::Held>>,
    /// Every boundary it has been held at, in order, with what it carried there.
    pub seen: Vec<(crate::stage::Stage, crate::lab::step::Carries)>,
}

impl Stepping {
    /// The stage it is held at, if it is held.
    pub fn stage(&self) -> Option<crate::stage::Stage> {
        self.held.as_ref().map(|h| h.stage)
    }
}

/// The learner's progress as the guide shows it.
#[derive(Debug, Clone, Default)]
pub struct Standing {
    /// Highest version passed, by challenge id.
    pub passed: HashMap<String, u32>,
    /// Sections read, as `(lesson, section)`.
    pub read: HashSet<(String, String)>,
}

/// Everything the guide knows.
#[derive(Debug)]
pub struct App {
    /// The lessons and challenges.
    pub course: Arc<Course>,
    /// The guide's lab.
    pub lab_url: String,
    /// The screen up.
    pub screen: Screen,
    /// The lesson selected on the map.
    pub home: usize,
    /// The open lesson.
    pub page: Option<Page>,
    /// Its challenge panel, once opened.
    pub panel: Option<Panel>,
    /// A window over the screen.
    pub overlay: Option<Overlay>,
    /// The field being typed into (editing mode), if any.
    pub editing: Option<Field>,
    /// The search being typed.
    pub search: TextArea<'static>,
    /// The lab's traces.
    pub traces: TraceLog,
    /// What the console sent and got.
    pub responses: Responses,
    /// Progress.
    pub standing: Standing,
    /// Where the learner is (saved as they move).
    pub place: Place,
    /// The last thing to tell the learner.
    pub notice: Option<Notice>,
    /// The terminal's size.
    pub size: (u16, u16),
    /// Leave at the next turn.
    pub quit: bool,
    /// The request being stepped, if any.
    pub step: Option<Stepping>,
    /// A request whose trace should be shown when it arrives.
    pub awaited_trace: Option<String>,
    /// The next request number.
    pub next_id: u64,
    /// Values presets captured from their answers (a token), sent by later presets.
    pub captured: crate::course::template::Vars,
    /// The next challenge run number.
    pub next_run: u64,
}

impl App {
    /// A fresh guide for `course`, its lab at `lab_url`, resuming at `place`.
    pub fn new(
        course: Arc<Course>,
        lab_url: String,
        standing: Standing,
        place: Place,
        size: (u16, u16),
    ) -> App {
        let mut app = App {
            course,
            lab_url,
            screen: Screen::Home,
            home: 0,
            page: None,
            panel: None,
            overlay: None,
            editing: None,
            search: TextArea::new(vec![String::new()]),
            traces: TraceLog::default(),
            responses: Responses::default(),
            standing,
            place: place.clone(),
            notice: None,
            size,
            quit: false,
            step: None,
            awaited_trace: None,
            next_id: 1,
            captured: Default::default(),
            next_run: 1,
        };
        // Resume where the learner left off.
        if let Some(lesson) = place.lesson.as_deref()
            && let Some(i) = app.course.lessons.iter().position(|l| l.id == lesson)
        {
            app.home = i;
            app.open_lesson(i);
            if let Some(section) = place.section.as_deref()
                && let Some(page) = app.page.as_mut()
            {
                page.reader.jump_to(section);
                page.saved_section = Some(section.to_string());
            }
        }
        app
    }

    /// The whole terminal area.
    pub fn area(&self) -> Rect {
        Rect::new(0, 0, self.size.0, self.size.1)
    }

    /// Where the lesson screen's panes are now.
    pub fn panes(&self) -> layout::LessonPanes {
        let body = layout::frame(self.area()).body;
        match &self.page {
            Some(page) => layout::lesson(body, page.focus, page.zoom, self.composer_rows()),
            None => layout::LessonPanes::default(),
        }
    }

    /// The composer's height: the request line and what its headers and body need (a few
    /// lines each; more while one of them is being edited), with its border.
    pub fn composer_rows(&self) -> u16 {
        let Some(page) = &self.page else { return 4 };
        let c = &page.composer;
        let count = |a: &ratatui_textarea::TextArea<'_>| {
            a.lines().iter().filter(|l| !l.is_empty()).count() as u16
        };
        let editing_big = matches!(self.editing, Some(Field::Headers | Field::Body));
        let headers = count(&c.headers).clamp(1, 3);
        let body = if c.repeated.is_some() {
            1
        } else {
            count(&c.body).min(4)
        };
        let rows = 2 + 1 + headers + body;
        if editing_big {
            rows.max(10)
        } else {
            rows.clamp(4, 9)
        }
    }

    /// The inner height of a pane (0 when hidden).
    pub fn pane_height(&self, pane: Pane) -> usize {
        self.panes()
            .get(pane)
            .map_or(0, |r| usize::from(layout::inner(r).height))
    }

    /// The width the lesson text is rendered for.
    pub fn lesson_width(&self) -> u16 {
        self.panes()
            .lesson
            .map_or(80, |r| layout::inner(r).width.saturating_sub(1).max(20))
    }

    /// Opens lesson `index` (its text rendered for the pane, the first preset composed).
    pub fn open_lesson(&mut self, index: usize) {
        let Some(lesson) = self.course.lessons.get(index) else {
            return;
        };
        let composer = lesson
            .presets
            .first()
            .map(|p| Composer::from_preset(0, p))
            .unwrap_or_default();
        self.page = Some(Page {
            lesson: index,
            reader: Reader::default(),
            focus: Pane::Lesson,
            zoom: false,
            composer,
            saved_section: None,
        });
        let width = self.lesson_width();
        if let Some(page) = self.page.as_mut() {
            page.reader.render(&self.course.lessons[index], width);
        }
        if self
            .panel
            .as_ref()
            .is_some_and(|p| Some(&p.challenge) != lesson.challenge.as_ref())
            && !self.panel.as_ref().is_some_and(|p| p.running())
        {
            self.panel = None;
        }
        self.screen = Screen::Lesson;
        self.place.lesson = Some(lesson.id.clone());
        self.place.section = None;
    }

    /// What the keys see.
    pub fn context(&self) -> Context {
        match self.screen {
            Screen::Home => Context {
                screen: Scope::Home,
                pane: None,
            },
            Screen::Lesson => Context {
                screen: Scope::Lesson,
                pane: self.page.as_ref().map(|p| p.focus),
            },
            Screen::Challenge => Context {
                screen: Scope::Challenge,
                pane: None,
            },
        }
    }

    /// Where a lesson stands, for the map.
    pub fn lesson_standing(&self, index: usize) -> LessonStanding {
        let Some(lesson) = self.course.lessons.get(index) else {
            return LessonStanding::NotStarted;
        };
        if let Some(challenge) = lesson
            .challenge
            .as_ref()
            .and_then(|id| self.course.challenge(id))
            && let Some(&version) = self.standing.passed.get(&challenge.id)
        {
            return if version >= challenge.version {
                LessonStanding::Passed
            } else {
                LessonStanding::PassedEarlier
            };
        }
        let read = lesson
            .sections
            .iter()
            .filter(|s| {
                self.standing
                    .read
                    .contains(&(lesson.id.clone(), s.id.clone()))
            })
            .count();
        match read {
            0 => LessonStanding::NotStarted,
            n => LessonStanding::Read {
                read: n,
                of: lesson.sections.len(),
            },
        }
    }

    /// Says something in the notice line.
    pub fn tell(&mut self, notice: Notice) {
        self.notice = Some(notice);
    }
}

/// How far the learner is with a lesson.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LessonStanding {
    /// Nothing read, nothing passed.
    NotStarted,
    /// Some sections read.
    Read {
        /// Sections read.
        read: usize,
        /// Sections in all.
        of: usize,
    },
    /// Its challenge passed (the current version).
    Passed,
    /// Its challenge passed in an earlier, less strict version: to run again.
    PassedEarlier,
}

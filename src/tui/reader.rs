//! The lesson text: rendered for the pane's width, scrolled, searched, with its sections
//! known by line so the pane can say which one is on screen and which were read.

use crate::course::Lesson;
use crate::view::markdown::{self, Look};
use ratatui::text::Line;

/// One section's place in the rendered text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionSpan {
    /// The section id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// First rendered line.
    pub start: usize,
    /// One past its last rendered line.
    pub end: usize,
}

/// A lesson's text as the pane shows it.
#[derive(Debug, Clone, Default)]
pub struct Reader {
    /// The width it was rendered for.
    pub width: u16,
    /// The rendered lines.
    pub lines: Vec<Line<'static>>,
    /// The same lines as plain text (for search).
    plain: Vec<String>,
    /// The sections, in order.
    pub sections: Vec<SectionSpan>,
    /// The first line shown.
    pub scroll: usize,
    /// The last search, and the line of its current match.
    pub search: Option<(String, Option<usize>)>,
}

impl Reader {
    /// Renders `lesson` for `width` columns, keeping the reading position on the same section.
    pub fn render(&mut self, lesson: &Lesson, width: u16) {
        let keep = self.current_section().map(|s| s.id.clone());
        self.width = width;
        self.lines.clear();
        self.sections.clear();
        for (section, text) in lesson.parts() {
            let start = self.lines.len();
            let rendered = markdown::render(text, width, Look::Styled);
            if rendered.is_empty() {
                continue;
            }
            if start > 0 {
                self.lines.push(Line::default());
            }
            let start = self.lines.len();
            self.lines.extend(rendered);
            if let Some(s) = section {
                self.sections.push(SectionSpan {
                    id: s.id.clone(),
                    title: s.title.clone(),
                    start,
                    end: self.lines.len(),
                });
            }
        }
        self.plain = self
            .lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect();
        if let Some(id) = keep {
            self.jump_to(&id);
        }
    }

    /// The section at the top of the pane (the opening counts as none).
    pub fn current_section(&self) -> Option<&SectionSpan> {
        self.current_index().map(|i| &self.sections[i])
    }

    /// Index of the section at the top, if any.
    pub fn current_index(&self) -> Option<usize> {
        self.sections.iter().rposition(|s| s.start <= self.scroll)
    }

    /// Scrolls so that section `id` starts at the top. False when there is no such section.
    pub fn jump_to(&mut self, id: &str) -> bool {
        match self.sections.iter().find(|s| s.id == id) {
            Some(s) => {
                self.scroll = s.start;
                true
            }
            None => false,
        }
    }

    /// Scrolls by `delta` lines, within the text shown in `height` rows.
    pub fn scroll_by(&mut self, delta: isize, height: usize) {
        let max = self.lines.len().saturating_sub(height.max(1));
        self.scroll = self.scroll.saturating_add_signed(delta).min(max);
    }

    /// The top or the bottom.
    pub fn scroll_to_end(&mut self, bottom: bool, height: usize) {
        self.scroll = if bottom {
            self.lines.len().saturating_sub(height.max(1))
        } else {
            0
        };
    }

    /// Moves to the previous (`forward == false`) or next section.
    pub fn step_section(&mut self, forward: bool) {
        let here = self.current_index();
        let target = match (here, forward) {
            (None, true) => self.sections.first(),
            (None, false) => None,
            (Some(i), true) => self.sections.get(i + 1),
            (Some(i), false) => {
                // From inside a section, go to its start first; from its start, to the one before.
                let s = &self.sections[i];
                if self.scroll > s.start {
                    Some(s)
                } else if i == 0 {
                    self.scroll = 0;
                    None
                } else {
                    self.sections.get(i - 1)
                }
            }
        };
        if let Some(s) = target {
            self.scroll = s.start;
        }
    }

    /// Sections whose end is on screen (or above it): read, once the learner has scrolled
    /// through them.
    pub fn sections_seen(&self, height: usize) -> impl Iterator<Item = &SectionSpan> {
        let bottom = self.scroll + height;
        self.sections.iter().filter(move |s| s.end <= bottom)
    }

    /// Finds `query` (case-insensitive) after the current match, wrapping around; scrolls to
    /// it. Returns the match's line and how many lines match in all.
    pub fn search(&mut self, query: &str) -> Option<(usize, usize)> {
        let needle = query.to_lowercase();
        if needle.is_empty() {
            return None;
        }
        let hits: Vec<usize> = self
            .plain
            .iter()
            .enumerate()
            .filter(|(_, l)| l.to_lowercase().contains(&needle))
            .map(|(i, _)| i)
            .collect();
        let after = match &self.search {
            Some((q, Some(line))) if q.to_lowercase() == needle => Some(*line),
            _ => None,
        };
        let next = match after {
            Some(line) => hits
                .iter()
                .copied()
                .find(|&h| h > line)
                .or(hits.first().copied()),
            None => hits
                .iter()
                .copied()
                .find(|&h| h >= self.scroll)
                .or(hits.first().copied()),
        };
        self.search = Some((query.to_string(), next));
        let line = next?;
        self.scroll = line.saturating_sub(2);
        Some((line, hits.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::course::{ContentSource, Course};

    fn lesson_one() -> Lesson {
        let course = Course::load(&ContentSource::Embedded).unwrap();
        course.lessons[0].clone()
    }

    #[test]
    fn sections_are_found_by_line_and_every_section_is_rendered() {
        let lesson = lesson_one();
        let mut r = Reader::default();
        r.render(&lesson, 80);
        assert_eq!(r.sections.len(), lesson.sections.len());
        for pair in r.sections.windows(2) {
            assert!(pair[0].end <= pair[1].start);
        }
        assert_eq!(r.current_index(), None, "the opening comes first");
        let second = r.sections[1].id.clone();
        assert!(r.jump_to(&second));
        assert_eq!(r.current_section().unwrap().id, second);
        r.step_section(true);
        assert_eq!(r.current_index(), Some(2));
        r.step_section(false);
        assert_eq!(r.current_index(), Some(1));
    }

    #[test]
    fn a_narrower_pane_keeps_the_section_being_read() {
        let lesson = lesson_one();
        let mut r = Reader::default();
        r.render(&lesson, 100);
        let third = r.sections[2].id.clone();
        r.jump_to(&third);
        r.render(&lesson, 50);
        assert_eq!(r.current_section().unwrap().id, third);
    }

    #[test]
    fn search_wraps_around_and_counts_matches() {
        let lesson = lesson_one();
        let mut r = Reader::default();
        r.render(&lesson, 80);
        let (first, count) = r.search("status").unwrap();
        assert!(count > 1);
        let (second, _) = r.search("status").unwrap();
        assert!(second > first);
        assert_eq!(r.search("no such words anywhere"), None);
    }
}

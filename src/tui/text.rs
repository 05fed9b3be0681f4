//! Small text helpers for panes: wrapping styled lines to a width while remembering which
//! line each row came from (so a selected line stays highlighted when it wraps).

use ratatui::text::{Line, Span};
use textwrap::core::display_width;

/// `lines` wrapped to `width` columns (at a space where the row has one, otherwise mid-word),
/// and for each row the index of the line it came from.
pub fn wrap(lines: &[Line<'static>], width: u16) -> (Vec<Line<'static>>, Vec<usize>) {
    let width = usize::from(width.max(1));
    let mut rows = Vec::with_capacity(lines.len());
    let mut owners = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        for row in wrap_line(line, width) {
            rows.push(row);
            owners.push(i);
        }
    }
    (rows, owners)
}

/// One line cut into rows of at most `width` columns. A row ends after its last space when
/// it has one past its indentation (so words stay whole); a word longer than a row is split.
/// Rows after the first are indented like the first (while the indent is under half the
/// width), and no row starts with the space it was broken at.
pub fn wrap_line(line: &Line<'static>, width: usize) -> Vec<Line<'static>> {
    let total: usize = line.spans.iter().map(|s| display_width(&s.content)).sum();
    if total <= width {
        return vec![line.clone()];
    }
    // Every character with its style and width.
    let cells: Vec<(char, ratatui::style::Style, usize)> = line
        .spans
        .iter()
        .flat_map(|span| {
            span.content
                .chars()
                .map(move |c| (c, span.style, display_width(c.encode_utf8(&mut [0; 4]))))
        })
        .collect();
    let indent = cells.iter().take_while(|(c, ..)| *c == ' ').count();
    // Continuation rows line up under the first row's text, while that leaves room.
    let hang = if indent * 2 < width { indent } else { 0 };
    let mut rows = Vec::new();
    let mut start = 0;
    while start < cells.len() {
        // The furthest end that fits.
        let mut used = if start == 0 { 0 } else { hang };
        let mut end = start;
        while end < cells.len() && (used + cells[end].2 <= width || end == start) {
            used += cells[end].2;
            end += 1;
        }
        if end < cells.len() {
            // Break after the last space in the row (not inside the first row's indent).
            let floor = if start == 0 { indent } else { start };
            if let Some(space) = (floor..end).rev().find(|&i| cells[i].0 == ' ') {
                end = space + 1;
            }
        }
        let mut row = row_of(&cells[start..end]);
        if start > 0 && hang > 0 {
            row.spans.insert(0, Span::raw(" ".repeat(hang)));
        }
        rows.push(row.style(line.style));
        start = end;
        // The next row does not start with the spaces it was broken at.
        while start < cells.len() && cells[start].0 == ' ' {
            start += 1;
        }
    }
    rows
}

/// Cells back into spans, one per run of equal style (trailing spaces dropped).
fn row_of(cells: &[(char, ratatui::style::Style, usize)]) -> Line<'static> {
    let trimmed = cells
        .iter()
        .rposition(|(c, ..)| *c != ' ')
        .map_or(0, |i| i + 1);
    let mut spans: Vec<Span<'static>> = Vec::new();
    let mut text = String::new();
    let mut style = None;
    for &(c, s, _) in &cells[..trimmed] {
        if style.is_some_and(|st| st != s) {
            spans.push(Span::styled(
                std::mem::take(&mut text),
                style.unwrap_or_default(),
            ));
        }
        style = Some(s);
        text.push(c);
    }
    if !text.is_empty() {
        spans.push(Span::styled(text, style.unwrap_or_default()));
    }
    Line::from(spans)
}

/// A line's text without styles.
pub fn plain(line: &Line<'_>) -> String {
    line.spans.iter().map(|s| s.content.as_ref()).collect()
}

/// The first row to show so that rows `first..=last` of a selection are on screen, moving
/// `scroll` as little as possible.
pub fn keep_visible(scroll: usize, first: usize, last: usize, height: usize) -> usize {
    let height = height.max(1);
    if first < scroll {
        first
    } else if last >= scroll + height {
        (last + 1).saturating_sub(height).min(first)
    } else {
        scroll
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_wrap_and_rows_know_their_line() {
        let lines = vec![
            Line::from("short"),
            Line::from(vec![Span::raw("abcdef"), Span::raw("ghij")]),
        ];
        let (rows, owners) = wrap(&lines, 5);
        let text: Vec<String> = rows.iter().map(plain).collect();
        assert_eq!(text, ["short", "abcde", "fghij"]);
        assert_eq!(owners, [0, 1, 1]);
    }

    #[test]
    fn rows_break_between_words_and_keep_their_styles() {
        let bold = ratatui::style::Style::new().bold();
        let line = Line::from(vec![
            Span::raw("  held in "),
            Span::styled("step mode", bold),
        ]);
        let rows = wrap_line(&line, 12);
        let text: Vec<String> = rows.iter().map(plain).collect();
        assert_eq!(text, ["  held in", "  step mode"]);
        assert_eq!(rows[1].spans[1].style, bold);
        // A word longer than the row is split.
        let text: Vec<String> = wrap_line(&Line::from("a supercalifragilistic"), 8)
            .iter()
            .map(plain)
            .collect();
        assert_eq!(text, ["a", "supercal", "ifragili", "stic"]);
    }

    #[test]
    fn wide_characters_count_twice() {
        let rows = wrap_line(&Line::from("日本語の"), 4);
        assert_eq!(rows.len(), 2);
    }

    #[test]
    fn scrolling_follows_the_selection() {
        assert_eq!(keep_visible(0, 2, 2, 5), 0);
        assert_eq!(keep_visible(0, 7, 8, 5), 4);
        assert_eq!(keep_visible(6, 2, 2, 5), 2);
    }
}

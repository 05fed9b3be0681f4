//! Small text helpers for panes: wrapping styled lines to a width while remembering which
//! line each row came from (so a selected line stays highlighted when it wraps).

use ratatui::text::{Line, Span};
use textwrap::core::display_width;

/// `lines` wrapped to `width` columns (characters split where needed), and for each row the
/// index of the line it came from.
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

/// One line cut into rows of at most `width` columns.
pub fn wrap_line(line: &Line<'static>, width: usize) -> Vec<Line<'static>> {
    let total: usize = line.spans.iter().map(|s| display_width(&s.content)).sum();
    if total <= width {
        return vec![line.clone()];
    }
    let mut rows = Vec::new();
    let mut row: Vec<Span<'static>> = Vec::new();
    let mut used = 0;
    for span in &line.spans {
        let mut piece = String::new();
        for c in span.content.chars() {
            let w = display_width(c.encode_utf8(&mut [0; 4]));
            if used + w > width && used > 0 {
                if !piece.is_empty() {
                    row.push(Span::styled(std::mem::take(&mut piece), span.style));
                }
                rows.push(Line::from(std::mem::take(&mut row)).style(line.style));
                used = 0;
            }
            piece.push(c);
            used += w;
        }
        if !piece.is_empty() {
            row.push(Span::styled(piece, span.style));
        }
    }
    if !row.is_empty() {
        rows.push(Line::from(row).style(line.style));
    }
    rows
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

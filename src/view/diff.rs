//! Differences between two texts, as styled lines: unified (a failed check's expected and
//! actual bodies, two responses compared) or side by side (a learner's exchange beside the
//! lab's answer to the same request).

use super::style::{self, DIM};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use similar::{ChangeTag, TextDiff};

/// A unified diff's text (as `similar` writes it) as lines: removed lines in the first
/// text's color, added ones in the second's, the rest dim. `indent` goes before each line.
pub fn unified_lines(diff: &str, indent: &str) -> Vec<Line<'static>> {
    diff.lines()
        .map(|line| {
            let line_style = if line.starts_with('+') {
                style::FAIL
            } else if line.starts_with('-') {
                style::OK
            } else {
                DIM
            };
            Line::from(vec![
                Span::raw(indent.to_string()),
                Span::styled(line.to_string(), line_style),
            ])
        })
        .collect()
}

/// The unified diff of two texts, labelled, as lines.
pub fn unified(old_label: &str, old: &str, new_label: &str, new: &str) -> Vec<Line<'static>> {
    if old == new {
        return vec![Line::styled("no differences", style::OK)];
    }
    let diff = TextDiff::from_lines(old, new);
    unified_lines(
        &diff
            .unified_diff()
            .context_radius(3)
            .header(old_label, new_label)
            .to_string(),
        "",
    )
}

/// Two texts in two columns of `width / 2`, lines aligned by a diff; a line only one side
/// has, or that differs, is marked (`│` in the gutter, the text emphasised).
pub fn side_by_side(
    left_title: &str,
    left: &str,
    right_title: &str,
    right: &str,
    width: u16,
) -> Vec<Line<'static>> {
    let column = usize::from(width.max(20)) / 2 - 2;
    let cell = |text: &str| -> String {
        let mut out: String = text.chars().take(column).collect();
        let used = textwrap::core::display_width(&out);
        if used < column {
            out.push_str(&" ".repeat(column - used));
        }
        out
    };
    let marked = Style::new().add_modifier(Modifier::BOLD);
    let mut lines = vec![Line::from(vec![
        Span::raw("  "),
        Span::styled(cell(left_title), style::STRONG),
        Span::raw("  "),
        Span::styled(cell(right_title), style::STRONG),
    ])];
    let diff = TextDiff::from_lines(left, right);
    let mut pending_left: Vec<String> = Vec::new();
    let mut pending_right: Vec<String> = Vec::new();
    let flush = |l: &mut Vec<String>, r: &mut Vec<String>, out: &mut Vec<Line<'static>>| {
        for i in 0..l.len().max(r.len()) {
            let a = l.get(i).map(String::as_str);
            let b = r.get(i).map(String::as_str);
            out.push(Line::from(vec![
                Span::styled("│ ", style::WARN),
                Span::styled(cell(a.unwrap_or("")), marked.patch(style::OK)),
                Span::styled("│ ", style::WARN),
                Span::styled(cell(b.unwrap_or("")), marked.patch(style::FAIL)),
            ]));
        }
        l.clear();
        r.clear();
    };
    for change in diff.iter_all_changes() {
        let text = change.value().trim_end_matches('\n').to_string();
        match change.tag() {
            ChangeTag::Delete => pending_left.push(text),
            ChangeTag::Insert => pending_right.push(text),
            ChangeTag::Equal => {
                flush(&mut pending_left, &mut pending_right, &mut lines);
                lines.push(Line::from(vec![
                    Span::raw("  "),
                    Span::raw(cell(&text)),
                    Span::raw("  "),
                    Span::raw(cell(&text)),
                ]));
            }
        }
    }
    flush(&mut pending_left, &mut pending_right, &mut lines);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::markdown::plain_text;

    #[test]
    fn side_by_side_aligns_equal_lines_and_marks_the_rest() {
        let lines = side_by_side(
            "yours",
            "200 OK\na\nb\n",
            "the lab",
            "201 Created\na\nb\nc\n",
            40,
        );
        let text = plain_text(&lines);
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(rows.len(), 5, "{text}");
        assert!(rows[1].starts_with("│ 200 OK"), "{text}");
        assert!(rows[1].contains("│ 201 Created"), "{text}");
        assert!(rows[2].starts_with("  a"), "{text}");
        assert!(
            rows[4].starts_with("│ ") && rows[4].contains("│ c"),
            "{text}"
        );
    }

    #[test]
    fn equal_texts_say_so() {
        assert_eq!(
            plain_text(&unified("a", "x\n", "b", "x\n")),
            "no differences\n"
        );
    }
}

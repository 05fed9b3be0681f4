//! Lesson Markdown → styled, wrapped lines.
//!
//! The output is ratatui's `Line`s so one renderer serves both surfaces: `reqlab learn` prints
//! them as ANSI text (see [`crate::term`]) and the TUI draws them directly.

use super::style as styles;
use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

/// How the text will be shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Look {
    /// Colors and emphasis will be visible.
    Styled,
    /// Styles will be stripped (`NO_COLOR`, a pipe): mark inline code with backticks instead.
    Plain,
}

/// Renders Markdown into lines no wider than `width` columns (code blocks are never wrapped,
/// so they stay copyable).
pub fn render(markdown: &str, width: u16, look: Look) -> Vec<Line<'static>> {
    let mut r = Renderer {
        look,
        width: usize::from(width.max(20)),
        out: Vec::new(),
        inline: Vec::new(),
        style_stack: vec![Style::new()],
        lists: Vec::new(),
        quote_depth: 0,
        code: None,
        table: None,
        item_first_line: false,
        link_target: None,
    };
    let parser = Parser::new_ext(
        markdown,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH,
    );
    for event in parser {
        r.event(event);
    }
    r.flush_paragraph();
    while r.out.last().is_some_and(|l| l.spans.is_empty()) {
        r.out.pop();
    }
    r.out
}

/// A fenced or indented code block being collected.
struct CodeBlock {
    lang: String,
    text: String,
}

/// A table being collected: rows of cells, each cell a list of styled spans.
#[derive(Default)]
struct Table {
    rows: Vec<Vec<Vec<Span<'static>>>>,
    header_rows: usize,
}

struct Renderer {
    look: Look,
    width: usize,
    out: Vec<Line<'static>>,
    /// The paragraph (or heading, item, cell) being collected.
    inline: Vec<Span<'static>>,
    style_stack: Vec<Style>,
    /// Open lists: `Some(next number)` for ordered ones.
    lists: Vec<Option<u64>>,
    quote_depth: usize,
    code: Option<CodeBlock>,
    table: Option<Table>,
    /// The next flushed text is the first line of a list item (gets the bullet).
    item_first_line: bool,
    link_target: Option<String>,
}

impl Renderer {
    fn style(&self) -> Style {
        *self
            .style_stack
            .last()
            .expect("the base style is never popped")
    }

    fn push_style(&mut self, style: Style) {
        let combined = self.style().patch(style);
        self.style_stack.push(combined);
    }

    fn pop_style(&mut self) {
        if self.style_stack.len() > 1 {
            self.style_stack.pop();
        }
    }

    fn blank(&mut self) {
        if self.out.last().is_some_and(|l| !l.spans.is_empty()) {
            self.out.push(Line::default());
        }
    }

    /// The prefix for quote bars and list indentation on continuation lines.
    fn indent(&self) -> (String, String) {
        let quote = "│ ".repeat(self.quote_depth);
        let depth = self.lists.len();
        if depth == 0 {
            return (quote.clone(), quote);
        }
        let pad = "  ".repeat(depth - 1);
        let bullet = match self.lists.last().copied().flatten() {
            Some(n) => format!("{n}. "),
            None => "• ".to_string(),
        };
        let first = format!("{quote}{pad}{bullet}");
        let rest = format!("{quote}{pad}{}", " ".repeat(bullet.chars().count()));
        (first, rest)
    }

    fn event(&mut self, event: Event<'_>) {
        if let Some(code) = self.code.as_mut() {
            match event {
                Event::Text(t) => code.text.push_str(&t),
                Event::End(TagEnd::CodeBlock) => self.end_code_block(),
                _ => {}
            }
            return;
        }
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(t) => self.text(&t),
            Event::Code(t) => {
                let style = self.style().patch(styles::CODE);
                let text = match self.look {
                    Look::Styled => t.into_string(),
                    Look::Plain => format!("`{t}`"),
                };
                self.inline.push(Span::styled(text, style));
            }
            Event::SoftBreak => self.text(" "),
            Event::HardBreak => self.flush_paragraph(),
            Event::Rule => {
                self.flush_paragraph();
                self.blank();
                self.out
                    .push(Line::styled("─".repeat(self.width.min(60)), styles::DIM));
                self.out.push(Line::default());
            }
            Event::Html(t) | Event::InlineHtml(t) => self.text(&t),
            _ => {}
        }
    }

    fn text(&mut self, text: &str) {
        let style = self.style();
        self.inline.push(Span::styled(text.to_string(), style));
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Heading { level, .. } => {
                self.flush_paragraph();
                self.blank();
                let style = match level {
                    HeadingLevel::H1 => styles::TITLE,
                    HeadingLevel::H2 => styles::HEADING,
                    _ => styles::STRONG,
                };
                self.push_style(style);
            }
            Tag::Paragraph if self.lists.is_empty() => self.blank(),
            Tag::BlockQuote(_) => {
                self.flush_paragraph();
                self.blank();
                self.quote_depth += 1;
                self.push_style(styles::QUOTE);
            }
            Tag::CodeBlock(kind) => {
                self.flush_paragraph();
                self.blank();
                let lang = match kind {
                    CodeBlockKind::Fenced(lang) => {
                        lang.split_whitespace().next().unwrap_or("").to_string()
                    }
                    CodeBlockKind::Indented => String::new(),
                };
                self.code = Some(CodeBlock {
                    lang,
                    text: String::new(),
                });
            }
            Tag::List(start) => {
                self.flush_paragraph();
                if self.lists.is_empty() {
                    self.blank();
                }
                self.lists.push(start);
            }
            Tag::Item => {
                self.flush_paragraph();
                self.item_first_line = true;
            }
            Tag::Emphasis => self.push_style(Style::new().add_modifier(Modifier::ITALIC)),
            Tag::Strong => self.push_style(Style::new().add_modifier(Modifier::BOLD)),
            Tag::Strikethrough => self.push_style(Style::new().add_modifier(Modifier::CROSSED_OUT)),
            Tag::Link { dest_url, .. } => {
                self.push_style(styles::LINK);
                self.link_target = Some(dest_url.into_string());
            }
            Tag::Table(_) => {
                self.flush_paragraph();
                self.blank();
                self.table = Some(Table::default());
            }
            Tag::TableHead | Tag::TableRow => {
                if let Some(t) = self.table.as_mut() {
                    t.rows.push(Vec::new());
                }
            }
            Tag::TableCell => self.inline.clear(),
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Heading(level) => {
                let text: String = self.inline.iter().map(|s| s.content.as_ref()).collect();
                self.flush_paragraph();
                self.pop_style();
                let rule = if level == HeadingLevel::H1 {
                    "═"
                } else {
                    "─"
                };
                if level <= HeadingLevel::H2 {
                    let len = Line::from(text).width().min(self.width);
                    self.out.push(Line::styled(rule.repeat(len), styles::DIM));
                }
            }
            TagEnd::Paragraph => self.flush_paragraph(),
            TagEnd::BlockQuote(_) => {
                self.flush_paragraph();
                self.quote_depth -= 1;
                self.pop_style();
                self.blank();
            }
            TagEnd::List(_) => {
                self.flush_paragraph();
                self.lists.pop();
                if self.lists.is_empty() {
                    self.blank();
                }
            }
            TagEnd::Item => {
                self.flush_paragraph();
                if let Some(Some(n)) = self.lists.last_mut() {
                    *n += 1;
                }
            }
            TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough => self.pop_style(),
            TagEnd::Link => {
                self.pop_style();
                if let Some(url) = self.link_target.take() {
                    let shown: String = self.inline.iter().map(|s| s.content.as_ref()).collect();
                    if !shown.ends_with(&url) {
                        self.inline
                            .push(Span::styled(format!(" ({url})"), styles::DIM));
                    }
                }
            }
            TagEnd::TableCell => {
                let cell = std::mem::take(&mut self.inline);
                if let Some(row) = self.table.as_mut().and_then(|t| t.rows.last_mut()) {
                    row.push(cell);
                }
            }
            TagEnd::TableHead => {
                if let Some(t) = self.table.as_mut() {
                    t.header_rows = t.rows.len();
                }
            }
            TagEnd::Table => {
                if let Some(table) = self.table.take() {
                    self.render_table(table);
                }
            }
            _ => {}
        }
    }

    /// Wraps the collected inline spans into lines with the current indentation.
    fn flush_paragraph(&mut self) {
        if self.inline.is_empty() {
            return;
        }
        let spans = std::mem::take(&mut self.inline);
        let (first, rest) = if self.item_first_line {
            self.item_first_line = false;
            self.indent()
        } else {
            let (_, rest) = self.indent();
            (rest.clone(), rest)
        };
        let lines = wrap_spans(&spans, self.width, &first, &rest);
        self.out.extend(lines);
    }

    fn end_code_block(&mut self) {
        let Some(code) = self.code.take() else { return };
        let (_, pad) = self.indent();
        let label = if code.lang.is_empty() {
            String::new()
        } else {
            format!(" {}", code.lang)
        };
        self.out.push(Line::from(vec![
            Span::raw(pad.clone()),
            Span::styled(format!("┌─{label}"), styles::DIM),
        ]));
        for line in code.text.trim_end_matches('\n').lines() {
            self.out.push(Line::from(vec![
                Span::raw(pad.clone()),
                Span::styled("│ ", styles::DIM),
                Span::styled(line.replace('\t', "    "), styles::CODE_BLOCK),
            ]));
        }
        self.out.push(Line::from(vec![
            Span::raw(pad),
            Span::styled("└─", styles::DIM),
        ]));
        self.out.push(Line::default());
    }

    fn render_table(&mut self, table: Table) {
        let columns = table.rows.iter().map(Vec::len).max().unwrap_or(0);
        if columns == 0 {
            return;
        }
        let cell_width = |cell: &Vec<Span<'static>>| Line::from(cell.clone()).width();
        let mut widths = vec![1usize; columns];
        for row in &table.rows {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(cell_width(cell));
            }
        }
        let (_, pad) = self.indent();
        // Shrink the widest columns until the table fits; their cells wrap.
        let available = self
            .width
            .saturating_sub(Line::from(pad.clone()).width() + 3 * (columns - 1));
        while widths.iter().sum::<usize>() > available {
            let (widest, w) = widths
                .iter()
                .copied()
                .enumerate()
                .max_by_key(|(_, w)| *w)
                .expect("a table has columns");
            if w <= 8 {
                break;
            }
            widths[widest] -= 1;
        }
        for (r, row) in table.rows.iter().enumerate() {
            let header = r < table.header_rows;
            let cells: Vec<Vec<Line<'static>>> = (0..columns)
                .map(|i| {
                    let spans: Vec<Span<'static>> = row
                        .get(i)
                        .map(|cell| {
                            cell.iter()
                                .map(|s| {
                                    let style = if header {
                                        s.style.add_modifier(Modifier::BOLD)
                                    } else {
                                        s.style
                                    };
                                    Span::styled(s.content.clone(), style)
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    wrap_spans(&spans, widths[i], "", "")
                })
                .collect();
            let height = cells.iter().map(Vec::len).max().unwrap_or(1).max(1);
            for k in 0..height {
                let mut spans = vec![Span::raw(pad.clone())];
                for (i, cell) in cells.iter().enumerate() {
                    if i > 0 {
                        spans.push(Span::styled(" │ ", styles::DIM));
                    }
                    let line = cell.get(k).cloned().unwrap_or_default();
                    let used = line.width();
                    spans.extend(line.spans.into_iter().skip(1));
                    if i + 1 < columns {
                        spans.push(Span::raw(" ".repeat(widths[i].saturating_sub(used))));
                    }
                }
                self.out.push(Line::from(spans));
            }
            if r + 1 == table.header_rows {
                let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
                self.out.push(Line::from(vec![
                    Span::raw(pad.clone()),
                    Span::styled(rule.join("─┼─"), styles::DIM),
                ]));
            }
        }
        self.out.push(Line::default());
    }
}

/// Greedy word wrap over styled spans. `first` prefixes the first line, `rest` the others;
/// the prefix is always the first span of each line.
pub(crate) fn wrap_spans(
    spans: &[Span<'static>],
    width: usize,
    first: &str,
    rest: &str,
) -> Vec<Line<'static>> {
    // Split into words (runs of non-space) and the spaces between them, keeping styles.
    let mut words: Vec<Vec<Span<'static>>> = vec![Vec::new()];
    for span in spans {
        let mut chunk = String::new();
        for ch in span.content.chars() {
            if ch.is_whitespace() {
                if !chunk.is_empty() {
                    words
                        .last_mut()
                        .expect("always one word")
                        .push(Span::styled(std::mem::take(&mut chunk), span.style));
                }
                if !words.last().expect("always one word").is_empty() {
                    words.push(Vec::new());
                }
            } else {
                chunk.push(ch);
            }
        }
        if !chunk.is_empty() {
            words
                .last_mut()
                .expect("always one word")
                .push(Span::styled(chunk, span.style));
        }
    }
    words.retain(|w| !w.is_empty());

    let mut lines = Vec::new();
    let mut line: Vec<Span<'static>> = vec![Span::raw(first.to_string())];
    let mut used = Line::from(first.to_string()).width();
    let mut empty = true;
    for word in words {
        let w = Line::from(word.clone()).width();
        if !empty && used + 1 + w > width {
            lines.push(Line::from(std::mem::take(&mut line)));
            line.push(Span::raw(rest.to_string()));
            used = Line::from(rest.to_string()).width();
            empty = true;
        }
        if !empty {
            line.push(Span::raw(" "));
            used += 1;
        }
        used += w;
        line.extend(word);
        empty = false;
    }
    if !empty {
        lines.push(Line::from(line));
    }
    lines
}

/// The plain text of rendered lines, for tests and for output without styles.
pub fn plain_text(lines: &[Line<'_>]) -> String {
    let mut out = String::new();
    for line in lines {
        for span in &line.spans {
            out.push_str(&span.content);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_wrap_to_the_width_and_lists_hang() {
        let md = "# Title\n\nOne two three four five six seven eight nine ten.\n\n- alpha beta gamma delta epsilon\n- two\n";
        let text = plain_text(&render(md, 20, Look::Styled));
        assert_eq!(
            text,
            "Title\n═════\n\nOne two three four\nfive six seven eight\nnine ten.\n\n• alpha beta gamma\n  delta epsilon\n• two\n"
        );
    }

    #[test]
    fn code_blocks_are_framed_and_not_wrapped() {
        let md = "```sh\ncurl -s http://127.0.0.1:4747/tasks?limit=100&offset=0\n```\n";
        let text = plain_text(&render(md, 20, Look::Styled));
        assert_eq!(
            text,
            "┌─ sh\n│ curl -s http://127.0.0.1:4747/tasks?limit=100&offset=0\n└─\n"
        );
    }

    #[test]
    fn ordered_lists_count_and_tables_align() {
        let md = "1. first\n2. second\n\n| a | bb |\n|---|---|\n| ccc | d |\n";
        let text = plain_text(&render(md, 40, Look::Styled));
        assert_eq!(text, "1. first\n2. second\n\na   │ bb\n────┼───\nccc │ d\n");
    }

    #[test]
    fn wide_tables_wrap_their_cells_to_fit() {
        let md = "| code | meaning |\n|---|---|\n| 422 | the input is well formed but breaks a rule of the contract |\n";
        let text = plain_text(&render(md, 30, Look::Styled));
        assert_eq!(
            text,
            "code │ meaning\n─────┼────────────────────────\n422  │ the input is well\n     │ formed but breaks a\n     │ rule of the contract\n"
        );
        assert!(text.lines().all(|l| l.chars().count() <= 30));
    }

    #[test]
    fn plain_output_marks_inline_code_with_backticks() {
        let text = plain_text(&render("Send `GET /tasks` now.", 80, Look::Plain));
        assert_eq!(text, "Send `GET /tasks` now.\n");
    }

    #[test]
    fn inline_code_keeps_its_style() {
        let lines = render("Send `GET /tasks` now.", 80, Look::Styled);
        let code = lines[0]
            .spans
            .iter()
            .find(|s| s.content == "/tasks`" || s.content == "/tasks")
            .expect("the code span survives wrapping");
        assert_eq!(code.style.fg, Some(ratatui::style::Color::Yellow));
    }
}

//! The guide's loop: wait for a message (a key, a trace, an answer), update, carry out the
//! effects, draw — only when something happened, never on a timer while idle.

use super::app::App;
use super::draw::draw;
use super::effects::Runner;
use super::msg::{Effect, Msg, Notice};
use super::side::{Input, Side};
use super::update::update;
use futures_util::StreamExt;
use ratatui::Terminal;
use ratatui::backend::Backend;
use std::collections::VecDeque;
use tokio::sync::mpsc;

/// Most queued messages handled before the screen is drawn again (so a burst of traces
/// cannot keep the screen from updating).
const BATCH: usize = 256;

/// Everything the loop works with besides the state.
pub struct Loop<'a, B: Backend, I: Input, S: Side> {
    /// The terminal drawn on.
    pub terminal: &'a mut Terminal<B>,
    /// Keys and resizes.
    pub input: &'a mut I,
    /// Messages from the guide's tasks.
    pub messages: &'a mut mpsc::Receiver<Msg>,
    /// Runs effects.
    pub runner: &'a mut Runner,
    /// Clipboard and editor.
    pub side: &'a mut S,
    /// Draw colors (off under `NO_COLOR`).
    pub colors: bool,
}

impl<B, I, S> Loop<'_, B, I, S>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    I: Input,
    S: Side,
{
    /// Runs until the learner quits (or the input ends).
    pub async fn run(&mut self, app: &mut App) -> anyhow::Result<()> {
        self.draw(app)?;
        loop {
            let first = tokio::select! {
                biased;
                Some(msg) = self.messages.recv() => Some(msg),
                event = self.input.next() => match event {
                    Some(Ok(e)) => from_terminal(e),
                    Some(Err(e)) => Some(Msg::Notice(Notice::error(format!("terminal input failed: {e}")))),
                    None => Some(Msg::Quit),
                },
            };
            let Some(first) = first else { continue };
            let mut queue = VecDeque::from([first]);
            let mut handled = 0;
            while let Some(msg) = queue.pop_front() {
                handled += 1;
                for effect in update(app, msg) {
                    if let Some(reply) = self.effect(effect)? {
                        queue.push_back(reply);
                    }
                }
                if queue.is_empty()
                    && handled < BATCH
                    && let Ok(more) = self.messages.try_recv()
                {
                    queue.push_back(more);
                }
            }
            if app.quit {
                return Ok(());
            }
            self.draw(app)?;
        }
    }

    fn draw(&mut self, app: &App) -> anyhow::Result<()> {
        let colors = self.colors;
        self.terminal
            .draw(|frame| draw(frame, app, colors))
            .map_err(|e| anyhow::anyhow!("cannot draw: {e}"))?;
        Ok(())
    }

    /// Carries out one effect; the terminal's own (clipboard, editor) here, the rest in the
    /// background. Returns a message to handle at once, if the effect made one.
    fn effect(&mut self, effect: Effect) -> anyhow::Result<Option<Msg>> {
        Ok(match effect {
            Effect::Copy(text) => self
                .side
                .copy(&text)
                .err()
                .map(|e| Msg::Notice(Notice::error(e))),
            Effect::Edit { field, text } => {
                self.input.pause();
                let extension = match field {
                    super::msg::Field::Body if looks_like_json(&text) => ".json",
                    _ => ".txt",
                };
                let result = self.side.edit(&text, extension);
                self.input.resume();
                // The editor drew over the screen: draw everything again.
                self.terminal
                    .clear()
                    .map_err(|e| anyhow::anyhow!("cannot redraw: {e}"))?;
                Some(Msg::Edited { field, result })
            }
            other => {
                self.runner.run(other);
                None
            }
        })
    }
}

fn looks_like_json(text: &str) -> bool {
    matches!(text.trim_start().chars().next(), Some('{' | '['))
}

/// A terminal event as a message (focus changes and mouse events are not used).
fn from_terminal(event: crossterm::event::Event) -> Option<Msg> {
    use crossterm::event::Event;
    match event {
        Event::Key(key) => Some(Msg::Key(key)),
        Event::Paste(text) => Some(Msg::Paste(text)),
        Event::Resize(width, height) => Some(Msg::Resize { width, height }),
        _ => None,
    }
}

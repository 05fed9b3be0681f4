//! The real loop, driven by keys through a channel, against a real lab; the test waits for
//! text on screen (with a deadline) the way a learner would look for it.

use super::*;
use futures_util::Stream;
use ratatui::Terminal;
use ratatui::backend::{Backend, ClearType, TestBackend, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};
use reqlab::lab::{LabConfig, RunningLab};
use reqlab::tui::effects::Runner;
use reqlab::tui::runtime::Loop;
use reqlab::tui::side::{Input, Side};
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Instant;
use tokio::sync::mpsc;

/// A test backend the test can read while the loop draws on it.
#[derive(Clone)]
struct Shared(Arc<Mutex<TestBackend>>);

impl Backend for Shared {
    type Error = std::convert::Infallible;

    fn draw<'a, I: Iterator<Item = (u16, u16, &'a Cell)>>(
        &mut self,
        content: I,
    ) -> Result<(), Self::Error> {
        self.0.lock().unwrap().draw(content)
    }
    fn hide_cursor(&mut self) -> Result<(), Self::Error> {
        self.0.lock().unwrap().hide_cursor()
    }
    fn show_cursor(&mut self) -> Result<(), Self::Error> {
        self.0.lock().unwrap().show_cursor()
    }
    fn get_cursor_position(&mut self) -> Result<Position, Self::Error> {
        self.0.lock().unwrap().get_cursor_position()
    }
    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> Result<(), Self::Error> {
        self.0.lock().unwrap().set_cursor_position(position)
    }
    fn clear(&mut self) -> Result<(), Self::Error> {
        self.0.lock().unwrap().clear()
    }
    fn clear_region(&mut self, clear_type: ClearType) -> Result<(), Self::Error> {
        self.0.lock().unwrap().clear_region(clear_type)
    }
    fn size(&self) -> Result<Size, Self::Error> {
        self.0.lock().unwrap().size()
    }
    fn window_size(&mut self) -> Result<WindowSize, Self::Error> {
        self.0.lock().unwrap().window_size()
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        self.0.lock().unwrap().flush()
    }
}

/// Keys from the test.
struct Keys(mpsc::UnboundedReceiver<crossterm::event::Event>);

impl Stream for Keys {
    type Item = std::io::Result<crossterm::event::Event>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx).map(|e| e.map(Ok))
    }
}

impl Input for Keys {}

/// A clipboard and an editor the test can watch.
#[derive(Clone, Default)]
struct Watched {
    copied: Arc<Mutex<Vec<String>>>,
    edited: Arc<Mutex<Vec<String>>>,
}

impl Side for Watched {
    fn copy(&mut self, text: &str) -> Result<(), String> {
        self.copied.lock().unwrap().push(text.to_string());
        Ok(())
    }
    fn edit(&mut self, text: &str, _extension: &str) -> Result<Option<String>, String> {
        self.edited.lock().unwrap().push(text.to_string());
        Ok(Some("{\"title\": \"Written in the editor\"}".into()))
    }
}

struct Guide {
    screen: Shared,
    keys: mpsc::UnboundedSender<crossterm::event::Event>,
    side: Watched,
    done: tokio::task::JoinHandle<anyhow::Result<()>>,
    lab: RunningLab,
}

impl Guide {
    async fn start() -> Guide {
        let lab = reqlab::lab::start(LabConfig::ephemeral()).await.unwrap();
        let screen = Shared(Arc::new(Mutex::new(TestBackend::new(100, 30))));
        let (key_tx, key_rx) = mpsc::unbounded_channel();
        let (tx, mut rx) = mpsc::channel(reqlab::tui::QUEUE);
        reqlab::tui::feed_traces(&lab, tx.clone());
        let side = Watched::default();
        let url = lab.url();
        let steps = lab.state.steps.clone();
        let backend = screen.clone();
        let mut watched = side.clone();
        let done = tokio::spawn(async move {
            let mut terminal = Terminal::new(backend).unwrap();
            let mut runner = Runner::new(tx, course(), None)?;
            runner.step_with(&steps);
            let mut app = App::new(
                course(),
                url,
                Standing::default(),
                Place::default(),
                (100, 30),
            );
            let mut input = Keys(key_rx);
            let mut main_loop = Loop {
                terminal: &mut terminal,
                input: &mut input,
                messages: &mut rx,
                runner: &mut runner,
                side: &mut watched,
                colors: true,
            };
            main_loop.run(&mut app).await
        });
        Guide {
            screen,
            keys: key_tx,
            side,
            done,
            lab,
        }
    }

    fn press(&self, keys: &str) {
        for c in keys.chars() {
            let code = match c {
                '\n' => KeyCode::Enter,
                '\u{1b}' => KeyCode::Esc,
                c => KeyCode::Char(c),
            };
            self.keys
                .send(crossterm::event::Event::Key(KeyEvent::new(
                    code,
                    KeyModifiers::NONE,
                )))
                .unwrap();
        }
    }

    fn text(&self) -> String {
        self.screen.0.lock().unwrap().to_string()
    }

    /// Waits until `needle` is on screen (10 s at most).
    async fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = self.text();
            if text.contains(needle) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{needle:?} never appeared:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn quit(self) {
        // Ctrl-C quits from any screen.
        self.keys
            .send(crossterm::event::Event::Key(KeyEvent::new(
                KeyCode::Char('c'),
                KeyModifiers::CONTROL,
            )))
            .unwrap();
        tokio::time::timeout(Duration::from_secs(10), self.done)
            .await
            .expect("the loop ends")
            .unwrap()
            .unwrap();
        self.lab.stop().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learner_opens_a_lesson_sends_a_request_and_sees_its_trace() {
    let guide = Guide::start().await;
    guide.wait_for("the life of a request").await;
    guide.press("j\n");
    guide.wait_for("REST: resources").await;
    guide.press("s");
    let screen = guide.wait_for("as the lesson expects").await;
    assert_contains!(screen, "200 OK");
    guide.wait_for("route /tasks/{id}").await;
    // The trace pane, zoomed, shows every stage down to the SQL.
    guide.press("4z");
    guide.wait_for("│ SELECT").await;
    guide.press("z");
    // A request from outside the guide shows up too.
    reqwest::get(format!("{}/tasks?limit=2", guide.lab.url()))
        .await
        .unwrap();
    guide.wait_for("GET /tasks?limit=2").await;
    // y copies the request as curl, and says so on screen.
    guide.press("y");
    guide.wait_for("copied: curl").await;
    assert!(guide.side.copied.lock().unwrap()[0].starts_with("curl"));
    guide.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_editor_fills_the_body_and_the_lab_answers_the_edited_request() {
    let guide = Guide::start().await;
    guide.press("j\n");
    guide.wait_for("REST: resources").await;
    // The preset that creates a task; its body goes to the editor.
    let lesson = &course().lessons[1];
    let create = lesson
        .presets
        .iter()
        .position(|p| p.request.method == axum::http::Method::POST && p.request.path == "/tasks")
        .unwrap();
    for _ in 0..create {
        guide.press("n");
    }
    guide.press("2jje");
    guide.wait_for("Written in the editor").await;
    guide.press("s");
    guide.wait_for("201 Created").await;
    guide.wait_for("\"Written in the editor\"").await;
    guide.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_challenge_runs_against_the_lab_and_passes() {
    let guide = Guide::start().await;
    guide.press("\n");
    guide.wait_for("HTTP: one request").await;
    guide.press("c");
    guide.wait_for("challenge http-basics").await;
    guide.press("L");
    guide.wait_for("the lab passes").await;
    guide.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stepped_request_stops_at_every_stage_and_shows_what_it_carries() {
    let guide = Guide::start().await;
    guide.press("j\n");
    guide.wait_for("REST: resources").await;
    let lesson = &course().lessons[1];
    let create = lesson
        .presets
        .iter()
        .position(|p| p.request.method == axum::http::Method::POST && p.request.path == "/tasks")
        .unwrap();
    for _ in 0..create {
        guide.press("n");
    }
    // Zoomed, the step pane has room for everything a stage carries.
    guide.press("S");
    guide.wait_for("held at HTTP: received POST /tasks").await;
    guide.press("z");
    guide.wait_for("content-type").await;
    // A second request cannot be sent while one is held.
    guide.press("s");
    guide.wait_for("a request is being stepped").await;
    guide.press(".");
    guide.wait_for("held at routing: matched POST /tasks").await;
    guide.press(".");
    let parsing = guide.wait_for("held at parsing").await;
    assert_contains!(parsing, "\"title\": \"Write the README\"");
    guide.press(".");
    guide
        .wait_for("held at validation: validation passed")
        .await;
    guide.press(".");
    guide.wait_for("held at auth").await;
    guide.press(".");
    guide
        .wait_for("held at business logic: the handler's rules")
        .await;
    guide.press(".");
    // The SQL and its parameters are values before the database is touched.
    let data = guide.wait_for("held at data layer: about to run").await;
    assert_contains!(data, "INSERT INTO tasks");
    assert_contains!(data, "?1 'Write the README'");
    let before: i64 = guide
        .lab
        .state
        .db
        .read(|c| c.query_row("SELECT count(*) FROM tasks", [], |r| r.get(0)))
        .unwrap();
    guide.press(".");
    let response = guide.wait_for("held at response: built 201 Created").await;
    for stage in [
        "✓HTTP",
        "✓routing",
        "✓parsing",
        "✓validation",
        "✓auth",
        "✓logic",
        "✓data",
    ] {
        assert_contains!(response, stage);
    }
    let after: i64 = guide
        .lab
        .state
        .db
        .read(|c| c.query_row("SELECT count(*) FROM tasks", [], |r| r.get(0)))
        .unwrap();
    assert_eq!(
        after,
        before + 1,
        "released past the data layer, the row is written"
    );
    guide.press(".");
    // Out of step mode: the answer and the trace, which says where it was held.
    guide.wait_for("· following").await;
    guide.press("z");
    guide.wait_for("201 Created").await;
    guide.wait_for("by step mode").await;
    guide.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_the_lesson_lets_a_held_request_finish() {
    let guide = Guide::start().await;
    guide.press("\n");
    guide.wait_for("HTTP: one request").await;
    guide.press("S");
    guide.wait_for("held at HTTP").await;
    guide.press("q");
    guide.wait_for("the life of a request").await;
    // Released to the end, the request shows up among the lab's traces.
    guide.wait_for("1 request").await;
    guide.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_explains_the_status_and_enter_opens_the_section_that_teaches_it() {
    let guide = Guide::start().await;
    guide.press("j\n");
    guide.wait_for("REST: resources").await;
    guide.press("s");
    guide.wait_for("as the lesson expects").await;
    // The response pane's cursor starts on the status line.
    guide.press("3x");
    let overlay = guide.wait_for("Enter read the lesson section").await;
    assert_contains!(overlay, "200 OK");
    // 200 is taught in lesson 1's section on status codes.
    guide.press("\n");
    guide.wait_for("lesson 1").await;
    guide.wait_for("§4/8 Status codes").await;
    guide.quit().await;
}

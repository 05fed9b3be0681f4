//! The keys: one table says what each key does where, and the same table writes the `?` help
//! and the footer, so what the screen says and what the keys do cannot drift apart.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key asks for, while navigating (editing a field is a mode of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Leave the program (Ctrl-C).
    Quit,
    /// Close the overlay, leave the screen (`q`, Esc).
    Back,
    /// Every key for this screen (`?`).
    Help,
    /// Open the selected thing (Enter).
    Open,
    /// Move up, down, left, right (arrows, hjkl).
    Up,
    /// Move down.
    Down,
    /// Move left.
    Left,
    /// Move right.
    Right,
    /// A page up or down.
    PageUp,
    /// A page down.
    PageDown,
    /// The top (`g`) or the bottom (`G`).
    Top,
    /// The bottom.
    Bottom,
    /// Next pane (Tab) and previous (Shift-Tab).
    NextPane,
    /// Previous pane.
    PrevPane,
    /// A pane by number (1–4).
    Pane(u8),
    /// Give the focused pane the whole screen, or stop (`z`).
    Zoom,
    /// Send the composer's request (`s`).
    Send,
    /// Send it in step mode (`S`).
    SendStepped,
    /// Move a held request one stage on (`.`).
    Step,
    /// Let a held request run to the end (`>`).
    Finish,
    /// Next preset (`n`) and previous (`N`).
    NextPreset,
    /// Previous preset.
    PrevPreset,
    /// Run the lesson's challenge (`c`).
    RunChallenge,
    /// Edit the challenge target (`t`).
    EditTarget,
    /// Edit the command that starts your server (`r`).
    EditCommand,
    /// Run the challenge against the lab: what passing looks like (`L`).
    RunOnLab,
    /// Replay a failed check's requests against the lab, side by side (`d`).
    CompareWithLab,
    /// Start editing the selected field (`i`).
    Edit,
    /// Edit the selected field in `$EDITOR` (`e`).
    Editor,
    /// Search the pane's text (`/`).
    Search,
    /// Copy the request as curl (`y`).
    Copy,
    /// Explain the selected status, header or stage (`x`).
    Explain,
    /// The lesson's sections (`o`).
    Outline,
    /// Previous and next section, or older and newer response (`[`, `]`).
    Previous,
    /// Next.
    Next,
    /// Mark this response to compare another with (`m`).
    Mark,
    /// Compare this response with the marked one (`D`).
    Diff,
    /// Put the shown response's request back in the composer (`R`).
    Recall,
}

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// On every screen.
    Everywhere,
    /// The lifecycle map.
    Home,
    /// A lesson with its console, whatever pane has the focus.
    Lesson,
    /// A lesson, with this pane focused.
    Pane(Pane),
    /// The challenge panel.
    Challenge,
}

/// The panes of the lesson screen, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pane {
    /// The lesson text.
    Lesson,
    /// The request composer.
    Composer,
    /// The response.
    Response,
    /// The traces.
    Trace,
}

impl Pane {
    /// Tab order.
    pub const ALL: [Pane; 4] = [Pane::Lesson, Pane::Composer, Pane::Response, Pane::Trace];

    /// Its number (the digit that focuses it).
    pub fn number(self) -> u8 {
        match self {
            Pane::Lesson => 1,
            Pane::Composer => 2,
            Pane::Response => 3,
            Pane::Trace => 4,
        }
    }

    /// Its name in titles.
    pub fn name(self) -> &'static str {
        match self {
            Pane::Lesson => "lesson",
            Pane::Composer => "request",
            Pane::Response => "response",
            Pane::Trace => "trace",
        }
    }
}

/// One key binding.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// The keys (any of them).
    pub keys: &'static [(KeyCode, KeyModifiers)],
    /// How the help writes them.
    pub shown: &'static str,
    /// What they do.
    pub action: Action,
    /// Where.
    pub scope: Scope,
    /// What the help says.
    pub help: &'static str,
    /// Its word in the footer, for the few that matter there.
    pub footer: Option<&'static str>,
}

const NONE: KeyModifiers = KeyModifiers::NONE;
const fn ch(c: char) -> (KeyCode, KeyModifiers) {
    (KeyCode::Char(c), NONE)
}
const fn key(k: KeyCode) -> (KeyCode, KeyModifiers) {
    (k, NONE)
}

macro_rules! bind {
    ($scope:expr, [$($k:expr),+], $shown:expr, $action:expr, $help:expr, $footer:expr) => {
        Binding { keys: &[$($k),+], shown: $shown, action: $action, scope: $scope, help: $help, footer: $footer }
    };
}

use Scope::{Challenge, Everywhere, Home, Lesson};

/// Every binding, most specific first within each key.
pub static BINDINGS: &[Binding] = &[
    // The lifecycle map.
    bind!(
        Home,
        [key(KeyCode::Enter)],
        "Enter",
        Action::Open,
        "open the selected lesson",
        Some("open")
    ),
    bind!(
        Home,
        [ch('c')],
        "c",
        Action::RunChallenge,
        "open the selected lesson's challenge",
        Some("challenge")
    ),
    // The lesson text.
    bind!(
        Scope::Pane(Pane::Lesson),
        [ch('o')],
        "o",
        Action::Outline,
        "the lesson's sections (Enter jumps to one)",
        Some("sections")
    ),
    bind!(
        Scope::Pane(Pane::Lesson),
        [ch('[')],
        "[ ]",
        Action::Previous,
        "previous / next section",
        None
    ),
    bind!(
        Scope::Pane(Pane::Lesson),
        [ch(']')],
        "]",
        Action::Next,
        "next section",
        None
    ),
    // The composer.
    bind!(
        Scope::Pane(Pane::Composer),
        [ch('i'), key(KeyCode::Enter)],
        "i Enter",
        Action::Edit,
        "edit the selected field (Esc stops; Alt-Enter sends from the body)",
        Some("edit")
    ),
    bind!(
        Scope::Pane(Pane::Composer),
        [ch('e')],
        "e",
        Action::Editor,
        "edit the selected field in $EDITOR",
        None
    ),
    // The response.
    bind!(
        Scope::Pane(Pane::Response),
        [ch('x')],
        "x",
        Action::Explain,
        "explain the selected status or header",
        Some("explain")
    ),
    bind!(
        Scope::Pane(Pane::Response),
        [ch('[')],
        "[ ]",
        Action::Previous,
        "older / newer response",
        None
    ),
    bind!(
        Scope::Pane(Pane::Response),
        [ch(']')],
        "]",
        Action::Next,
        "newer response",
        None
    ),
    bind!(
        Scope::Pane(Pane::Response),
        [ch('m')],
        "m",
        Action::Mark,
        "mark this response to compare another with",
        None
    ),
    bind!(
        Scope::Pane(Pane::Response),
        [ch('D')],
        "D",
        Action::Diff,
        "compare this response with the marked one",
        None
    ),
    bind!(
        Scope::Pane(Pane::Response),
        [ch('R')],
        "R",
        Action::Recall,
        "put this response's request back in the composer",
        None
    ),
    // The traces.
    bind!(
        Scope::Pane(Pane::Trace),
        [ch('x')],
        "x",
        Action::Explain,
        "explain the selected request's stages",
        Some("explain")
    ),
    // Anywhere on a lesson.
    bind!(
        Lesson,
        [ch('s')],
        "s",
        Action::Send,
        "send the request (the selected preset, as edited)",
        Some("send")
    ),
    bind!(
        Lesson,
        [ch('S')],
        "S",
        Action::SendStepped,
        "send it in step mode: the lab holds it at every stage",
        Some("step mode")
    ),
    bind!(
        Lesson,
        [ch('.')],
        ".",
        Action::Step,
        "move a held request one stage on",
        None
    ),
    bind!(
        Lesson,
        [ch('>')],
        ">",
        Action::Finish,
        "let a held request run to the end",
        None
    ),
    bind!(
        Lesson,
        [ch('n')],
        "n N",
        Action::NextPreset,
        "next / previous ready-made request",
        Some("presets")
    ),
    bind!(
        Lesson,
        [ch('N')],
        "N",
        Action::PrevPreset,
        "previous ready-made request",
        None
    ),
    bind!(
        Lesson,
        [ch('c')],
        "c",
        Action::RunChallenge,
        "the challenge: check your own server",
        Some("challenge")
    ),
    bind!(
        Lesson,
        [ch('t')],
        "t",
        Action::EditTarget,
        "set the URL the challenge checks",
        None
    ),
    bind!(
        Lesson,
        [ch('y')],
        "y",
        Action::Copy,
        "copy the request as curl",
        None
    ),
    bind!(
        Lesson,
        [ch('/')],
        "/",
        Action::Search,
        "search the focused pane (/ then Enter again: next match)",
        None
    ),
    bind!(
        Lesson,
        [ch('z')],
        "z",
        Action::Zoom,
        "give the focused pane the whole screen",
        None
    ),
    bind!(
        Lesson,
        [key(KeyCode::Tab)],
        "Tab S-Tab",
        Action::NextPane,
        "next / previous pane",
        None
    ),
    bind!(
        Lesson,
        [
            (KeyCode::BackTab, KeyModifiers::SHIFT),
            key(KeyCode::BackTab)
        ],
        "S-Tab",
        Action::PrevPane,
        "previous pane",
        None
    ),
    bind!(
        Lesson,
        [ch('1')],
        "1-4",
        Action::Pane(1),
        "lesson, request, response, trace pane",
        None
    ),
    bind!(
        Lesson,
        [ch('2')],
        "2",
        Action::Pane(2),
        "request pane",
        None
    ),
    bind!(
        Lesson,
        [ch('3')],
        "3",
        Action::Pane(3),
        "response pane",
        None
    ),
    bind!(Lesson, [ch('4')], "4", Action::Pane(4), "trace pane", None),
    // The challenge panel.
    bind!(
        Challenge,
        [ch('c')],
        "c",
        Action::RunChallenge,
        "run the checks (again)",
        Some("run")
    ),
    bind!(
        Challenge,
        [ch('t')],
        "t",
        Action::EditTarget,
        "edit the URL to check (Enter confirms)",
        Some("target")
    ),
    bind!(
        Challenge,
        [ch('r')],
        "r",
        Action::EditCommand,
        "edit the command that starts your server (empty: none)",
        None
    ),
    bind!(
        Challenge,
        [ch('L')],
        "L",
        Action::RunOnLab,
        "run the checks against the lab: what passing looks like",
        Some("on the lab")
    ),
    bind!(
        Challenge,
        [key(KeyCode::Enter)],
        "Enter",
        Action::Open,
        "open the selected check's requests and verdict",
        Some("details")
    ),
    bind!(
        Challenge,
        [ch('d')],
        "d",
        Action::CompareWithLab,
        "send the selected check's requests to the lab too, side by side",
        None
    ),
    bind!(
        Challenge,
        [ch('y')],
        "y",
        Action::Copy,
        "copy the selected check's reproduction",
        None
    ),
    // Everywhere.
    bind!(
        Everywhere,
        [ch('?')],
        "?",
        Action::Help,
        "every key for this screen",
        Some("keys")
    ),
    bind!(
        Everywhere,
        [ch('q'), key(KeyCode::Esc)],
        "q Esc",
        Action::Back,
        "back (on the map: quit)",
        Some("back")
    ),
    bind!(
        Everywhere,
        [(KeyCode::Char('c'), KeyModifiers::CONTROL)],
        "Ctrl-C",
        Action::Quit,
        "quit",
        None
    ),
    bind!(
        Everywhere,
        [ch('k'), key(KeyCode::Up)],
        "↑↓ jk",
        Action::Up,
        "move up / down",
        None
    ),
    bind!(
        Everywhere,
        [ch('j'), key(KeyCode::Down)],
        "j",
        Action::Down,
        "move down",
        None
    ),
    bind!(
        Everywhere,
        [ch('h'), key(KeyCode::Left)],
        "←→ hl",
        Action::Left,
        "move left / right",
        None
    ),
    bind!(
        Everywhere,
        [ch('l'), key(KeyCode::Right)],
        "l",
        Action::Right,
        "move right",
        None
    ),
    bind!(
        Everywhere,
        [
            key(KeyCode::PageUp),
            (KeyCode::Char('u'), KeyModifiers::CONTROL)
        ],
        "PgUp PgDn",
        Action::PageUp,
        "a page up / down (also Ctrl-U, Ctrl-D)",
        None
    ),
    bind!(
        Everywhere,
        [
            key(KeyCode::PageDown),
            (KeyCode::Char('d'), KeyModifiers::CONTROL)
        ],
        "PgDn",
        Action::PageDown,
        "a page down",
        None
    ),
    bind!(
        Everywhere,
        [ch('g'), key(KeyCode::Home)],
        "g G",
        Action::Top,
        "top / bottom",
        None
    ),
    bind!(
        Everywhere,
        [ch('G'), key(KeyCode::End)],
        "G",
        Action::Bottom,
        "bottom",
        None
    ),
];

/// Where the learner is, as far as keys are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    /// The screen's scope: `Home`, `Lesson` or `Challenge`.
    pub screen: Scope,
    /// The focused pane on a lesson.
    pub pane: Option<Pane>,
}

impl Context {
    fn applies(&self, scope: Scope) -> bool {
        match scope {
            Scope::Everywhere => true,
            Scope::Pane(p) => self.screen == Scope::Lesson && self.pane == Some(p),
            other => other == self.screen,
        }
    }
}

/// The action a key asks for here, if any. Only presses count (not releases or repeats of
/// modifier keys); letters match whatever the Shift state, since the letter itself says it.
pub fn action(ctx: Context, key: &KeyEvent) -> Option<Action> {
    let mods = key.modifiers - KeyModifiers::SHIFT;
    let wanted = |(code, m): &(KeyCode, KeyModifiers)| {
        let code_matches = *code == key.code;
        match key.code {
            KeyCode::Char(_) | KeyCode::BackTab => {
                code_matches && (*m - KeyModifiers::SHIFT) == mods
            }
            _ => code_matches && *m == key.modifiers,
        }
    };
    BINDINGS
        .iter()
        .filter(|b| ctx.applies(b.scope))
        .find(|b| b.keys.iter().any(wanted))
        .map(|b| b.action)
}

/// The bindings that apply here, most specific first, each action once (for `?`).
pub fn help(ctx: Context) -> Vec<&'static Binding> {
    let mut seen: Vec<Action> = Vec::new();
    let mut out = Vec::new();
    for b in BINDINGS.iter().filter(|b| ctx.applies(b.scope)) {
        if seen.contains(&b.action) || is_second_half(b) {
            continue;
        }
        seen.push(b.action);
        out.push(b);
    }
    out
}

/// Bindings whose help is given by their pair's line ("n N  next / previous").
fn is_second_half(b: &Binding) -> bool {
    matches!(
        b.action,
        Action::PrevPreset
            | Action::Next
            | Action::Down
            | Action::Right
            | Action::PageDown
            | Action::Bottom
            | Action::PrevPane
            | Action::Pane(2..=4)
    )
}

/// The few bindings the footer shows here, as `(keys, word)`.
pub fn footer(ctx: Context) -> Vec<(&'static str, &'static str)> {
    let mut seen = Vec::new();
    BINDINGS
        .iter()
        .filter(|b| ctx.applies(b.scope))
        .filter_map(|b| {
            let word = b.footer?;
            let fresh = !seen.contains(&b.action);
            seen.push(b.action);
            fresh.then_some((b.shown, word))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    const LESSON: Context = Context {
        screen: Scope::Lesson,
        pane: Some(Pane::Lesson),
    };

    #[test]
    fn the_fixed_keys_do_what_the_docs_say() {
        let a = |c: char| action(LESSON, &press(KeyCode::Char(c), NONE));
        assert_eq!(a('s'), Some(Action::Send));
        assert_eq!(a('.'), Some(Action::Step));
        assert_eq!(a('>'), Some(Action::Finish));
        assert_eq!(a('n'), Some(Action::NextPreset));
        assert_eq!(a('c'), Some(Action::RunChallenge));
        assert_eq!(a('t'), Some(Action::EditTarget));
        assert_eq!(a('?'), Some(Action::Help));
        // Upper case arrives with Shift on most terminals, without it on some.
        let shifted = press(KeyCode::Char('S'), KeyModifiers::SHIFT);
        assert_eq!(action(LESSON, &shifted), Some(Action::SendStepped));
        assert_eq!(a('S'), Some(Action::SendStepped));
        assert_eq!(
            action(LESSON, &press(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        let home = Context {
            screen: Scope::Home,
            pane: None,
        };
        assert_eq!(
            action(home, &press(KeyCode::Enter, NONE)),
            Some(Action::Open)
        );
        assert_eq!(action(home, &press(KeyCode::Char('s'), NONE)), None);
    }

    #[test]
    fn a_pane_key_wins_over_the_screen_key() {
        let composer = Context {
            screen: Scope::Lesson,
            pane: Some(Pane::Composer),
        };
        assert_eq!(
            action(composer, &press(KeyCode::Enter, NONE)),
            Some(Action::Edit)
        );
        assert_eq!(
            action(LESSON, &press(KeyCode::Char('['), NONE)),
            Some(Action::Previous)
        );
    }

    #[test]
    fn help_lists_each_action_once_and_the_footer_stays_short() {
        let lines = help(LESSON);
        let mut actions: Vec<Action> = lines.iter().map(|b| b.action).collect();
        let before = actions.len();
        actions.dedup();
        assert_eq!(actions.len(), before);
        assert!(lines.iter().any(|b| b.action == Action::SendStepped));
        let footer = footer(LESSON);
        assert!(footer.len() <= 8, "{footer:?}");
        assert!(footer.iter().all(|(_, word)| word.split(' ').count() <= 3));
    }
}

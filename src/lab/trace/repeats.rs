//! Statements a request ran more than once, found in its data stage: the N+1 pattern (the
//! same statement again and again with different parameters, one per item of an earlier
//! result) and plain repeats (the same statement with the same parameters), each with a
//! sentence that says what happened, where, and the fix.

/// Runs of one statement before it counts as an N+1 pattern.
pub const SIMILAR_AT: usize = 3;
/// Runs of one statement with the same parameters before it counts as a repeat.
pub const DUPLICATE_AT: usize = 2;

/// One statement as a request ran it.
#[derive(Debug, Clone, Copy)]
pub struct Ran<'a> {
    /// The statement text.
    pub statement: &'a str,
    /// Its parameters, as shown.
    pub params: &'a str,
    /// Where in the code it ran.
    pub call_site: Option<&'static std::panic::Location<'static>>,
}

/// What kind of repetition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The same statement with different parameters: N+1.
    Similar,
    /// The same statement with the same parameters.
    Duplicate,
}

/// A statement run more than once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repeat {
    /// Similar or duplicate.
    pub kind: Kind,
    /// The statement.
    pub statement: String,
    /// How many times it ran (with those parameters, for a duplicate).
    pub count: usize,
    /// How many different parameter lists it ran with.
    pub distinct: usize,
    /// Where it ran from, when known.
    pub call_site: Option<String>,
    /// The index (into the statements given) of its last run: the finding belongs after it.
    pub last: usize,
}

/// Groups `ran` by statement: a statement run [`SIMILAR_AT`] times or more with differing
/// parameters is [`Kind::Similar`] (its repeated parameter lists are part of that finding);
/// otherwise one run [`DUPLICATE_AT`] times or more with the same parameters is
/// [`Kind::Duplicate`]. In the order their last runs happened.
pub fn find(ran: &[Ran<'_>]) -> Vec<Repeat> {
    let mut found = Vec::new();
    let mut groups: Vec<(&str, Vec<usize>)> = Vec::new();
    for (i, r) in ran.iter().enumerate() {
        match groups.iter_mut().find(|(s, _)| *s == r.statement) {
            Some((_, runs)) => runs.push(i),
            None => groups.push((r.statement, vec![i])),
        }
    }
    for (statement, runs) in &groups {
        let mut by_params: Vec<(&str, Vec<usize>)> = Vec::new();
        for &i in runs {
            match by_params.iter_mut().find(|(p, _)| *p == ran[i].params) {
                Some((_, same)) => same.push(i),
                None => by_params.push((ran[i].params, vec![i])),
            }
        }
        let site = |i: usize| ran[i].call_site.map(call_site);
        if runs.len() >= SIMILAR_AT && by_params.len() > 1 {
            let last = *runs.last().expect("a group has runs");
            found.push(Repeat {
                kind: Kind::Similar,
                statement: statement.to_string(),
                count: runs.len(),
                distinct: by_params.len(),
                call_site: site(last),
                last,
            });
            continue;
        }
        for (_, same) in by_params.iter().filter(|(_, s)| s.len() >= DUPLICATE_AT) {
            let last = *same.last().expect("a group has runs");
            found.push(Repeat {
                kind: Kind::Duplicate,
                statement: statement.to_string(),
                count: same.len(),
                distinct: 1,
                call_site: site(last),
                last,
            });
        }
    }
    found.sort_by_key(|r| r.last);
    found
}

impl Repeat {
    /// What happened and the fix, in one sentence.
    pub fn sentence(&self) -> String {
        let shown = shorten(&self.statement, 90);
        let at = self
            .call_site
            .as_deref()
            .map(|s| format!(" (at {s})"))
            .unwrap_or_default();
        let n = self.count;
        match self.kind {
            Kind::Similar if self.distinct < n => format!(
                "N+1: `{shown}` ran {n}× with {} different parameters, some of them again{at}; {}",
                self.distinct,
                fix(&self.statement, self.distinct)
            ),
            Kind::Similar => format!(
                "N+1: `{shown}` ran {n}× with different parameters{at}; {}",
                fix(&self.statement, n)
            ),
            Kind::Duplicate => format!(
                "the same query ran {n}× with the same parameters: `{shown}`{at}; run it once and reuse its rows"
            ),
        }
    }
}

/// The way to do `n` runs of `statement` in one.
fn fix(statement: &str, n: usize) -> String {
    let verb = statement
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    match verb.as_str() {
        "INSERT" => {
            format!("one INSERT with {n} rows (VALUES (…), (…)) does it in 1")
        }
        "UPDATE" | "DELETE" => format!("one {verb} … WHERE id IN (…) does it in 1"),
        _ => "one query with WHERE … IN (…), or a JOIN, does it in 1".to_string(),
    }
}

/// `text` cut to `max` characters, ending in `…` when cut.
fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

/// A call site as `file:line`.
pub(super) fn call_site(at: &std::panic::Location<'_>) -> String {
    format!("{}:{}", at.file(), at.line())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ran<'a>(statement: &'a str, params: &'a str) -> Ran<'a> {
        Ran {
            statement,
            params,
            call_site: Some(std::panic::Location::caller()),
        }
    }

    const ONE: &str = "SELECT name FROM authors WHERE id = ?1";

    #[test]
    fn three_runs_with_different_parameters_are_an_n_plus_one() {
        let list = "SELECT id, author_id FROM books LIMIT ?1";
        let found = find(&[ran(list, "3"), ran(ONE, "1"), ran(ONE, "2"), ran(ONE, "7")]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, Kind::Similar);
        assert_eq!(found[0].count, 3);
        assert_eq!(found[0].last, 3);
        let sentence = found[0].sentence();
        assert!(sentence.starts_with("N+1: `SELECT name FROM authors WHERE id = ?1` ran 3×"));
        assert!(
            sentence.contains("(at src/lab/trace/repeats.rs:"),
            "{sentence}"
        );
        assert!(sentence.contains("IN (…), or a JOIN"));
    }

    #[test]
    fn twice_is_not_a_pattern_but_twice_the_same_is_a_repeat() {
        assert!(find(&[ran(ONE, "1"), ran(ONE, "2")]).is_empty());
        let found = find(&[ran(ONE, "1"), ran(ONE, "1")]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, Kind::Duplicate);
        assert!(found[0].sentence().contains("run it once and reuse"));
    }

    #[test]
    fn an_n_plus_one_with_repeats_inside_is_one_finding_and_writes_get_their_own_fix() {
        let found = find(&[ran(ONE, "1"), ran(ONE, "2"), ran(ONE, "1")]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].kind, Kind::Similar);
        assert!(
            found[0]
                .sentence()
                .contains("ran 3× with 2 different parameters, some of them again")
        );
        let insert = "INSERT INTO tags (name) VALUES (?1)";
        let found = find(&[ran(insert, "'a'"), ran(insert, "'b'"), ran(insert, "'c'")]);
        assert!(found[0].sentence().contains("one INSERT with 3 rows"));
    }
}

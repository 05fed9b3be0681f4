//! Close matches for a name a learner mistyped, so an error can say what they probably meant.

/// Most matches an error message offers.
const MOST: usize = 3;

/// Up to three of `candidates` that look like `wanted`, closest first: those a few typing
/// mistakes away (one per three letters, at least one) and those that start with it. Letter
/// case is ignored.
pub fn close_matches<'a>(
    wanted: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Vec<&'a str> {
    let wanted = wanted.trim().to_lowercase();
    if wanted.is_empty() {
        return Vec::new();
    }
    let allowed = (wanted.chars().count() / 3).max(1);
    let mut scored: Vec<(usize, &str)> = candidates
        .into_iter()
        .filter_map(|candidate| {
            let lower = candidate.to_lowercase();
            if lower == wanted {
                return Some((0, candidate));
            }
            let edits = distance(&wanted, &lower);
            if edits <= allowed {
                Some((edits, candidate))
            } else if wanted.chars().count() >= 2 && lower.starts_with(&wanted) {
                Some((allowed + 1, candidate))
            } else {
                None
            }
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(MOST).map(|(_, c)| c).collect()
}

/// Typing mistakes between two words: letters inserted, deleted, replaced, or two neighbours
/// swapped (optimal string alignment distance).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows of the table: two back (for swaps), one back, and the current one.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut current = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let replace = usize::from(a[i - 1] != b[j - 1]);
            current[j] = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + replace);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                current[j] = current[j].min(before[j - 2] + 1);
            }
        }
        before = std::mem::replace(&mut previous, current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swaps_and_typos_count_as_one_mistake() {
        assert_eq!(distance("etga", "etag"), 1);
        assert_eq!(distance("etag", "etag"), 0);
        assert_eq!(distance("valdation", "validation"), 1);
        assert_eq!(distance("", "abc"), 3);
    }

    #[test]
    fn close_names_and_prefixes_are_offered_closest_first() {
        let names = ["etag", "if-match", "if-none-match", "location", "allow"];
        assert_eq!(close_matches("ETga", names), ["etag"]);
        assert_eq!(close_matches("if", names), ["if-match", "if-none-match"]);
        assert_eq!(close_matches("lokation", names), ["location"]);
        assert!(close_matches("dns", names).is_empty());
        assert!(close_matches("  ", names).is_empty());
    }
}

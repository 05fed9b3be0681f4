//! Lesson content: the built-in course is valid, and broken content is reported precisely.

use crate::util::repo;
use reqlab::course::{ContentSource, Course};

#[test]
fn the_built_in_course_loads() {
    let course = Course::load(&ContentSource::Embedded).unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<&str> = course.lessons.iter().map(|l| l.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "http-basics",
            "rest-resources",
            "pagination",
            "cursor-pagination",
            "validation",
            "middleware",
            "cors",
            "caching",
            "observability",
            "security",
            "auth",
            "api-contracts",
            "performance",
            "data-layer",
            "concurrency",
            "background-jobs",
            "testing-ci",
            "review"
        ]
    );
}

#[test]
fn the_disk_copy_matches_the_embedded_one() {
    let disk = Course::load(&ContentSource::Dir(repo().join("lessons"))).unwrap();
    let embedded = Course::load(&ContentSource::Embedded).unwrap();
    assert_eq!(disk.lessons.len(), embedded.lessons.len());
    for (d, e) in disk.lessons.iter().zip(&embedded.lessons) {
        assert_eq!(d.id, e.id);
        assert_eq!(
            d.markdown, e.markdown,
            "{} differs: rebuild after editing lessons",
            d.id
        );
        assert_eq!(d.presets, e.presets);
    }
    let ids = |c: &Course| {
        c.challenges
            .iter()
            .map(|c| c.id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&disk), ids(&embedded));
}

#[test]
fn malformed_lessons_are_reported_with_file_and_line() {
    let root = repo().join("fixtures/lessons/malformed");
    let err = Course::load(&ContentSource::Dir(root.clone())).unwrap_err();
    let text = err
        .to_string()
        .replace(&root.display().to_string(), "<DIR>");
    insta::assert_snapshot!(text);
}

#[test]
fn every_lesson_is_a_chapter_of_the_book() {
    let course = Course::load(&ContentSource::Embedded).unwrap();
    let summary = std::fs::read_to_string(repo().join("book/src/SUMMARY.md")).unwrap();
    for lesson in &course.lessons {
        let chapter = format!("lessons/{}.md", lesson.folder);
        assert!(
            summary.contains(&format!("- [{}]({chapter})", lesson.title)),
            "book/src/SUMMARY.md has no entry for {chapter} titled {:?}",
            lesson.title
        );
        let text = std::fs::read_to_string(repo().join("book/src").join(&chapter))
            .unwrap_or_else(|e| panic!("book/src/{chapter}: {e}"));
        assert_eq!(
            text.trim(),
            format!(
                "{{{{#include ../../../lessons/{}/lesson.md}}}}",
                lesson.folder
            ),
            "the chapter includes the lesson file itself (one source of truth)"
        );
    }
}

/// The book's curriculum map, `| N | topic | taught in |`, says for each numbered section which
/// lessons teach it and which of its parts: exactly what the lessons' `guide` lists say.
#[test]
fn the_curriculum_map_matches_what_each_lesson_covers() {
    use std::collections::BTreeMap;
    let course = Course::load(&ContentSource::Embedded).unwrap();
    let mut expected: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for lesson in &course.lessons {
        let mut by_top: BTreeMap<u32, Vec<&str>> = BTreeMap::new();
        for section in &lesson.guide {
            let top: u32 = section.split('.').next().unwrap().parse().unwrap();
            by_top.entry(top).or_default().push(section);
        }
        for (top, sections) in by_top {
            expected.entry(top).or_default().push(format!(
                "[{}](lessons/{}.md) ({})",
                lesson.title,
                lesson.folder,
                sections.join(", ")
            ));
        }
    }
    let page = std::fs::read_to_string(repo().join("book/src/curriculum.md")).unwrap();
    let mut found: BTreeMap<u32, String> = BTreeMap::new();
    for line in page.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if let [_, number, topic, taught, _] = cells.as_slice()
            && let Ok(n) = number.parse::<u32>()
        {
            assert!(!topic.is_empty(), "section {n} has no topic");
            found.insert(n, taught.to_string());
        }
    }
    let expected: BTreeMap<u32, String> = expected
        .into_iter()
        .map(|(n, cells)| (n, cells.join("; ")))
        .collect();
    assert_eq!(
        found, expected,
        "book/src/curriculum.md must list, per section, the lessons that cover it"
    );
    let summary = std::fs::read_to_string(repo().join("book/src/SUMMARY.md")).unwrap();
    assert!(summary.contains("(curriculum.md)"));
}

#[test]
fn the_declared_rust_version_covers_every_locked_dependency() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--locked", "--offline", "--format-version", "1"])
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let version = |v: &str| -> Vec<u32> { v.split('.').map(|n| n.parse().unwrap_or(0)).collect() };
    let packages = metadata["packages"].as_array().unwrap();
    let ours = packages
        .iter()
        .find(|p| p["name"] == "reqlab")
        .and_then(|p| p["rust_version"].as_str())
        .expect("Cargo.toml declares rust-version");
    for p in packages {
        if let Some(needed) = p["rust_version"].as_str() {
            assert!(
                version(needed) <= version(ours),
                "{} {} needs Rust {needed}, but Cargo.toml and the README say {ours}",
                p["name"],
                p["version"]
            );
        }
    }
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    assert_contains!(readme, format!("{ours} or newer"));
}

#[test]
fn a_broken_teaches_reference_in_explain_toml_names_its_file_and_line() {
    let lessons = crate::util::copy_of_lessons();
    let file = lessons.path().join("explain.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let good = "teaches = \"rest-resources#conditional\"";
    let offset = text
        .find(good)
        .expect("explain.toml teaches conditional requests");
    let line = text[..offset].matches('\n').count() + 1;
    let broken = text.replacen(good, "teaches = \"rest-resources#conditionals\"", 1);
    std::fs::write(&file, broken).unwrap();

    let err = Course::load(&ContentSource::Dir(lessons.path().to_path_buf()))
        .unwrap_err()
        .to_string();
    assert_contains!(
        err,
        format!("explain.toml:{line}:11: teaches `rest-resources#conditionals`")
    );
    assert_contains!(err, "has no section `conditionals`");
}

#[test]
fn a_preset_that_sends_a_value_no_earlier_preset_captures_is_named_with_its_line() {
    let lessons = crate::util::copy_of_lessons();
    let file = lessons.path().join("11-auth/lesson.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let without = text.replace("capture = { token = \"json:access_token\" }\n", "");
    assert_ne!(without, text);
    std::fs::write(&file, without).unwrap();
    let err = Course::load(&ContentSource::Dir(lessons.path().to_path_buf()))
        .unwrap_err()
        .to_string();
    assert_contains!(err, "11-auth/lesson.toml:");
    assert_contains!(
        err,
        "preset `me-with-token` sends {{token}}, which no earlier preset"
    );
}

#[test]
fn the_book_builds_with_mdbook_and_every_lesson_is_a_page() {
    let out_dir = tempfile::tempdir().unwrap();
    let built = std::process::Command::new("mdbook")
        .arg("build")
        .arg(repo().join("book"))
        .arg("--dest-dir")
        .arg(out_dir.path())
        .output()
        .unwrap_or_else(|e| {
            panic!("mdbook: {e} (bash scripts/test.sh installs it: cargo install mdbook)")
        });
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let course = Course::load(&ContentSource::Embedded).unwrap();
    // Letters and digits only: HTML escaping and typography do not get in the way.
    let plain = |text: &str| -> String { text.chars().filter(|c| c.is_alphanumeric()).collect() };
    for lesson in &course.lessons {
        let folder = &lesson.folder;
        let page = out_dir.path().join(format!("lessons/{folder}.html"));
        let html =
            std::fs::read_to_string(&page).unwrap_or_else(|e| panic!("{}: {e}", page.display()));
        assert!(
            !html.contains("{{#include"),
            "{folder}: an include was left as written"
        );
        let text = plain(&html);
        for heading in
            std::iter::once(&lesson.title).chain(lesson.sections.iter().map(|s| &s.title))
        {
            assert!(
                text.contains(&plain(heading)),
                "{folder}: {heading:?} is not on its page"
            );
        }
    }
}

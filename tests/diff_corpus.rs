// Issue 5 §3: the behavioural differential. Every trace of the corpus is played against our
// stack and against smoltcp (src/reference/diff.rs); the normalised answers are compared
// segment by segment. Every trace whose answers differ must be classified in
// docs/differential.md (and every classified trace must still differ), so the file stays true.
// `cargo test --test diff_corpus -- --nocapture` prints the answers side by side.

use std::collections::BTreeMap;

#[path = "diff/corpus.rs"]
mod corpus;

use corpus::corpus;
use tunstack::reference::diff;
use tunstack::reference::{SmolConfig, SmolStack};
use tunstack::stack::{Stack, StackConfig};

fn ours() -> Stack {
    Stack::new(StackConfig {
        addr: diff::HOST,
        seed: 7,
        ..StackConfig::default()
    })
}

fn smol() -> SmolStack {
    SmolStack::new(SmolConfig {
        addr: diff::HOST,
        gateway: diff::PEER,
        seed: 7,
        rx_buffer: 64 * 1024,
        tx_buffer: 64 * 1024,
        ..SmolConfig::default()
    })
}

/// (class, RFC) per trace from the table in docs/differential.md: rows `| \`name\` | class | ...`.
fn classified() -> BTreeMap<String, String> {
    let doc = include_str!("../docs/differential.md");
    let mut m = BTreeMap::new();
    // Only the table of the "## Classification" section.
    let section = doc
        .split("\n## ")
        .find(|s| s.starts_with("Classification"))
        .unwrap_or("");
    for line in section.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 5 {
            continue;
        }
        let (name, class) = (cells[1], cells[2]);
        if let Some(name) = name.strip_prefix('`').and_then(|n| n.strip_suffix('`')) {
            m.insert(name.to_string(), class.to_string());
        }
    }
    m
}

const CLASSES: [&str; 3] = ["ours follows the RFC", "ours must change", "both permitted"];

#[test]
fn differential_corpus() {
    let traces = corpus();
    assert!(traces.len() >= 50, "corpus has {} traces", traces.len());
    let mut names = std::collections::BTreeSet::new();
    for t in &traces {
        assert!(names.insert(t.name), "duplicate trace name {}", t.name);
    }
    let doc = classified();
    let mut problems = Vec::new();
    let mut differing = Vec::new();
    let mut report = String::new();
    for t in &traces {
        let a = diff::run(ours(), t);
        let b = diff::run(smol(), t);
        if std::env::var("DIFF_SHOW").is_ok_and(|v| v == "all" || v == t.name) {
            println!(
                "=== {}\nours:\n{}smoltcp:\n{}",
                t.name,
                a.render(),
                b.render()
            );
        }
        if a != b {
            differing.push(t.name);
            report.push_str(&format!(
                "### {}\nours:\n{}smoltcp:\n{}\n",
                t.name,
                a.render(),
                b.render()
            ));
            match doc.get(t.name) {
                None => problems.push(format!("`{}` differs but is not classified", t.name)),
                Some(c) if !CLASSES.contains(&c.as_str()) => {
                    problems.push(format!("`{}`: unknown class {c:?}", t.name))
                }
                Some(_) => {}
            }
        } else if doc.contains_key(t.name) {
            problems.push(format!("`{}` is classified but no longer differs", t.name));
        }
    }
    for name in doc.keys() {
        if !names.contains(name.as_str()) {
            problems.push(format!("`{name}` is classified but not in the corpus"));
        }
    }
    println!("{report}");
    println!(
        "{} traces, {} differ: {}",
        traces.len(),
        differing.len(),
        differing.join(", ")
    );
    let _ = std::fs::create_dir_all("target");
    let _ = std::fs::write("target/differential-report.md", &report);
    assert!(
        problems.is_empty(),
        "docs/differential.md is out of date:\n{}",
        problems.join("\n")
    );
}

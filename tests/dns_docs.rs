//! docs/services.md and the dns service must agree: the example zone file parses, and the
//! table of the built-in zone lists every name in it.

use tunstack::services::dns::Zone;

fn doc() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/services.md"))
        .expect("docs/services.md")
}

#[test]
fn example_zone_file_in_the_docs_parses() {
    let d = doc();
    let example = d
        .split("\n```\n")
        .find(|b| b.contains(" SOA ") && b.contains("course.test."))
        .expect("an example zone block");
    let z = Zone::parse(example).unwrap_or_else(|e| panic!("{e}\n{example}"));
    assert_eq!(z.origin().to_string(), "course.test.");
    assert!(z.records().count() >= 8);
}

#[test]
fn builtin_zone_table_lists_every_name() {
    let d = doc();
    for r in Zone::builtin().records() {
        let name = r.name.to_string();
        let row = format!("| `{}` |", name.trim_end_matches('.'));
        assert!(d.contains(&row), "docs/services.md has no row {row}");
    }
}

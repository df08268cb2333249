//! The README's generated sections are the tables in the code, word for
//! word: the configuration variables (src/config.rs) and the commands
//! (src/cli/mod.rs). `make readme-config` rewrites them (UPDATE_README=1).

/// `(marker name, what the code says)`
fn sections() -> [(&'static str, String, &'static str); 2] {
    [
        (
            "config-table",
            workspace_agent::config::markdown_table(),
            "src/config.rs",
        ),
        (
            "cli-table",
            workspace_agent::cli::markdown_table(),
            "src/cli/mod.rs",
        ),
    ]
}

#[test]
fn the_readme_tables_are_the_ones_in_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let mut readme = std::fs::read_to_string(path).unwrap();
    let mut stale = Vec::new();
    for (name, table, source) in sections() {
        let begin = format!("<!-- {name}: generated from {source} by `make readme-config` -->\n");
        let end = format!("<!-- /{name} -->\n");
        let start = readme
            .find(&begin)
            .unwrap_or_else(|| panic!("README.md lacks {begin}"));
        let start = start + begin.len();
        let len = readme[start..]
            .find(&end)
            .unwrap_or_else(|| panic!("README.md lacks {end}"));
        if readme[start..start + len] != table {
            readme.replace_range(start..start + len, &table);
            stale.push(name);
        }
    }
    if stale.is_empty() {
        return;
    }
    if std::env::var_os("UPDATE_README").is_some() {
        std::fs::write(path, readme).unwrap();
        return;
    }
    panic!("README.md's {stale:?} differ from the code: run `make readme-config`");
}

//! The README's configuration table is the table in src/config.rs, word
//! for word. `make readme-config` rewrites it (UPDATE_README=1).

const BEGIN: &str = "<!-- config-table: generated from src/config.rs by `make readme-config` -->\n";
const END: &str = "<!-- /config-table -->\n";

#[test]
fn the_readme_configuration_table_is_the_one_in_config_rs() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let start = readme
        .find(BEGIN)
        .expect("README.md has the config-table begin marker")
        + BEGIN.len();
    let end = start
        + readme[start..]
            .find(END)
            .expect("README.md has the config-table end marker");
    let table = workspace_agent::config::markdown_table();
    if readme[start..end] == table {
        return;
    }
    if std::env::var_os("UPDATE_README").is_some() {
        let updated = format!("{}{table}{}", &readme[..start], &readme[end..]);
        std::fs::write(path, updated).unwrap();
        return;
    }
    panic!("README.md's configuration table differs from src/config.rs: run `make readme-config`");
}

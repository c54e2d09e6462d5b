//! Golden tests for every notification shape: each `tests/fixtures/notifications/X.json`
//! decodes to what `tests/golden/notifications/X.json` says. Run with
//! `BEDGUARD_BLESS=1` to rewrite the goldens (then review the diff).

use std::path::Path;

use serde_json::{Value, json};

use super::workspace_dir;
use crate::notification::{Notification, decode_notification};

fn decoded(body: &str) -> Value {
    match decode_notification(body) {
        Ok(Notification::Objects(objects)) => json!({ "result": "objects", "objects": objects }),
        Ok(Notification::Test) => json!({ "result": "test" }),
        Err(e) => json!({ "result": "error", "error": e.to_string() }),
    }
}

fn json_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    names
}

#[test]
fn notifications_match_goldens() {
    let fixtures = workspace_dir().join("tests/fixtures/notifications");
    let goldens = workspace_dir().join("tests/golden/notifications");
    let bless = std::env::var_os("BEDGUARD_BLESS").is_some_and(|v| v == "1");
    let names = json_files(&fixtures);
    assert!(names.len() >= 12, "fixtures missing: {names:?}");
    let mut failures = Vec::new();
    for name in &names {
        let body = std::fs::read_to_string(fixtures.join(name)).unwrap();
        let got_value = decoded(&body);
        let mut got = serde_json::to_string_pretty(&got_value).unwrap();
        got.push('\n');
        let golden = goldens.join(name);
        if bless {
            std::fs::create_dir_all(&goldens).unwrap();
            std::fs::write(&golden, &got).unwrap();
            continue;
        }
        match std::fs::read_to_string(&golden) {
            // Compared as JSON values: key order is not part of the contract.
            Ok(want) if serde_json::from_str::<Value>(&want).ok() == Some(got_value.clone()) => {}
            Ok(want) => failures.push(format!("{name}:\n--- want\n{want}--- got\n{got}")),
            Err(e) => failures.push(format!(
                "{name}: no golden ({e}); run with BEDGUARD_BLESS=1"
            )),
        }
    }
    if !bless {
        // Every golden belongs to a fixture.
        for g in json_files(&goldens) {
            if !names.contains(&g) {
                failures.push(format!("{g}: golden without a fixture"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

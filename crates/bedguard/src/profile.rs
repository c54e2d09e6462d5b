//! `bedguard profile show|list`: what bedguard has learned, as a person reads it.
//! Summaries are taken at the profile's own last event time, never the wall clock,
//! so the same state always prints the same way.

use std::fmt::Write;

use anyhow::{Result, bail};
use detect::ProfileSummary;
use store::{ProfileKey, ProfileScope};

use crate::cli::ProfileCommand;
use crate::config::Config;
use crate::pipeline::Stored;

/// Runs a `profile` subcommand.
pub fn run(cfg: &Config, cmd: &ProfileCommand) -> Result<()> {
    let store = crate::open_store(cfg)?;
    match cmd {
        ProfileCommand::Show { principal, json } => {
            let found = find(&store, principal)?;
            if found.is_empty() {
                bail!(
                    "no profile for {principal:?} in {} (try `bedguard profile list`)",
                    cfg.state.path.display()
                );
            }
            let mut out = Vec::new();
            for (account, key, stored) in found {
                let profile = match &stored {
                    Stored::Principal(p) => &p.profile,
                    Stored::Account(a) => &a.profile,
                };
                let summary = profile.summary(profile.last_seen_ms, &cfg.detect);
                out.push((account, key, summary));
            }
            if *json {
                let v: Vec<_> = out
                    .iter()
                    .map(|(a, k, s)| serde_json::json!({"account_id": a, "principal": k, "profile": s}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                for (a, k, s) in &out {
                    print!("{}", render(a, k, s));
                }
            }
        }
        ProfileCommand::Storage { json } => {
            let trees = store.tree_stats()?;
            let on_disk = store.size_on_disk()?;
            if *json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({"trees": trees, "size_on_disk_bytes": on_disk})
                    )?
                );
            } else {
                println!(
                    "{:<16} {:>12} {:>14} {:>14}",
                    "tree", "entries", "key bytes", "value bytes"
                );
                let mut logical = 0;
                for t in &trees {
                    logical += t.key_bytes + t.value_bytes;
                    println!(
                        "{:<16} {:>12} {:>14} {:>14}",
                        t.name, t.entries, t.key_bytes, t.value_bytes
                    );
                }
                println!("logical bytes: {logical}; on disk: {on_disk}");
            }
        }
        ProfileCommand::Export => {
            use std::io::Write;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            for item in store.profiles_iter::<Stored>(b"") {
                let (key, stored) = item?;
                let (account, principal) = scope_names(&key);
                serde_json::to_writer(
                    &mut out,
                    &serde_json::json!({"account_id": account, "principal": principal, "state": stored}),
                )?;
                out.write_all(b"\n")?;
            }
            out.flush()?;
        }
        ProfileCommand::List { json } => {
            let mut rows = Vec::new();
            for item in store.profiles_iter::<Stored>(b"") {
                let (key, stored) = item?;
                let (account, name) = scope_names(&key);
                let (kind, profile) = match &stored {
                    Stored::Principal(p) => ("principal", &p.profile),
                    Stored::Account(a) => ("account", &a.profile),
                };
                let s = profile.summary(profile.last_seen_ms, &cfg.detect);
                rows.push(serde_json::json!({
                    "kind": kind, "account_id": account, "principal": name,
                    "events": s.events, "bedrock_calls": s.bedrock_calls, "learning": s.learning,
                    "first_seen": cloudtrail::time::format_rfc3339(s.first_seen_ms),
                    "last_seen": cloudtrail::time::format_rfc3339(s.last_seen_ms),
                }));
            }
            if *json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!(
                    "{:<9} {:<13} {:>9} {:>8} {:<8} {:<20} {:<20} principal",
                    "kind", "account", "events", "bedrock", "learning", "first seen", "last seen"
                );
                for r in &rows {
                    println!(
                        "{:<9} {:<13} {:>9} {:>8} {:<8} {:<20} {:<20} {}",
                        r["kind"].as_str().unwrap_or_default(),
                        r["account_id"].as_str().unwrap_or_default(),
                        r["events"].as_u64().unwrap_or_default(),
                        r["bedrock_calls"].as_u64().unwrap_or_default(),
                        if r["learning"].as_bool().unwrap_or(false) {
                            "yes"
                        } else {
                            "no"
                        },
                        r["first_seen"].as_str().unwrap_or_default(),
                        r["last_seen"].as_str().unwrap_or_default(),
                        r["principal"].as_str().unwrap_or_default(),
                    );
                }
                println!("{} profiles", rows.len());
            }
        }
    }
    Ok(())
}

/// `(account, principal or "")` of a profile key.
fn scope_names(key: &ProfileKey) -> (String, String) {
    match key.scope() {
        Some(ProfileScope::Principal { account, principal }) => {
            (account.to_string(), principal.to_string())
        }
        Some(ProfileScope::Account { account }) => (account.to_string(), String::new()),
        None => (String::new(), String::new()),
    }
}

/// Every profile whose principal key is `wanted` (in any account), or the account
/// profile for `account:ID`.
fn find(store: &store::Store, wanted: &str) -> Result<Vec<(String, String, Stored)>> {
    if let Some(account) = wanted.strip_prefix("account:") {
        return Ok(store
            .get_profile::<Stored>(&ProfileKey::account(account)?)?
            .map(|s| vec![(account.to_string(), String::new(), s)])
            .unwrap_or_default());
    }
    let mut out = Vec::new();
    for item in store.profiles_iter::<Stored>(b"p\0") {
        let (key, stored) = item?;
        let (account, name) = scope_names(&key);
        if name == wanted {
            out.push((account, name, stored));
        }
    }
    Ok(out)
}

/// A profile as text.
fn render(account: &str, principal: &str, s: &ProfileSummary) -> String {
    let mut o = String::new();
    let who = if principal.is_empty() {
        format!("account {account}")
    } else {
        format!("{principal} (account {account})")
    };
    let _ = writeln!(o, "{who}");
    let _ = writeln!(
        o,
        "  {} events, {} Bedrock calls, first seen {}, last seen {}{}",
        s.events,
        s.bedrock_calls,
        cloudtrail::time::format_rfc3339(s.first_seen_ms),
        cloudtrail::time::format_rfc3339(s.last_seen_ms),
        if s.learning {
            "  [LEARNING: judged against its account]"
        } else {
            ""
        }
    );
    let _ = writeln!(
        o,
        "  Bedrock volume: {:.1} calls/hour on average (sd {:.1}), busiest hour {}, over {:.0} hours of history",
        s.volume.mean_per_hour,
        s.volume.var_per_hour.max(0.0).sqrt(),
        s.volume.max_per_hour,
        s.volume.history_hours
    );
    if let Some(fix) = &s.last_fix {
        let _ = writeln!(
            o,
            "  last located at {:.2}, {:.2} at {}",
            fix.lat,
            fix.lon,
            cloudtrail::time::format_rfc3339(fix.at_ms)
        );
    }
    for f in &s.features {
        if f.top.is_empty() {
            continue;
        }
        let _ = writeln!(
            o,
            "  {} ({} distinct, P(new value) = {:.3})",
            f.feature, f.distinct, f.unseen_probability
        );
        for v in f.top.iter().take(5) {
            let _ = writeln!(
                o,
                "    {:>6.1}%  {:<10}  {}",
                v.share * 100.0,
                format!("{:?}", v.bucket).to_uppercase(),
                v.value
            );
        }
    }
    o
}

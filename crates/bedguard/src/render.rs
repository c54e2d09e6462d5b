//! Findings as a person reads them: what happened, how bad, who, and why, in a few
//! lines of text. Used by `bedguard demo` and `bedguard replay --findings-text`.

use std::fmt::Write;

use cloudtrail::time::format_rfc3339;
use detect::Finding;

/// The latest revision of each finding (updates of one finding share its id), in id
/// order: what a SIEM shows once every update has arrived.
pub fn latest_revisions(findings: Vec<Finding>) -> Vec<Finding> {
    let mut latest: std::collections::BTreeMap<String, Finding> = std::collections::BTreeMap::new();
    for f in findings {
        match latest.get(&f.id) {
            Some(old) if old.revision >= f.revision => {}
            _ => {
                latest.insert(f.id.clone(), f);
            }
        }
    }
    latest.into_values().collect()
}

/// One finding as text.
pub fn finding(f: &Finding) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "[{} {:.1}] {}",
        f.severity_label.as_str().to_uppercase(),
        f.severity,
        f.finding_type
    );
    let _ = writeln!(o, "  {}", f.title);
    let _ = writeln!(
        o,
        "  who:   {} ({}, account {}, {} credentials)",
        f.principal.key,
        f.principal.kind.as_str(),
        f.principal.account_id,
        f.principal.credential.as_str()
    );
    let place = [f.network.city.as_deref(), f.network.country.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
    let asn = match (f.network.asn, f.network.as_org.as_deref()) {
        (Some(n), Some(org)) => format!(" AS{n} {org}"),
        (Some(n), None) => format!(" AS{n}"),
        _ => String::new(),
    };
    let _ = writeln!(
        o,
        "  from:  {} {}{}",
        f.network.ip.as_deref().unwrap_or("-"),
        if place.is_empty() {
            String::new()
        } else {
            format!("({place})")
        },
        asn
    );
    if let Some(ua) = &f.network.user_agent {
        let _ = writeln!(o, "  with:  {ua}");
    }
    let _ = writeln!(
        o,
        "  when:  {} .. {} ({} call(s), region {}{})",
        format_rfc3339(f.first_seen),
        format_rfc3339(f.last_seen),
        f.count,
        f.region,
        if f.revision > 0 {
            format!(", update {}", f.revision)
        } else {
            String::new()
        }
    );
    if !f.models.is_empty() {
        let _ = writeln!(o, "  models: {}", f.models.join(", "));
    }
    let _ = writeln!(o, "  why:");
    for s in &f.signals {
        let _ = writeln!(o, "    - {}", s.detail);
    }
    let unusual: Vec<_> = f
        .features
        .iter()
        .filter(|x| x.bucket != detect::Bucket::Frequent)
        .collect();
    if !unusual.is_empty() {
        let _ = writeln!(
            o,
            "  unusual for this {}:",
            unusual.first().map_or("principal", |x| x.baseline.as_str())
        );
        for x in unusual {
            let usual = x
                .usual
                .iter()
                .take(3)
                .map(|(v, s)| format!("{v} {:.0}%", s * 100.0))
                .collect::<Vec<_>>()
                .join(", ");
            let _ = writeln!(
                o,
                "    {:<14} {:<28} {:<10} {:>5.1} bits   usually: {}",
                x.feature,
                truncate(&x.observed, 28),
                format!("{:?}", x.bucket).to_uppercase(),
                x.surprise_bits,
                if usual.is_empty() {
                    "-".to_string()
                } else {
                    usual
                }
            );
        }
    }
    let _ = writeln!(
        o,
        "  events: {}",
        f.event_ids
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    );
    o
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}...", s.chars().take(n - 3).collect::<String>())
    }
}

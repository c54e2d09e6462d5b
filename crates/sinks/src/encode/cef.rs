//! ArcSight Common Event Format:
//! `CEF:0|bedguard|bedguard|VERSION|TYPE|TITLE|SEV|key=value ...`.
//!
//! Header fields escape `\` and `|`; extension values escape `\`, `=`, CR and LF.
//! Newlines in header fields become spaces (a header is one line).

use std::fmt::Write as _;

use detect::Finding;

use super::{EncodeContext, EncodeError};

/// Escapes a CEF header field.
pub fn escape_header(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Escapes a CEF extension value.
pub fn escape_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// CEF severity 0-10 from our 1.0-10.0 score.
pub fn severity(score: f64) -> Result<u8, EncodeError> {
    if !score.is_finite() {
        return Err(EncodeError::Field {
            field: "severity",
            reason: format!("{score} is not a finite number"),
        });
    }
    Ok(score.round().clamp(0.0, 10.0) as u8)
}

/// Encodes a finding as one CEF line (no trailing newline).
pub fn encode(f: &Finding, ctx: &EncodeContext) -> Result<Vec<u8>, EncodeError> {
    let mut ext: Vec<(&str, String)> = vec![
        ("rt", ctx.emitted_ms.to_string()),
        ("start", f.first_seen.to_string()),
        ("end", f.last_seen.to_string()),
        ("cnt", f.count.to_string()),
        ("externalId", f.id.clone()),
        ("cat", f.finding_type.clone()),
        ("msg", f.description.clone()),
        ("suser", f.principal.key.clone()),
        ("dvchost", ctx.hostname.clone()),
        ("cs1Label", "accountId".into()),
        ("cs1", f.principal.account_id.clone()),
        ("cs2Label", "region".into()),
        ("cs2", f.region.clone()),
        ("cs3Label", "credential".into()),
        ("cs3", f.principal.credential.as_str().into()),
        ("cs4Label", "principalKind".into()),
        ("cs4", f.principal.kind.as_str().into()),
        ("cn1Label", "revision".into()),
        ("cn1", f.revision.to_string()),
        ("cfp1Label", "severityScore".into()),
        ("cfp1", format!("{:.1}", f.severity)),
    ];
    if !f.models.is_empty() {
        ext.push(("cs5Label", "models".into()));
        ext.push(("cs5", f.models.join(",")));
    }
    if !f.api_calls.is_empty() {
        ext.push(("cs6Label", "apiCalls".into()));
        ext.push(("cs6", f.api_calls.join(",")));
    }
    let n = &f.network;
    if let Some(ip) = &n.ip {
        ext.push(("src", ip.clone()));
    }
    if let Some(ua) = &n.user_agent {
        ext.push(("requestClientApplication", ua.clone()));
    }
    if let Some(lat) = n.latitude.filter(|v| v.is_finite()) {
        ext.push(("slat", lat.to_string()));
    }
    if let Some(lon) = n.longitude.filter(|v| v.is_finite()) {
        ext.push(("slong", lon.to_string()));
    }
    let geo: Vec<String> = [
        n.country.clone(),
        n.city.clone(),
        n.asn.map(|a| format!("AS{a}")),
        n.as_org.clone(),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !geo.is_empty() {
        ext.push(("flexString1Label", "sourceGeo".into()));
        ext.push(("flexString1", geo.join(" / ")));
    }
    if let Some(k) = f.principal.access_key_ids.first() {
        ext.push(("flexString2Label", "accessKeyId".into()));
        ext.push(("flexString2", k.clone()));
    }
    if !f.signals.is_empty() {
        let reasons: Vec<&str> = f.signals.iter().map(|s| s.name.as_str()).collect();
        ext.push(("reason", reasons.join(",")));
    }

    let mut line = format!(
        "CEF:0|{}|{}|{}|{}|{}|{}|",
        escape_header(&ctx.product_name),
        escape_header(&ctx.product_name),
        escape_header(&ctx.product_version),
        escape_header(&f.finding_type),
        escape_header(&f.title),
        severity(f.severity)?,
    );
    for (i, (k, v)) in ext.iter().enumerate() {
        if i > 0 {
            line.push(' ');
        }
        let _ = write!(line, "{k}={}", escape_value(v));
    }
    Ok(line.into_bytes())
}

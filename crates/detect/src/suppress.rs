//! Allowlists and expiring suppression rules, compiled once.
//!
//! A suppressed finding is counted, not forwarded. Rules expire on event time, never the
//! clock, so a replay suppresses exactly what live processing did.

use ipnet::IpNet;

use crate::config::{SuppressionConfig, parse_cidr};
use crate::observation::Observation;

/// Compiled allowlists and rules.
#[derive(Debug, Clone, Default)]
pub struct Suppressor {
    cidrs: Vec<IpNet>,
    asns: Vec<u32>,
    principals: Vec<String>,
    user_agents: Vec<String>,
    rules: Vec<CompiledRule>,
}

#[derive(Debug, Clone)]
struct CompiledRule {
    name: String,
    finding_type: Option<String>,
    principal: Option<String>,
    account_id: Option<String>,
    cidr: Option<IpNet>,
    asn: Option<u32>,
    user_agent: Option<String>,
    expires_ms: Option<i64>,
}

impl Suppressor {
    /// Compile a validated configuration (invalid entries are skipped; `validate` reports them).
    pub fn new(cfg: &SuppressionConfig) -> Self {
        Self {
            cidrs: cfg
                .allow_cidrs
                .iter()
                .filter_map(|c| parse_cidr(c))
                .collect(),
            asns: cfg.allow_asns.clone(),
            principals: cfg.allow_principals.clone(),
            user_agents: cfg.allow_user_agents.clone(),
            rules: cfg
                .rules
                .iter()
                .map(|r| CompiledRule {
                    name: r.name.clone(),
                    finding_type: r.finding_type.clone(),
                    principal: r.principal.clone(),
                    account_id: r.account_id.clone(),
                    cidr: r.cidr.as_deref().and_then(parse_cidr),
                    asn: r.asn,
                    user_agent: r.user_agent.clone(),
                    expires_ms: r
                        .expires
                        .as_deref()
                        .and_then(cloudtrail::time::parse_event_time),
                })
                .collect(),
        }
    }

    /// Why a finding of `finding_type` on `obs` is suppressed, if it is:
    /// `allow_cidrs`, `allow_asns`, `allow_principals`, `allow_user_agents` or `rule:<name>`.
    pub fn check(&self, obs: &Observation, finding_type: &str) -> Option<String> {
        let ip = obs
            .source_ip
            .as_deref()
            .and_then(|s| s.trim().parse::<std::net::IpAddr>().ok());
        let ua = obs.user_agent.as_deref().unwrap_or("");
        if ip.is_some_and(|ip| self.cidrs.iter().any(|n| n.contains(&ip))) {
            return Some("allow_cidrs".into());
        }
        if obs.geo.asn.is_some_and(|a| self.asns.contains(&a)) {
            return Some("allow_asns".into());
        }
        if self.principals.iter().any(|p| glob(p, &obs.principal)) {
            return Some("allow_principals".into());
        }
        if !ua.is_empty() && self.user_agents.iter().any(|p| glob(p, ua)) {
            return Some("allow_user_agents".into());
        }
        for r in &self.rules {
            if r.expires_ms.is_some_and(|e| obs.event_time > e) {
                continue;
            }
            let ok = r
                .finding_type
                .as_deref()
                .is_none_or(|p| glob(p, finding_type))
                && r.principal
                    .as_deref()
                    .is_none_or(|p| glob(p, &obs.principal))
                && r.account_id.as_deref().is_none_or(|a| a == obs.account_id)
                && r.cidr.is_none_or(|n| ip.is_some_and(|ip| n.contains(&ip)))
                && r.asn.is_none_or(|a| obs.geo.asn == Some(a))
                && r.user_agent.as_deref().is_none_or(|p| glob(p, ua));
            if ok {
                return Some(format!("rule:{}", r.name));
            }
        }
        None
    }
}

/// Match `text` against `pattern`, where `*` matches any run of characters.
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, rest) = match parts.split_first() {
        Some(x) => x,
        None => return false,
    };
    let Some(mut tail) = text.strip_prefix(first) else {
        return false;
    };
    let (last, middle) = match rest.split_last() {
        Some(x) => x,
        None => return true,
    };
    for m in middle {
        match tail.find(m) {
            Some(i) => tail = &tail[i + m.len()..],
            None => return false,
        }
    }
    tail.len() >= last.len() && tail.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches() {
        assert!(glob("*", "anything"));
        assert!(glob("aws-cli/*", "aws-cli/2.15.0 Python/3.11"));
        assert!(!glob("aws-cli/*", "boto3/1.34"));
        assert!(glob("*Terraform*", "APN/1.0 HashiCorp/1.0 Terraform/1.5.7"));
        assert!(glob("a*b*c", "a-x-b-y-c"));
        assert!(!glob("a*b*c", "a-x-c-y-b"));
        assert!(glob("exact", "exact"));
        assert!(!glob("ab*ba", "aba"));
    }
}

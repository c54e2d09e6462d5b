//! User-agent normalisation: rules as data (`models/useragents.toml`), validated at load.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use detect::{Client, SmolStr};
use regex::{Regex, RegexSet};
use serde::Deserialize;

use crate::EnrichError;
use detect::fasthash::FastHash;

/// The rules shipped with bedguard.
pub const BUILTIN_RULES: &str = include_str!("../../../models/useragents.toml");

/// The rules-file format this build understands.
pub const RULES_VERSION: u32 = 1;

/// Family given to agents no rule matches (and to empty ones).
pub const UNKNOWN_FAMILY: &str = "unknown";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    version: u32,
    #[serde(default)]
    family: Vec<NamedPatterns>,
    #[serde(default)]
    os: Vec<NamedPatterns>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NamedPatterns {
    name: String,
    #[serde(default)]
    generic: Option<bool>,
    patterns: Vec<String>,
}

/// What a matching pattern says.
#[derive(Debug, Clone)]
struct Rule {
    /// Index into `families` or `oses`.
    owner: usize,
    /// The pattern, for `major` extraction; `None` when it has no `major` group.
    major: Option<Regex>,
}

#[derive(Debug, Clone)]
struct Family {
    name: String,
    generic: bool,
}

/// Compiled user-agent rules.
#[derive(Debug)]
pub struct UaRules {
    families: Vec<Family>,
    family_set: RegexSet,
    family_rules: Vec<Rule>,
    oses: Vec<String>,
    os_set: RegexSet,
    os_rules: Vec<Rule>,
    /// Answers for agents seen recently: an organisation's traffic repeats a few
    /// hundred agents, and the regex sets are the costly part of enrichment. Sharded
    /// by agent, so threads enriching at once seldom meet on one lock.
    memo: Memo,
}

/// Agents remembered by [`UaRules::normalize`] before the memo starts afresh.
const MEMO_ENTRIES: usize = 4096;

/// Locks the memo is split over.
const MEMO_SHARDS: usize = 8;

type Memo = [Mutex<HashMap<Box<str>, Client, FastHash>>; MEMO_SHARDS];

impl Clone for UaRules {
    fn clone(&self) -> Self {
        Self {
            families: self.families.clone(),
            family_set: self.family_set.clone(),
            family_rules: self.family_rules.clone(),
            oses: self.oses.clone(),
            os_set: self.os_set.clone(),
            os_rules: self.os_rules.clone(),
            memo: Memo::default(),
        }
    }
}

impl UaRules {
    /// The rules embedded from `models/useragents.toml`.
    ///
    /// # Errors
    ///
    /// Only if the shipped file is broken, which a test rules out.
    pub fn builtin() -> Result<Self, EnrichError> {
        Self::parse(
            BUILTIN_RULES,
            Some("built-in models/useragents.toml".to_owned()),
        )
    }

    /// Compile rules from TOML text.
    ///
    /// # Errors
    ///
    /// [`EnrichError::Rules`] listing every problem found: TOML syntax or unknown keys,
    /// wrong `version`, empty or badly formed names, rules without patterns, patterns that
    /// do not compile, a `major` group that is not named `major`, and one family name
    /// given different `generic` values.
    pub fn from_toml(text: &str) -> Result<Self, EnrichError> {
        Self::parse(text, None)
    }

    /// Compile rules from a file.
    ///
    /// # Errors
    ///
    /// [`EnrichError::Io`] if the file cannot be read, otherwise as [`UaRules::from_toml`].
    pub fn from_path(path: &Path) -> Result<Self, EnrichError> {
        let text = std::fs::read_to_string(path).map_err(|source| EnrichError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, Some(path.display().to_string()))
    }

    fn parse(text: &str, origin: Option<String>) -> Result<Self, EnrichError> {
        let file: RulesFile = toml::from_str(text).map_err(|e| EnrichError::Rules {
            origin: origin.clone(),
            errors: vec![e.to_string().trim_end().to_owned()],
        })?;
        let mut errors = Vec::new();
        if file.version != RULES_VERSION {
            errors.push(format!(
                "version = {} is not supported (expected {RULES_VERSION})",
                file.version
            ));
        }

        let mut families: Vec<Family> = Vec::new();
        let mut generic_of: BTreeMap<&str, bool> = BTreeMap::new();
        let mut family_patterns = Vec::new();
        let mut family_rules = Vec::new();
        for (i, f) in file.family.iter().enumerate() {
            let what = format!("family #{} ({:?})", i + 1, f.name);
            check_name(&f.name, &what, true, &mut errors);
            let generic = match f.generic {
                Some(g) => g,
                None => {
                    errors.push(format!("{what}: `generic` is required"));
                    false
                }
            };
            if let Some(&previous) = generic_of.get(f.name.as_str()) {
                if previous != generic {
                    errors.push(format!(
                        "{what}: generic = {generic} contradicts an earlier rule of the same family"
                    ));
                }
            } else {
                generic_of.insert(&f.name, generic);
            }
            let owner = families.len();
            families.push(Family {
                name: f.name.clone(),
                generic,
            });
            compile_patterns(
                f,
                &what,
                owner,
                &mut family_patterns,
                &mut family_rules,
                &mut errors,
            );
        }

        let mut oses = Vec::new();
        let mut os_patterns = Vec::new();
        let mut os_rules = Vec::new();
        for (i, o) in file.os.iter().enumerate() {
            let what = format!("os #{} ({:?})", i + 1, o.name);
            check_name(&o.name, &what, false, &mut errors);
            if o.generic.is_some() {
                errors.push(format!("{what}: `generic` only applies to families"));
            }
            let owner = oses.len();
            oses.push(o.name.clone());
            compile_patterns(
                o,
                &what,
                owner,
                &mut os_patterns,
                &mut os_rules,
                &mut errors,
            );
        }

        let family_set = RegexSet::new(&family_patterns);
        let os_set = RegexSet::new(&os_patterns);
        match (family_set, os_set) {
            (Ok(family_set), Ok(os_set)) if errors.is_empty() => Ok(Self {
                families,
                family_set,
                family_rules,
                oses,
                os_set,
                os_rules,
                memo: Memo::default(),
            }),
            (family_set, os_set) => {
                // Each pattern compiled on its own; a set can still exceed size limits.
                for e in [family_set.err(), os_set.err()].into_iter().flatten() {
                    errors.push(format!("compiling the pattern set: {e}"));
                }
                Err(EnrichError::Rules { origin, errors })
            }
        }
    }

    /// Normalise a raw `userAgent` (memoised: at most [`MEMO_ENTRIES`] agents are
    /// remembered, then the memo starts afresh, so a spray of random agents costs
    /// bounded memory).
    #[must_use]
    pub fn normalize(&self, ua: &str) -> Client {
        // Truncation is intended: the low bits pick a shard.
        let shard = FastHash.hash_one(ua) as usize % MEMO_SHARDS;
        let Some(memo) = self.memo.get(shard) else {
            return self.normalize_uncached(ua);
        };
        let mut memo = memo.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(hit) = memo.get(ua) {
            return hit.clone();
        }
        let client = self.normalize_uncached(ua);
        if memo.len() >= MEMO_ENTRIES / MEMO_SHARDS {
            memo.clear();
        }
        memo.insert(ua.into(), client.clone());
        client
    }

    fn normalize_uncached(&self, ua: &str) -> Client {
        let ua = strip_brackets(ua.trim());
        if ua.is_empty() {
            return unknown(None);
        }
        let os =
            first_match(&self.os_set, ua).map(|i| SmolStr::new(&self.oses[self.os_rules[i].owner]));
        let Some(i) = first_match(&self.family_set, ua) else {
            return unknown(os);
        };
        let rule = &self.family_rules[i];
        let family = &self.families[rule.owner];
        let major = rule
            .major
            .as_ref()
            .and_then(|re| re.captures(ua))
            .and_then(|caps| {
                let digits = caps.name("major")?.as_str();
                let end = digits
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(digits.len());
                (end > 0).then(|| SmolStr::new(&digits[..end]))
            });
        Client {
            family: SmolStr::new(&family.name),
            major,
            os,
            generic: family.generic,
        }
    }

    /// Family names, in rule order, without repeats.
    #[must_use]
    pub fn family_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for f in &self.families {
            if !names.contains(&f.name.as_str()) {
                names.push(&f.name);
            }
        }
        names
    }
}

fn unknown(os: Option<SmolStr>) -> Client {
    Client {
        family: SmolStr::new_static(UNKNOWN_FAMILY),
        major: None,
        os,
        generic: false,
    }
}

/// Remove one pair of surrounding brackets, as CloudTrail writes some agents.
fn strip_brackets(ua: &str) -> &str {
    ua.strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .map_or(ua, str::trim)
}

fn first_match(set: &RegexSet, ua: &str) -> Option<usize> {
    set.matches(ua).iter().next()
}

fn check_name(name: &str, what: &str, family: bool, errors: &mut Vec<String>) {
    if name.trim().is_empty() {
        errors.push(format!("{what}: name is empty"));
    } else if family
        && !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        errors.push(format!(
            "{what}: family names use lowercase letters, digits and '-'"
        ));
    } else if family && name == UNKNOWN_FAMILY {
        errors.push(format!(
            "{what}: {UNKNOWN_FAMILY:?} is reserved for agents no rule matches"
        ));
    }
}

fn compile_patterns(
    rule: &NamedPatterns,
    what: &str,
    owner: usize,
    patterns: &mut Vec<String>,
    rules: &mut Vec<Rule>,
    errors: &mut Vec<String>,
) {
    if rule.patterns.is_empty() {
        errors.push(format!("{what}: no patterns"));
    }
    for (j, pattern) in rule.patterns.iter().enumerate() {
        let re = match Regex::new(pattern) {
            Ok(re) => re,
            Err(e) => {
                errors.push(format!("{what}: pattern #{} {pattern:?}: {e}", j + 1));
                continue;
            }
        };
        if pattern.is_empty() || re.is_match("") {
            errors.push(format!(
                "{what}: pattern #{} {pattern:?} matches the empty string",
                j + 1
            ));
        }
        let names: Vec<&str> = re.capture_names().flatten().collect();
        if let Some(bad) = names.iter().find(|n| **n != "major") {
            errors.push(format!(
                "{what}: pattern #{} names a group {bad:?}; only \"major\" is used",
                j + 1
            ));
        }
        let has_major = names.contains(&"major");
        patterns.push(pattern.clone());
        rules.push(Rule {
            owner,
            major: has_major.then_some(re),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> &'static UaRules {
        static RULES: std::sync::OnceLock<UaRules> = std::sync::OnceLock::new();
        RULES.get_or_init(|| UaRules::builtin().unwrap())
    }

    #[test]
    fn the_memo_answers_like_the_rules_and_stays_bounded() {
        let rules = UaRules::builtin().unwrap();
        let agents = [
            "aws-cli/2.15.30 Python/3.11.8 Linux/6.1 exe/x86_64.ubuntu.22",
            "[Boto3/1.34.10 md/Botocore#1.34.10 ua/2.0 os/linux#6.1 lang/python#3.11]",
            "python-requests/2.31.0",
            "",
        ];
        for ua in agents {
            let first = rules.normalize(ua);
            assert_eq!(first, rules.normalize_uncached(ua), "{ua}");
            assert_eq!(rules.normalize(ua), first, "{ua}");
        }
        for i in 0..MEMO_ENTRIES + 10 {
            let ua = format!("sprayer/{i}");
            assert_eq!(rules.normalize(&ua), rules.normalize_uncached(&ua));
        }
        let held: usize = rules.memo.iter().map(|m| m.lock().unwrap().len()).sum();
        assert!(held <= MEMO_ENTRIES, "{held}");
        assert!(held > 0);
    }

    fn check(ua: &str, family: &str, major: Option<&str>, os: Option<&str>, generic: bool) {
        let c = rules().normalize(ua);
        assert_eq!(
            (
                c.family.as_str(),
                c.major.as_deref(),
                c.os.as_deref(),
                c.generic
            ),
            (family, major, os, generic),
            "{ua}"
        );
    }

    #[test]
    fn aws_cli_and_python_sdks() {
        check(
            "aws-cli/2.13.0 Python/3.11.4 Linux/5.10.0-1234-aws exe/x86_64.ubuntu.22",
            "aws-cli",
            Some("2"),
            Some("Linux"),
            false,
        );
        check(
            "[aws-cli/1.18.136 Python/3.8.5 Darwin/19.5.0 botocore/1.17.59]",
            "aws-cli",
            Some("1"),
            Some("macOS"),
            false,
        );
        check("aws-cli/2.15.0", "aws-cli", Some("2"), None, false);
        check(
            "aws-cli/2.13.5 Python/3.11.4 Linux/4.14.255-314-253.539.amzn2.x86_64 exec-env/CloudShell exe/x86_64.amzn.2 prompt/off command/ec2.stop-instances",
            "aws-cli",
            Some("2"),
            Some("Linux"),
            false,
        );
        check(
            "[Boto3/1.26.165 Python/3.10.6 Linux/5.19.0-46-generic Botocore/1.29.165]",
            "boto3",
            Some("1"),
            Some("Linux"),
            false,
        );
        check(
            "Boto3/1.34.7 md/Botocore#1.34.7 ua/2.0 os/windows#10 md/arch#amd64 lang/python#3.12.0 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.7",
            "boto3",
            Some("1"),
            Some("Windows"),
            false,
        );
        check(
            "Botocore/1.31.0 ua/2.0 os/macos#23.1.0 lang/python#3.11.6",
            "botocore",
            Some("1"),
            Some("macOS"),
            false,
        );
    }

    #[test]
    fn other_sdks() {
        check(
            "aws-sdk-go/1.44.157 (go1.19.3; linux; amd64)",
            "aws-sdk-go",
            Some("1"),
            Some("Linux"),
            false,
        );
        check(
            "aws-sdk-go/1.4.14 (go1.11.4; darwin; amd64)",
            "aws-sdk-go",
            Some("1"),
            Some("macOS"),
            false,
        );
        check(
            "aws-sdk-go-v2/1.32.3 os/linux lang/go#1.23.1 md/GOOS#linux md/GOARCH#amd64 exec-env/grimoire_095724e3 api/sts#1.26.2",
            "aws-sdk-go-v2",
            Some("1"),
            Some("Linux"),
            false,
        );
        check(
            "aws-sdk-java/2.21.29 Mac_OS_X/14.1 OpenJDK_64-Bit_Server_VM/17.0.8+7-LTS Java/17.0.8 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy",
            "aws-sdk-java",
            Some("2"),
            Some("macOS"),
            false,
        );
        check(
            "aws-sdk-js/3.474.0 ua/2.0 os/linux#5.10.199 lang/js md/nodejs#18.18.2 api/bedrock-runtime#3.474.0",
            "aws-sdk-js",
            Some("3"),
            Some("Linux"),
            false,
        );
        check(
            "aws-sdk-nodejs/2.1500.0 linux/v18.18.2 promise",
            "aws-sdk-js",
            Some("2"),
            Some("Linux"),
            false,
        );
        check(
            "aws-sdk-rust/1.1.1 os/linux lang/rust/1.75.0",
            "aws-sdk-rust",
            Some("1"),
            Some("Linux"),
            false,
        );
        check(
            "aws-sdk-dotnet-coreclr/3.7.300.20 aws-sdk-dotnet-core/3.7.300.20 .NET_Core/8.0.0 OS/Microsoft_Windows_10.0.19045 ClientAsync",
            "aws-sdk-dotnet",
            Some("3"),
            Some("Windows"),
            false,
        );
        check(
            "aws-sdk-php/3.293.0 OS/Linux/5.15.0 lang/php/8.2.12 GuzzleHttp/7",
            "aws-sdk-php",
            Some("3"),
            Some("Linux"),
            false,
        );
        check(
            "aws-sdk-ruby3/3.190.0 ua/2.0 api/bedrock_runtime#1.0 os/linux md/x86_64 lang/ruby#3.2.2 md/3.2.2",
            "aws-sdk-ruby",
            Some("3"),
            Some("Linux"),
            false,
        );
        check(
            "aws-sdk-cpp/1.11.200 Linux/5.15.0 x86_64 GCC/11.4.0",
            "aws-sdk-cpp",
            Some("1"),
            Some("Linux"),
            false,
        );
        check(
            "aws-sdk-kotlin/1.0.41 ua/2.0 api/bedrock-runtime#1.0.41 os/macos#14.1 lang/kotlin#1.9.21",
            "aws-sdk-kotlin",
            Some("1"),
            Some("macOS"),
            false,
        );
        check(
            "aws-sdk-swift/0.32.0 ua/2.0 api/bedrock#0.32.0 os/ios#17.1 lang/swift#5.9",
            "aws-sdk-swift",
            Some("0"),
            Some("iOS"),
            false,
        );
    }

    #[test]
    fn infrastructure_as_code() {
        let long = "APN/1.0 HashiCorp/1.0 Terraform/1.1.2 (+https://www.terraform.io) terraform-provider-aws/3.76.1 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go/1.44.157 (go1.19.3; linux; amd64) HashiCorp-terraform-exec/0.17.3";
        assert!(long.len() > 200);
        check(long, "terraform", Some("1"), Some("Linux"), false);
        check(
            &format!("[{long}]"),
            "terraform",
            Some("1"),
            Some("Linux"),
            false,
        );
        check(
            "aws-sdk-go/1.29.7 (go1.13.7; darwin; amd64) APN/1.0 HashiCorp/1.0 Terraform/0.12.24 (+https://www.terraform.io)",
            "terraform",
            Some("0"),
            Some("macOS"),
            false,
        );
        check(
            "APN/1.0 Pulumi/1.0 pulumi-resource-aws/6.13.3 aws-sdk-go-v2/1.24.0 os/linux lang/go#1.21.5",
            "pulumi",
            Some("6"),
            Some("Linux"),
            false,
        );
        check(
            "cloudformation.amazonaws.com",
            "cloudformation",
            None,
            None,
            false,
        );
        check(
            "aws-cdk/2.110.0 (linux; node 20)",
            "aws-cdk",
            Some("2"),
            Some("Linux"),
            false,
        );
    }

    #[test]
    fn console_internal_and_services() {
        check("AWS Internal", "aws-internal", None, None, false);
        check(
            "[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.488 Linux/5.10.184-153.731.amzn2int.x86_64 OpenJDK_64-Bit_Server_VM/25.372-b08 java/1.8.0_372 vendor/Oracle_Corporation cfg/retry-mode/standard]",
            "console",
            None,
            Some("Linux"),
            false,
        );
        check(
            "aws-internal/3 aws-sdk-java/1.11.706 Linux/4.9.184-0.1.ac.235.83.329.metal1.x86_64",
            "aws-internal",
            Some("3"),
            Some("Linux"),
            false,
        );
        check("console.ec2.amazonaws.com", "console", None, None, false);
        check(
            "secretsmanager.amazonaws.com",
            "aws-service",
            None,
            None,
            false,
        );
        check(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            "console",
            None,
            Some("macOS"),
            false,
        );
        check(
            "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:102.0) Gecko/20100101 Firefox/102.0",
            "console",
            None,
            Some("Linux"),
            false,
        );
        check(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36",
            "console",
            None,
            Some("Windows"),
            false,
        );
        check(
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36",
            "console",
            None,
            Some("Android"),
            false,
        );
        check(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15",
            "console",
            None,
            Some("iOS"),
            false,
        );
        check("Mozilla", "console", None, None, false);
    }

    #[test]
    fn generic_clients() {
        check(
            "python-requests/2.31.0",
            "python-requests",
            Some("2"),
            None,
            true,
        );
        check(
            "Python/3.11 aiohttp/3.9.1",
            "aiohttp",
            Some("3"),
            None,
            true,
        );
        check("python-httpx/0.25.2", "httpx", Some("0"), None, true);
        check("axios/1.6.2", "axios", Some("1"), None, true);
        check(
            "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
            "node-fetch",
            Some("1"),
            None,
            true,
        );
        check("node-fetch", "node-fetch", None, None, true);
        check("curl/8.4.0", "curl", Some("8"), None, true);
        check("Wget/1.21.4", "wget", Some("1"), None, true);
        check(
            "Go-http-client/1.1",
            "go-http-client",
            Some("1"),
            None,
            true,
        );
        check("okhttp/4.12.0", "okhttp", Some("4"), None, true);
        check(
            "Java-http-client/17.0.9",
            "java-httpclient",
            Some("17"),
            None,
            true,
        );
        check("PostmanRuntime/7.36.0", "postman", Some("7"), None, true);
        check("TruffleHog", "trufflehog", None, None, true);
        check("trufflehog/3.63.0", "trufflehog", Some("3"), None, true);
    }

    #[test]
    fn agents_embedding_an_sdk() {
        check(
            "aws-sdk-go/1.41.4 (go1.18.3; linux; amd64) amazon-ssm-agent/",
            "aws-ssm-agent",
            None,
            Some("Linux"),
            false,
        );
        check(
            "amazon-ssm-agent/3.2.0",
            "aws-ssm-agent",
            Some("3"),
            None,
            false,
        );
        check(
            "awslambda-worker/1.0 rusoto/0.47.0 rust/1.55.0 linux",
            "rusoto",
            Some("0"),
            Some("Linux"),
            false,
        );
        check("aws-sdk-python/1.26.0", "boto3", Some("1"), None, false);
    }

    #[test]
    fn tools_unknown_and_empty() {
        check(
            "stratus-red-team_ea782787-a65d-4fc4-9fca-1c97869a9a25",
            "stratus-red-team",
            None,
            None,
            false,
        );
        check(
            "Boto3/1.34.0 Python/3.11 Linux/6.1 Botocore/1.34.0 langchain-aws/0.1.0",
            "langchain",
            None,
            Some("Linux"),
            false,
        );
        check("litellm/1.20.0", "litellm", None, None, false);
        check("example-user-agent", UNKNOWN_FAMILY, None, None, false);
        check("", UNKNOWN_FAMILY, None, None, false);
        check("   ", UNKNOWN_FAMILY, None, None, false);
        check("[]", UNKNOWN_FAMILY, None, None, false);
        check("[", UNKNOWN_FAMILY, None, None, false);
        check(
            "weird-tool/1.0 (Linux)",
            UNKNOWN_FAMILY,
            None,
            Some("Linux"),
            false,
        );
    }

    #[test]
    fn every_invalid_rule_is_reported() {
        let text = r#"
version = 2
[[family]]
name = "Bad Name"
generic = true
patterns = ['(unclosed']
[[family]]
name = "x"
patterns = []
[[family]]
name = "x"
generic = true
patterns = ['.*', '(?P<minor>\d+)']
[[os]]
name = ""
generic = true
patterns = ['linux']
"#;
        let Err(EnrichError::Rules { errors, .. }) = UaRules::from_toml(text) else {
            panic!("invalid rules accepted");
        };
        let joined = errors.join("\n");
        for needle in [
            "version = 2",
            "lowercase",
            "(unclosed",
            "`generic` is required",
            "no patterns",
            "contradicts",
            "matches the empty string",
            "\"minor\"",
            "name is empty",
            "only applies to families",
        ] {
            assert!(joined.contains(needle), "missing {needle:?} in:\n{joined}");
        }
        assert_eq!(errors.len(), 10, "{joined}");
    }

    #[test]
    fn unknown_keys_and_syntax_errors_are_rules_errors() {
        for text in [
            "version = 1\n[[family]]\nname = \"a\"\ngeneric = true\npatterns = ['a']\ncolour = 1\n",
            "version = ",
            "",
        ] {
            assert!(
                matches!(UaRules::from_toml(text), Err(EnrichError::Rules { .. })),
                "{text:?}"
            );
        }
    }

    #[test]
    fn rules_from_data_replace_builtin() {
        let rules = UaRules::from_toml(
            "version = 1\n[[family]]\nname = \"my-tool\"\ngeneric = true\npatterns = ['^mytool/(?P<major>\\d+)']\n",
        )
        .unwrap();
        let c = rules.normalize("mytool/42.1");
        assert_eq!(
            (c.family.as_str(), c.major.as_deref(), c.generic),
            ("my-tool", Some("42"), true)
        );
        assert_eq!(rules.normalize("aws-cli/2.0").family, UNKNOWN_FAMILY);
        assert_eq!(rules.family_names(), vec!["my-tool"]);
    }

    #[test]
    fn builtin_covers_the_required_families() {
        let rules = rules();
        let names = rules.family_names();
        for family in [
            "aws-cli",
            "boto3",
            "botocore",
            "aws-sdk-java",
            "aws-sdk-js",
            "aws-sdk-go",
            "aws-sdk-go-v2",
            "aws-sdk-rust",
            "aws-sdk-dotnet",
            "aws-sdk-php",
            "aws-sdk-ruby",
            "aws-sdk-cpp",
            "aws-sdk-kotlin",
            "aws-sdk-swift",
            "console",
            "aws-internal",
            "aws-service",
            "terraform",
            "pulumi",
            "cloudformation",
            "python-requests",
            "aiohttp",
            "httpx",
            "axios",
            "node-fetch",
            "curl",
            "wget",
            "go-http-client",
            "okhttp",
            "java-httpclient",
            "postman",
            "langchain",
            "litellm",
            "stratus-red-team",
            "aws-ssm-agent",
            "rusoto",
        ] {
            assert!(names.contains(&family), "{family} missing");
        }
    }
}

//! Arbitrary input never panics and keeps the documented invariants.

// Test helpers outside `#[test]` functions fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use detect::NetClass;
use enrich::{Enricher, UaRules, classify_source};
use proptest::prelude::*;

fn rules() -> &'static UaRules {
    static RULES: std::sync::OnceLock<UaRules> = std::sync::OnceLock::new();
    RULES.get_or_init(|| UaRules::builtin().unwrap())
}

proptest! {
    #[test]
    fn classify_any_string(s in ".{0,64}") {
        let (class, ip) = classify_source(&s);
        prop_assert_eq!(ip.is_some(), matches!(class, NetClass::Public | NetClass::Private));
    }

    #[test]
    fn classify_dotted_quads(a in 0u16..300, b in 0u16..300, c in 0u16..300, d in 0u16..300, pad in proptest::bool::ANY) {
        let s = if pad { format!("{a:03}.{b}.{c}.{d}") } else { format!("{a}.{b}.{c}.{d}") };
        let (class, _) = classify_source(&s);
        let valid = a < 256 && b < 256 && c < 256 && d < 256 && !(pad && a < 100);
        prop_assert_eq!(class != NetClass::Invalid, valid, "{}", s);
    }

    #[test]
    fn normalize_any_string(s in "\\PC{0,300}") {
        let client = rules().normalize(&s);
        prop_assert!(!client.family.is_empty());
        if let Some(major) = client.major {
            prop_assert!(!major.is_empty() && major.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn lookup_without_databases(s in ".{0,64}") {
        let e = Enricher::without_databases();
        let (class, geo) = e.lookup(&s);
        prop_assert_eq!(class, classify_source(&s).0);
        prop_assert_eq!(geo, detect::Geo::default());
    }
}

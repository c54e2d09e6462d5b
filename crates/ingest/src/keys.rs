//! What a key in a CloudTrail bucket is, and the listing prefixes of its layout:
//! `[prefix/]AWSLogs/[o-org/]ACCOUNT/CloudTrail[-Digest]/REGION/YYYY/MM/DD/FILE`.

use cloudtrail::log::{KeyKind, classify_key};
use cloudtrail::time::{EpochMillis, civil_from_days};

const DAY_MS: i64 = 86_400_000;

/// A log file's delivery time from its key, `None` when the key is not a log file
/// (digest, insights, anything else).
pub(crate) fn log_delivered_ms(key: &str) -> Option<EpochMillis> {
    match classify_key(key) {
        KeyKind::Log(log) => Some(log.delivered_ms),
        KeyKind::Digest | KeyKind::Insights | KeyKind::Other => None,
    }
}

/// The `YYYY/MM/DD/` folder names of every UTC day that `[from_ms, to_ms)` touches,
/// plus `extra_days` more after it.
pub(crate) fn day_folders(
    from_ms: EpochMillis,
    to_ms: EpochMillis,
    extra_days: i64,
) -> Vec<String> {
    if to_ms <= from_ms {
        return Vec::new();
    }
    let first = from_ms.div_euclid(DAY_MS);
    let last = (to_ms - 1).div_euclid(DAY_MS) + extra_days;
    (first..=last)
        .map(|day| {
            let (y, m, d) = civil_from_days(day);
            format!("{y:04}/{m:02}/{d:02}/")
        })
        .collect()
}

/// `prefix` as a folder: empty, or ending in `/`.
pub(crate) fn folder(prefix: &str) -> String {
    let p = prefix.trim_start_matches('/');
    if p.is_empty() || p.ends_with('/') {
        p.to_owned()
    } else {
        format!("{p}/")
    }
}

/// The last segment of a folder prefix (`a/b/c/` → `c`).
pub(crate) fn last_segment(folder: &str) -> &str {
    folder
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_keys_give_their_delivery_time() {
        let key = "AWSLogs/123456789012/CloudTrail/us-east-1/2024/01/02/\
                   123456789012_CloudTrail_us-east-1_20240102T0105Z_AbCdEf.json.gz";
        assert_eq!(log_delivered_ms(key), Some(1_704_157_500_000));
        let org = "p/AWSLogs/o-abc/123456789012/CloudTrail/eu-west-1/2023/07/10/\
                   123456789012_CloudTrail_eu-west-1_20230710T1145Z_x.json.gz";
        assert_eq!(log_delivered_ms(org), Some(1_688_989_500_000));
    }

    #[test]
    fn non_log_keys_are_not_logs() {
        for key in [
            "AWSLogs/1/CloudTrail-Digest/us-east-1/2024/01/02/1_CloudTrail-Digest_us-east-1_t_us-east-1_20240102T010531Z.json.gz",
            "AWSLogs/1/CloudTrail-Insight/us-east-1/2024/01/02/1_CloudTrail-Insight_us-east-1_20240102T0105Z_x.json.gz",
            "AWSLogs/1/CloudTrail/us-east-1/2024/01/02/1_CloudTrail_us-east-1_2024-01-02_x.json.gz",
            "AWSLogs/1/CloudTrail/us-east-1/2024/01/02/1_CloudTrail_us-east-1_20241302T0105Z_x.json.gz",
            "random.txt",
            "",
        ] {
            assert_eq!(log_delivered_ms(key), None, "{key}");
        }
    }

    #[test]
    fn day_folders_cover_the_range_half_open() {
        let from = 1_704_063_600_000; // 2023-12-31T23:00Z
        let to = 1_704_153_600_000; // 2024-01-02T00:00Z
        assert_eq!(day_folders(from, to, 0), ["2023/12/31/", "2024/01/01/"]);
        assert_eq!(
            day_folders(from, to, 1),
            ["2023/12/31/", "2024/01/01/", "2024/01/02/"]
        );
        assert!(day_folders(to, from, 0).is_empty());
    }

    #[test]
    fn folders_and_segments() {
        assert_eq!(folder(""), "");
        assert_eq!(folder("logs"), "logs/");
        assert_eq!(folder("/logs/"), "logs/");
        assert_eq!(last_segment("AWSLogs/o-abc/"), "o-abc");
        assert_eq!(last_segment("x"), "x");
    }
}

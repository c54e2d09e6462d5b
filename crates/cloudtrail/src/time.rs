//! Event time: parsing the timestamp formats real CloudTrail carries, and formatting
//! epoch milliseconds back to RFC 3339. Pure arithmetic, no clock.
//!
//! Formats accepted (all UTC):
//! - `2023-07-10T11:45:02Z` (canonical)
//! - `2023-07-10T11:45:02.1234567Z` (fractional seconds, any number of digits)
//! - `2025-01-21 17:49:47.000000000` (space separator, no zone: Panther exports)
//! - an explicit `+00:00` style offset instead of `Z`

/// Milliseconds since the Unix epoch, UTC.
pub type EpochMillis = i64;

/// Parses a CloudTrail `eventTime` into epoch milliseconds. `None` when it is not a
/// timestamp in any of the accepted forms.
pub fn parse_event_time(s: &str) -> Option<EpochMillis> {
    let b = s.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let mut v: i64 = 0;
        for &c in b.get(r)? {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(c - b'0');
        }
        Some(v)
    };
    if b[4] != b'-' || b[7] != b'-' || (b[10] != b'T' && b[10] != b't' && b[10] != b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let whole = utc_millis(year, month, day, hour, minute, second)?;
    let mut i = 19;
    let mut millis = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 3 {
                millis = millis * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        let digits = i - start;
        if digits == 0 {
            return None;
        }
        for _ in digits..3 {
            millis *= 10;
        }
    }
    let offset_secs = match b.get(i) {
        None => 0,
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if b.len() == i + 6 && b[i + 3] == b':' => {
            let h = num(i + 1..i + 3)?;
            let m = num(i + 4..i + 6)?;
            let o = h * 3600 + m * 60;
            if sign == b'+' { o } else { -o }
        }
        _ => return None,
    };
    Some(whole - offset_secs * 1000 + millis)
}

/// Epoch milliseconds of a UTC calendar date and time; `None` when it is not one
/// (second `60`, a leap second, is accepted, as `parse_event_time` always did).
pub fn utc_millis(
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
) -> Option<EpochMillis> {
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some((days * 86_400 + hour * 3600 + minute * 60 + second) * 1000)
}

/// The canonical `eventTime`, `0` where a digit goes.
const CANONICAL: &[u8; 20] = b"0000-00-00T00:00:00Z";

/// [`CANONICAL`] as the two little-endian words [`is_event_time`] reads (its first
/// 16 bytes, then its last 4): `0xff` where a digit goes, and the other bytes.
const fn layout() -> ([u128; 2], [u128; 2]) {
    let mut digits = [0u128; 2];
    let mut others = [0u128; 2];
    let mut i = 0;
    while i < 20 {
        let (word, shift) = if i < 16 {
            (0, i * 8)
        } else {
            (1, (i - 16) * 8)
        };
        if CANONICAL[i] == b'0' {
            digits[word] |= 0xff << shift;
        } else {
            others[word] |= (CANONICAL[i] as u128) << shift;
        }
        i += 1;
    }
    (digits, others)
}

/// Whether `word` has an ASCII digit in each byte `digits` marks (`0xff`) and
/// `others` in the rest, eight bytes at once: a digit xor `0` is below 16 and stays
/// below 16 when 6 is added to it.
fn matches_layout(word: u128, digits: u128, others: u128) -> bool {
    const fn bytes(b: u8) -> u128 {
        u128::from_ne_bytes([b; 16])
    }
    let v = (word ^ (digits & bytes(b'0'))) & digits;
    let high = digits & bytes(0xf0);
    word & !digits == others && v & high == 0 && v.wrapping_add(digits & bytes(6)) & high == 0
}

/// Whether [`parse_event_time`] reads `s`, without computing the instant: the
/// canonical `2023-07-10T11:45:02Z` checked in place (the hot path of record
/// validation: its layout as two words, then the ranges), anything else left to
/// [`parse_event_time`].
pub fn is_event_time(s: &str) -> bool {
    const LAYOUT: ([u128; 2], [u128; 2]) = layout();
    let ([d0, d1], [o0, o1]) = LAYOUT;
    if let Ok(b) = <&[u8; 20]>::try_from(s.as_bytes()) {
        let (Some(head), Some(tail)) = (b.first_chunk::<16>(), b.last_chunk::<4>()) else {
            return false;
        };
        let head = u128::from_le_bytes(*head);
        let tail = u128::from(u32::from_le_bytes(*tail));
        if matches_layout(head, d0, o0) && matches_layout(tail, d1, o1) {
            let two = |at: usize| i64::from(b[at] - b'0') * 10 + i64::from(b[at + 1] - b'0');
            let year = two(0) * 100 + two(2);
            let (month, day) = (two(5), two(8));
            return (1..=12).contains(&month)
                && day >= 1
                && day <= days_in_month(year, month)
                && two(11) <= 23
                && two(14) <= 59
                && two(17) <= 60;
        }
    }
    parse_event_time(s).is_some()
}

/// Formats epoch milliseconds as RFC 3339 UTC, `2023-07-10T11:45:02.123Z` (the
/// fraction only when it is not zero).
pub fn format_rfc3339(ms: EpochMillis) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (sod / 3600, (sod / 60) % 60, sod % 60);
    if millis == 0 {
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
    } else {
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{millis:03}Z")
    }
}

/// Hour of the week, 0 = Monday 00:00-00:59 UTC, 167 = Sunday 23:00-23:59 UTC.
pub fn hour_of_week(ms: EpochMillis) -> u8 {
    let hours = ms.div_euclid(3_600_000);
    // 1970-01-01 was a Thursday: hour 0 of the epoch is hour 72 of its week.
    ((hours + 72).rem_euclid(168)) as u8
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_event_time_agrees_with_parse_event_time() {
        let base = *b"2024-02-29T23:59:60Z";
        let mut cases = vec![String::new(), "2023-07-10T11:45:02".to_owned()];
        for at in 0..base.len() {
            for c in b"0123456789-T:Zz .+x" {
                let mut b = base;
                b[at] = *c;
                cases.push(String::from_utf8(b.to_vec()).unwrap());
            }
        }
        for y in ["2023", "2024", "1900", "2000", "0000"] {
            for m in 0..=13 {
                for d in 0..=32 {
                    cases.push(format!("{y}-{m:02}-{d:02}T00:00:00Z"));
                }
            }
        }
        for (h, i, s) in [(23, 59, 60), (24, 0, 0), (0, 60, 0), (0, 0, 61), (9, 9, 9)] {
            cases.push(format!("2023-07-10T{h:02}:{i:02}:{s:02}Z"));
        }
        for c in &cases {
            assert_eq!(is_event_time(c), parse_event_time(c).is_some(), "{c:?}");
        }
    }

    proptest::proptest! {
        /// Every byte of the canonical layout, and the bytes around the digits'
        /// and separators' codes, in every position.
        #[test]
        fn is_event_time_agrees_on_any_bytes(
            edits in proptest::collection::vec((0usize..20, 0x20u8..0x7f), 0..4),
            base in proptest::sample::select(vec![
                *b"2024-02-29T23:59:60Z",
                *b"1999-12-31T00:00:00Z",
                *b"2023-07-10T11:45:02Z",
            ]),
        ) {
            let mut b = base;
            for (at, c) in edits {
                b[at] = c;
            }
            let s = std::str::from_utf8(&b).unwrap();
            proptest::prop_assert_eq!(is_event_time(s), parse_event_time(s).is_some(), "{:?}", s);
        }
    }

    #[test]
    fn parses_every_real_format() {
        let base = parse_event_time("2023-07-10T11:45:02Z").unwrap();
        assert_eq!(base, 1_688_989_502_000);
        assert_eq!(
            parse_event_time("2023-07-10T11:45:02.1234567Z"),
            Some(base + 123)
        );
        assert_eq!(
            parse_event_time("2023-07-10 11:45:02.000000000"),
            Some(base)
        );
        assert_eq!(parse_event_time("2023-07-10T13:45:02+02:00"), Some(base));
        assert_eq!(parse_event_time("2023-07-10T11:45:02.5Z"), Some(base + 500));
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "",
            "2023",
            "2023-13-10T11:45:02Z",
            "2023-02-30T11:45:02Z",
            "2023-07-10T11:45:02Q",
            "2023-07-10T11:45:02.Z",
            "yyyy-mm-ddThh:mm:ssZ",
            "2023-07-10T25:00:00Z",
        ] {
            assert_eq!(parse_event_time(s), None, "{s}");
        }
    }

    #[test]
    fn formats_round_trip() {
        for ms in [
            0,
            1_688_989_502_000,
            1_688_989_502_123,
            -1,
            4_102_444_800_000,
        ] {
            assert_eq!(parse_event_time(&format_rfc3339(ms)), Some(ms));
        }
        assert_eq!(format_rfc3339(1_688_989_502_000), "2023-07-10T11:45:02Z");
    }

    #[test]
    fn hour_of_week_starts_monday() {
        // 2023-07-10 was a Monday.
        assert_eq!(
            hour_of_week(parse_event_time("2023-07-10T00:30:00Z").unwrap()),
            0
        );
        assert_eq!(
            hour_of_week(parse_event_time("2023-07-16T23:59:59Z").unwrap()),
            167
        );
    }
}

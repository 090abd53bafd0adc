//! RFC 3339 date-times to and from milliseconds since the epoch, without a clock.

/// Parses an RFC 3339 date-time (`2020-02-25T18:06:37.547Z`, `2020-02-25T19:06:37+01:00`)
/// into ms since the epoch, UTC. Fractions beyond milliseconds are truncated. `None` if
/// the text is not RFC 3339 or names a date that does not exist.
pub(crate) fn parse_millis(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(range)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(
            part.iter()
                .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0')),
        )
    };
    if b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut at = 19;
    let mut millis = 0;
    if b[at] == b'.' {
        at += 1;
        let start = at;
        while at < b.len() && b[at].is_ascii_digit() {
            at += 1;
        }
        if at == start {
            return None;
        }
        let digits = &b[start..at.min(start + 3)];
        millis = digits
            .iter()
            .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'));
        millis *= 10i64.pow(3 - digits.len() as u32);
    }
    let offset_minutes = match b.get(at..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let digits = [*h1, *h2, *m1, *m2];
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let (h, m) = (
                i64::from((h1 - b'0') * 10 + (h2 - b'0')),
                i64::from((m1 - b'0') * 10 + (m2 - b'0')),
            );
            if h > 23 || m > 59 {
                return None;
            }
            if *sign == b'+' {
                h * 60 + m
            } else {
                -(h * 60 + m)
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1_000 + millis)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses a calendar date written `YYYY-MM-DD` into days from 1970-01-01; `None` if the
/// text is not in that form or names a date that does not exist.
pub(crate) fn parse_date_days(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = &text[range];
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// Formats days from 1970-01-01 as `YYYY-MM-DD`.
pub(crate) fn format_date_days(days: i64) -> String {
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Formats ms since the epoch as `YYYY-MM-DDTHH:MM:SS[.mmm]Z` (milliseconds only when
/// not zero).
pub(crate) fn format_millis(ms: i64) -> String {
    let (days, rest) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (year, month, day) = civil_from_days(days);
    let (hour, minute) = (rest / 3_600_000, rest / 60_000 % 60);
    let (second, millis) = (rest / 1_000 % 60, rest % 1_000);
    let mut text = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}");
    if millis != 0 {
        text.push_str(&format!(".{millis:03}"));
    }
    text.push('Z');
    text
}

/// The proleptic Gregorian date of a day count from 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_reference_samples() {
        assert_eq!(
            parse_millis("2020-02-25T18:06:37.547Z"),
            Some(1_582_653_997_547)
        );
        assert_eq!(
            parse_millis("2020-09-30T18:00:56.820Z"),
            Some(1_601_488_856_820)
        );
        assert_eq!(parse_millis("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_millis("2000-01-01T00:00:00Z"), Some(946_684_800_000));
    }

    #[test]
    fn applies_offsets_and_truncates_fractions() {
        assert_eq!(
            parse_millis("2020-02-25T19:06:37.547+01:00"),
            Some(1_582_653_997_547)
        );
        assert_eq!(
            parse_millis("2020-02-25T17:36:37.547-00:30"),
            Some(1_582_653_997_547)
        );
        assert_eq!(
            parse_millis("2020-02-25T18:06:37.5479999Z"),
            Some(1_582_653_997_547)
        );
        assert_eq!(
            parse_millis("2020-02-25T18:06:37.5Z"),
            Some(1_582_653_997_500)
        );
        assert_eq!(
            parse_millis("2024-02-29T00:00:00Z"),
            Some(1_709_164_800_000)
        );
    }

    #[test]
    fn refuses_what_is_not_rfc_3339() {
        for bad in [
            "",
            "2020-02-25",
            "2020-02-25T18:06:37",
            "2020-02-30T18:06:37Z",
            "2023-02-29T00:00:00Z",
            "2020-13-01T00:00:00Z",
            "2020-02-25T24:00:00Z",
            "2020-02-25T18:06:37.Z",
            "2020-02-25T18:06:37+0100",
            "2020-02-25T18:06:37Zjunk",
            "+020-02-25T18:06:37Z",
            "2020-02-25T18:06:37.547é",
        ] {
            assert_eq!(parse_millis(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn dates_parse_and_format_back() {
        assert_eq!(parse_date_days("1970-01-01"), Some(0));
        assert_eq!(parse_date_days("2024-02-29"), Some(19_782));
        assert_eq!(format_date_days(19_782), "2024-02-29");
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-1-01",
            "2024/01/01",
            "+024-01-01",
            "",
        ] {
            assert_eq!(parse_date_days(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_and_parses_back() {
        for ms in [
            0,
            1_582_653_997_547,
            1_709_164_800_000,
            951_782_400_000,
            -86_400_001,
        ] {
            let text = format_millis(ms);
            assert_eq!(parse_millis(&text), Some(ms), "{text}");
        }
        assert_eq!(format_millis(1_582_653_997_000), "2020-02-25T18:06:37Z");
        assert_eq!(format_millis(1_582_653_997_547), "2020-02-25T18:06:37.547Z");
    }
}

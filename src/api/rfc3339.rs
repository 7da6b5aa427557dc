use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
use serde::de::Error;
use serde::{Deserialize, Deserializer, Serializer};

/// A date-time as the API writes it: whole seconds (truncated), UTC, `Z`.
pub fn format(time: &DateTime<Utc>) -> String {
    let mut buffer = [0; 20];
    match write(time, &mut buffer) {
        Some(text) => text.to_owned(),
        None => time.to_rfc3339_opts(SecondsFormat::Secs, true),
    }
}

/// `format` into `buffer`, without allocating (a page of tickets writes
/// hundreds of these): `None` for a year outside 0–9999, which chrono's
/// own formatting writes with a sign.
fn write<'b>(time: &DateTime<Utc>, buffer: &'b mut [u8; 20]) -> Option<&'b str> {
    let time = time.naive_utc();
    let year = u32::try_from(time.year()).ok().filter(|y| *y <= 9999)?;
    let mut two = |at: usize, value: u32| {
        // Each value here is below 100: the digits fit a byte.
        buffer[at] = b'0' + (value / 10 % 10) as u8;
        buffer[at + 1] = b'0' + (value % 10) as u8;
    };
    two(0, year / 100);
    two(2, year % 100);
    two(5, time.month());
    two(8, time.day());
    two(11, time.hour());
    two(14, time.minute());
    // A leap second (`nanosecond` past 1e9) is written as chrono writes it: `:60`.
    two(17, time.second() + time.nanosecond() / 1_000_000_000);
    for (at, byte) in [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':'), (19, b'Z')] {
        buffer[at] = byte;
    }
    std::str::from_utf8(buffer).ok()
}

pub fn to_json<S: Serializer>(time: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    let mut buffer = [0; 20];
    match write(time, &mut buffer) {
        Some(text) => s.serialize_str(text),
        None => s.serialize_str(&format(time)),
    }
}

#[allow(clippy::ref_option)] // serde's `serialize_with` hands over `&Option<T>`
pub fn optional_to_json<S: Serializer>(time: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => to_json(time, s),
        None => s.serialize_none(),
    }
}

pub(crate) fn parse(text: &str) -> Result<DateTime<Utc>, String> {
    // RFC 3339's grammar has `T`; chrono also takes a space, as its note allows.
    if !text.as_bytes().get(10).is_some_and(|b| b.eq_ignore_ascii_case(&b'T')) {
        return Err("not an RFC 3339 date-time such as 2026-11-28T08:00:00Z".to_owned());
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("not an RFC 3339 date-time such as 2026-11-28T08:00:00Z ({e})"))
}

pub fn required<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    parse(&String::deserialize(d)?).map_err(D::Error::custom)
}

pub fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|text| parse(&text).map_err(D::Error::custom))
        .transpose()
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, SecondsFormat, TimeZone, Utc};

    #[test]
    fn writes_what_chrono_writes() {
        let mut times = vec![
            Utc.with_ymd_and_hms(2026, 12, 1, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 6, 15, 8, 5, 3).unwrap(),
            // A leap second, and a time with a fraction (truncated).
            NaiveDate::from_ymd_opt(2016, 12, 31)
                .unwrap()
                .and_hms_nano_opt(23, 59, 59, 1_500_000_000)
                .unwrap()
                .and_utc(),
            NaiveDate::from_ymd_opt(2026, 2, 28)
                .unwrap()
                .and_hms_nano_opt(7, 8, 9, 999_999_999)
                .unwrap()
                .and_utc(),
        ];
        let mut t = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        for _ in 0..2_000 {
            times.push(t);
            t += chrono::Duration::seconds(86_399 * 7 + 3_601);
        }
        for time in times {
            let expected = time.to_rfc3339_opts(SecondsFormat::Secs, true);
            assert_eq!(super::format(&time), expected);
            assert_eq!(
                serde_json::to_value(Wrapped(time)).unwrap(),
                serde_json::json!(expected)
            );
        }
    }

    #[derive(serde::Serialize)]
    struct Wrapped(#[serde(serialize_with = "super::to_json")] chrono::DateTime<Utc>);
}

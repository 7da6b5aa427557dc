//! The deployment's time zone at the API edge. JSON answers stay in UTC
//! (`2026-11-30T08:00:00Z`); people name days and months where they live:
//! a date-only filter (`created_from=2026-11-30`) is that calendar day in
//! the deployment's zone (`--time-zone`, default `Asia/Shanghai`), a month
//! (`month=2026-11`) that calendar month, and CSV files show local times
//! with their offset (`2026-11-30T16:00:00+08:00`), as a secretary reads them.

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;
use serde::de::Error;
use serde::{Deserialize, Deserializer};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};

/// The zone a deployment uses unless `--time-zone` says otherwise.
pub const DEFAULT_TIME_ZONE: Tz = chrono_tz::Asia::Shanghai;

/// A bound of a time filter: an instant, or a whole calendar day in the
/// deployment's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeBound {
    At(DateTime<Utc>),
    Day(NaiveDate),
}

impl TimeBound {
    /// Where a range that starts here begins: the instant, or the day's
    /// first moment.
    pub fn start(self, tz: Tz) -> DateTime<Utc> {
        match self {
            Self::At(at) => at,
            Self::Day(day) => day_start(tz, day),
        }
    }

    /// Where a range that ends here stops (exclusive): the instant, or the
    /// next day's first moment, so the named day is included, as people
    /// read "1 to 30 November".
    pub fn end(self, tz: Tz) -> DateTime<Utc> {
        match self {
            Self::At(at) => at,
            Self::Day(day) => day_start(tz, day.succ_opt().unwrap_or(day)),
        }
    }

    fn parse(text: &str) -> Result<Self, String> {
        if text.len() == 10 {
            return NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(Self::Day)
                .map_err(|_| "not a date such as 2026-11-30 (an RFC 3339 full-date)".to_owned());
        }
        super::rfc3339::parse(text).map(Self::At)
    }
}

/// The first moment of a local calendar day. Where a zone skips midnight
/// (a daylight-saving change at 00:00), the first hour that exists.
pub fn day_start(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
    (0..24)
        .filter_map(|hour| day.and_hms_opt(hour, 0, 0))
        .find_map(|local| tz.from_local_datetime(&local).earliest())
        .map_or_else(
            || day.and_time(chrono::NaiveTime::MIN).and_utc(),
            |t| t.with_timezone(&Utc),
        )
}

/// `deserialize_with` for an optional [`TimeBound`] query parameter.
pub fn optional_bound<'de, D: Deserializer<'de>>(d: D) -> Result<Option<TimeBound>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|text| TimeBound::parse(&text).map_err(D::Error::custom))
        .transpose()
}

impl utoipa::PartialSchema for TimeBound {
    fn schema() -> RefOr<Schema> {
        let string = |format| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(format)))
        };
        OneOfBuilder::new()
            .item(string(KnownFormat::DateTime))
            .item(string(KnownFormat::Date))
            .description(Some(
                "A date-time (RFC 3339, e.g. `2026-11-30T08:00:00Z`), or a date \
                 (`2026-11-30`): that whole calendar day in the deployment's time zone \
                 (`Asia/Shanghai` unless configured otherwise). 一个时刻，或一个日期（按部署所在时区的整日计）。",
            ))
            .into()
    }
}

impl utoipa::ToSchema for TimeBound {}

/// A calendar month, `2026-11`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Month(NaiveDate);

impl Month {
    /// Its first moment and the next month's, in the deployment's zone.
    pub fn bounds(self, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
        let first = self.0;
        let next = if first.month() == 12 {
            NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
        }
        .unwrap_or(first);
        (day_start(tz, first), day_start(tz, next))
    }

    fn parse(text: &str) -> Result<Self, String> {
        let bad = || "not a month such as 2026-11".to_owned();
        let (year, month) = text.split_once('-').ok_or_else(bad)?;
        if year.len() != 4 || month.len() != 2 {
            return Err(bad());
        }
        let (year, month) = (year.parse().map_err(|_| bad())?, month.parse().map_err(|_| bad())?);
        NaiveDate::from_ymd_opt(year, month, 1).map(Self).ok_or_else(bad)
    }
}

/// `deserialize_with` for an optional [`Month`] query parameter.
pub fn optional_month<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Month>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|text| Month::parse(&text).map_err(D::Error::custom))
        .transpose()
}

impl utoipa::PartialSchema for Month {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(r"^[0-9]{4}-(0[1-9]|1[0-2])$"))
            .description(Some(
                "A calendar month, `2026-11`, in the deployment's time zone. 自然月（按部署所在时区）。",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Month {}

/// A time as a CSV file shows it: local wall time in the deployment's zone
/// with its offset, whole seconds (`2026-11-30T16:00:00+08:00`).
pub fn local_rfc3339(time: &DateTime<Utc>, tz: Tz) -> String {
    time.with_timezone(&tz).to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_read_in_the_deployment_zone() {
        let day = TimeBound::parse("2026-11-30").unwrap();
        let tz = DEFAULT_TIME_ZONE;
        assert_eq!(super::super::rfc3339::format(&day.start(tz)), "2026-11-29T16:00:00Z");
        assert_eq!(super::super::rfc3339::format(&day.end(tz)), "2026-11-30T16:00:00Z");
        assert_eq!(
            super::super::rfc3339::format(&day.start(chrono_tz::UTC)),
            "2026-11-30T00:00:00Z"
        );
        let at = TimeBound::parse("2026-11-30T08:00:00+08:00").unwrap();
        assert_eq!((at.start(tz), at.end(tz)), (at.start(tz), at.start(tz)));
        assert_eq!(super::super::rfc3339::format(&at.start(tz)), "2026-11-30T00:00:00Z");
        for bad in ["2026-13-01", "2026-11-31", "20261130xx", "2026-11-30 ", "tomorrow"] {
            assert!(TimeBound::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_midnight_a_zone_skips_starts_the_day_at_its_first_hour() {
        // Santiago moved its clocks from 00:00 to 01:00 on 2022-09-11.
        let day = NaiveDate::from_ymd_opt(2022, 9, 11).unwrap();
        let start = day_start(chrono_tz::America::Santiago, day);
        assert_eq!(super::super::rfc3339::format(&start), "2022-09-11T04:00:00Z");
    }

    #[test]
    fn a_month_runs_from_its_first_local_day_to_the_next_months() {
        let tz = DEFAULT_TIME_ZONE;
        let (from, to) = Month::parse("2026-12").unwrap().bounds(tz);
        assert_eq!(super::super::rfc3339::format(&from), "2026-11-30T16:00:00Z");
        assert_eq!(super::super::rfc3339::format(&to), "2026-12-31T16:00:00Z");
        let (from, to) = Month::parse("2027-02").unwrap().bounds(tz);
        assert_eq!((to - from).num_days(), 28);
        for bad in ["2026-13", "2026-00", "2026-1", "26-11", "2026-11-01", "2026/11"] {
            assert!(Month::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn csv_times_are_local_with_their_offset() {
        let t = Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).unwrap();
        assert_eq!(local_rfc3339(&t, DEFAULT_TIME_ZONE), "2026-11-30T16:00:00+08:00");
        assert_eq!(local_rfc3339(&t, chrono_tz::UTC), "2026-11-30T08:00:00Z");
    }
}

//! Timestamps as rows are read. SQLite keeps them as text, and diesel reads
//! that text with chrono's `parse_from_str`, which parses its format string
//! again for every value: a page of 25 tickets reads some 350 timestamps,
//! and a profile of the ticket list put 7% of its time there. The text
//! diesel writes (`%F %T%.f`) and SQLite's `CURRENT_TIMESTAMP` (`%F %T`)
//! are read here directly; anything else goes the way diesel reads it.
//! PostgreSQL's binary timestamps are read by diesel as before.
//!
//! Row structs read a column through these with
//! `#[diesel(deserialize_as = Stamp)]` (`MaybeStamp` when nullable).

use chrono::{NaiveDate, NaiveDateTime};
use diesel::deserialize::{self, FromSql};
use diesel::pg::Pg;
use diesel::sql_types::{Nullable, Timestamp};
use diesel::sqlite::{Sqlite, SqliteValue};

type MultiBackend = <super::AnyConnection as diesel::Connection>::Backend;

/// A timestamp column's value.
#[derive(Debug, Clone, Copy, diesel::deserialize::FromSqlRow)]
pub struct Stamp(NaiveDateTime);

/// A nullable timestamp column's value.
#[derive(Debug, Clone, Copy, diesel::deserialize::FromSqlRow)]
pub struct MaybeStamp(Option<NaiveDateTime>);

impl From<Stamp> for NaiveDateTime {
    fn from(stamp: Stamp) -> Self {
        stamp.0
    }
}

impl From<MaybeStamp> for Option<NaiveDateTime> {
    fn from(stamp: MaybeStamp) -> Self {
        stamp.0
    }
}

/// `YYYY-MM-DD HH:MM:SS`, then optionally `.` and 1 to 9 digits; `None`
/// for any other text (or a date that does not exist).
fn parse(text: &str) -> Option<NaiveDateTime> {
    let b = text.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b' ' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let number = |digits: &[u8]| {
        digits
            .iter()
            .try_fold(0u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    };
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(number(&b[0..4])?).ok()?,
        number(&b[5..7])?,
        number(&b[8..10])?,
    )?;
    let nanos = match &b[19..] {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            number(digits)? * 10u32.pow(9 - u32::try_from(digits.len()).ok()?)
        }
        _ => return None,
    };
    date.and_hms_nano_opt(number(&b[11..13])?, number(&b[14..16])?, number(&b[17..19])?, nanos)
}

fn read_sqlite(mut value: SqliteValue<'_, '_, '_>) -> deserialize::Result<NaiveDateTime> {
    match parse(value.read_text()) {
        Some(stamp) => Ok(stamp),
        None => <NaiveDateTime as FromSql<Timestamp, Sqlite>>::from_sql(value),
    }
}

impl FromSql<Timestamp, Sqlite> for Stamp {
    fn from_sql(value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        read_sqlite(value).map(Stamp)
    }
}

impl FromSql<Timestamp, Pg> for Stamp {
    fn from_sql(value: diesel::pg::PgValue<'_>) -> deserialize::Result<Self> {
        <NaiveDateTime as FromSql<Timestamp, Pg>>::from_sql(value).map(Stamp)
    }
}

impl FromSql<Timestamp, MultiBackend> for Stamp {
    fn from_sql(value: <MultiBackend as diesel::backend::Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        value.from_sql::<Self, Timestamp>()
    }
}

impl FromSql<Nullable<Timestamp>, Sqlite> for MaybeStamp {
    fn from_sql(value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        read_sqlite(value).map(|stamp| MaybeStamp(Some(stamp)))
    }

    fn from_nullable_sql(value: Option<SqliteValue<'_, '_, '_>>) -> deserialize::Result<Self> {
        match value {
            Some(value) => <Self as FromSql<Nullable<Timestamp>, Sqlite>>::from_sql(value),
            None => Ok(MaybeStamp(None)),
        }
    }
}

impl FromSql<Nullable<Timestamp>, Pg> for MaybeStamp {
    fn from_sql(value: diesel::pg::PgValue<'_>) -> deserialize::Result<Self> {
        <NaiveDateTime as FromSql<Timestamp, Pg>>::from_sql(value).map(|stamp| MaybeStamp(Some(stamp)))
    }

    fn from_nullable_sql(value: Option<diesel::pg::PgValue<'_>>) -> deserialize::Result<Self> {
        match value {
            Some(value) => <Self as FromSql<Nullable<Timestamp>, Pg>>::from_sql(value),
            None => Ok(MaybeStamp(None)),
        }
    }
}

impl FromSql<Nullable<Timestamp>, MultiBackend> for MaybeStamp {
    fn from_sql(value: <MultiBackend as diesel::backend::Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        value.from_sql::<Self, Nullable<Timestamp>>()
    }

    fn from_nullable_sql(
        value: Option<<MultiBackend as diesel::backend::Backend>::RawValue<'_>>,
    ) -> deserialize::Result<Self> {
        match value {
            Some(value) => <Self as FromSql<Nullable<Timestamp>, MultiBackend>>::from_sql(value),
            None => Ok(MaybeStamp(None)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse;
    use chrono::NaiveDateTime;

    fn chrono(text: &str, format: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, format).unwrap()
    }

    #[test]
    fn reads_what_diesel_and_sqlite_write_as_chrono_does() {
        for text in [
            "2026-12-01 14:05:09",
            "2026-12-01 14:05:09.5",
            "2026-12-01 14:05:09.123",
            "2026-12-01 14:05:09.123456",
            "2026-12-01 14:05:09.123456789",
            "2024-02-29 23:59:59",
            "0001-01-01 00:00:00",
        ] {
            assert_eq!(parse(text), Some(chrono(text, "%F %T%.f")), "{text}");
        }
        let now = chrono::Utc::now().naive_utc();
        assert_eq!(parse(&now.format("%F %T%.f").to_string()), Some(now));
    }

    #[test]
    fn leaves_any_other_text_to_diesel() {
        for text in [
            "",
            "2026-12-01",
            "2026-12-01T14:05:09",
            "2026-12-01 14:05:09Z",
            "2026-12-01 14:05:09+08:00",
            "2026-12-01 14:05:09.",
            "2026-12-01 14:05:09.1234567890",
            "2026-02-30 14:05:09",
            "2026-12-01 24:05:09",
            "2026-12-01 14:5:09 ",
            "2026-1a-01 14:05:09",
            "２０２６-12-01 14:05:09",
            "2459000.5",
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
    }
}

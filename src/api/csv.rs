//! CSV files as griddesk writes them (statistics, the ticket export): UTF-8
//! with a byte-order mark, which Excel on Chinese Windows needs to read
//! anything but GBK; CRLF line ends and quoting by the `csv` crate (RFC
//! 4180); times in the deployment's zone with their offset
//! (`local_time::local_rfc3339`); and text someone typed neutralised, so no
//! spreadsheet runs it as a formula.

use std::borrow::Cow;
use std::fmt::Display;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::error::ApiError;

/// What a CSV answer says it is.
pub const CONTENT_TYPE: &str = "text/csv; charset=utf-8";

/// The UTF-8 byte-order mark a file starts with.
pub const BOM: &str = "\u{feff}";

/// Text someone typed (a title, a name, a code) as a cell: a leading `=`,
/// `+`, `-`, `@`, tab or carriage return gets a `'` in front, so no
/// spreadsheet runs it as a formula (OWASP's CSV injection rule).
pub fn neutralise(value: &str) -> Cow<'_, str> {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{value}"))
    } else {
        Cow::Borrowed(value)
    }
}

/// One line of a file, cell by cell. Each cell says where its value came
/// from: [`Record::text`] for anything a person typed, [`Record::plain`]
/// for what the server makes (numbers, codes of closed sets, flags).
#[derive(Debug, Default)]
pub struct Record(Vec<String>);

impl Record {
    /// Text someone typed, neutralised.
    pub fn text(&mut self, value: &str) -> &mut Self {
        self.0.push(neutralise(value).into_owned());
        self
    }

    /// Text someone typed, or an empty cell.
    pub fn optional_text(&mut self, value: Option<&str>) -> &mut Self {
        self.text(value.unwrap_or_default())
    }

    /// A value the server makes, as it is (a negative number stays one).
    pub fn plain(&mut self, value: impl Display) -> &mut Self {
        self.0.push(value.to_string());
        self
    }

    /// A value the server makes, or an empty cell.
    pub fn optional(&mut self, value: Option<impl Display>) -> &mut Self {
        self.0.push(value.map(|v| v.to_string()).unwrap_or_default());
        self
    }

    /// A time, local in `tz` with its offset (`2026-11-30T16:00:00+08:00`).
    pub fn time(&mut self, time: &DateTime<Utc>, tz: Tz) -> &mut Self {
        self.plain(super::local_time::local_rfc3339(time, tz))
    }

    /// A time, or an empty cell.
    pub fn optional_time(&mut self, time: Option<&DateTime<Utc>>, tz: Tz) -> &mut Self {
        self.optional(time.map(|t| super::local_time::local_rfc3339(t, tz)))
    }
}

/// CSV lines written into memory: a whole small file, or the next part of
/// a streamed one. Every line must have as many cells as the first.
pub struct Lines(::csv::Writer<Vec<u8>>);

impl Lines {
    /// The start of a file: the byte-order mark, then `header`.
    pub fn file(header: &[&str]) -> Result<Self, ApiError> {
        let mut lines = Self::writer(BOM.as_bytes().to_vec());
        lines
            .0
            .write_record(header)
            .map_err(|e| ApiError::internal(format!("CSV header: {e}")))?;
        Ok(lines)
    }

    /// More lines of a file already started.
    pub fn more() -> Self {
        Self::writer(Vec::new())
    }

    fn writer(start: Vec<u8>) -> Self {
        Self(
            ::csv::WriterBuilder::new()
                .terminator(::csv::Terminator::CRLF)
                .has_headers(false)
                .from_writer(start),
        )
    }

    pub fn push(&mut self, record: &Record) -> Result<(), ApiError> {
        self.0
            .write_record(&record.0)
            .map_err(|e| ApiError::internal(format!("CSV line: {e}")))
    }

    pub fn into_bytes(self) -> Result<Vec<u8>, ApiError> {
        self.0
            .into_inner()
            .map_err(|e| ApiError::internal(format!("CSV buffer: {}", e.error())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(cells: &[&str]) -> String {
        let mut record = Record::default();
        for cell in cells {
            record.text(cell);
        }
        let mut lines = Lines::more();
        lines.push(&record).unwrap();
        String::from_utf8(lines.into_bytes().unwrap()).unwrap()
    }

    #[test]
    fn csv_cells_never_start_a_formula() {
        assert_eq!(line(&["=1+1"]), "'=1+1\r\n");
        assert_eq!(line(&["+1"]), "'+1\r\n");
        assert_eq!(line(&["-1"]), "'-1\r\n");
        assert_eq!(line(&["@A1"]), "'@A1\r\n");
        assert_eq!(line(&["\tx"]), "'\tx\r\n");
        assert_eq!(line(&["\r=x"]), "\"'\r=x\"\r\n");
        assert_eq!(line(&["=A1,B1"]), "\"'=A1,B1\"\r\n");
        assert_eq!(line(&["a-b"]), "a-b\r\n");
        assert_eq!(line(&["军门\"小区\""]), "\"军门\"\"小区\"\"\"\r\n");
        assert_eq!(line(&["第一行\n第二行", ""]), "\"第一行\n第二行\",\r\n");
    }

    #[test]
    fn values_the_server_makes_stay_as_they_are() {
        let mut record = Record::default();
        record.plain(-26.5).optional(None::<i64>).plain("a,b");
        let time = DateTime::parse_from_rfc3339("2026-11-30T08:00:00Z").unwrap().to_utc();
        record.time(&time, crate::api::local_time::DEFAULT_TIME_ZONE);
        let mut lines = Lines::file(&["x", "y", "z", "at"]).unwrap();
        lines.push(&record).unwrap();
        assert_eq!(
            String::from_utf8(lines.into_bytes().unwrap()).unwrap(),
            "\u{feff}x,y,z,at\r\n-26.5,,\"a,b\",2026-11-30T16:00:00+08:00\r\n"
        );
    }

    #[test]
    fn every_line_has_as_many_cells_as_the_first() {
        let mut lines = Lines::file(&["a", "b"]).unwrap();
        let mut short = Record::default();
        short.plain(1);
        assert!(lines.push(&short).is_err());
    }
}

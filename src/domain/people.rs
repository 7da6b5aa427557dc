//! Accounts: roles and the validated values a user is made of.
//! Parse, don't validate: each type can hold only an acceptable value.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use unicode_normalization::UnicodeNormalization;

use super::text::Invalid;

/// What an account may do in general; where it may act is given by its posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 居民: files and follows their own tickets.
    Resident,
    /// 网格员 / post holder: works tickets at the units where they hold posts.
    Staff,
    /// Community admin: manages the communities (committee units) where they hold posts.
    Admin,
    /// Manages every community of the deployment.
    Superadmin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Resident, Role::Staff, Role::Admin, Role::Superadmin];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Resident => "resident",
            Self::Staff => "staff",
            Self::Admin => "admin",
            Self::Superadmin => "superadmin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Roles that hold posts at grid units.
    pub fn holds_posts(self) -> bool {
        matches!(self, Self::Staff | Self::Admin)
    }
}

/// A login name: 3–32 characters of `a-z 0-9 _ . -`, starting with a letter or
/// digit; stored in lower case, so `Zhang.Wei` and `zhang.wei` are one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let name = raw.trim().to_ascii_lowercase();
        let chars_ok = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        let starts_ok = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
        if !(3..=32).contains(&name.len()) || !chars_ok || !starts_ok {
            return Err(Invalid::new(
                "invalid_username",
                "Use 3 to 32 letters, digits, '_', '.' or '-', starting with a letter or digit.",
                "用户名须为 3 到 32 位字母、数字、“_”、“.”或“-”，并以字母或数字开头。",
            ));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password: 8 to 128 characters (the upper bound keeps hashing cheap).
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let n = raw.chars().count();
        if n < Self::MIN_CHARS {
            return Err(Invalid::new(
                "too_short",
                "The password needs at least 8 characters.",
                "密码至少需要 8 个字符。",
            ));
        }
        if n > Self::MAX_CHARS {
            return Err(Invalid::new(
                "too_long",
                "The password may have at most 128 characters.",
                "密码最多 128 个字符。",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A phone number: a mainland mobile (11 digits starting with 1[3-9]) or an
/// E.164 number (`+` and 8–15 digits). Spaces and dashes are removed; a
/// mainland number written as `+86…` is stored as its 11 digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let compact: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        let is_mainland = |s: &str| {
            s.len() == 11
                && s.starts_with('1')
                && s.as_bytes()[1].is_ascii_digit()
                && (b'3'..=b'9').contains(&s.as_bytes()[1])
                && s.bytes().all(|b| b.is_ascii_digit())
        };
        if is_mainland(&compact) {
            return Ok(Self(compact));
        }
        if let Some(national) = compact.strip_prefix("+86") {
            if is_mainland(national) {
                return Ok(Self(national.to_owned()));
            }
        } else if let Some(digits) = compact.strip_prefix('+') {
            let ok = (8..=15).contains(&digits.len())
                && !digits.starts_with('0')
                && digits.bytes().all(|b| b.is_ascii_digit());
            if ok {
                return Ok(Self(compact));
            }
        }
        Err(Invalid::new(
            "invalid_phone",
            "Enter a mainland mobile number (11 digits starting with 1) or an international number like +85291234567.",
            "请输入 11 位大陆手机号，或 +85291234567 这样的国际号码。",
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Masks the middle of a phone number: `13812341234` → `138****1234`.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() <= 7 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

/// What the API document says of one-line text (names, titles, labels):
/// no control characters, no direction marks or overrides (a name must read
/// as it is stored) and no line or paragraph separators, and something
/// visible besides white space and zero-width characters.
pub const LINE_PATTERN: &str = r"^[^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*[^\s\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\u200b-\u200d\u2060\ufeff][^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*$";

/// What the API document says of any other free string (passwords,
/// searches, cursors, codes): no U+0000, which PostgreSQL text cannot hold
/// (the request extractors refuse it everywhere).
pub const NO_NUL_PATTERN: &str = r"^[^\u0000]*$";

/// What the API document says of text that may run over several lines
/// (descriptions, comments, notes, reasons): tabs and line breaks allowed,
/// other control characters not, and something besides white space.
pub const TEXT_PATTERN: &str = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$";

/// Direction marks, embeddings, overrides and isolates (Unicode bidi
/// controls): they make a name read differently from what is stored.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Characters that show nothing (zero-width space, joiners, word joiner,
/// byte order mark): text of these alone is empty to a reader.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}')
}

/// The field codes [`bounded_text`] and [`multiline_text`] answer, for the
/// document (`x-field-codes` of each text field).
pub const TEXT_CODES: &[&str] = &["required", "too_long", "control_characters"];

/// The field codes [`Password::parse`] answers, for the document.
pub const PASSWORD_CODES: &[&str] = &["too_short", "too_long"];

/// One-line text with bounds on its length in characters, trimmed and in
/// Unicode NFC ([`LINE_PATTERN`]).
pub fn bounded_text(raw: &str, max_chars: usize) -> Result<String, Invalid> {
    let text = checked_text(raw, max_chars, |c| {
        c.is_control() || is_bidi_control(c) || matches!(c, '\u{2028}' | '\u{2029}')
    })
    .map_err(|invalid| match invalid.code {
        "control_characters" => Invalid::new(
            "control_characters",
            "Control characters, direction marks and line separators are not allowed.",
            "不能包含控制字符、文字方向控制符或行分隔符。",
        ),
        _ => invalid,
    })?;
    if !text.chars().any(|c| !c.is_whitespace() && !is_invisible(c)) {
        return Err(Invalid::new(
            "required",
            "This field needs visible text.",
            "此项须包含可见文字。",
        ));
    }
    Ok(text)
}

/// Text of several lines with bounds on its length in characters, trimmed
/// ([`TEXT_PATTERN`]): a resident writes a description in paragraphs.
pub fn multiline_text(raw: &str, max_chars: usize) -> Result<String, Invalid> {
    checked_text(raw, max_chars, |c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}

/// Trimmed, in Unicode NFC (one spelling of each letter, so names compare
/// and search as people read them), bounded, without `forbidden` characters.
fn checked_text(raw: &str, max_chars: usize, forbidden: impl Fn(char) -> bool) -> Result<String, Invalid> {
    let normalized: String = raw.nfc().collect();
    let text = normalized.trim();
    if text.is_empty() {
        return Err(Invalid::new(
            "required",
            "This field may not be empty.",
            "此项不能为空。",
        ));
    }
    if text.chars().count() > max_chars {
        return Err(Invalid {
            code: "too_long",
            message: super::text::Text::owned(
                format!("At most {max_chars} characters."),
                format!("最多 {max_chars} 个字符。"),
            ),
        });
    }
    if text.chars().any(forbidden) {
        return Err(Invalid::new(
            "control_characters",
            "Control characters are not allowed.",
            "不能包含控制字符。",
        ));
    }
    Ok(text.to_owned())
}

/// A person's name as shown to others.
pub fn display_name(raw: &str) -> Result<String, Invalid> {
    bounded_text(raw, 64)
}

/// A room label such as `3-502`.
pub fn room(raw: &str) -> Result<String, Invalid> {
    bounded_text(raw, 32)
}

super::stored::stored_as_text!(Role, "role");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lower_case_and_bounded() {
        assert_eq!(Username::parse(" Zhang.Wei ").unwrap().as_str(), "zhang.wei");
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse(&"a".repeat(33)).is_err());
        assert!(Username::parse("_admin").is_err());
        assert!(Username::parse("张伟").is_err());
        assert!(Username::parse("li wei").is_err());
        assert!(Username::parse("wang-fang_2").is_ok());
    }

    #[test]
    fn passwords_need_eight_to_128_characters() {
        assert_eq!(Password::parse("1234567").unwrap_err().code, "too_short");
        assert!(Password::parse("12345678").is_ok());
        // Characters, not bytes: eight Chinese characters are enough.
        assert!(Password::parse("军门社区居民服务").is_ok());
        assert_eq!(Password::parse(&"x".repeat(129)).unwrap_err().code, "too_long");
        assert!(!format!("{:?}", Password::parse("secret-password").unwrap()).contains("secret"));
    }

    #[test]
    fn phones_accept_mainland_mobiles_and_e164() {
        assert_eq!(Phone::parse("13812341234").unwrap().as_str(), "13812341234");
        assert_eq!(Phone::parse("138 1234 1234").unwrap().as_str(), "13812341234");
        assert_eq!(Phone::parse("+86 138-1234-1234").unwrap().as_str(), "13812341234");
        assert_eq!(Phone::parse("+85291234567").unwrap().as_str(), "+85291234567");
        for bad in [
            "12812341234",
            "1381234123",
            "138123412345",
            "+8612812341234",
            "+0123456789",
            "abc",
            "",
            "+1234567",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn phones_are_masked_in_the_middle() {
        assert_eq!(mask_phone("13812341234"), "138****1234");
        assert_eq!(mask_phone("+85291234567"), "+85*****4567");
        assert_eq!(mask_phone("12345"), "*****");
    }

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(display_name("  王芳 ").unwrap(), "王芳");
        assert_eq!(display_name("   ").unwrap_err().code, "required");
        assert_eq!(display_name(&"王".repeat(65)).unwrap_err().code, "too_long");
        assert!(display_name(&"王".repeat(64)).is_ok());
        assert_eq!(room("3-502\n1").unwrap_err().code, "control_characters");
    }

    #[test]
    fn the_documented_codes_are_those_the_parsers_answer() {
        let bad = ["", " \u{200b} ", &"x".repeat(5000), "a\u{1}b", "a\u{202e}b"];
        for parse in [|raw: &str| bounded_text(raw, 64), |raw: &str| multiline_text(raw, 64)] {
            let mut codes: Vec<&str> = bad.iter().filter_map(|raw| parse(raw).err()).map(|e| e.code).collect();
            codes.dedup();
            let mut documented = TEXT_CODES.to_vec();
            documented.sort_unstable();
            codes.sort_unstable();
            codes.dedup();
            assert_eq!(codes, documented);
        }
        let mut codes: Vec<&str> = ["short", &"x".repeat(129)]
            .iter()
            .filter_map(|raw| Password::parse(raw).err())
            .map(|e| e.code)
            .collect();
        codes.sort_unstable();
        let mut documented = PASSWORD_CODES.to_vec();
        documented.sort_unstable();
        assert_eq!(codes, documented);
    }

    #[test]
    fn roles_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert!(Role::Staff.holds_posts() && Role::Admin.holds_posts());
        assert!(!Role::Resident.holds_posts() && !Role::Superadmin.holds_posts());
    }

    #[test]
    fn one_line_texts_read_as_they_are_stored() {
        let code = |raw: &str| bounded_text(raw, 64).map_err(|e| e.code);
        assert_eq!(
            code("\u{202e}cba"),
            Err("control_characters"),
            "a right-to-left override"
        );
        assert_eq!(code("王\u{2066}芳\u{2069}"), Err("control_characters"), "an isolate");
        assert_eq!(code("a\u{200f}"), Err("control_characters"), "a direction mark");
        assert_eq!(
            code("第一行\u{2028}第二行"),
            Err("control_characters"),
            "a line separator"
        );
        assert_eq!(code("甲\u{2029}乙"), Err("control_characters"), "a paragraph separator");
        assert_eq!(code("\u{2029}"), Err("required"), "white space alone");
        assert_eq!(code("\u{200b}\u{feff}"), Err("required"), "nothing visible");
        assert_eq!(code(" \u{200d} "), Err("required"));
        assert_eq!(
            code("王\u{200d}芳"),
            Ok("王\u{200d}芳".to_owned()),
            "a joiner inside visible text"
        );
        assert_eq!(code("Jose\u{301}"), Ok("Jos\u{e9}".to_owned()), "NFC");
        assert_eq!(
            multiline_text("第一段\u{2028}第二段", 100).map_err(|e| e.code),
            Ok("第一段\u{2028}第二段".to_owned()),
            "long texts keep their separators"
        );
        assert_eq!(
            multiline_text("Cafe\u{301}", 100).map_err(|e| e.code),
            Ok("Caf\u{e9}".to_owned())
        );
    }
}

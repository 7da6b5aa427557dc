//! Search tokens for `q=` (全文检索): what a ticket's texts are indexed
//! under and what a query asks the index for.
//!
//! Neither database has a Chinese tokenizer here (Debian's PostgreSQL 15
//! ships no zhparser or pg_bigm; a trigram index cannot serve 漏水), so the
//! tokens are made in Rust when a ticket is written and stored as a
//! space-separated list, which SQLite's FTS5 (`ascii` tokenizer) and
//! PostgreSQL's GIN (`array_to_tsvector`) index word for word.
//!
//! - Chinese, Japanese and Korean characters (Han, kana, Hangul): every
//!   character and every two adjacent characters of a run. A query of one
//!   character asks for it; a longer run asks for all its pairs, so 漏水
//!   finds 漏水 and 楼道漏水 finds texts holding 楼道, 道漏 and 漏水.
//!   Single characters are indexed too (rather than found as pair
//!   prefixes) so that 漏 is one posting list on both databases, also at
//!   the end of a run (渗漏。).
//! - Letters and digits: lower-cased words (their first 32 characters),
//!   split where letters meet digits and at anything else (`1-602` is `1`
//!   and `602`, `B302` is `b` and `302`). A query's words must each begin a word of the text; its last
//!   word may be unfinished (`wat` finds `water`, `1-60` finds `1-602`).
//! - Anything else (spaces, punctuation, symbols) separates and is not
//!   indexed: a query of nothing else has no tokens and matches nothing.
//!
//! The index only narrows. The list then confirms each candidate with the
//! plain substring match (`LIKE '%q%'`), so pairs found apart (楼道…道漏…
//! 漏水) or words in another order never make a false hit.

use std::collections::BTreeSet;

/// How a character takes part in search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Written without spaces between words: indexed by characters and pairs.
    Ideograph,
    Letter,
    Digit,
    Separator,
}

fn class(c: char) -> Class {
    if is_ideograph(c) {
        Class::Ideograph
    } else if c.is_alphabetic() {
        Class::Letter
    } else if c.is_numeric() {
        Class::Digit
    } else {
        Class::Separator
    }
}

/// Han (with 〇 and 々), kana, Hangul and Bopomofo.
fn is_ideograph(c: char) -> bool {
    matches!(c,
        '\u{3005}' | '\u{3007}'
        | '\u{3040}'..='\u{30FF}'   // hiragana, katakana
        | '\u{3100}'..='\u{312F}'   // bopomofo
        | '\u{31A0}'..='\u{31BF}'
        | '\u{31F0}'..='\u{31FF}'
        | '\u{3400}'..='\u{4DBF}'   // Han extension A
        | '\u{4E00}'..='\u{9FFF}'   // Han
        | '\u{1100}'..='\u{11FF}'   // Hangul jamo
        | '\u{AC00}'..='\u{D7AF}'   // Hangul syllables
        | '\u{F900}'..='\u{FAFF}'   // Han compatibility
        | '\u{20000}'..='\u{3134F}' // Han extensions B–H
    )
}

/// Words are indexed and asked for by at most their first this many
/// characters (a word in a description may be thousands long; PostgreSQL
/// keeps a lexeme to 2 KB). The same cut on both sides keeps every match.
const MAX_WORD_CHARS: usize = 32;

/// A maximal run of characters of one class (separators dropped), with
/// whether the text goes on right after it.
struct Run {
    class: Class,
    chars: Vec<char>,
    last: bool,
}

/// The runs of `text`, lower-cased first (as the substring match is).
fn runs(text: &str) -> Vec<Run> {
    let lower = text.to_lowercase();
    let mut runs: Vec<Run> = Vec::new();
    let mut previous = Class::Separator;
    for c in lower.chars() {
        let class = class(c);
        if class != Class::Separator {
            match runs.last_mut() {
                Some(run) if class == previous => run.chars.push(c),
                _ => runs.push(Run {
                    class,
                    chars: vec![c],
                    last: false,
                }),
            }
        }
        previous = class;
    }
    if previous != Class::Separator
        && let Some(run) = runs.last_mut()
    {
        run.last = true;
    }
    for run in &mut runs {
        if run.class != Class::Ideograph {
            run.chars.truncate(MAX_WORD_CHARS);
        }
    }
    runs
}

/// The index tokens of a record's texts, sorted, without repeats, separated
/// by one space: what is stored for the index. Empty when the texts hold no
/// letter, digit or character.
pub fn index_tokens<'a>(texts: impl IntoIterator<Item = &'a str>) -> String {
    let mut tokens = BTreeSet::new();
    for text in texts {
        for run in runs(text) {
            match run.class {
                Class::Ideograph => {
                    for (i, c) in run.chars.iter().enumerate() {
                        tokens.insert(c.to_string());
                        if let Some(next) = run.chars.get(i + 1) {
                            tokens.insert([*c, *next].iter().collect());
                        }
                    }
                }
                _ => {
                    tokens.insert(run.chars.iter().collect());
                }
            }
        }
    }
    tokens.into_iter().collect::<Vec<String>>().join(" ")
}

/// One token a query asks the index for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Term {
    /// Lower-case letters or digits, or one or two characters: never a
    /// space, quote or other punctuation.
    pub token: String,
    /// Any token beginning with `token` (the query's unfinished last word).
    pub prefix: bool,
}

/// What a search text asks the index for: every term (AND).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    terms: Vec<Term>,
}

impl SearchQuery {
    /// The terms of `q`, or `None` when it holds no letter, digit or
    /// character (such a text matches nothing).
    pub fn parse(q: &str) -> Option<Self> {
        let mut terms = BTreeSet::new();
        for run in runs(q) {
            match run.class {
                Class::Ideograph if run.chars.len() == 1 => {
                    terms.insert(Term {
                        token: run.chars.iter().collect(),
                        prefix: false,
                    });
                }
                Class::Ideograph => {
                    for pair in run.chars.windows(2) {
                        terms.insert(Term {
                            token: pair.iter().collect(),
                            prefix: false,
                        });
                    }
                }
                _ => {
                    terms.insert(Term {
                        token: run.chars.iter().collect(),
                        prefix: run.last,
                    });
                }
            }
        }
        // A word asked for whole is also found by its own prefix: keep the
        // exact term only.
        let exact: BTreeSet<String> = terms.iter().filter(|t| !t.prefix).map(|t| t.token.clone()).collect();
        terms.retain(|t| !(t.prefix && exact.contains(&t.token)));
        (!terms.is_empty()).then(|| Self {
            terms: terms.into_iter().collect(),
        })
    }

    pub fn terms(&self) -> &[Term] {
        &self.terms
    }

    /// Whether a record indexed under `tokens` (as [`index_tokens`] makes
    /// them) can hold the text: what the database index answers, in Rust.
    pub fn may_match(&self, tokens: &str) -> bool {
        let tokens: Vec<&str> = tokens.split(' ').collect();
        self.terms.iter().all(|term| {
            tokens.iter().any(|t| {
                if term.prefix {
                    t.starts_with(term.token.as_str())
                } else {
                    *t == term.token
                }
            })
        })
    }
}

/// A search text as the lists take it: its parts (split at white space),
/// each of which must be found, in any order and in any one searchable
/// field. Parts without a letter, digit or character are left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    parts: Vec<SearchPart>,
}

/// One part of a search text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPart {
    /// As typed: the substring a field must hold (compared lower-cased).
    pub text: String,
    /// What the index is asked for it.
    pub query: SearchQuery,
}

impl Search {
    /// The parts of `q`, or `None` when no part holds a letter, digit or
    /// character (such a text matches nothing).
    pub fn parse(q: &str) -> Option<Self> {
        let mut parts: Vec<SearchPart> = Vec::new();
        for text in q.split_whitespace() {
            let Some(query) = SearchQuery::parse(text) else {
                continue;
            };
            if parts.iter().all(|p| p.text != text) {
                parts.push(SearchPart {
                    text: text.to_owned(),
                    query,
                });
            }
        }
        (!parts.is_empty()).then_some(Self { parts })
    }

    pub fn parts(&self) -> &[SearchPart] {
        &self.parts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(q: &str) -> Vec<(String, bool)> {
        SearchQuery::parse(q)
            .map(|s| s.terms.into_iter().map(|t| (t.token, t.prefix)).collect())
            .unwrap_or_default()
    }

    fn exact(tokens: &[&str]) -> Vec<(String, bool)> {
        tokens.iter().map(|t| ((*t).to_owned(), false)).collect()
    }

    #[test]
    fn chinese_is_indexed_by_characters_and_pairs() {
        assert_eq!(index_tokens(["楼道漏水"]), "楼 楼道 水 漏 漏水 道 道漏");
        assert_eq!(index_tokens(["漏"]), "漏");
        // Punctuation ends a run: no pair across it.
        assert_eq!(index_tokens(["漏水，噪音"]), "噪 噪音 水 漏 漏水 音");
    }

    #[test]
    fn words_and_digits_are_lower_cased_and_split() {
        assert_eq!(index_tokens(["Water LEAK, room B302"]), "302 b leak room water");
        assert_eq!(index_tokens(["1-602"]), "1 602");
        assert_eq!(index_tokens(["3号楼602室"]), "3 602 号 号楼 室 楼");
        assert_eq!(index_tokens(["Wi-Fi 50%"]), "50 fi wi");
    }

    #[test]
    fn texts_are_indexed_apart_and_tokens_kept_once() {
        // No pair across two texts (title 漏 / description 水).
        assert_eq!(index_tokens(["漏", "水"]), "水 漏");
        assert_eq!(index_tokens(["漏水", "漏水 leak", "LEAK"]), "leak 水 漏 漏水");
        assert_eq!(index_tokens(["", "  ，。%_ "]), "");
    }

    #[test]
    fn queries_ask_for_pairs_or_the_one_character() {
        assert_eq!(terms("漏水"), exact(&["漏水"]));
        assert_eq!(terms("楼道漏水"), exact(&["楼道", "漏水", "道漏"]));
        assert_eq!(terms("漏"), exact(&["漏"]));
        assert_eq!(terms(" 噪音 "), exact(&["噪音"]));
    }

    #[test]
    fn the_last_word_of_a_query_may_be_unfinished() {
        assert_eq!(terms("Wat"), vec![("wat".to_owned(), true)]);
        assert_eq!(terms("1-602"), vec![("1".to_owned(), false), ("602".to_owned(), true)]);
        assert_eq!(
            terms("602 室"),
            vec![("602".to_owned(), false), ("室".to_owned(), false)]
        );
        assert_eq!(terms("b3"), vec![("3".to_owned(), true), ("b".to_owned(), false)]);
        // The same word finished earlier in the query is asked for exactly.
        assert_eq!(terms("1-1"), vec![("1".to_owned(), false)]);
    }

    #[test]
    fn long_words_are_cut_alike_in_texts_and_queries() {
        let word = "a".repeat(3_000);
        let tokens = index_tokens([word.as_str()]);
        assert_eq!(tokens, "a".repeat(MAX_WORD_CHARS));
        for q in [word.as_str(), &word[..40], &word[..10], &format!("{} b", &word[..100])] {
            let query = SearchQuery::parse(q).unwrap();
            assert!(query.terms().iter().all(|t| t.token.chars().count() <= MAX_WORD_CHARS));
            assert!(query.may_match(&format!("{tokens} b")), "{}", q.len());
        }
    }

    #[test]
    fn a_query_without_letters_digits_or_characters_asks_nothing() {
        for q in ["", " ", "%", "_", "%_%", "-", "，。！", "\\"] {
            assert_eq!(SearchQuery::parse(q), None, "{q:?}");
        }
        assert_eq!(terms("50%"), vec![("50".to_owned(), false)]);
    }

    #[test]
    fn terms_hold_no_character_that_needs_quoting() {
        let q = SearchQuery::parse("a\"b' c*d (e) 漏\"水 x:y -1 {z}").unwrap();
        for term in q.terms() {
            assert!(term.token.chars().all(|c| c.is_alphanumeric()), "{:?}", term.token);
        }
    }

    /// The promise the index rests on: whenever a text holds the query as a
    /// substring (lower-cased) with the query's words starting words of the
    /// text, the text's tokens hold every term. Checked on every substring
    /// of some texts that begins at a word's start.
    #[test]
    fn every_substring_of_a_text_is_found_by_its_tokens() {
        let texts = [
            "楼道漏水，影响3号楼602室。Water leak at B302!",
            "电动车楼道充电 1-602 王芳",
            "Noise 噪音 after 22:00, 楼上装修。",
            "こんにちは 한국어 Ünïcödé İstanbul",
        ];
        for text in texts {
            let tokens = index_tokens([text]);
            let chars: Vec<char> = text.chars().collect();
            for start in 0..chars.len() {
                // A word (letters or digits) must be entered at its start.
                let c = class(chars[start]);
                if start > 0 && matches!(c, Class::Letter | Class::Digit) && class(chars[start - 1]) == c {
                    continue;
                }
                for end in start + 1..=chars.len() {
                    let q: String = chars[start..end].iter().collect();
                    if let Some(query) = SearchQuery::parse(&q) {
                        assert!(query.may_match(&tokens), "{q:?} in {text:?}: {query:?} vs {tokens}");
                    }
                }
            }
        }
    }

    #[test]
    fn texts_without_the_words_are_not_candidates() {
        let tokens = index_tokens(["楼上漏水", "卫生间漏水到我家天花板"]);
        assert!(!SearchQuery::parse("噪音").unwrap().may_match(&tokens));
        assert!(!SearchQuery::parse("漏电").unwrap().may_match(&tokens));
        let room = index_tokens(["11-602"]);
        assert!(!SearchQuery::parse("1-602").unwrap().may_match(&room));
        assert!(SearchQuery::parse("11-60").unwrap().may_match(&room));
        assert!(!SearchQuery::parse("02").unwrap().may_match(&room));
    }

    #[test]
    fn a_search_is_its_parts_each_to_be_found() {
        let search = Search::parse("  楼道  漏水 % 漏水 ").unwrap();
        let texts: Vec<&str> = search.parts().iter().map(|p| p.text.as_str()).collect();
        assert_eq!(texts, ["楼道", "漏水"]);
        assert_eq!(search.parts()[0].query, SearchQuery::parse("楼道").unwrap());
        assert_eq!(Search::parse("% _ ，"), None);
        assert_eq!(Search::parse(""), None);
    }
}

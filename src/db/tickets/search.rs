//! The search index of tickets (`ticket_search`, migration 000015): the
//! tokens of `domain::search` stored with every write that changes the
//! texts they come from, the start-up backfill of tickets filed before the
//! index existed, and the `q` condition of the lists.
//!
//! SQLite keeps the tokens in a contentless FTS5 table whose rowid is the
//! ticket id; PostgreSQL in a table with one `tsvector` and a GIN index.
//! Both keep three kinds apart: `body` (title, description, location),
//! `reporter` (the reporter's name and room), kept apart so that a name
//! matches only where the caller may see the reporter, and `scope`: who
//! may list the ticket, as tokens (`c<community>`, `u<unit>` for every
//! unit it has been at, `r<reporter>`, `p<party>`), so that a search by a
//! household worker or a resident intersects in the index with the few
//! tickets they may read instead of walking everyone's hits. The lists'
//! SQL still decides visibility; these only narrow.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::db::fragment::Fragment;
use crate::db::models::{TicketRow, UserRow};
use crate::db::schema::{dispute_parties, settings, ticket_visits, tickets, units, users};
use crate::db::{AnyConnection, write_transaction};
use crate::domain::grid::is_server_path;
use crate::domain::search::{Search, SearchQuery, index_tokens};
use crate::error::ApiError;
use crate::policy::tickets::TicketScope;

/// Where the start-up backfill goes on: tickets with a smaller id may have
/// no tokens yet. Set by the migration, removed when the walk is done.
pub const BACKFILL_SETTING: &str = "ticket_search_backfill_below";
const BACKFILL_BATCH: i64 = 2_000;

/// A ticket's tokens, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SearchEntry {
    ticket_id: i64,
    body: String,
    reporter: String,
    scope: String,
}

/// Reporter and scope tokens, and twins ([`BUCKET`]), in PostgreSQL's one
/// list: after `@`, `#` and `%`, with which no token of a text begins
/// (they hold letters, digits and ideographs only).
const PG_REPORTER: &str = "@";
const PG_SCOPE: &str = "#";
const PG_TWIN: &str = "%";

impl SearchEntry {
    fn postgres_tokens(&self) -> String {
        let mut tokens: Vec<String> = self.body.split_whitespace().map(str::to_owned).collect();
        tokens.extend(self.reporter.split_whitespace().map(|t| format!("{PG_REPORTER}{t}")));
        let bucket = self.ticket_id / BUCKET;
        let twins: Vec<String> = tokens.iter().map(|t| twin_token(bucket, t)).collect();
        tokens.extend(twins);
        tokens.extend(self.scope.split_whitespace().map(|t| format!("{PG_SCOPE}{t}")));
        tokens.join(" ")
    }
}

/// What a ticket's tokens are made from, as read.
#[derive(Queryable)]
struct TicketTexts {
    id: i64,
    title: String,
    description: String,
    location: Option<String>,
    community_id: i64,
    reporter_id: i64,
    reporter_name: String,
    reporter_room: Option<String>,
}

impl TicketTexts {
    /// With the units it has been at and the residents party to it.
    fn entry(&self, units: &[i64], parties: &[i64]) -> SearchEntry {
        let mut scope = vec![format!("c{}", self.community_id), format!("r{}", self.reporter_id)];
        scope.extend(units.iter().map(|u| format!("u{u}")));
        scope.extend(parties.iter().map(|p| format!("p{p}")));
        scope.sort();
        scope.dedup();
        SearchEntry {
            ticket_id: self.id,
            body: index_tokens([
                self.title.as_str(),
                self.description.as_str(),
                self.location.as_deref().unwrap_or_default(),
            ]),
            reporter: index_tokens([
                self.reporter_name.as_str(),
                self.reporter_room.as_deref().unwrap_or_default(),
            ]),
            scope: scope.join(" "),
        }
    }
}

/// Makes the tokens of these tickets again from what the database holds
/// now, in the caller's transaction: after filing, a visit, a new party,
/// or a change of the reporter's name. Any number of ids.
pub fn reindex(conn: &mut AnyConnection, ticket_ids: &[i64]) -> QueryResult<()> {
    for ids in ticket_ids.chunks(1_000) {
        let rows: Vec<TicketTexts> = tickets::table
            .inner_join(users::table.on(users::id.eq(tickets::reporter_id)))
            .filter(tickets::id.eq_any(ids))
            .select((
                tickets::id,
                tickets::title,
                tickets::description,
                tickets::location,
                tickets::community_id,
                tickets::reporter_id,
                users::display_name,
                users::room,
            ))
            .load(conn)?;
        let mut units: HashMap<i64, Vec<i64>> = HashMap::new();
        for (ticket, unit) in ticket_visits::table
            .filter(ticket_visits::ticket_id.eq_any(ids))
            .select((ticket_visits::ticket_id, ticket_visits::unit_id))
            .load::<(i64, i64)>(conn)?
        {
            units.entry(ticket).or_default().push(unit);
        }
        let mut parties: HashMap<i64, Vec<i64>> = HashMap::new();
        for (ticket, user) in dispute_parties::table
            .filter(dispute_parties::ticket_id.eq_any(ids))
            .filter(dispute_parties::user_id.is_not_null())
            .select((dispute_parties::ticket_id, dispute_parties::user_id))
            .load::<(i64, Option<i64>)>(conn)?
        {
            parties.entry(ticket).or_default().extend(user);
        }
        let entries: Vec<SearchEntry> = rows
            .iter()
            .map(|t| {
                t.entry(
                    units.get(&t.id).map_or(&[], Vec::as_slice),
                    parties.get(&t.id).map_or(&[], Vec::as_slice),
                )
            })
            .collect();
        store(conn, &entries)?;
    }
    Ok(())
}

/// The tokens of a ticket just filed, from the rows the filing holds (the
/// same entry [`reindex`] makes from what the database holds): what
/// `tickets::insert_filed` writes in the filing's transaction.
pub struct NewEntry(SearchEntry);

impl NewEntry {
    pub fn of(ticket: &TicketRow, reporter: &UserRow, units: &[i64], parties: &[i64]) -> Self {
        let texts = TicketTexts {
            id: ticket.id,
            title: ticket.title.clone(),
            description: ticket.description.clone(),
            location: ticket.location.clone(),
            community_id: ticket.community_id,
            reporter_id: reporter.id,
            reporter_name: reporter.display_name.clone(),
            reporter_room: reporter.room.clone(),
        };
        Self(texts.entry(units, parties))
    }

    // A new id has no tokens yet (ids are never reused): a plain insert,
    // written with diesel's DSL so that it is prepared once per connection.

    pub(in crate::db) fn insert_sqlite(&self, c: &mut diesel::SqliteConnection) -> QueryResult<()> {
        let entry = &self.0;
        diesel::insert_into(ticket_search::table)
            .values((
                ticket_search::rowid.eq(entry.ticket_id),
                ticket_search::body.eq(&entry.body),
                ticket_search::reporter.eq(&entry.reporter),
                ticket_search::scope.eq(&entry.scope),
            ))
            .execute(c)
            .map(drop)
    }

    /// The insert on PostgreSQL, to run or to put before another statement.
    pub(in crate::db) fn postgres_insert(
        &self,
    ) -> impl diesel::query_builder::QueryFragment<diesel::pg::Pg> + diesel::query_builder::QueryId + use<> {
        diesel::insert_into(pg::ticket_search::table).values((
            pg::ticket_search::ticket_id.eq(self.0.ticket_id),
            pg::ticket_search::tokens.eq(pg::array_to_tsvector(pg::string_to_array(
                self.0.postgres_tokens(),
                " ",
            ))),
        ))
    }
}

/// Stores the tokens of these tickets, replacing any they had.
fn store(conn: &mut AnyConnection, entries: &[SearchEntry]) -> QueryResult<()> {
    // Placeholders are written out (`?` for SQLite, `$n` for PostgreSQL);
    // at most 4 binds a row, well within both databases' limits.
    for chunk in entries.chunks(500) {
        match conn {
            AnyConnection::Sqlite(c) => {
                // Contentless FTS5 has no upsert: delete what is there first.
                let ids: Vec<String> = chunk.iter().map(|e| e.ticket_id.to_string()).collect();
                diesel::sql_query(format!("DELETE FROM ticket_search WHERE rowid IN ({})", ids.join(", ")))
                    .execute(c)?;
                let mut insert = diesel::sql_query("INSERT INTO ticket_search (rowid, body, reporter, scope) VALUES ")
                    .into_boxed::<diesel::sqlite::Sqlite>();
                for (i, e) in chunk.iter().enumerate() {
                    insert = insert
                        .sql(if i == 0 { "(?, ?, ?, ?)" } else { ", (?, ?, ?, ?)" })
                        .bind::<BigInt, _>(e.ticket_id)
                        .bind::<Text, _>(e.body.clone())
                        .bind::<Text, _>(e.reporter.clone())
                        .bind::<Text, _>(e.scope.clone());
                }
                insert.execute(c)?;
            }
            AnyConnection::Postgres(c) => {
                let mut insert = diesel::sql_query("INSERT INTO ticket_search (ticket_id, tokens) VALUES ")
                    .into_boxed::<diesel::pg::Pg>();
                for (i, e) in chunk.iter().enumerate() {
                    let comma = if i == 0 { "" } else { ", " };
                    insert = insert
                        .sql(format!(
                            "{comma}(${}, array_to_tsvector(string_to_array(${}, ' ')))",
                            2 * i + 1,
                            2 * i + 2
                        ))
                        .bind::<BigInt, _>(e.ticket_id)
                        .bind::<Text, _>(e.postgres_tokens());
                }
                insert
                    .sql(" ON CONFLICT (ticket_id) DO UPDATE SET tokens = excluded.tokens")
                    .execute(c)?;
            }
        }
    }
    Ok(())
}

/// Tokens again for every ticket `user_id` reported, in the caller's
/// transaction: after their name or room changed, so that the index finds
/// them by the name they have now.
pub fn reindex_reporter(conn: &mut AnyConnection, user_id: i64) -> QueryResult<()> {
    let mut after = 0;
    loop {
        let ids: Vec<i64> = tickets::table
            .filter(tickets::reporter_id.eq(user_id))
            .filter(tickets::id.gt(after))
            .order(tickets::id.asc())
            .limit(BACKFILL_BATCH)
            .select(tickets::id)
            .load(conn)?;
        let Some(last) = ids.last().copied() else {
            return Ok(());
        };
        reindex(conn, &ids)?;
        after = last;
    }
}

/// Gives tickets filed before the index existed their tokens, newest first,
/// one batch a transaction (so a restart goes on where it stopped, and
/// replicas starting together take turns instead of repeating each other).
/// Returns how many tickets it indexed; nothing to do costs one read.
pub fn backfill(conn: &mut AnyConnection) -> Result<u64, ApiError> {
    let started = std::time::Instant::now();
    let mut done = 0u64;
    while let Some(n) = write_transaction(conn, backfill_batch)? {
        if done == 0 {
            tracing::info!("indexing existing tickets for search");
        }
        done += n;
        if done % 100_000 < n {
            tracing::info!(tickets = done, "indexed for search");
        }
    }
    if done > 0 {
        tracing::info!(
            tickets = done,
            seconds = started.elapsed().as_secs_f64(),
            "search index complete"
        );
    }
    Ok(done)
}

/// One batch below the mark; `None` when there is no mark (left).
fn backfill_batch(conn: &mut AnyConnection) -> Result<Option<u64>, ApiError> {
    let mark = match conn {
        // Another replica's batch waits on this row until it commits.
        AnyConnection::Postgres(c) => settings::table
            .find(BACKFILL_SETTING)
            .select(settings::value)
            .for_update()
            .first::<String>(c)
            .optional()?,
        AnyConnection::Sqlite(c) => settings::table
            .find(BACKFILL_SETTING)
            .select(settings::value)
            .first::<String>(c)
            .optional()?,
    };
    let Some(mark) = mark else { return Ok(None) };
    let below: i64 = mark
        .parse()
        .map_err(|_| ApiError::internal(format!("{BACKFILL_SETTING} holds {mark:?}, not a ticket id")))?;
    let ids: Vec<i64> = tickets::table
        .filter(tickets::id.lt(below))
        .order(tickets::id.desc())
        .limit(BACKFILL_BATCH)
        .select(tickets::id)
        .load(conn)?;
    reindex(conn, &ids)?;
    let setting = settings::table.find(BACKFILL_SETTING);
    match ids.last() {
        Some(last) if ids.len() as i64 == BACKFILL_BATCH => {
            diesel::update(setting)
                .set(settings::value.eq(last.to_string()))
                .execute(conn)?;
        }
        _ => {
            diesel::delete(setting).execute(conn)?;
        }
    }
    Ok(Some(ids.len() as u64))
}

// ---------------------------------------------------------------- the query

/// A token as a quoted string of FTS5's or PostgreSQL's query syntax.
/// Tokens hold only letters, digits and ideographs (`domain::search`);
/// quotes are doubled all the same, so no token can leave its string.
fn quoted(token: &str, quote: char) -> String {
    let doubled: String = [quote, quote].iter().collect();
    format!("{quote}{}{quote}", token.replace(quote, &doubled))
}

/// One part as FTS5 asks it: every term (a prefix term with `*`).
fn fts5_terms(query: &SearchQuery) -> String {
    let terms: Vec<String> = query
        .terms()
        .iter()
        .map(|t| format!("{}{}", quoted(&t.token, '"'), if t.prefix { "*" } else { "" }))
        .collect();
    terms.join(" AND ")
}

diesel::table! {
    /// SQLite's index as diesel joins it (and inserts a new ticket's
    /// tokens): the FTS5 table's rowid is the ticket's id. Its columns read
    /// as NULL (the table is contentless); only `rowid` is ever selected.
    /// (PostgreSQL's `ticket_search` is read through SQL text.)
    ticket_search (rowid) {
        rowid -> BigInt,
        body -> Text,
        reporter -> Text,
        scope -> Text,
    }
}

/// PostgreSQL's `ticket_search`, as a new ticket's tokens are inserted.
mod pg {
    use diesel::sql_types::{Array, Text};

    /// PostgreSQL's `tsvector`.
    #[derive(diesel::sql_types::SqlType, diesel::query_builder::QueryId)]
    #[diesel(postgres_type(name = "tsvector"))]
    pub struct Tsvector;

    diesel::table! {
        use diesel::sql_types::BigInt;
        use super::Tsvector;

        ticket_search (ticket_id) {
            ticket_id -> BigInt,
            tokens -> Tsvector,
        }
    }

    diesel::define_sql_function! {
        fn string_to_array(text: Text, separator: Text) -> Array<Text>;
    }
    diesel::define_sql_function! {
        fn array_to_tsvector(words: Array<Text>) -> Tsvector;
    }
}

diesel::allow_tables_to_appear_in_same_query!(ticket_search, tickets);

/// More units than this in a caller's subtrees, and the index is not
/// asked to narrow by them (the lists' SQL still does).
const MAX_SCOPE_TOKENS: usize = 500;

/// The `scope` tokens of the tickets `scope` may list (any one of them),
/// or `None` to leave the column out: everyone's tickets, too many units,
/// or none at all (the lists' SQL then finds nothing anyway).
pub fn scope_tokens(conn: &mut AnyConnection, scope: &TicketScope) -> QueryResult<Option<Vec<String>>> {
    let mut tokens = Vec::new();
    match scope {
        TicketScope::All => return Ok(None),
        TicketScope::Resident { user_id, party } => {
            tokens.push(format!("r{user_id}"));
            if *party {
                tokens.push(format!("p{user_id}"));
            }
        }
        TicketScope::Staff { communities, prefixes } => {
            tokens.extend(communities.iter().map(|c| format!("c{c}")));
            for prefix in prefixes.iter().filter(|p| is_server_path(p)) {
                let units: Vec<i64> = units::table
                    .filter(units::path.like(format!("{prefix}%")))
                    .select(units::id)
                    .load(conn)?;
                tokens.extend(units.into_iter().map(|u| format!("u{u}")));
                if tokens.len() > MAX_SCOPE_TOKENS {
                    return Ok(None);
                }
            }
        }
    }
    Ok((!tokens.is_empty()).then_some(tokens))
}

/// What FTS5 is asked (`ticket_search MATCH`): every part's terms, all in
/// the body column or all in the reporter column; and one of the scope
/// tokens, if any.
pub fn fts5_match(search: &Search, scope: Option<&[String]>) -> String {
    let mut parts: Vec<String> = search
        .parts()
        .iter()
        .map(|p| {
            let terms = fts5_terms(&p.query);
            format!("((body : ({terms})) OR (reporter : ({terms})))")
        })
        .collect();
    if let Some(scope) = scope {
        let any: Vec<String> = scope.iter().map(|t| quoted(t, '"')).collect();
        parts.push(format!("(scope : ({}))", any.join(" OR ")));
    }
    parts.join(" AND ")
}

/// PostgreSQL: tickets are grouped by id, this many to a bucket, and each
/// text and reporter token of a ticket has a twin inside the ticket's
/// bucket (`%<id / BUCKET>/<token>`, migration 000026). A GIN scan costs
/// what the rarest token it must find holds, walked whole: 漏水 with a
/// token of every ticket of a bucket of 10,000 (`#b`, migration 000025,
/// no longer asked nor written) cost those 10,000 (4 ms at 1,000,000
/// tickets; all 71,404 hits of 漏水, 12 ms). A twin holds only the word's
/// hits in its bucket, so the newest hits of a word are read, in order,
/// from the newest buckets' twins at the cost of those hits (some 70 for
/// 漏水, in 7% of the tickets), and a bucket without any costs nothing.
pub const BUCKET: i64 = 1_000;

/// PostgreSQL: how many buckets each probe asks through the twins, newest
/// first, before the whole index is asked: one (a common word's page is
/// there), then a few more at a time (a word missing from the newest
/// tickets, a rarer one). Each probe is a round trip, so a miss costs
/// three more than asking the whole index alone.
pub const PROBES: [i64; 3] = [1, 2, 8];

/// A text or reporter token's twin inside `bucket`, as PostgreSQL stores
/// it (after `%`, with which no token of a text or query begins; a
/// reporter's keeps its `@`). Migration 000026 makes the same in SQL.
fn twin_token(bucket: i64, token: &str) -> String {
    format!("{PG_TWIN}{bucket}/{token}")
}

/// PostgreSQL: below the buckets asked first, at most this many hits are
/// read from the index at once and listed by id; a word with more is
/// walked, at most [`WALK`] tickets at a time (newest first, each looked up
/// in `ticket_search`).
pub const CANDIDATES: usize = 2_000;

/// PostgreSQL: tickets walked at most before the index is asked again.
pub const WALK: i64 = 50_000;

/// Where the newest hits below an id are, and how to list them.
#[derive(Debug, PartialEq, Eq)]
pub enum Newest {
    /// Every hit from `floor` up to the id asked below, as ids.
    Ids { ids: Vec<i64>, floor: i64 },
    /// So many hits from `floor` up to `top` that walking finds a page.
    Walk { top: i64, floor: i64 },
}

/// What PostgreSQL's index is asked for one search (a `tsquery`): every
/// part's terms, all in the texts or all in the reporter's; and one of the
/// scope tokens, if any. The scope stays in every probe, the newest
/// buckets' too: without it, a search by one community's staff would read
/// (and then drop) other communities' hits, its time would tell whether
/// they hold the words, and a page would take a round per `limit` of their
/// hits.
#[derive(Debug, Clone)]
pub struct PostgresQuery {
    search: Search,
    /// The scope tokens, any one of them, in `tsquery` syntax.
    scope: Option<String>,
    /// Over the whole index.
    whole: String,
}

impl PostgresQuery {
    pub fn new(search: &Search, scope: Option<&[String]>) -> Self {
        let scope = scope.map(|scope| {
            let any: Vec<String> = scope.iter().map(|t| quoted(&format!("{PG_SCOPE}{t}"), '\'')).collect();
            format!("({})", any.join(" | "))
        });
        let mut query = Self {
            search: search.clone(),
            scope,
            whole: String::new(),
        };
        query.whole = query.scoped(query.parts(|token| token.to_owned()));
        query
    }

    /// The query over the whole index.
    pub fn whole(&self) -> &str {
        &self.whole
    }

    /// The query inside the buckets `oldest..=newest` only, through the
    /// twins of its terms.
    fn in_buckets(&self, oldest: i64, newest: i64) -> String {
        let buckets: Vec<String> = (oldest..=newest)
            .rev()
            .map(|bucket| format!("({})", self.parts(|token| twin_token(bucket, token))))
            .collect();
        self.scoped(format!("({})", buckets.join(" | ")))
    }

    /// Every part's terms, each token as `stored` gives it (a reporter's
    /// with its `@`).
    fn parts(&self, stored: impl Fn(&str) -> String) -> String {
        let parts: Vec<String> = self
            .search
            .parts()
            .iter()
            .map(|p| {
                format!(
                    "(({}) | ({}))",
                    tsquery_terms(&p.query, |t| stored(t)),
                    tsquery_terms(&p.query, |t| stored(&format!("{PG_REPORTER}{t}")))
                )
            })
            .collect();
        parts.join(" & ")
    }

    fn scoped(&self, terms: String) -> String {
        match &self.scope {
            Some(scope) => format!("{terms} & {scope}"),
            None => terms,
        }
    }
}

/// The newest hits of `query` below `below` (the newest ticket when
/// `None`), enough for `wanted` rows if there are that many: the newest
/// buckets asked for their newest hits in order through the twins
/// ([`PROBES`]), then the rest of the index at once.
pub fn postgres_newest(
    conn: &mut diesel::PgConnection,
    query: &PostgresQuery,
    below: Option<i64>,
    wanted: usize,
) -> QueryResult<Newest> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    conn.transaction(|conn| {
        // Bitmap scans of the GIN index only: a walk of the primary key
        // looked cheaper to the planner for the newest hits in order and
        // took 171 ms for 漏水 in 1,000,000 tickets (the bitmap, 8 ms). No
        // JIT: the planner prices a prefix term's twins in eight buckets
        // past `jit_above_cost`, and compiling took 3-6 ms of a probe that
        // reads nothing. For this transaction only (`set_config(.., true)`);
        // in the same round trip, the newest id.
        let top: Top = diesel::sql_query(
            "SELECT current_setting('jit') AS jit, set_config('enable_seqscan', 'off', true), \
             set_config('enable_indexscan', 'off', true), set_config('jit', 'off', true), \
             (SELECT max(id) FROM tickets) AS id",
        )
        .get_result(conn)?;
        let below = below.unwrap_or(top.id.unwrap_or(0) + 1);
        let newest = newest_candidates(conn, query, below, wanted)?;
        let nested = AnsiTransactionManager::transaction_manager_status_mut(conn)
            .transaction_depth()
            .ok()
            .flatten()
            .is_some_and(|depth| depth.get() > 1);
        if nested {
            // A caller's transaction goes on: restored for its statements.
            diesel::sql_query(
                "SELECT set_config('enable_seqscan', 'on', true), set_config('enable_indexscan', 'on', true), \
                 set_config('jit', $1, true)",
            )
            .bind::<Text, _>(&top.jit)
            .execute(conn)?;
        }
        Ok(newest)
    })
}

#[derive(QueryableByName)]
struct Top {
    #[diesel(sql_type = Text)]
    jit: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<BigInt>)]
    id: Option<i64>,
}

fn newest_candidates(
    conn: &mut diesel::PgConnection,
    query: &PostgresQuery,
    below: i64,
    wanted: usize,
) -> QueryResult<Newest> {
    let mut ids = Vec::new();
    let mut top = below;
    for buckets in PROBES {
        if top <= 1 {
            return Ok(Newest::Ids { ids, floor: 0 });
        }
        let newest_bucket = (top - 1) / BUCKET;
        let oldest_bucket = (newest_bucket - buckets + 1).max(0);
        let asked = query.in_buckets(oldest_bucket, newest_bucket);
        let needed = wanted - ids.len();
        // `ticket_id + 0`: no index can answer it, so the GIN index
        // answers the probe. A bucket's twins are few whatever the words,
        // but the planner, guessing at eight buckets of a prefix term
        // (`zzqx:*`), took the primary key's range instead and tested all
        // 15,000 tickets below it: 17 ms against 0.2.
        let found: Vec<Candidate> = diesel::sql_query(format!(
            "SELECT ticket_id FROM ticket_search WHERE tokens @@ CAST({} AS tsquery) AND ticket_id + 0 < {top} \
             ORDER BY ticket_id DESC LIMIT {needed}",
            quoted(&asked, '\'')
        ))
        .load(conn)?;
        let full = found.len() >= needed;
        ids.extend(found.into_iter().map(|c| c.ticket_id));
        if full {
            // The newest `needed` hits below `top`: every hit down to the
            // last of them is here.
            let floor = ids.last().copied().unwrap_or(0);
            return Ok(Newest::Ids { ids, floor });
        }
        top = oldest_bucket * BUCKET;
    }
    if top <= 1 {
        return Ok(Newest::Ids { ids, floor: 0 });
    }
    Ok(match candidates(conn, query.whole(), top, CANDIDATES)? {
        None if !ids.is_empty() => Newest::Ids { ids, floor: top },
        None => Newest::Walk {
            top,
            floor: (top - WALK).max(0),
        },
        Some(found) => {
            ids.extend(found);
            Newest::Ids { ids, floor: 0 }
        }
    })
}

/// One part's terms in `tsquery` syntax, each token as `stored` gives it.
fn tsquery_terms(query: &SearchQuery, stored: impl Fn(&str) -> String) -> String {
    let terms: Vec<String> = query
        .terms()
        .iter()
        .map(|t| {
            let token = quoted(&stored(&t.token), '\'');
            format!("{token}{}", if t.prefix { ":*" } else { "" })
        })
        .collect();
    terms.join(" & ")
}

/// "The index holds the ticket" over `tickets`, looked up ticket by ticket:
/// a scalar subquery, which PostgreSQL never turns into a join, so the
/// tickets are walked newest first and cheaper conditions go first.
pub fn postgres_walk_sql(tsquery: &str) -> String {
    format!(
        "(SELECT s.tokens @@ CAST({} AS tsquery) FROM ticket_search s WHERE s.ticket_id = tickets.id)",
        quoted(tsquery, '\'')
    )
}

#[derive(QueryableByName)]
struct Candidate {
    #[diesel(sql_type = BigInt)]
    ticket_id: i64,
}

/// The tickets below `below` that PostgreSQL's index holds for `tsquery`,
/// if fewer than `bound`: read in one bitmap scan of the GIN index, never a
/// scan of the table (the planner guesses a token it has no statistics for
/// at 0.5% of the rows, and a miss then read all of them).
fn candidates(
    conn: &mut diesel::PgConnection,
    tsquery: &str,
    below: i64,
    bound: usize,
) -> QueryResult<Option<Vec<i64>>> {
    let found: Vec<Candidate> = diesel::sql_query(format!(
        "SELECT ticket_id FROM ticket_search WHERE tokens @@ CAST({} AS tsquery) AND ticket_id < {below} \
         LIMIT {bound}",
        quoted(tsquery, '\'')
    ))
    .load(conn)?;
    Ok((found.len() < bound).then(|| found.into_iter().map(|c| c.ticket_id).collect()))
}

/// "A text field holds the pattern, or the reporter's name or room does
/// and the caller may see the reporter" over `tickets`, the pattern bound
/// at each place. `sight` is where the caller sees reporters, `None` for
/// everywhere.
pub fn confirm(pattern: &str, sight: Option<Fragment>, cache: bool) -> Fragment {
    const LIKE: &str = " ESCAPE '\\' OR ";
    let mut condition = Fragment::new(cache)
        .sql("(lower(tickets.title) LIKE ")
        .text(pattern)
        .sql(LIKE)
        .sql("lower(tickets.description) LIKE ")
        .text(pattern)
        .sql(LIKE)
        .sql("lower(tickets.location) LIKE ")
        .text(pattern)
        .sql(LIKE);
    let close = match sight {
        Some(sight) => {
            condition = condition.sql("(").append(sight).sql(" AND ");
            ")"
        }
        None => "",
    };
    condition
        .sql("EXISTS (SELECT 1 FROM users WHERE users.id = tickets.reporter_id AND (lower(users.display_name) LIKE ")
        .text(pattern)
        .sql(LIKE)
        .sql("lower(users.room) LIKE ")
        .text(pattern)
        .sql(" ESCAPE '\\'))")
        .sql(close)
        .sql(")")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_quote_every_token() {
        let q = SearchQuery::parse("楼道漏水 1-60").unwrap();
        assert_eq!(fts5_terms(&q), r#""1" AND "60"* AND "楼道" AND "漏水" AND "道漏""#);
        assert_eq!(
            tsquery_terms(&q, |t| format!("@{t}")),
            "'@1' & '@60':* & '@楼道' & '@漏水' & '@道漏'"
        );
        assert_eq!(quoted("a\"b", '"'), r#""a""b""#);
        assert_eq!(quoted("it's", '\''), "'it''s'");
        let search = Search::parse("漏水 1-60").unwrap();
        assert_eq!(
            fts5_match(&search, None),
            r#"((body : ("漏水")) OR (reporter : ("漏水"))) AND ((body : ("1" AND "60"*)) OR (reporter : ("1" AND "60"*)))"#
        );
        let scope = ["c1".to_owned(), "u9".to_owned()];
        assert_eq!(
            fts5_match(&Search::parse("漏水").unwrap(), Some(&scope)),
            r#"((body : ("漏水")) OR (reporter : ("漏水"))) AND (scope : ("c1" OR "u9"))"#
        );
        let query = PostgresQuery::new(&Search::parse("漏水 1-60").unwrap(), Some(&scope));
        assert_eq!(
            query.whole(),
            "(('漏水') | ('@漏水')) & (('1' & '60':*) | ('@1' & '@60':*)) & ('#c1' | '#u9')"
        );
        // Inside buckets 7 and 8: the twins of the same terms, newest first.
        assert_eq!(
            query.in_buckets(7, 8),
            "(((('%8/漏水') | ('%8/@漏水')) & (('%8/1' & '%8/60':*) | ('%8/@1' & '%8/@60':*))) | \
             ((('%7/漏水') | ('%7/@漏水')) & (('%7/1' & '%7/60':*) | ('%7/@1' & '%7/@60':*)))) & ('#c1' | '#u9')"
        );
        assert_eq!(
            PostgresQuery::new(&Search::parse("漏").unwrap(), None).in_buckets(8, 8),
            "(((('%8/漏') | ('%8/@漏'))))"
        );
        assert_eq!(
            postgres_walk_sql("'a'"),
            "(SELECT s.tokens @@ CAST('''a''' AS tsquery) FROM ticket_search s WHERE s.ticket_id = tickets.id)"
        );
    }
}

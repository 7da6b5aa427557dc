//! The database itself: migrations run down and up again, and SQLite runs
//! with the durability and integrity settings we rely on.

use diesel::sql_types::{BigInt, Text};
use diesel::{QueryableByName, RunQueryDsl};
use diesel_migrations::MigrationHarness;
use griddesk::db::{AnyConnection, DatabaseUrl, Db, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};

use crate::support::TestDb;

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

fn tables(conn: &mut AnyConnection) -> Vec<String> {
    let mut names: Vec<String> = match conn {
        AnyConnection::Sqlite(c) => {
            // Virtual tables (the FTS5 search index) count; their shadow
            // tables are FTS5's own.
            diesel::sql_query(
                "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type IN ('table', 'virtual') \
                 AND name NOT LIKE 'sqlite_%'",
            )
            .load::<Name>(c)
        }
        AnyConnection::Postgres(c) => {
            diesel::sql_query("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'")
                .load::<Name>(c)
        }
    }
    .unwrap()
    .into_iter()
    .map(|n| n.name)
    .filter(|n| n != "__diesel_schema_migrations")
    .collect();
    names.sort();
    names
}

#[test]
fn migrations_run_down_and_up_again() {
    let test_db = TestDb::new();
    let db = Db::connect(&DatabaseUrl::parse(&test_db.url).unwrap(), 1).unwrap();
    let mut conn = db.maintenance_connection().unwrap();
    let expected = [
        "audit_answers",
        "audit_log",
        "categories",
        "devices",
        "dispute_agreements",
        "dispute_parties",
        "extension_requests",
        "follow_ups",
        "idempotency_keys",
        "limit_attempts",
        "mediation_sessions",
        "notifications",
        "password_witnesses",
        "posts",
        "refresh_tokens",
        "sessions",
        "settings",
        "sla_rules",
        "ticket_breaches",
        "ticket_events",
        "ticket_reach",
        "ticket_search",
        "ticket_visits",
        "tickets",
        "units",
        "users",
        "webhook_deliveries",
        "webhook_endpoints",
    ];
    assert_eq!(tables(&mut conn), expected);
    match &mut conn {
        AnyConnection::Sqlite(c) => {
            c.revert_all_migrations(SQLITE_MIGRATIONS).unwrap();
        }
        AnyConnection::Postgres(c) => {
            c.revert_all_migrations(POSTGRES_MIGRATIONS).unwrap();
        }
    }
    assert_eq!(tables(&mut conn), Vec::<String>::new());
    griddesk::db::run_migrations(&mut conn).unwrap();
    assert_eq!(tables(&mut conn), expected);
}

#[derive(QueryableByName)]
struct Pragma {
    #[diesel(sql_type = Text)]
    value: String,
}

#[derive(QueryableByName)]
struct NumericPragma {
    #[diesel(sql_type = BigInt)]
    value: i64,
}

#[test]
fn sqlite_connections_are_durable_and_enforce_foreign_keys() {
    let test_db = TestDb::sqlite();
    let db = Db::connect(&DatabaseUrl::parse(&test_db.url).unwrap(), 2).unwrap();
    // Check a connection the pool opened itself, not the one that migrated.
    let _first = db.conn().unwrap();
    let mut second = db.conn().unwrap();
    let AnyConnection::Sqlite(c) = &mut *second else {
        panic!("expected SQLite")
    };
    let text =
        |c: &mut diesel::SqliteConnection, sql: &str| diesel::sql_query(sql).get_result::<Pragma>(c).unwrap().value;
    let number = |c: &mut diesel::SqliteConnection, sql: &str| {
        diesel::sql_query(sql).get_result::<NumericPragma>(c).unwrap().value
    };
    assert_eq!(text(c, "SELECT journal_mode AS value FROM pragma_journal_mode"), "wal");
    assert_eq!(number(c, "SELECT foreign_keys AS value FROM pragma_foreign_keys"), 1);
    assert_eq!(
        number(c, "SELECT synchronous AS value FROM pragma_synchronous"),
        2,
        "synchronous must be FULL"
    );
    assert_eq!(number(c, "SELECT timeout AS value FROM pragma_busy_timeout"), 10_000);
    // The pool only reads: every write goes through the one writer.
    assert_eq!(number(c, "SELECT query_only AS value FROM pragma_query_only"), 1);
    let orphan = "INSERT INTO posts (user_id, unit_id, created_at) VALUES (424242, 424242, '2026-01-01 00:00:00')";
    let refused = diesel::sql_query(orphan).execute(c).unwrap_err().to_string();
    assert!(refused.contains("readonly"), "{refused}");
    // The writer's connection is prepared the same way, and its foreign keys
    // really bite (the savepoint's error leaves the other writes standing).
    let writer = db.write_blocking(move |conn| {
        let AnyConnection::Sqlite(c) = conn else {
            panic!("expected SQLite")
        };
        let pragmas = (
            number(c, "SELECT foreign_keys AS value FROM pragma_foreign_keys"),
            number(c, "SELECT synchronous AS value FROM pragma_synchronous"),
            number(c, "SELECT query_only AS value FROM pragma_query_only"),
        );
        Ok((pragmas, diesel::sql_query(orphan).execute(c).map_err(|e| e.to_string())))
    });
    let (pragmas, orphan) = writer.unwrap();
    assert_eq!(pragmas, (1, 2, 0));
    assert!(orphan.unwrap_err().contains("FOREIGN KEY"));
}

/// PostgreSQL's GIN index of search tokens keeps its pending list small
/// (migration 000019): every search reads the whole list, and at the
/// default 4 MB a search that matched nothing read 380 pages of it.
/// SQLite's FTS5 index has no such list.
#[test]
fn the_search_index_keeps_its_pending_list_small_on_postgres() {
    #[derive(QueryableByName)]
    struct Options {
        #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
        options: Option<String>,
    }
    let test_db = TestDb::new();
    let db = Db::connect(&DatabaseUrl::parse(&test_db.url).unwrap(), 1).unwrap();
    let AnyConnection::Postgres(c) = &mut db.maintenance_connection().unwrap() else {
        return;
    };
    let options = diesel::sql_query(
        "SELECT array_to_string(reloptions, ',') AS options FROM pg_class WHERE relname = 'ticket_search_tokens_idx'",
    )
    .get_result::<Options>(c)
    .unwrap()
    .options;
    assert_eq!(options.as_deref(), Some("gin_pending_list_limit=64"));
}

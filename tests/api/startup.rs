//! Start-up: the generated JWT secret is kept, so restarts keep sessions.

use chrono::{Duration, Utc};
use griddesk::clock::Clock;
use griddesk::config::build_state;

use crate::support::TestDb;

#[test]
fn a_generated_secret_is_kept_in_the_database_across_restarts() {
    let db = TestDb::new();
    let start = || {
        build_state(
            &db.url,
            None,
            Duration::minutes(15),
            Duration::days(30),
            2,
            Clock::system(),
        )
        .expect("start")
    };
    let first = start();
    let token = first.jwt.issue(1, "resident", 0, "sid", Utc::now()).unwrap();
    drop(first);
    let second = start();
    assert!(
        second.jwt.verify(&token, Utc::now()).is_ok(),
        "a restart must keep tokens valid"
    );

    // An explicit secret wins, and a short one is refused.
    let explicit = build_state(
        &db.url,
        Some("x".repeat(32)),
        Duration::minutes(15),
        Duration::days(30),
        2,
        Clock::system(),
    )
    .expect("start");
    assert!(explicit.jwt.verify(&token, Utc::now()).is_err());
    let weak = build_state(
        &db.url,
        Some("short".into()),
        Duration::minutes(15),
        Duration::days(30),
        2,
        Clock::system(),
    );
    assert!(weak.is_err());
}

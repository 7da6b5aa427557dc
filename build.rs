//! Rebuilds the crate when a migration is added or changed:
//! `embed_migrations!` reads `migrations/`, which cargo does not watch.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}

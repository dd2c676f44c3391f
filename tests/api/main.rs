//! Integration tests through real HTTP, each on SQLite and on PostgreSQL.

#[macro_use]
mod helpers;

mod bad_input;
mod delivery;
mod fanout;
mod idempotency;
mod leases;
mod schedule;

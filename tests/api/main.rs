//! Integration tests through real HTTP, each on SQLite and on PostgreSQL.

#[macro_use]
mod helpers;

mod bad_input;
mod concurrency;
mod corpus;
mod delivery;
mod destinations;
mod event_types;
mod fairness;
mod fanout;
mod faults;
mod group_commit;
mod health;
mod health_ticks;
mod idempotency;
mod leases;
mod moto;
mod oauth;
mod oidc;
mod openapi;
mod ordering;
mod ordering_property;
mod ownership;
mod partner;
mod properties;
mod receiver_signals;
mod retention;
mod schedule;
mod security_review;
mod slow_clients;
mod ssrf;

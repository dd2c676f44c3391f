//! Which database failures are outages: the server is down, restarting, full, read-only
//! or overloaded. The request was fine and may succeed later, so the API answers 503 (not
//! 500) and nothing was stored.

use sqlx::error::DatabaseError;
use sqlx::postgres::PgDatabaseError;
use sqlx::sqlite::SqliteError;

use super::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// Connection refused or lost, server shutting down or starting up, pool exhausted.
    Unreachable,
    /// No space left: a full disk (either backend) or SQLite's page limit.
    Full,
    /// The database file or server accepts no writes.
    ReadOnly,
    /// Locked or out of connections; a retry shortly after usually succeeds.
    Busy,
    /// The database cannot read or write its own files.
    Io,
}

impl Outage {
    /// What a client is told; no detail of the server beyond the kind of outage.
    pub fn message(self) -> &'static str {
        match self {
            Self::Unreachable => "the database is unavailable; nothing was stored, retry later",
            Self::Full => "the database is out of space; nothing was stored, retry later",
            Self::ReadOnly => "the database is read-only; nothing was stored, retry later",
            Self::Busy => "the database is busy; nothing was stored, retry shortly",
            Self::Io => "the database cannot write its files; nothing was stored, retry later",
        }
    }
}

impl StoreError {
    /// `Some` when the failure is the database's state, not the request's content.
    pub fn outage(&self) -> Option<Outage> {
        match self {
            Self::Database(e) => classify(e),
            _ => None,
        }
    }
}

fn classify(e: &sqlx::Error) -> Option<Outage> {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => Some(Outage::Unreachable),
        sqlx::Error::Database(db) => {
            if let Some(sqlite) = db.try_downcast_ref::<SqliteError>() {
                sqlite_outage(sqlite.code()?.parse().ok()?)
            } else if let Some(pg) = db.try_downcast_ref::<PgDatabaseError>() {
                postgres_outage(pg.code())
            } else {
                None
            }
        }
        _ => None,
    }
}

/// SQLite's primary result code is the low byte of the extended one.
fn sqlite_outage(extended_code: i32) -> Option<Outage> {
    match extended_code & 0xff {
        5 | 6 => Some(Outage::Busy),     // SQLITE_BUSY, SQLITE_LOCKED
        8 => Some(Outage::ReadOnly),     // SQLITE_READONLY
        10 => Some(Outage::Io),          // SQLITE_IOERR
        13 => Some(Outage::Full),        // SQLITE_FULL
        14 => Some(Outage::Unreachable), // SQLITE_CANTOPEN
        _ => None,
    }
}

/// By SQLSTATE: connection exceptions (class 08), operator intervention (57P0x: shutdown,
/// crash recovery, starting up), insufficient resources (53), read-only transactions.
fn postgres_outage(sqlstate: &str) -> Option<Outage> {
    match sqlstate {
        "53100" => Some(Outage::Full),
        "53300" | "53000" | "53200" | "55P03" => Some(Outage::Busy),
        "25006" => Some(Outage::ReadOnly),
        "58030" => Some(Outage::Io),
        s if s.starts_with("08") || s.starts_with("57P") => Some(Outage::Unreachable),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_extended_codes_fold_to_their_primary() {
        assert_eq!(sqlite_outage(13), Some(Outage::Full));
        assert_eq!(sqlite_outage(8 | (3 << 8)), Some(Outage::ReadOnly)); // READONLY_ROLLBACK
        assert_eq!(sqlite_outage(10 | (4 << 8)), Some(Outage::Io)); // IOERR_WRITE
        assert_eq!(sqlite_outage(5 | (1 << 8)), Some(Outage::Busy)); // BUSY_RECOVERY
        assert_eq!(sqlite_outage(2067), None); // CONSTRAINT_UNIQUE: the client's doing
    }

    #[test]
    fn postgres_sqlstates() {
        assert_eq!(postgres_outage("57P01"), Some(Outage::Unreachable)); // admin shutdown
        assert_eq!(postgres_outage("57P03"), Some(Outage::Unreachable)); // starting up
        assert_eq!(postgres_outage("08006"), Some(Outage::Unreachable));
        assert_eq!(postgres_outage("53100"), Some(Outage::Full));
        assert_eq!(postgres_outage("23505"), None); // unique violation
        assert_eq!(postgres_outage("22021"), None); // bad encoding: the client's doing
    }
}

//! The backlog scenario's seed: deliveries scheduled far ahead, inserted straight into
//! the database, and the plans the gateway's claim and fetch get over them.

use std::time::Instant;

use hookgate::store::postgres::PgStore;
use hookgate::store::sqlite::SqliteStore;

use super::gateway::Db;

/// Deliveries due in a day, so the claim query has a million rows to step over.
pub async fn seed_scheduled(database_url: &str, db: Db, tenant: &str, n: u64) {
    let now = chrono::Utc::now().timestamp_millis();
    let due = now + 86_400_000;
    let select =
        "SELECT 'bk-' || g, e.id, w.id, i.id, w.app_id, e.tenant_id, 'a.b', 'pending', $1, $2, $2 \
         FROM s, (SELECT id, tenant_id FROM events WHERE tenant_id = $3 LIMIT 1) e, \
         (SELECT id, app_id FROM webhooks ORDER BY id LIMIT 1) w, \
         (SELECT id FROM installations WHERE tenant_id = $3 LIMIT 1) i";
    let insert =
        "INSERT INTO deliveries (id, event_id, webhook_id, installation_id, app_id, tenant_id, \
         event_type, state, due_at, created_at, updated_at) ";
    let sql = match db {
        Db::Sqlite => format!(
            "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {n}) {insert} {select}"
        ),
        Db::Postgres => {
            format!("WITH s(g) AS (SELECT generate_series(1, {n})) {insert} {select}")
        }
    };
    // The gateway's own statements: the claim, and the fetch of what was claimed.
    let print_plan = |name: &str, rows: Vec<String>| {
        println!("{name} plan:");
        for row in rows {
            println!("    {row}");
        }
    };
    let started = Instant::now();
    match db {
        Db::Sqlite => {
            let pool = sqlx::SqlitePool::connect(database_url).await.unwrap();
            sqlx::query(&sql)
                .bind(due)
                .bind(now)
                .bind(tenant)
                .execute(&pool)
                .await
                .unwrap();
            // Statistics, as `PRAGMA optimize` (which SQLite recommends) would gather them.
            sqlx::query("ANALYZE").execute(&pool).await.unwrap();
            println!(
                "seeded {n} scheduled deliveries in {:.1?}",
                started.elapsed()
            );
            let claim: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(&format!("EXPLAIN QUERY PLAN {}", SqliteStore::CLAIM_DUE))
                    .bind(due)
                    .bind("token")
                    .bind(now)
                    .bind(64i64)
                    .bind(16i64)
                    .bind("[]")
                    .bind("{}")
                    .bind(16i64)
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            print_plan("claim", claim.into_iter().map(|r| r.3).collect());
            let fetch: Vec<(i64, i64, i64, String)> = sqlx::query_as(&format!(
                "EXPLAIN QUERY PLAN {}",
                <SqliteStore as hookgate::store::Backend>::CLAIMED_SELECT
            ))
            .bind("token")
            .fetch_all(&pool)
            .await
            .unwrap();
            print_plan("fetch claimed", fetch.into_iter().map(|r| r.3).collect());
        }
        Db::Postgres => {
            let pool = sqlx::PgPool::connect(database_url).await.unwrap();
            sqlx::query(&sql)
                .bind(due)
                .bind(now)
                .bind(tenant)
                .execute(&pool)
                .await
                .unwrap();
            // What autovacuum would do shortly after a bulk load.
            sqlx::query("ANALYZE deliveries")
                .execute(&pool)
                .await
                .unwrap();
            println!(
                "seeded {n} scheduled deliveries in {:.1?}",
                started.elapsed()
            );
            let claim: Vec<(String,)> = sqlx::query_as(&format!("EXPLAIN {}", PgStore::CLAIM_DUE))
                .bind(due)
                .bind("token")
                .bind(now)
                .bind(64i64)
                .bind(16i64)
                .bind(Vec::<String>::new())
                .bind(Vec::<String>::new())
                .bind(Vec::<i64>::new())
                .fetch_all(&pool)
                .await
                .unwrap();
            print_plan("claim", claim.into_iter().map(|r| r.0).collect());
            let fetch: Vec<(String,)> = sqlx::query_as(&format!(
                "EXPLAIN {}",
                <PgStore as hookgate::store::Backend>::CLAIMED_SELECT
            ))
            .bind("token")
            .fetch_all(&pool)
            .await
            .unwrap();
            print_plan("fetch claimed", fetch.into_iter().map(|r| r.0).collect());
        }
    }
}

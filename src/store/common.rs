//! The SQL both backends share. `sql_store!(Type)` implements [`Store`] for a backend
//! type that implements [`Backend`](super::Backend): what differs between SQLite and
//! PostgreSQL comes through that trait.
//!
//! [`Store`]: super::Store

macro_rules! sql_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            fn backend(&self) -> &'static str {
                <Self as $crate::store::Backend>::NAME
            }

            async fn migrate(&self) -> StoreResult<()> {
                <$store as $crate::store::Backend>::MIGRATOR.run($crate::store::Backend::pool(self)).await?;
                Ok(())
            }

            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1").execute($crate::store::Backend::pool(self)).await?;
                Ok(())
            }

            async fn ready(&self) -> StoreResult<bool> {
                let latest = <$store as $crate::store::Backend>::MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
                let applied: Option<i64> = sqlx::query_scalar::<<$store as $crate::store::Backend>::Db, Option<i64>>(
                    "SELECT MAX(version) FROM _sqlx_migrations WHERE success",
                )
                .fetch_one($crate::store::Backend::pool(self))
                .await?;
                Ok(applied == Some(latest))
            }

            async fn queue_stats(&self, now: DateTime<Utc>) -> StoreResult<crate::domain::stats::QueueStats> {
                let now = to_millis(now);
                let (due, scheduled, in_flight, oldest): (i64, i64, i64, Option<i64>) =
                    sqlx::query_as::<<$store as $crate::store::Backend>::Db, (i64, i64, i64, Option<i64>)>(
                        "SELECT \
                         COALESCE(SUM(CASE WHEN state = 'pending' AND due_at <= $1 THEN 1 ELSE 0 END), 0), \
                         COALESCE(SUM(CASE WHEN state = 'pending' AND due_at > $1 THEN 1 ELSE 0 END), 0), \
                         COALESCE(SUM(CASE WHEN state = 'in_flight' THEN 1 ELSE 0 END), 0), \
                         MIN(CASE WHEN state = 'pending' THEN due_at END) \
                         FROM deliveries WHERE due_at IS NOT NULL",
                    )
                    .bind(now)
                    .fetch_one($crate::store::Backend::pool(self))
                    .await?;
                let held: i64 = sqlx::query_scalar::<<$store as $crate::store::Backend>::Db, i64>(
                    "SELECT COUNT(*) FROM deliveries WHERE state = 'held'",
                )
                .fetch_one($crate::store::Backend::pool(self))
                .await?;
                let (outbox_backlog, outbox_oldest): (i64, Option<i64>) =
                    sqlx::query_as::<<$store as $crate::store::Backend>::Db, (i64, Option<i64>)>(
                        "SELECT COUNT(*), MIN(created_at) FROM notification_sends WHERE state = 'pending'",
                    )
                    .fetch_one($crate::store::Backend::pool(self))
                    .await?;
                let failing_destinations: i64 = sqlx::query_scalar::<<$store as $crate::store::Backend>::Db, i64>(
                    "SELECT COUNT(*) FROM notification_destinations WHERE state = 'failing'",
                )
                .fetch_one($crate::store::Backend::pool(self))
                .await?;
                Ok(crate::domain::stats::QueueStats {
                    due,
                    scheduled,
                    in_flight,
                    held,
                    oldest_due_age_ms: oldest.map_or(0, |o| (now - o).max(0)),
                    outbox_backlog,
                    outbox_oldest_age_ms: outbox_oldest.map_or(0, |o| (now - o).max(0)),
                    failing_destinations,
                })
            }

            async fn create_tenant(&self, t: &Tenant) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO tenants (id, name, environment, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(&t.id)
                .bind(&t.name)
                .bind(t.environment.as_str())
                .bind(to_millis(t.created_at))
                .execute($crate::store::Backend::pool(self))
                .await
                .map_err(|e| constraint_error(e, "a tenant with this id exists"))?;
                Ok(())
            }

            async fn get_tenant(&self, id: &str) -> StoreResult<Option<Tenant>> {
                let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1");
                sqlx::query_as::<<$store as $crate::store::Backend>::Db, TenantRow>(&sql)
                    .bind(id)
                    .fetch_optional($crate::store::Backend::pool(self))
                    .await?
                    .map(Tenant::try_from)
                    .transpose()
            }

            async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
                let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants ORDER BY id");
                sqlx::query_as::<<$store as $crate::store::Backend>::Db, TenantRow>(&sql)
                    .fetch_all($crate::store::Backend::pool(self))
                    .await?
                    .into_iter()
                    .map(Tenant::try_from)
                    .collect()
            }

            async fn update_tenant(&self, t: &Tenant) -> StoreResult<bool> {
                let done = sqlx::query("UPDATE tenants SET name = $1, environment = $2 WHERE id = $3")
                    .bind(&t.name)
                    .bind(t.environment.as_str())
                    .bind(&t.id)
                    .execute($crate::store::Backend::pool(self))
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_tenant(&self, id: &str) -> StoreResult<bool> {
                let done = sqlx::query("DELETE FROM tenants WHERE id = $1")
                    .bind(id)
                    .execute($crate::store::Backend::pool(self))
                    .await
                    .map_err(|e| {
                        $crate::store::in_use_error(e, "the tenant still has events or installations")
                    })?;
                Ok(done.rows_affected() == 1)
            }

            async fn create_app(&self, app: &App, key_hash: &str, key_prefix: &str) -> StoreResult<()> {
                let mut tx = $crate::store::Backend::write_tx(self).await?;
                sqlx::query(
                    "INSERT INTO apps (id, name, oauth_client_id, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(&app.id)
                .bind(&app.name)
                .bind(&app.oauth_client_id)
                .bind(to_millis(app.created_at))
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    constraint_error(e, "an app with this id or OAuth client id exists")
                })?;
                sqlx::query(
                    "INSERT INTO app_keys (key_hash, app_id, prefix, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(key_hash)
                .bind(&app.id)
                .bind(key_prefix)
                .bind(to_millis(app.created_at))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn get_app(&self, id: &str) -> StoreResult<Option<App>> {
                let sql = format!("SELECT {APP_COLUMNS} FROM apps WHERE id = $1");
                Ok(sqlx::query_as::<<$store as $crate::store::Backend>::Db, AppRow>(&sql)
                    .bind(id)
                    .fetch_optional($crate::store::Backend::pool(self))
                    .await?
                    .map(App::from))
            }

            async fn list_apps(&self) -> StoreResult<Vec<App>> {
                let sql = format!("SELECT {APP_COLUMNS} FROM apps ORDER BY id");
                Ok(sqlx::query_as::<<$store as $crate::store::Backend>::Db, AppRow>(&sql)
                    .fetch_all($crate::store::Backend::pool(self))
                    .await?
                    .into_iter()
                    .map(App::from)
                    .collect())
            }

            async fn update_app(&self, app: &App) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE apps SET name = $1, oauth_client_id = $2 WHERE id = $3",
                )
                .bind(&app.name)
                .bind(&app.oauth_client_id)
                .bind(&app.id)
                .execute($crate::store::Backend::pool(self))
                .await
                .map_err(|e| constraint_error(e, "another app has this OAuth client id"))?;
                Ok(done.rows_affected() == 1)
            }

            async fn app_for_oauth_client(&self, client_id: &str) -> StoreResult<Option<String>> {
                Ok(sqlx::query_scalar("SELECT id FROM apps WHERE oauth_client_id = $1")
                    .bind(client_id)
                    .fetch_optional($crate::store::Backend::pool(self))
                    .await?)
            }

            async fn delete_app(&self, id: &str) -> StoreResult<bool> {
                let done = sqlx::query("DELETE FROM apps WHERE id = $1")
                    .bind(id)
                    .execute($crate::store::Backend::pool(self))
                    .await
                    .map_err(|e| {
                        $crate::store::in_use_error(e, "the app still has installations or webhooks")
                    })?;
                Ok(done.rows_affected() == 1)
            }

            async fn app_for_key(&self, key_hash: &str) -> StoreResult<Option<String>> {
                Ok(sqlx::query_scalar::<<$store as $crate::store::Backend>::Db, String>(
                    "SELECT app_id FROM app_keys WHERE key_hash = $1 AND revoked_at IS NULL",
                )
                .bind(key_hash)
                .fetch_optional($crate::store::Backend::pool(self))
                .await?)
            }

            async fn add_app_key(
                &self,
                app_id: &str,
                key_hash: &str,
                prefix: &str,
                at: DateTime<Utc>,
                max_live: i64,
            ) -> StoreResult<AppKey> {
                let mut tx = $crate::store::Backend::write_tx(self).await?;
                // Touching the app row serialises concurrent creations, so the cap holds
                // on PostgreSQL too.
                let app = sqlx::query("UPDATE apps SET name = name WHERE id = $1")
                    .bind(app_id)
                    .execute(&mut *tx)
                    .await?;
                if app.rows_affected() == 0 {
                    return Err(StoreError::NotFound("unknown app".into()));
                }
                let live: i64 = sqlx::query_scalar::<<$store as $crate::store::Backend>::Db, i64>(
                    "SELECT COUNT(*) FROM app_keys WHERE app_id = $1 AND revoked_at IS NULL",
                )
                .bind(app_id)
                .fetch_one(&mut *tx)
                .await?;
                if live >= max_live {
                    return Err(StoreError::LimitReached(format!(
                        "this app already has {live} live keys; the limit is {max_live}: revoke one first"
                    )));
                }
                sqlx::query(
                    "INSERT INTO app_keys (key_hash, app_id, prefix, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(key_hash)
                .bind(app_id)
                .bind(prefix)
                .bind(to_millis(at))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(AppKey {
                    id: key_hash[..crate::domain::model::KEY_ID_DIGITS].to_string(),
                    prefix: prefix.to_string(),
                    created_at: at,
                    revoked_at: None,
                })
            }

            async fn list_app_keys(&self, app_id: &str) -> StoreResult<Vec<AppKey>> {
                let rows = sqlx::query_as::<<$store as $crate::store::Backend>::Db, (String, String, i64, Option<i64>)>(
                    "SELECT key_hash, prefix, created_at, revoked_at FROM ( \
                       SELECT key_hash, prefix, created_at, revoked_at FROM app_keys \
                       WHERE app_id = $1 AND revoked_at IS NULL \
                       UNION ALL \
                       SELECT * FROM (SELECT key_hash, prefix, created_at, revoked_at FROM app_keys \
                         WHERE app_id = $1 AND revoked_at IS NOT NULL \
                         ORDER BY revoked_at DESC LIMIT 20) r) k \
                     ORDER BY created_at, key_hash",
                )
                .bind(app_id)
                .fetch_all($crate::store::Backend::pool(self))
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(hash, prefix, created_at, revoked_at)| AppKey {
                        id: hash[..16.min(hash.len())].to_string(),
                        prefix,
                        created_at: from_millis(created_at),
                        revoked_at: revoked_at.map(from_millis),
                    })
                    .collect())
            }

            async fn revoke_app_key(&self, app_id: &str, key_id: &str, at: DateTime<Utc>) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE app_keys SET revoked_at = $1 \
                     WHERE app_id = $2 AND substr(key_hash, 1, 16) = $3 AND revoked_at IS NULL",
                )
                .bind(to_millis(at))
                .bind(app_id)
                .bind(key_id)
                .execute($crate::store::Backend::pool(self))
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn install(&self, i: &Installation, set_weight: bool) -> StoreResult<Installation> {
                let sql = format!(
                    "INSERT INTO installations (id, tenant_id, app_id, state, delivery_weight, created_at) \
                     VALUES ($1, $2, $3, 'active', $5, $4) \
                     ON CONFLICT (tenant_id, app_id) DO UPDATE SET state = 'active', revoked_at = NULL, \
                     delivery_weight = CASE WHEN $6 THEN excluded.delivery_weight \
                         ELSE installations.delivery_weight END \
                     RETURNING {INSTALLATION_COLUMNS}"
                );
                sqlx::query_as::<<$store as $crate::store::Backend>::Db, InstallationRow>(&sql)
                    .bind(&i.id)
                    .bind(&i.tenant_id)
                    .bind(&i.app_id)
                    .bind(to_millis(i.created_at))
                    .bind(i.delivery_weight)
                    .bind(set_weight)
                    .fetch_one($crate::store::Backend::pool(self))
                    .await
                    .map_err(|e| not_found_on_reference(e, "unknown tenant or app"))?
                    .try_into()
            }

            async fn get_installation(&self, id: &str) -> StoreResult<Option<Installation>> {
                let sql = format!("SELECT {INSTALLATION_COLUMNS} FROM installations WHERE id = $1");
                sqlx::query_as::<<$store as $crate::store::Backend>::Db, InstallationRow>(&sql)
                    .bind(id)
                    .fetch_optional($crate::store::Backend::pool(self))
                    .await?
                    .map(Installation::try_from)
                    .transpose()
            }

            async fn list_installations(
                &self,
                tenant_id: Option<&str>,
                app_id: Option<&str>,
            ) -> StoreResult<Vec<Installation>> {
                let sql = format!(
                    "SELECT {INSTALLATION_COLUMNS} FROM installations \
                     WHERE ($1 IS NULL OR tenant_id = $1) AND ($2 IS NULL OR app_id = $2) \
                     ORDER BY created_at, id"
                );
                sqlx::query_as::<<$store as $crate::store::Backend>::Db, InstallationRow>(&sql)
                    .bind(tenant_id)
                    .bind(app_id)
                    .fetch_all($crate::store::Backend::pool(self))
                    .await?
                    .into_iter()
                    .map(Installation::try_from)
                    .collect()
            }

            async fn set_installation_weight(&self, id: &str, weight: i64) -> StoreResult<Option<Installation>> {
                let sql = format!(
                    "UPDATE installations SET delivery_weight = $1 WHERE id = $2 \
                     RETURNING {INSTALLATION_COLUMNS}"
                );
                sqlx::query_as::<<$store as $crate::store::Backend>::Db, InstallationRow>(&sql)
                    .bind(weight)
                    .bind(id)
                    .fetch_optional($crate::store::Backend::pool(self))
                    .await?
                    .map(Installation::try_from)
                    .transpose()
            }

            async fn revoke_installation(
                &self,
                id: &str,
                at: DateTime<Utc>,
            ) -> StoreResult<Option<(Installation, u64)>> {
                let mut tx = $crate::store::Backend::write_tx(self).await?;
                let sql = format!(
                    "UPDATE installations SET state = 'revoked', revoked_at = COALESCE(revoked_at, $1) \
                     WHERE id = $2 RETURNING {INSTALLATION_COLUMNS}"
                );
                let Some(row) = sqlx::query_as::<<$store as $crate::store::Backend>::Db, InstallationRow>(&sql)
                    .bind(to_millis(at))
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?
                else {
                    return Ok(None);
                };
                let installation = Installation::try_from(row)?;
                // Every open delivery of the tenant to the app, through the app's webhooks'
                // indexes: due (pending, or in flight under a lease, which this ends: its
                // attempt's record then changes nothing), held and waiting (behind its
                // ordering key's head: every open delivery of a key ends here at once).
                let mut skipped = 0;
                for open in ["due_at IS NOT NULL", "state = 'held'", "state = 'waiting'"] {
                    skipped += sqlx::query(&format!(
                        "UPDATE deliveries SET state = 'skipped', skip_reason = $1, due_at = NULL, \
                         lease_token = NULL, fair_tag = NULL, updated_at = $2 \
                         WHERE webhook_id IN (SELECT id FROM webhooks WHERE app_id = $3) \
                         AND installation_id = $4 AND {open} \
                         AND state IN ('pending', 'in_flight', 'held', 'waiting')"
                    ))
                    .bind(SKIPPED_UNINSTALLED)
                    .bind(to_millis(at))
                    .bind(&installation.app_id)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                }
                tx.commit().await?;
                Ok(Some((installation, skipped)))
            }

            async fn create_webhook(&self, w: &Webhook, max_per_app: i64) -> StoreResult<()> {
                let mut tx = $crate::store::Backend::write_tx(self).await?;
                // Touching the app row serialises concurrent creations for one app, so the
                // limit holds on PostgreSQL too.
                let app = sqlx::query("UPDATE apps SET name = name WHERE id = $1")
                    .bind(&w.app_id)
                    .execute(&mut *tx)
                    .await?;
                if app.rows_affected() == 0 {
                    return Err(StoreError::NotFound("unknown app".into()));
                }
                let count: i64 =
                    sqlx::query_scalar::<<$store as $crate::store::Backend>::Db, i64>("SELECT COUNT(*) FROM webhooks WHERE app_id = $1")
                        .bind(&w.app_id)
                        .fetch_one(&mut *tx)
                        .await?;
                if count >= max_per_app {
                    return Err(StoreError::LimitReached(format!(
                        "this app already has {count} webhooks; the limit is {max_per_app}"
                    )));
                }
                let sql = format!(
                    "INSERT INTO webhooks ({WEBHOOK_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
                );
                bind_webhook(sqlx::query::<<$store as $crate::store::Backend>::Db>(&sql), w)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| constraint_error(e, "a webhook with this id exists"))?;
                tx.commit().await?;
                Ok(())
            }

            async fn get_webhook(&self, app_id: &str, id: &str) -> StoreResult<Option<Webhook>> {
                let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1 AND app_id = $2");
                sqlx::query_as::<<$store as $crate::store::Backend>::Db, WebhookRow>(&sql)
                    .bind(id)
                    .bind(app_id)
                    .fetch_optional($crate::store::Backend::pool(self))
                    .await?
                    .map(Webhook::try_from)
                    .transpose()
            }

            async fn list_webhooks(&self, app_id: &str) -> StoreResult<Vec<Webhook>> {
                let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE app_id = $1 ORDER BY created_at, id");
                sqlx::query_as::<<$store as $crate::store::Backend>::Db, WebhookRow>(&sql)
                    .bind(app_id)
                    .fetch_all($crate::store::Backend::pool(self))
                    .await?
                    .into_iter()
                    .map(Webhook::try_from)
                    .collect()
            }

            async fn update_webhook(&self, w: &Webhook, new_secret: Option<&str>) -> StoreResult<bool> {
                // Never `state` (the evaluator's and reactivation's) nor the previous secret
                // (rotation's): a PATCH that overlaps them must not write back what it read.
                let mut tx = $crate::store::Backend::write_tx(self).await?;
                let done = sqlx::query(
                    "UPDATE webhooks SET url = $1, description = $2, environment = $3, \
                     event_types = $4, headers = $5, timeout_ms = $6, retry_policy = $7, \
                     secret = COALESCE($8, secret), updated_at = $9, rate_limit_per_second = $12, \
                     max_concurrency = $13, ordering = $14 \
                     WHERE id = $10 AND app_id = $11",
                )
                .bind(&w.url)
                .bind(&w.description)
                .bind(w.environment.as_str())
                .bind(serde_json::to_string(&w.event_types).expect("strings serialise"))
                .bind(serde_json::to_string(&w.headers).expect("strings serialise"))
                .bind(w.timeout_ms)
                .bind(serde_json::to_string(&w.retry_policy).expect("policy serialises"))
                .bind(new_secret)
                .bind(to_millis(w.updated_at))
                .bind(&w.id)
                .bind(&w.app_id)
                .bind(w.rate_limit_per_second)
                .bind(w.max_concurrency)
                .bind(w.ordering.as_str())
                .execute(&mut *tx)
                .await?;
                let released = if done.rows_affected() == 1 && w.ordering == Ordering::None {
                    leave_key_order(&mut tx, &w.id, to_millis(w.updated_at)).await?
                } else {
                    0
                };
                tx.commit().await?;
                if released > 0 {
                    self.untagged.wrote(to_millis(w.updated_at));
                }
                Ok(done.rows_affected() == 1)
            }

            async fn rotate_webhook_secret(
                &self,
                app_id: &str,
                id: &str,
                secret: &str,
                previous_until: DateTime<Utc>,
                at: DateTime<Utc>,
            ) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE webhooks SET previous_secret = secret, secret = $1, \
                     previous_secret_expires_at = $2, updated_at = $3 WHERE id = $4 AND app_id = $5",
                )
                .bind(secret)
                .bind(to_millis(previous_until))
                .bind(to_millis(at))
                .bind(id)
                .bind(app_id)
                .execute($crate::store::Backend::pool(self))
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_webhook(&self, app_id: &str, id: &str) -> StoreResult<bool> {
                let done = sqlx::query("DELETE FROM webhooks WHERE id = $1 AND app_id = $2")
                    .bind(id)
                    .bind(app_id)
                    .execute($crate::store::Backend::pool(self))
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn publish(&self, e: &NewEvent) -> StoreResult<PublishOutcome> {
                let mut tx = $crate::store::Backend::write_tx(self).await?;
                let (outcome, _) = publish_all(&mut tx, std::slice::from_ref(e), None).await?;
                tx.commit().await?;
                $crate::store::Backend::deliveries_inserted(self, $crate::store::publish::deliveries_created(&outcome));
                Ok(outcome.into_iter().next().expect("one outcome per event"))
            }

            async fn publish_batch(&self, events: &[NewEvent]) -> StoreResult<Vec<PublishOutcome>> {
                let mut tx = $crate::store::Backend::write_tx(self).await?;
                let (outcomes, _) = publish_all(&mut tx, events, None).await?;
                tx.commit().await?;
                $crate::store::Backend::deliveries_inserted(self, $crate::store::publish::deliveries_created(&outcomes));
                Ok(outcomes)
            }

            async fn publish_leasing(
                &self,
                events: &[NewEvent],
                lease: &$crate::store::publish::FastLease<'_>,
            ) -> StoreResult<(Vec<PublishOutcome>, Vec<ClaimedDelivery>)> {
                let mut tx = $crate::store::Backend::write_tx(self).await?;
                let published = publish_all(&mut tx, events, Some(lease)).await?;
                tx.commit().await?;
                $crate::store::Backend::deliveries_inserted(self, $crate::store::publish::deliveries_created(&published.0));
                if !published.1.is_empty() {
                    self.untagged.wrote(to_millis(lease.until));
                }
                Ok(published)
            }

            async fn claim_due(
                &self,
                now: DateTime<Utc>,
                lease_until: DateTime<Utc>,
                claim: &$crate::store::ClaimLimits,
            ) -> StoreResult<Vec<ClaimedDelivery>> {
                // What fell due since the last claim joins its webhook's fair queue first.
                self.tag_due(now).await?;
                let token = uuid::Uuid::now_v7().to_string();
                let claimed = $crate::store::Backend::lease_due(self, &token, now, lease_until, claim).await?;
                if !claimed.is_empty() {
                    // Leased rows are untagged and due again when their lease ends.
                    self.untagged.wrote(to_millis(lease_until));
                }
                claimed.into_iter().map(ClaimedDelivery::try_from).collect()
            }

            async fn record_attempts(&self, records: &[AttemptRecord]) -> StoreResult<()> {
                if records.is_empty() {
                    return Ok(());
                }
                // Two statements for the whole batch, whatever its size.
                let mut tx = $crate::store::Backend::delivery_write_tx(self).await?;
                let fenced = fenced_out(&mut tx, records).await?;
                let kept: Vec<&AttemptRecord>;
                let records: &[&AttemptRecord] = if fenced.is_empty() {
                    kept = records.iter().collect();
                    &kept
                } else {
                    tracing::warn!(attempts = fenced.len(),
                        "attempts sent under a listener lease another instance has taken over are not recorded");
                    kept = records.iter().filter(|r| !fenced.contains(&r.attempt.id)).collect();
                    &kept
                };
                if records.is_empty() {
                    tx.commit().await?;
                    return Ok(());
                }
                let mut insert =
                    sqlx::QueryBuilder::<<$store as $crate::store::Backend>::Db>::new(format!("INSERT INTO attempts ({ATTEMPT_COLUMNS}) "));
                insert.push_values(records, |mut row, r| {
                    let a = &r.attempt;
                    row.push_bind(a.id.clone())
                        .push_bind(a.delivery_id.clone())
                        .push_bind(a.webhook_id.clone())
                        .push_bind(a.attempt_number)
                        .push_bind(to_millis(a.started_at))
                        .push_bind(a.latency_ms)
                        .push_bind(a.outcome.as_str())
                        .push_bind(a.status_code)
                        .push_bind(a.error.as_deref().map(|e| storable_text(e).into_owned()))
                        .push_bind(
                            a.response_excerpt.as_deref().map(|e| storable_text(e).into_owned()),
                        )
                        .push_bind(a.retry_after_at.map(to_millis));
                });
                insert.build().execute(&mut *tx).await?;

                let mut update = sqlx::QueryBuilder::<<$store as $crate::store::Backend>::Db>::new(
                    "WITH v(id, lease, state, attempts, due, first_failure, at) AS (",
                );
                update.push_values(records, |mut row, r| {
                    row.push_bind(r.attempt.delivery_id.clone())
                        .push_bind(r.lease_token.clone())
                        .push_bind(r.new_state.as_str())
                        .push_bind(r.attempt.attempt_number)
                        .push_bind(r.next_attempt_at.map(to_millis))
                        .push_bind(r.first_failure_at.map(to_millis))
                        .push_bind(to_millis(r.attempt.started_at));
                });
                // A retry of a webhook deactivated meanwhile is held, not scheduled. A
                // delivery whose lease was taken over (or ended by an uninstall) keeps the
                // newer state; a retry whose tenant uninstalled the app meanwhile is
                // skipped by the claim when it falls due.
                update.push(
                    ") UPDATE deliveries SET \
                     state = CASE WHEN v.state = 'pending' AND EXISTS (SELECT 1 FROM webhooks w \
                         WHERE w.id = deliveries.webhook_id AND w.state = 'deactivated') \
                         THEN 'held' ELSE v.state END, \
                     due_at = CASE WHEN v.state = 'pending' AND EXISTS (SELECT 1 FROM webhooks w \
                         WHERE w.id = deliveries.webhook_id AND w.state = 'deactivated') \
                         THEN NULL ELSE v.due END, \
                     attempt_count = v.attempts, lease_token = NULL, fair_tag = NULL, \
                     first_failure_at = v.first_failure, \
                     last_attempt_at = v.at, updated_at = v.at \
                     FROM v WHERE deliveries.id = v.id AND deliveries.lease_token = v.lease",
                );
                update.build().execute(&mut *tx).await?;
                // An ordered delivery that ended lets the next of its key go.
                let ended: Vec<&str> = records
                    .iter()
                    .filter(|r| {
                        r.ordered
                            && matches!(
                                r.new_state,
                                DeliveryState::Delivered | DeliveryState::Failed | DeliveryState::Skipped
                            )
                    })
                    .map(|r| r.attempt.delivery_id.as_str())
                    .collect();
                let now = records.iter().map(|r| to_millis(r.attempt.started_at)).max();
                let promoted = promote_next(&mut tx, &ended, now.unwrap_or_default()).await?;
                tx.commit().await?;
                if let Some(due) = records.iter().filter_map(|r| r.next_attempt_at).min() {
                    self.untagged.wrote(to_millis(due));
                }
                if promoted > 0 {
                    self.untagged.wrote(now.unwrap_or_default());
                }
                Ok(())
            }

            async fn release_leases(&self, token: &str, now: DateTime<Utc>) -> StoreResult<u64> {
                let mut tx = $crate::store::Backend::write_tx(self).await?;
                let done = sqlx::query(
                    "UPDATE deliveries SET state = 'pending', due_at = $1, lease_token = NULL, \
                     fair_tag = NULL, updated_at = $1 WHERE lease_token = $2 AND state = 'in_flight'",
                )
                .bind(to_millis(now))
                .bind(token)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                if done.rows_affected() > 0 {
                    self.untagged.wrote(to_millis(now));
                }
                Ok(done.rows_affected())
            }

            async fn release_delivery(
                &self,
                delivery_id: &str,
                token: &str,
                now: DateTime<Utc>,
            ) -> StoreResult<()> {
                let mut tx = $crate::store::Backend::delivery_write_tx(self).await?;
                sqlx::query(
                    "UPDATE deliveries SET state = 'pending', due_at = $1, lease_token = NULL, \
                     fair_tag = NULL, updated_at = $1 \
                     WHERE id = $2 AND lease_token = $3 AND state = 'in_flight'",
                )
                .bind(to_millis(now))
                .bind(delivery_id)
                .bind(token)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                self.untagged.wrote(to_millis(now));
                Ok(())
            }

            async fn next_due_at(&self) -> StoreResult<Option<DateTime<Utc>>> {
                let due = sqlx::query_scalar::<<$store as $crate::store::Backend>::Db, Option<i64>>(<Self as $crate::store::Backend>::NEXT_DUE)
                    .fetch_one($crate::store::Backend::pool(self))
                .await?;
                Ok(due.map(from_millis))
            }
        }

        publish_fns!($store);
        ordering_fns!($store);

        /// The attempts among `records` sent under a listener lease whose fence is no
        /// longer the webhook's. The lease rows stay share-locked to the end of `tx`, so a
        /// takeover waits for this record instead of slipping in between.
        async fn fenced_out(
            tx: &mut $crate::store::WriteTx<<$store as $crate::store::Backend>::Db>,
            records: &[AttemptRecord],
        ) -> StoreResult<std::collections::HashSet<String>> {
            let mut webhooks: Vec<&str> = records
                .iter()
                .filter(|r| r.fence.is_some())
                .map(|r| r.attempt.webhook_id.as_str())
                .collect();
            if webhooks.is_empty() {
                return Ok(Default::default());
            }
            webhooks.sort_unstable();
            webhooks.dedup();
            // In id order, as a beat takes them: two lockers never wait on each other.
            let mut query = sqlx::QueryBuilder::<<$store as $crate::store::Backend>::Db>::new(
                "SELECT webhook_id, fence FROM webhook_owners WHERE webhook_id IN (",
            );
            let mut ids = query.separated(", ");
            for w in &webhooks {
                ids.push_bind(w.to_string());
            }
            query.push(") ORDER BY webhook_id");
            query.push(<$store as $crate::store::Backend>::SHARE_LOCK);
            let fences: std::collections::HashMap<String, i64> = query
                .build_query_as::<(String, i64)>()
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .collect();
            Ok(records
                .iter()
                .filter(|r| {
                    r.fence.is_some_and(|f| fences.get(&r.attempt.webhook_id) != Some(&f))
                })
                .map(|r| r.attempt.id.clone())
                .collect())
        }

        /// Binds a webhook's columns in `WEBHOOK_COLUMNS` order ($1 … $18).
        fn bind_webhook<'q>(
            query: sqlx::query::Query<'q, <$store as $crate::store::Backend>::Db, <<$store as $crate::store::Backend>::Db as sqlx::Database>::Arguments<'q>>,
            w: &'q Webhook,
        ) -> sqlx::query::Query<'q, <$store as $crate::store::Backend>::Db, <<$store as $crate::store::Backend>::Db as sqlx::Database>::Arguments<'q>> {
            query
                .bind(&w.id)
                .bind(&w.app_id)
                .bind(&w.url)
                .bind(&w.description)
                .bind(w.environment.as_str())
                .bind(serde_json::to_string(&w.event_types).expect("strings serialise"))
                .bind(&w.secret)
                .bind(serde_json::to_string(&w.headers).expect("strings serialise"))
                .bind(w.timeout_ms)
                .bind(serde_json::to_string(&w.retry_policy).expect("policy serialises"))
                .bind(w.state.as_str())
                .bind(to_millis(w.created_at))
                .bind(to_millis(w.updated_at))
                .bind(&w.previous_secret)
                .bind(w.previous_secret_expires_at.map(to_millis))
                .bind(w.rate_limit_per_second)
                .bind(w.max_concurrency)
                .bind(w.ordering.as_str())
        }
    };
}

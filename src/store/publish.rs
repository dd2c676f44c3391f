//! Publishing: events and their fan-out, stored in the caller's transaction with a few
//! multi-row statements per batch (the events, the fan-out candidates of their tenants,
//! the deliveries) instead of four round trips per event. `publish_fns!(Store)`
//! defines `publish_all` for a backend; the planning around it is plain functions.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::ordering::{KeyOf, KeyPlace};
use super::rows::FanoutRow;
use super::StoreError;
use crate::clock::to_millis;
use crate::domain::fair_share::{self, Arrival, Clocks, Ledger};
use crate::domain::filter;
use crate::domain::model::{
    ClaimedDelivery, DeliveryState, EventSummary, NewEvent, Ordering, PublishOutcome, WebhookState,
};

/// Rows per multi-row statement: 15 binds a row stays far below PostgreSQL's 65,535.
pub(crate) const ROWS_PER_STATEMENT: usize = 1_000;

/// The event columns, in the order `publish_all` binds them.
pub(crate) const INSERT_EVENTS: &str = "INSERT INTO events (id, idempotency_key, \
     request_hash, tenant_id, event_type, occurred_at, received_at, data, traceparent, \
     ordering_key) ";

/// The deliveries columns, in the order [`NewDelivery`] binds them.
pub(crate) const INSERT_DELIVERIES: &str = "INSERT INTO deliveries (id, event_id, webhook_id, \
     installation_id, app_id, tenant_id, event_type, state, due_at, created_at, updated_at, \
     lease_token, fair_tag, ordering_key, sequence) ";

/// Active installations of the tenants (an `IN (…)` list follows) with their apps'
/// webhooks of the tenant's environment. The environment is a correlated subquery, not a
/// join, so that the planner starts from the tenants' installations: joined, it began
/// from the webhooks and filtered every installation of each app. Each row carries its
/// webhook's fair-queue clock and its tenant's finish (one index probe each, first entry
/// in index order), so a publish places its deliveries without another read.
pub(crate) const FANOUT_CANDIDATES: &str = concat!(
    "SELECT i.tenant_id, w.id AS webhook_id, w.app_id, \
     w.event_types, w.state, i.id AS installation_id, \
     (SELECT t.name FROM tenants t WHERE t.id = i.tenant_id) AS tenant_name, w.url, w.secret, \
     w.previous_secret, w.previous_secret_expires_at, w.headers, w.timeout_ms, w.retry_policy, \
     w.rate_limit_per_second, w.max_concurrency, w.ordering, i.delivery_weight, ",
    crate::store::fair::webhook_clock_sql!("latest_finish"),
    ", (SELECT f.finish_tag FROM fair_queues f \
      WHERE f.webhook_id = w.id AND f.tenant_id = i.tenant_id) AS tenant_finish \
     FROM installations i JOIN webhooks w ON w.app_id = i.app_id \
     WHERE i.state = 'active' \
     AND w.environment = (SELECT t.environment FROM tenants t WHERE t.id = i.tenant_id) \
     AND i.tenant_id IN "
);

/// One delivery to insert.
#[derive(Debug)]
pub(crate) struct NewDelivery {
    pub id: String,
    pub event_id: String,
    pub webhook_id: String,
    pub installation_id: String,
    pub app_id: String,
    pub tenant_id: String,
    pub event_type: String,
    pub state: DeliveryState,
    pub due_at: Option<i64>,
    pub created_at: i64,
    /// Set when the publish leased the delivery to this instance (the fast path).
    pub lease_token: Option<String>,
    /// Its tag in the webhook's fair queue, for a delivery queued (pending).
    pub fair_tag: Option<i64>,
    /// Its key and place in it, on a `per_key` webhook.
    pub ordering_key: Option<String>,
    pub sequence: Option<i64>,
}

/// The publish fast path: fresh deliveries whose webhook has room on this instance are
/// stored already leased to it (`in_flight` until `until`, as a claim would) and handed
/// to its dispatcher after the commit. If the process dies first, the lease expires and
/// any instance claims them, so nothing is lost.
pub struct FastLease<'a> {
    pub token: String,
    pub until: chrono::DateTime<chrono::Utc>,
    /// Takes one of this instance's slots for the webhook (with its partner maximum).
    pub try_hold: &'a (dyn Fn(&str, Option<i64>) -> bool + Send + Sync),
}

/// Which events of the batch this insert stored: the first occurrence of each id the
/// INSERT returned. A repeat inside the batch is a replay of the first.
pub(crate) fn created(events: &[NewEvent], mut inserted: HashSet<String>) -> Vec<bool> {
    events.iter().map(|e| inserted.remove(&e.id)).collect()
}

/// The distinct tenants of the created events.
pub(crate) fn tenants_of<'a>(events: &'a [NewEvent], created: &[bool]) -> Vec<&'a str> {
    let mut tenants: Vec<&str> = events
        .iter()
        .zip(created)
        .filter(|(_, c)| **c)
        .map(|(e, _)| e.tenant_id.as_str())
        .collect();
    tenants.sort_unstable();
    tenants.dedup();
    tenants
}

/// The deliveries the created events of a publish stored.
pub(crate) fn deliveries_created(outcomes: &[PublishOutcome]) -> u64 {
    outcomes
        .iter()
        .map(|o| match o {
            PublishOutcome::Created(summary) => summary.deliveries.max(0) as u64,
            PublishOutcome::Replayed(_) => 0,
        })
        .sum()
}

/// The fair-queue ledger of a batch, from its fan-out candidates' clocks.
pub(crate) fn ledger_of(candidates: &HashMap<String, Vec<FanoutRow>>) -> Ledger {
    let mut clocks = Clocks::default();
    let mut waiting = HashSet::new();
    for c in candidates.values().flatten() {
        clocks.virtual_time.insert(
            c.webhook_id.clone(),
            fair_share::virtual_time(c.lowest_waiting, c.latest_finish),
        );
        if c.lowest_waiting.is_some() {
            waiting.insert(c.webhook_id.clone());
        }
        if let Some(f) = c.tenant_finish {
            clocks
                .finish
                .insert((c.webhook_id.clone(), c.tenant_id.clone()), f);
        }
    }
    Ledger::new(clocks, waiting)
}

/// One event's deliveries: one per candidate webhook of its tenant whose event-type
/// filter matches; a deactivated webhook's is held. On a `per_key` webhook, one behind
/// an open delivery of its key (`keys`) waits. One at the head of its webhook's fair
/// queue is leased to this instance with `lease` when the instance has room for it; any
/// other joins the queue with its tag. Returns them with the event's summary and the
/// leased ones.
pub(crate) fn fan_out(
    e: &NewEvent,
    candidates: &HashMap<String, Vec<FanoutRow>>,
    lease: Option<&FastLease<'_>>,
    ledger: &mut Ledger,
    keys: &mut HashMap<KeyOf, KeyPlace>,
) -> Result<(Vec<NewDelivery>, EventSummary, Vec<ClaimedDelivery>), StoreError> {
    let now = to_millis(e.received_at);
    let mut deliveries = Vec::new();
    let mut leased = Vec::new();
    let mut by_app = BTreeMap::<String, i64>::new();
    let mut queued_webhooks = Vec::new();
    for c in candidates
        .get(&e.tenant_id)
        .map(Vec::as_slice)
        .unwrap_or(&[])
    {
        if !filter::matches(&c.event_types()?, &e.event_type) {
            continue;
        }
        let id = uuid::Uuid::now_v7().to_string();
        let arrival = Arrival {
            webhook: &c.webhook_id,
            tenant: &e.tenant_id,
            weight: c.delivery_weight,
        };
        let ordered = match &e.ordering_key {
            Some(key) if c.ordering == Ordering::PerKey.as_str() => {
                let of = (c.webhook_id.clone(), e.tenant_id.clone(), key.clone());
                let place = keys.get_mut(&of).ok_or_else(|| {
                    StoreError::Corrupt(format!("ordering key {key:?} was not placed"))
                })?;
                Some((key.clone(), place.take()))
            }
            _ => None,
        };
        let head = ordered.as_ref().is_none_or(|(_, (_, head))| *head);
        let sequence = ordered.as_ref().map(|(_, (sequence, _))| *sequence);
        let (state, due_at, lease_token, fair_tag) = if !head {
            (DeliveryState::Waiting, None, None, None)
        } else if c.state != WebhookState::Active.as_str() {
            (DeliveryState::Held, None, None, None)
        } else {
            let fast = lease.filter(|l| {
                ledger.place(&arrival).at_head && (l.try_hold)(&c.webhook_id, c.max_concurrency)
            });
            match fast {
                Some(l) => {
                    ledger.send_at_once(&arrival);
                    leased.push(c.leased(e, &id, &l.token, sequence)?);
                    (
                        DeliveryState::InFlight,
                        Some(to_millis(l.until)),
                        Some(l.token.clone()),
                        None,
                    )
                }
                None => {
                    queued_webhooks.push(c.webhook_id.clone());
                    (
                        DeliveryState::Pending,
                        Some(now),
                        None,
                        Some(ledger.queue(&arrival)),
                    )
                }
            }
        };
        *by_app.entry(c.app_id.clone()).or_default() += 1;
        deliveries.push(NewDelivery {
            id,
            event_id: e.id.clone(),
            webhook_id: c.webhook_id.clone(),
            installation_id: c.installation_id.clone(),
            app_id: c.app_id.clone(),
            tenant_id: e.tenant_id.clone(),
            event_type: e.event_type.clone(),
            state,
            due_at,
            created_at: now,
            lease_token,
            fair_tag,
            ordering_key: ordered.map(|(key, _)| key),
            sequence,
        });
    }
    let summary = EventSummary {
        id: e.id.clone(),
        event_type: e.event_type.clone(),
        tenant_id: e.tenant_id.clone(),
        occurred_at: e.occurred_at,
        received_at: e.received_at,
        deliveries: deliveries.len() as i64,
        deliveries_by_app: by_app.into_iter().collect(),
        leased: leased.len() as i64,
        queued_webhooks,
    };
    Ok((deliveries, summary, leased))
}

macro_rules! publish_fns {
    ($store:ty) => {
        /// Stores the events and their fan-out inside the caller's transaction. An event
        /// whose id or idempotency key is taken is a replay when its body is the same and
        /// fails the whole batch as a conflict when not.
        async fn publish_all(
            tx: &mut $crate::store::WriteTx<<$store as $crate::store::Backend>::Db>,
            events: &[NewEvent],
            lease: Option<&$crate::store::publish::FastLease<'_>>,
        ) -> StoreResult<(Vec<PublishOutcome>, Vec<ClaimedDelivery>)> {
            use $crate::store::ordering::keyed_counts;
            use $crate::store::publish::*;
            // The events first, so that on SQLite the transaction holds the write lock
            // from its first statement.
            let mut inserted = std::collections::HashSet::new();
            for chunk in events.chunks(ROWS_PER_STATEMENT) {
                let mut insert = sqlx::QueryBuilder::<<$store as $crate::store::Backend>::Db>::new(
                    INSERT_EVENTS,
                );
                insert.push_values(chunk, |mut row, e| {
                    row.push_bind(e.id.clone())
                        .push_bind(e.idempotency_key.clone())
                        .push_bind(e.request_hash.clone())
                        .push_bind(e.tenant_id.clone())
                        .push_bind(e.event_type.clone())
                        .push_bind(to_millis(e.occurred_at))
                        .push_bind(to_millis(e.received_at))
                        .push_bind(e.data.clone())
                        .push_bind(e.traceparent.clone())
                        .push_bind(e.ordering_key.clone());
                });
                insert.push(" ON CONFLICT DO NOTHING RETURNING id");
                let ids: Vec<String> = insert
                    .build_query_scalar()
                    .fetch_all(&mut **tx)
                    .await
                    .map_err(|err| not_found_on_reference(err, "unknown tenant"))?;
                inserted.extend(ids);
            }
            let created = created(events, inserted);

            let mut candidates = std::collections::HashMap::<String, Vec<FanoutRow>>::new();
            for chunk in tenants_of(events, &created).chunks(ROWS_PER_STATEMENT) {
                let mut select = sqlx::QueryBuilder::<<$store as $crate::store::Backend>::Db>::new(
                    FANOUT_CANDIDATES,
                );
                select.push("(");
                let mut list = select.separated(", ");
                for tenant in chunk {
                    list.push_bind(tenant.to_string());
                }
                select.push(")");
                select.push(<$store as $crate::store::Backend>::INSTALLATION_LOCK);
                for row in select
                    .build_query_as::<FanoutRow>()
                    .fetch_all(&mut **tx)
                    .await?
                {
                    candidates
                        .entry(row.tenant_id.clone())
                        .or_default()
                        .push(row);
                }
            }

            let mut outcomes: Vec<Option<PublishOutcome>> = Vec::with_capacity(events.len());
            let mut deliveries = Vec::new();
            let mut leased = Vec::new();
            let mut ledger = ledger_of(&candidates);
            let mut keys = place_keys(tx, &keyed_counts(events, &created, &candidates)?).await?;
            for (e, created) in events.iter().zip(&created) {
                if *created {
                    let (planned, summary, fast) =
                        fan_out(e, &candidates, lease, &mut ledger, &mut keys)?;
                    deliveries.extend(planned);
                    leased.extend(fast);
                    outcomes.push(Some(PublishOutcome::Created(summary)));
                } else {
                    outcomes.push(None);
                }
            }
            store_finishes(tx, &ledger.finishes()).await?;
            for chunk in deliveries.chunks(ROWS_PER_STATEMENT) {
                let mut insert = sqlx::QueryBuilder::<<$store as $crate::store::Backend>::Db>::new(
                    INSERT_DELIVERIES,
                );
                insert.push_values(chunk, |mut row, d| {
                    row.push_bind(d.id.clone())
                        .push_bind(d.event_id.clone())
                        .push_bind(d.webhook_id.clone())
                        .push_bind(d.installation_id.clone())
                        .push_bind(d.app_id.clone())
                        .push_bind(d.tenant_id.clone())
                        .push_bind(d.event_type.clone())
                        .push_bind(d.state.as_str())
                        .push_bind(d.due_at)
                        .push_bind(d.created_at)
                        .push_bind(d.created_at)
                        .push_bind(d.lease_token.clone())
                        .push_bind(d.fair_tag)
                        .push_bind(d.ordering_key.clone())
                        .push_bind(d.sequence);
                });
                insert.build().execute(&mut **tx).await?;
            }

            // Replays are looked up last, so that one of an event created earlier in this
            // batch counts that event's deliveries.
            if outcomes.iter().all(Option::is_some) {
                return Ok((outcomes.into_iter().flatten().collect(), leased));
            }
            let sql = format!(
                "SELECT {EVENT_SUMMARY_COLUMNS} FROM events \
                 WHERE id = $1 OR ($2 IS NOT NULL AND idempotency_key = $2) LIMIT 1"
            );
            for (e, outcome) in events.iter().zip(&mut outcomes) {
                if outcome.is_some() {
                    continue;
                }
                let existing =
                    sqlx::query_as::<<$store as $crate::store::Backend>::Db, EventSummaryRow>(&sql)
                        .bind(&e.id)
                        .bind(&e.idempotency_key)
                        .fetch_optional(&mut **tx)
                        .await?;
                *outcome = match existing {
                    Some(row) if row.request_hash == e.request_hash => {
                        Some(PublishOutcome::Replayed(row.into()))
                    }
                    _ => {
                        return Err(StoreError::Conflict {
                            constraint: None,
                            message: "this event id or Idempotency-Key was already used with a \
                                  different body"
                                .into(),
                        })
                    }
                };
            }
            Ok((outcomes.into_iter().flatten().collect(), leased))
        }
    };
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn event(id: &str, tenant: &str, event_type: &str) -> NewEvent {
        NewEvent {
            id: id.into(),
            idempotency_key: None,
            request_hash: "h".into(),
            tenant_id: tenant.into(),
            event_type: event_type.into(),
            occurred_at: Utc::now(),
            received_at: Utc::now(),
            data: "{}".into(),
            traceparent: None,
            ordering_key: None,
        }
    }

    fn candidate(tenant: &str, webhook: &str, app: &str, types: &str, state: &str) -> FanoutRow {
        FanoutRow {
            tenant_id: tenant.into(),
            webhook_id: webhook.into(),
            app_id: app.into(),
            event_types: types.into(),
            state: state.into(),
            installation_id: format!("inst-{tenant}-{app}"),
            tenant_name: format!("{tenant} Inc."),
            url: "https://hooks.example.com/".into(),
            secret: "whsec_c2VjcmV0".into(),
            previous_secret: None,
            previous_secret_expires_at: None,
            headers: "{}".into(),
            timeout_ms: 10_000,
            retry_policy: serde_json::to_string(&crate::domain::retry::RetryPolicy::hibob())
                .unwrap(),
            rate_limit_per_second: None,
            max_concurrency: None,
            ordering: "none".into(),
            delivery_weight: 1,
            lowest_waiting: None,
            latest_finish: None,
            tenant_finish: None,
        }
    }

    #[test]
    fn a_repeat_inside_the_batch_is_not_created_twice() {
        let events = [
            event("a", "t", "x"),
            event("b", "t", "x"),
            event("a", "t", "x"),
        ];
        let inserted = HashSet::from(["a".to_string(), "b".to_string()]);
        assert_eq!(created(&events, inserted), [true, true, false]);
    }

    #[test]
    fn tenants_are_those_of_created_events_once_each() {
        let events = [
            event("a", "t2", "x"),
            event("b", "t1", "x"),
            event("c", "t2", "x"),
        ];
        assert_eq!(tenants_of(&events, &[true, false, true]), ["t2"]);
        assert_eq!(tenants_of(&events, &[true, true, true]), ["t1", "t2"]);
    }

    #[test]
    fn fan_out_follows_filters_and_holds_for_deactivated_webhooks() {
        let candidates = HashMap::from([(
            "t".to_string(),
            vec![
                candidate("t", "w1", "app1", r#"["*"]"#, "active"),
                candidate("t", "w2", "app1", r#"["employee.*"]"#, "active"),
                candidate("t", "w3", "app2", r#"["other.thing"]"#, "active"),
                candidate("t", "w4", "app2", r#"["*"]"#, "deactivated"),
            ],
        )]);
        let mut ledger = ledger_of(&candidates);
        let (deliveries, summary, leased) = fan_out(
            &event("e", "t", "employee.created"),
            &candidates,
            None,
            &mut ledger,
            &mut HashMap::new(),
        )
        .unwrap();
        assert!(leased.is_empty());
        let planned: Vec<_> = deliveries
            .iter()
            .map(|d| (d.webhook_id.as_str(), d.state, d.due_at.is_some()))
            .collect();
        assert_eq!(
            planned,
            [
                ("w1", DeliveryState::Pending, true),
                ("w2", DeliveryState::Pending, true),
                ("w4", DeliveryState::Held, false),
            ]
        );
        assert_eq!(summary.deliveries, 3);
        assert_eq!(
            summary.deliveries_by_app,
            [("app1".to_string(), 2), ("app2".to_string(), 1)]
        );
        let (none, summary, _) = fan_out(
            &event("e", "other", "x"),
            &candidates,
            None,
            &mut ledger,
            &mut HashMap::new(),
        )
        .unwrap();
        assert!(none.is_empty());
        assert_eq!(summary.deliveries, 0);
    }

    #[test]
    fn the_fast_path_leases_what_has_room_and_never_a_held_delivery() {
        let candidates = HashMap::from([(
            "t".to_string(),
            vec![
                candidate("t", "w1", "app1", r#"["*"]"#, "active"),
                candidate("t", "w2", "app2", r#"["*"]"#, "active"),
                candidate("t", "w3", "app3", r#"["*"]"#, "deactivated"),
            ],
        )]);
        let asked = std::sync::Mutex::new(Vec::new());
        let room_for_w1 = |webhook: &str, _: Option<i64>| {
            asked.lock().unwrap().push(webhook.to_string());
            webhook == "w1"
        };
        let until = Utc::now() + chrono::TimeDelta::minutes(5);
        let lease = FastLease {
            token: "tok".into(),
            until,
            try_hold: &room_for_w1,
        };
        let mut ledger = ledger_of(&candidates);
        let (deliveries, summary, leased) = fan_out(
            &event("e", "t", "a.b"),
            &candidates,
            Some(&lease),
            &mut ledger,
            &mut HashMap::new(),
        )
        .unwrap();
        let planned: Vec<_> = deliveries
            .iter()
            .map(|d| (d.webhook_id.as_str(), d.state, d.lease_token.as_deref()))
            .collect();
        assert_eq!(
            planned,
            [
                ("w1", DeliveryState::InFlight, Some("tok")),
                ("w2", DeliveryState::Pending, None),
                ("w3", DeliveryState::Held, None),
            ]
        );
        assert_eq!(
            deliveries[0].due_at,
            Some(to_millis(until)),
            "due again when the lease ends"
        );
        assert_eq!(
            *asked.lock().unwrap(),
            ["w1", "w2"],
            "a held delivery takes no slot"
        );
        assert_eq!(summary.leased, 1);
        assert_eq!(leased.len(), 1);
        assert_eq!(leased[0].delivery_id, deliveries[0].id);
        assert_eq!(leased[0].tenant_name, "t Inc.");
    }

    #[test]
    fn only_a_delivery_at_its_queue_head_takes_a_free_place_at_once() {
        let waiting = |tenant: &str, finish: i64| FanoutRow {
            lowest_waiting: Some(10),
            latest_finish: Some(900),
            tenant_finish: Some(finish),
            ..candidate(tenant, "w", "app", r#"["*"]"#, "active")
        };
        // The noisy tenant's backlog reaches far past the head; the quiet one's last
        // delivery finished before it.
        let candidates = HashMap::from([
            ("noisy".to_string(), vec![waiting("noisy", 900)]),
            ("quiet".to_string(), vec![waiting("quiet", 5)]),
        ]);
        let always_room = |_: &str, _: Option<i64>| true;
        let lease = FastLease {
            token: "tok".into(),
            until: Utc::now(),
            try_hold: &always_room,
        };
        let mut ledger = ledger_of(&candidates);
        let mut publish = |tenant: &str| {
            let (d, _, _) = fan_out(
                &event("e", tenant, "x"),
                &candidates,
                Some(&lease),
                &mut ledger,
                &mut HashMap::new(),
            )
            .unwrap();
            (d[0].state, d[0].fair_tag)
        };
        assert_eq!(publish("noisy"), (DeliveryState::Pending, Some(900)));
        assert_eq!(
            publish("quiet"),
            (DeliveryState::InFlight, None),
            "at the head"
        );
        let cost = fair_share::cost(1);
        assert_eq!(
            publish("quiet"),
            (DeliveryState::Pending, Some(10 + cost)),
            "its place at the head is taken: the next one queues"
        );
        assert_eq!(
            ledger.finishes(),
            [
                (("w".to_string(), "noisy".to_string()), 900 + cost),
                (("w".to_string(), "quiet".to_string()), 10 + 2 * cost),
            ]
        );
    }

    #[test]
    fn behind_an_open_delivery_of_its_key_a_delivery_waits_and_takes_no_place() {
        let candidates = HashMap::from([(
            "t".to_string(),
            vec![
                FanoutRow {
                    ordering: "per_key".into(),
                    ..candidate("t", "ordered", "app1", r#"["*"]"#, "active")
                },
                candidate("t", "plain", "app2", r#"["*"]"#, "active"),
            ],
        )]);
        let always_room = |_: &str, _: Option<i64>| true;
        let lease = FastLease {
            token: "tok".into(),
            until: Utc::now(),
            try_hold: &always_room,
        };
        let of = ("ordered".to_string(), "t".to_string(), "E-1".to_string());
        let mut keys = HashMap::from([(
            of.clone(),
            KeyPlace {
                next_sequence: 4,
                open: false,
            },
        )]);
        let mut ledger = ledger_of(&candidates);
        let keyed = NewEvent {
            ordering_key: Some("E-1".into()),
            ..event("e", "t", "x")
        };
        let mut publish = || {
            let (d, _, leased) =
                fan_out(&keyed, &candidates, Some(&lease), &mut ledger, &mut keys).unwrap();
            let planned: Vec<_> = d
                .iter()
                .map(|d| {
                    (
                        d.webhook_id.clone(),
                        d.state,
                        d.sequence,
                        d.fair_tag.is_some(),
                    )
                })
                .collect();
            (
                planned,
                leased.iter().map(|l| l.ordered).collect::<Vec<_>>(),
            )
        };
        let (first, leased) = publish();
        assert_eq!(
            first,
            [
                ("ordered".into(), DeliveryState::InFlight, Some(4), false),
                ("plain".into(), DeliveryState::InFlight, None, false),
            ],
            "the key's head goes at once"
        );
        assert_eq!(leased, [true, false]);
        let (second, _) = publish();
        assert_eq!(
            second[0],
            ("ordered".into(), DeliveryState::Waiting, Some(5), false),
            "behind the head: no due time, no tag, no lease"
        );
        assert_eq!(second[1].2, None, "an unordered webhook numbers nothing");
        assert_eq!(keys[&of].next_sequence, 6);
    }
}

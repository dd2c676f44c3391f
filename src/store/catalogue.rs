//! The event-type catalogue: the types the platform declares it publishes, with a
//! description and an example, for partners to pick from. `catalogue_store!(Type)`
//! implements [`CatalogueStore`] for a [`Backend`](super::Backend).

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::model::EventType;

#[async_trait]
pub trait CatalogueStore: Send + Sync {
    /// A conflict when the name is taken.
    async fn create_event_type(&self, t: &EventType) -> StoreResult<()>;
    async fn get_event_type(&self, name: &str) -> StoreResult<Option<EventType>>;
    /// By name.
    async fn list_event_types(&self) -> StoreResult<Vec<EventType>>;
    /// False when there is no such type.
    async fn update_event_type(&self, t: &EventType) -> StoreResult<bool>;
    async fn delete_event_type(&self, name: &str) -> StoreResult<bool>;
}

pub(crate) const EVENT_TYPE_COLUMNS: &str =
    "name, description, example, deprecated, created_at, updated_at";

#[derive(sqlx::FromRow)]
pub(crate) struct EventTypeRow {
    name: String,
    description: String,
    example: Option<String>,
    deprecated: i64,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<EventTypeRow> for EventType {
    type Error = super::StoreError;
    fn try_from(r: EventTypeRow) -> Result<Self, Self::Error> {
        let example = r
            .example
            .map(|text| serde_json::from_str(&text))
            .transpose()
            .map_err(|e| super::StoreError::Corrupt(format!("event type example: {e}")))?;
        Ok(EventType {
            name: r.name,
            description: r.description,
            example,
            deprecated: r.deprecated != 0,
            created_at: crate::clock::from_millis(r.created_at),
            updated_at: crate::clock::from_millis(r.updated_at),
        })
    }
}

macro_rules! catalogue_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::catalogue::CatalogueStore for $store {
            async fn create_event_type(
                &self,
                t: &$crate::domain::model::EventType,
            ) -> StoreResult<()> {
                let sql = format!(
                    "INSERT INTO event_types ({}) VALUES ($1, $2, $3, $4, $5, $6)",
                    $crate::store::catalogue::EVENT_TYPE_COLUMNS
                );
                sqlx::query(&sql)
                    .bind(&t.name)
                    .bind(&t.description)
                    .bind(t.example.as_ref().map(|v| v.to_string()))
                    .bind(i64::from(t.deprecated))
                    .bind(to_millis(t.created_at))
                    .bind(to_millis(t.updated_at))
                    .execute($crate::store::Backend::pool(self))
                    .await
                    .map_err(|e| {
                        $crate::store::constraint_error(e, "an event type with this name exists")
                    })?;
                Ok(())
            }

            async fn get_event_type(
                &self,
                name: &str,
            ) -> StoreResult<Option<$crate::domain::model::EventType>> {
                let sql = format!(
                    "SELECT {} FROM event_types WHERE name = $1",
                    $crate::store::catalogue::EVENT_TYPE_COLUMNS
                );
                sqlx::query_as::<
                    <$store as $crate::store::Backend>::Db,
                    $crate::store::catalogue::EventTypeRow,
                >(&sql)
                .bind(name)
                .fetch_optional($crate::store::Backend::pool(self))
                .await?
                .map($crate::domain::model::EventType::try_from)
                .transpose()
            }

            async fn list_event_types(&self) -> StoreResult<Vec<$crate::domain::model::EventType>> {
                let sql = format!(
                    "SELECT {} FROM event_types ORDER BY name",
                    $crate::store::catalogue::EVENT_TYPE_COLUMNS
                );
                sqlx::query_as::<
                    <$store as $crate::store::Backend>::Db,
                    $crate::store::catalogue::EventTypeRow,
                >(&sql)
                .fetch_all($crate::store::Backend::pool(self))
                .await?
                .into_iter()
                .map($crate::domain::model::EventType::try_from)
                .collect()
            }

            async fn update_event_type(
                &self,
                t: &$crate::domain::model::EventType,
            ) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE event_types SET description = $1, example = $2, deprecated = $3, \
                     updated_at = $4 WHERE name = $5",
                )
                .bind(&t.description)
                .bind(t.example.as_ref().map(|v| v.to_string()))
                .bind(i64::from(t.deprecated))
                .bind(to_millis(t.updated_at))
                .bind(&t.name)
                .execute($crate::store::Backend::pool(self))
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_event_type(&self, name: &str) -> StoreResult<bool> {
                let done = sqlx::query("DELETE FROM event_types WHERE name = $1")
                    .bind(name)
                    .execute($crate::store::Backend::pool(self))
                    .await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

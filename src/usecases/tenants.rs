//! Tenants: the platform's customer accounts.

use serde::Deserialize;

use super::contract::{schema, NAME_MAX};
use super::{new_id, validate_id, validate_text, Error, Gateway, Result};
use crate::domain::model::{Environment, Tenant};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    #[schema(schema_with = schema::id_or_null)]
    pub id: Option<String>,
    #[schema(schema_with = schema::name)]
    pub name: String,
    pub environment: Environment,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenant {
    #[schema(schema_with = schema::name_or_null)]
    pub name: Option<String>,
    pub environment: Option<Environment>,
}

pub async fn create(gw: &Gateway, req: CreateTenant) -> Result<Tenant> {
    let id = req.id.unwrap_or_else(new_id);
    validate_id("id", &id)?;
    validate_text("name", &req.name, NAME_MAX, false)?;
    let tenant = Tenant {
        id,
        name: req.name,
        environment: req.environment,
        created_at: gw.clock.now(),
    };
    gw.store.create_tenant(&tenant).await?;
    Ok(tenant)
}

pub async fn list(gw: &Gateway) -> Result<Vec<Tenant>> {
    Ok(gw.store.list_tenants().await?)
}

pub async fn get(gw: &Gateway, id: &str) -> Result<Tenant> {
    gw.store
        .get_tenant(id)
        .await?
        .ok_or(Error::NotFound("tenant"))
}

pub async fn update(gw: &Gateway, id: &str, req: UpdateTenant) -> Result<Tenant> {
    let mut tenant = get(gw, id).await?;
    if let Some(name) = req.name {
        validate_text("name", &name, NAME_MAX, false)?;
        tenant.name = name;
    }
    if let Some(environment) = req.environment {
        tenant.environment = environment;
    }
    if !gw.store.update_tenant(&tenant).await? {
        return Err(Error::NotFound("tenant"));
    }
    Ok(tenant)
}

/// Refused while the tenant still has events or installations.
pub async fn delete(gw: &Gateway, id: &str) -> Result<()> {
    if gw.store.delete_tenant(id).await? {
        Ok(())
    } else {
        Err(Error::NotFound("tenant"))
    }
}

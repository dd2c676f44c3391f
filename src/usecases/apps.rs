//! Partner apps (OAuth clients). The platform creates them; the partner key is shown once.

use serde::{Deserialize, Serialize};

use super::contract::{schema, CLIENT_ID_MAX, NAME_MAX};
use super::{new_id, validate_id, validate_text, Caller, Error, Gateway, Result};
use crate::domain::model::App;
use crate::domain::secrets::generate_partner_key;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApp {
    #[schema(schema_with = schema::id_or_null)]
    pub id: Option<String>,
    #[schema(schema_with = schema::name)]
    pub name: String,
    #[serde(default)]
    #[schema(schema_with = schema::client_id_or_null)]
    pub oauth_client_id: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateApp {
    #[schema(schema_with = schema::name_or_null)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "super::present")]
    #[schema(schema_with = schema::client_id_or_null)]
    pub oauth_client_id: Option<Option<String>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedApp {
    #[serde(flatten)]
    pub app: App,
    /// Shown only here; hookgate keeps its hash.
    pub partner_key: String,
}

fn validate_client_id(client_id: Option<&String>) -> Result<()> {
    match client_id {
        Some(id) => validate_text("oauth_client_id", id, CLIENT_ID_MAX, false),
        None => Ok(()),
    }
}

const CLIENT_TAKEN: &str = "another app has this OAuth client id";

/// Stores an app with its first partner key.
pub async fn create(gw: &Gateway, req: CreateApp) -> Result<CreatedApp> {
    let id = req.id.unwrap_or_else(new_id);
    validate_id("id", &id)?;
    validate_text("name", &req.name, NAME_MAX, false)?;
    validate_client_id(req.oauth_client_id.as_ref())?;
    let app = App {
        id,
        name: req.name,
        oauth_client_id: req.oauth_client_id,
        created_at: gw.clock.now(),
    };
    let (hash, prefix, partner_key) = generate_partner_key();
    gw.store
        .create_app(&app, &hash, &prefix)
        .await
        .map_err(|e| {
            Error::from(e)
                .taken_as("apps.id", "an app with this id exists")
                .taken_as("apps.oauth_client_id", CLIENT_TAKEN)
        })?;
    Ok(CreatedApp { app, partner_key })
}

pub async fn list(gw: &Gateway) -> Result<Vec<App>> {
    Ok(gw.store.list_apps().await?)
}

/// The app, when the caller may see it.
pub async fn get(gw: &Gateway, caller: &Caller, app_id: &str) -> Result<App> {
    caller.require_app(app_id)?;
    gw.store
        .get_app(app_id)
        .await?
        .ok_or(Error::NotFound("app"))
}

/// Renames an app, or sets the OAuth client whose tokens act for it.
pub async fn update(gw: &Gateway, app_id: &str, req: UpdateApp) -> Result<App> {
    let mut app = get(gw, &Caller::Platform, app_id).await?;
    if let Some(name) = req.name {
        validate_text("name", &name, NAME_MAX, false)?;
        app.name = name;
    }
    if let Some(client_id) = req.oauth_client_id {
        validate_client_id(client_id.as_ref())?;
        app.oauth_client_id = client_id;
    }
    if !gw.store.update_app(&app).await? {
        return Err(Error::NotFound("app"));
    }
    Ok(app)
}

/// Refused while the app still has installations or webhooks.
pub async fn delete(gw: &Gateway, app_id: &str) -> Result<()> {
    if gw.store.delete_app(app_id).await? {
        Ok(())
    } else {
        Err(Error::NotFound("app"))
    }
}

//! The path parameters routes share, with the rules their values follow: ids a client
//! chooses (tenants, apps) follow the id rule, ids hookgate makes are UUIDs, event types
//! their own rule. A value that cannot exist is answered 404, as one that does not.

use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{Object, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::Required;

use crate::usecases::contract::schema;

fn uuid() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::Custom("uuid".into())))
        .build()
}

fn path(name: &str, description: &str, schema: Object) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

/// Each a route's path parameters, in their order in the path.
macro_rules! path_params {
    ($($(#[$doc:meta])* $name:ident { $($param:literal: $description:literal = $schema:expr),+ })+) => {$(
        $(#[$doc])*
        pub struct $name;

        impl utoipa::IntoParams for $name {
            fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
                vec![$(path($param, $description, $schema)),+]
            }
        }
    )+};
}

path_params! {
    TenantPath { "id": "Tenant id" = schema::id() }
    InstallationPath { "id": "Installation id" = uuid() }
    EventTypePath { "name": "Event type" = schema::event_type() }
    AppPath { "app": "App id" = schema::id() }
    KeyPath { "app": "App id" = schema::id(), "key": "Key id" = schema::key_id() }
    WebhookPath { "app": "App id" = schema::id(), "id": "Webhook id" = uuid() }
    DestinationPath { "app": "App id" = schema::id(), "id": "Notification destination id" = uuid() }
    DeliveryPath {
        "app": "App id" = schema::id(),
        "id": "Webhook id" = uuid(),
        "delivery": "Delivery id" = uuid()
    }
}

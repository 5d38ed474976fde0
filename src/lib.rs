//! rapport: a self-hostable customer database served as a REST/JSON API.

#[cfg(test)]
mod architecture;
pub mod auth;
pub mod config;
pub mod db;
pub mod domain;
pub mod dto;
pub mod error;
pub(crate) mod extract;
pub(crate) mod handlers;
pub mod keys;
pub mod models;
pub mod openapi;
pub(crate) mod rate_limit;
pub mod repositories;
pub mod seed;
pub mod services;
pub mod state;
pub mod telemetry;

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{middleware, web, App};
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::extract::BodyLimit;
use crate::handlers::fallback::{self, KnownRoutes};
use crate::state::AppState;

/// The whole application, shared by `rapport serve` and the tests.
pub fn build_app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<BoxBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let body_limit = BodyLimit(state.config.body_limit);
    let cors_origins = state.config.forms.cors_origins.clone();
    let (app, mut doc) = handlers::routes(
        App::new()
            .app_data(web::Data::new(state))
            .app_data(body_limit)
            .app_data(web::QueryConfig::default().error_handler(extract::query_error))
            .app_data(web::PathConfig::default().error_handler(extract::path_error))
            .into_utoipa_app()
            .openapi(openapi::base()),
        &cors_origins,
    )
    .split_for_parts();
    openapi::complete(&mut doc);
    let known_routes = web::Data::new(KnownRoutes::from_openapi(&doc));
    app.service(web::redirect("/docs", "/docs/"))
        .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", doc))
        .app_data(known_routes)
        .default_service(web::to(fallback::not_matched))
        .wrap(middleware::from_fn(telemetry::request_context))
}

//! HTTP handlers: extract, check scope, call one service function, map to DTOs.

pub mod consents;
pub mod customers;
pub mod fallback;
pub mod health;

use utoipa_actix_web::{scope, UtoipaApp};

/// The one list of routes: actix serves exactly these and the OpenAPI document
/// describes exactly these.
pub fn routes<T>(app: UtoipaApp<T>) -> UtoipaApp<T>
where
    T: actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Error = actix_web::Error,
        InitError = (),
    >,
{
    app.service(health::healthz).service(health::readyz).service(
        scope::scope("/v1")
            // `duplicates` and `by-email` before `{id}`, which would not parse them.
            .service(customers::list_duplicates)
            .service(customers::upsert_customer_by_email)
            .service(customers::create_customer)
            .service(customers::list_customers)
            .service(customers::get_customer)
            .service(customers::patch_customer)
            .service(customers::add_tags)
            .service(customers::remove_tag)
            .service(customers::merge_customer)
            .service(consents::get_consents)
            .service(consents::consent_history)
            .service(consents::put_consent),
    )
}

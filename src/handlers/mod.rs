//! HTTP handlers: extract, check scope, call one service function, map to DTOs.

pub mod analytics;
pub mod campaigns;
pub mod consents;
pub mod customers;
pub mod enquiries;
pub mod events;
pub mod fallback;
pub mod flows;
pub mod form_definitions;
pub mod forms;
pub mod health;
pub mod imports;
pub mod messages;
pub mod orders;
pub mod privacy;
pub mod products;
pub mod promo_codes;
pub mod public;
pub mod recommendations;
pub mod referrals;
pub mod reminders;
pub mod segments;
pub mod webhooks;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{from_fn, Next};
use actix_web::ResponseError;
use utoipa_actix_web::{scope, UtoipaApp};

use crate::error::AppError;
use crate::extract::BodyLimit;
use crate::rate_limit::limit_per_ip;

/// Body limit of the public endpoints.
pub const PUBLIC_BODY_LIMIT: usize = 16 * 1024;

/// The one list of routes: actix serves exactly these and the OpenAPI document
/// describes exactly these.
pub fn routes<T>(app: UtoipaApp<T>, cors_origins: &[String]) -> UtoipaApp<T>
where
    T: actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Error = actix_web::Error,
        InitError = (),
    >,
{
    // The public scopes come before `/v1`, whose prefix would otherwise capture them.
    app.service(health::healthz)
        .service(health::readyz)
        // The shop's side of its forms, before the public `/v1/forms` scope (whose prefix
        // would capture them); each route's method guard lets the public ones through.
        .service(form_definitions::create_form)
        .service(form_definitions::list_forms)
        .service(form_definitions::get_form)
        .service(form_definitions::patch_form)
        .service(form_definitions::delete_form)
        .service(form_definitions::form_report)
        .service(form_definitions::list_submissions)
        .service(
            scope::scope("/v1/forms")
                .app_data(BodyLimit(PUBLIC_BODY_LIMIT))
                .wrap(from_fn(limit_per_ip))
                .wrap(cors(cors_origins))
                .wrap(from_fn(cors_refusal))
                .service(forms::contact)
                .service(forms::subscribe)
                .service(form_definitions::submit_form)
                .service(form_definitions::embed_form),
        )
        .service(
            scope::scope("/v1/public")
                .app_data(actix_web::web::PayloadConfig::new(PUBLIC_BODY_LIMIT))
                .app_data(BodyLimit(PUBLIC_BODY_LIMIT))
                .wrap(from_fn(limit_per_ip))
                .wrap(cors(cors_origins))
                .wrap(from_fn(cors_refusal))
                .service(public::confirm_page)
                .service(public::confirm)
                .service(public::unsubscribe_page)
                .service(public::unsubscribe)
                .service(form_definitions::link_page)
                .service(form_definitions::submit_through_link),
        )
        .service(
            // Tracking links in campaign mail: no JWT, the contact's token instead.
            scope::scope("/v1/t").service(campaigns::track_open).service(campaigns::track_click),
        )
        .service(
            scope::scope("/v1")
                // `duplicates` and `by-email` before `{id}`, which would not parse them.
                .service(customers::list_duplicates)
                .service(customers::upsert_customer_by_email)
                .service(customers::create_customer)
                .service(customers::list_customers)
                .service(imports::export_csv)
                .service(imports::create_import)
                .service(imports::get_import)
                .service(privacy::timeline)
                .service(privacy::export)
                .service(privacy::erase)
                .service(customers::get_customer)
                .service(customers::company_people)
                .service(customers::patch_customer)
                .service(customers::add_tags)
                .service(customers::remove_tag)
                .service(customers::merge_customer)
                .service(form_definitions::customer_form_link)
                .service(form_definitions::record_answers)
                .service(form_definitions::attribute_history)
                .service(recommendations::customer_profile)
                .service(recommendations::customer_recommendations)
                .service(consents::get_consents)
                .service(consents::consent_history)
                .service(consents::put_consent)
                .service(consents::unsubscribe_url)
                .service(messages::list_messages)
                .service(enquiries::create_enquiry)
                .service(enquiries::list_enquiries)
                .service(enquiries::get_enquiry)
                .service(enquiries::patch_enquiry)
                .service(products::create_product)
                .service(products::list_products)
                .service(products::get_product)
                .service(products::patch_product)
                .service(products::adjust_stock)
                .service(products::stock_movements)
                .service(recommendations::related_products)
                .service(promo_codes::create_promo_code)
                .service(promo_codes::validate_promo_code)
                .service(promo_codes::list_promo_codes)
                .service(promo_codes::get_promo_code)
                .service(promo_codes::patch_promo_code)
                .service(promo_codes::list_redemptions)
                .service(orders::create_order)
                .service(orders::list_orders)
                .service(orders::get_order)
                .service(orders::change_status)
                .service(orders::refund_order)
                .service(orders::customer_orders)
                .service(referrals::customer_referral)
                // `preview` before `{id}`.
                .service(segments::preview_segment)
                .service(segments::create_segment)
                .service(segments::list_segments)
                .service(segments::get_segment)
                .service(segments::patch_segment)
                .service(segments::delete_segment)
                .service(segments::segment_customers)
                .service(campaigns::create_campaign)
                .service(campaigns::list_campaigns)
                .service(campaigns::get_campaign)
                .service(campaigns::patch_campaign)
                .service(campaigns::launch_campaign)
                .service(campaigns::list_contacts)
                .service(campaigns::send_campaign)
                .service(campaigns::record_responses)
                .service(campaigns::campaign_report)
                .service(campaigns::preview_campaign)
                .service(reminders::birthdays)
                .service(reminders::lapsed)
                .service(analytics::consent)
                .service(analytics::sales)
                .service(analytics::top_products)
                .service(analytics::product_sales)
                .service(analytics::product_types)
                .service(analytics::promotions)
                .service(analytics::customer_value)
                .service(analytics::customer_rfm)
                .service(analytics::cohorts)
                .service(analytics::channels)
                .service(analytics::predictions)
                .service(analytics::enquiries)
                .service(events::list_events)
                .service(webhooks::create_webhook)
                .service(webhooks::list_webhooks)
                .service(webhooks::get_webhook)
                .service(webhooks::patch_webhook)
                .service(webhooks::delete_webhook)
                .service(webhooks::rotate_webhook_secret)
                .service(webhooks::test_webhook)
                .service(webhooks::list_deliveries)
                .service(webhooks::retry_delivery)
                .service(flows::create_flow)
                .service(flows::list_flows)
                .service(flows::get_flow)
                .service(flows::patch_flow)
                .service(flows::delete_flow)
                .service(flows::activate_flow)
                .service(flows::pause_flow)
                .service(flows::flow_report)
                .service(flows::flow_contacts)
                .service(flows::preview_flow)
                .service(flows::list_flow_templates),
        )
}

/// A request CORS refuses (an origin not in `RAPPORT_CORS_ORIGINS`, or a preflight asking
/// for a method or header not allowed) answers a problem like every other error, and is
/// logged as a warning naming the origin and the setting that would admit it.
async fn cors_refusal(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let origin = req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let res = next.call(req).await?;
    let Some(reason) =
        res.response().error().and_then(|e| e.as_error::<actix_cors::CorsError>()).map(|e| e.to_string())
    else {
        return Ok(res.map_into_left_body());
    };
    tracing::warn!(
        origin = %origin,
        path = %res.request().path(),
        "CORS refused a request from origin `{origin}` ({reason}); to allow it, add it to RAPPORT_CORS_ORIGINS"
    );
    let error = AppError::BadRequest(format!("CORS: {reason} (origin `{origin}`)"));
    let (req, _) = res.into_parts();
    Ok(ServiceResponse::new(req, error.error_response()).map_into_right_body())
}

/// CORS for the endpoints browsers call: only the configured origins.
fn cors(origins: &[String]) -> actix_cors::Cors {
    let mut cors = actix_cors::Cors::default()
        .allowed_methods(["GET", "POST"])
        .allowed_headers([
            actix_web::http::header::AUTHORIZATION,
            actix_web::http::header::CONTENT_TYPE,
            actix_web::http::header::ACCEPT,
        ])
        .expose_headers(["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Retry-After", "X-Request-Id"])
        .max_age(3600);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

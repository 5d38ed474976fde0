use actix_web::http::header;
use actix_web::{delete, get, patch, post, put, web, HttpResponse};

use crate::auth::{scopes, Authorized};
use crate::domain::{clean_text, Email, Tag};
use crate::dto::customers::{
    Customer, CustomerInput, CustomerListQuery, CustomerPage, CustomerPatchInput, DuplicatePage, MergeInput, PageQuery,
    TagsInput,
};
use crate::dto::pagination::Page;
use crate::dto::problem::Problem;
use crate::error::AppError;
use crate::extract::{Query, ValidJson};
use crate::openapi::{AuthProblems, BodyProblems, ServerProblems};
use crate::services::customers::{self as service, Upserted};
use crate::state::AppState;

fn created(customer: Customer) -> HttpResponse {
    HttpResponse::Created().insert_header((header::LOCATION, format!("/v1/customers/{}", customer.id))).json(customer)
}

/// Create a customer.
///
/// Email is trimmed and lower-cased, phone normalized to E.164, names cleaned, tags
/// lower-cased and de-duplicated. A person needs an email, a phone or a name; a company
/// needs `company_name`. Scope: `customers:write`.
#[utoipa::path(
    tag = "customers",
    security(("bearer" = ["customers:write"])),
    request_body = CustomerInput,
    responses(
        (status = 201, description = "Created", body = Customer,
         headers(("Location" = String, description = "URL of the new customer"))),
        (status = 409, description = "The email belongs to another customer (`existing_id`)", body = Problem,
         content_type = "application/problem+json",
         example = json!({"type": "about:blank", "title": "Conflict", "status": 409,
                          "detail": "a customer with the email ana@example.com already exists (id 42)",
                          "request_id": "6f1c0b6a8d2e4f3a", "existing_id": 42})),
        BodyProblems, AuthProblems, ServerProblems,
    ),
)]
#[post("/customers")]
pub async fn create_customer(
    _auth: Authorized<scopes::CustomersWrite>,
    state: web::Data<AppState>,
    body: ValidJson<CustomerInput>,
) -> Result<HttpResponse, AppError> {
    let draft = body.0.into_draft(state.config.default_country)?;
    let record = state.db.run(move |conn| service::create(conn, draft)).await?;
    Ok(created(record.into()))
}

/// Get a customer. Scope: `customers:read`.
#[utoipa::path(
    tag = "customers",
    security(("bearer" = ["customers:read"])),
    params(("id" = i64, Path, description = "Customer id")),
    responses(
        (status = 200, description = "The customer", body = Customer),
        (status = 404, description = "No such customer", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/customers/{id}")]
pub async fn get_customer(
    _auth: Authorized<scopes::CustomersRead>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<Customer>, AppError> {
    let id = id.into_inner();
    let record = state.db.run(move |conn| service::get_with_company_totals(conn, id)).await?;
    Ok(web::Json(record.into()))
}

/// The people who belong to a company, by ascending id (keyset paginated). Scope:
/// `customers:read`.
#[utoipa::path(
    tag = "customers",
    security(("bearer" = ["customers:read"])),
    params(("id" = i64, Path, description = "Company (customer of kind `company`) id"), PageQuery),
    responses(
        (status = 200, description = "One page of the company's people", body = CustomerPage),
        (status = 400, description = "Invalid `limit` or `cursor`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer, or it is not a company", body = Problem,
         content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/customers/{id}/people")]
pub async fn company_people(
    _auth: Authorized<scopes::CustomersRead>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    _only_paging: Query<PageQuery>,
    page: Page,
) -> Result<web::Json<CustomerPage>, AppError> {
    let id = id.into_inner();
    let after = page.after_id()?.unwrap_or(0);
    let fetch = page.fetch();
    let rows = state.db.run(move |conn| service::people(conn, id, after, fetch)).await?;
    let (items, next_cursor) = page.answer(rows, |r| vec![r.row.id]);
    Ok(web::Json(CustomerPage { items, next_cursor }))
}

/// Change a customer with JSON Merge Patch (RFC 7396).
///
/// Absent fields stay, `null` clears, `address` and `attributes` merge key by key
/// (a null attribute removes its key), `tags` replaces the set. Scope: `customers:write`.
#[utoipa::path(
    tag = "customers",
    security(("bearer" = ["customers:write"])),
    params(("id" = i64, Path, description = "Customer id")),
    request_body(content = CustomerPatchInput, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The changed customer", body = Customer),
        (status = 404, description = "No such customer", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The new email belongs to another customer (`existing_id`)", body = Problem,
         content_type = "application/problem+json"),
        BodyProblems, AuthProblems, ServerProblems,
    ),
)]
#[patch("/customers/{id}")]
pub async fn patch_customer(
    auth: Authorized<scopes::CustomersWrite>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: ValidJson<CustomerPatchInput>,
) -> Result<web::Json<Customer>, AppError> {
    let id = id.into_inner();
    let patch = body.0.into_patch(state.config.default_country)?;
    let actor = auth.caller.sub;
    let record = state.db.run(move |conn| service::patch(conn, id, patch, &actor)).await?;
    Ok(web::Json(record.into()))
}

/// Create or update the customer with this email (what checkouts and forms call).
///
/// New email: created (201). Known email: given non-empty values fill or replace, empty
/// values never erase, tags are unioned, attributes merged, the original `source` is
/// kept (200). Scope: `customers:write`.
#[utoipa::path(
    tag = "customers",
    security(("bearer" = ["customers:write"])),
    params(("email" = String, Path, format = Email, description = "Email address (normalized before matching)")),
    request_body = CustomerInput,
    responses(
        (status = 200, description = "Merged into the existing customer", body = Customer),
        (status = 201, description = "Created", body = Customer,
         headers(("Location" = String, description = "URL of the new customer"))),
        BodyProblems, AuthProblems, ServerProblems,
    ),
)]
#[put("/customers/by-email/{email}")]
pub async fn upsert_customer_by_email(
    auth: Authorized<scopes::CustomersWrite>,
    state: web::Data<AppState>,
    email: web::Path<String>,
    body: ValidJson<CustomerInput>,
) -> Result<HttpResponse, AppError> {
    let email = Email::parse(&email).map_err(|message| AppError::invalid("email", message))?;
    let body = body.0;
    if let Some(body_email) = body.email.as_deref().and_then(clean_text) {
        if Email::parse(&body_email).ok().as_ref() != Some(&email) {
            return Err(AppError::invalid("email", "must be absent or equal to the email in the path"));
        }
    }
    let draft = body.into_draft(state.config.default_country)?;
    let actor = auth.caller.sub;
    let (record, outcome) = state.db.run(move |conn| service::upsert_by_email(conn, email, draft, &actor)).await?;
    Ok(match outcome {
        Upserted::Created => created(record.into()),
        Upserted::Updated => HttpResponse::Ok().json(Customer::from(record)),
    })
}

/// List customers, newest first, with filters and keyset pagination.
/// Scope: `customers:read`.
#[utoipa::path(
    tag = "customers",
    security(("bearer" = ["customers:read"])),
    params(CustomerListQuery),
    responses(
        (status = 200, description = "One page of customers", body = CustomerPage),
        (status = 400, description = "Invalid query parameter or cursor", body = Problem,
         content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/customers")]
pub async fn list_customers(
    _auth: Authorized<scopes::CustomersRead>,
    state: web::Data<AppState>,
    query: Query<CustomerListQuery>,
    page: Page,
) -> Result<web::Json<CustomerPage>, AppError> {
    let query = query.into_inner();
    let filter = query.into_filter(state.config.timezone)?;
    let before_id = page.after_id()?;
    let fetch = page.fetch();
    let rows = state.db.run(move |conn| service::list(conn, &filter, before_id, fetch)).await?;
    let (items, next_cursor) = page.answer(rows, |r| vec![r.row.id]);
    Ok(web::Json(CustomerPage { items, next_cursor }))
}

/// Add tags to a customer (existing tags are kept). Scope: `customers:write`.
#[utoipa::path(
    tag = "customers",
    security(("bearer" = ["customers:write"])),
    params(("id" = i64, Path, description = "Customer id")),
    request_body = TagsInput,
    responses(
        (status = 200, description = "The customer with its tags", body = Customer),
        (status = 404, description = "No such customer", body = Problem, content_type = "application/problem+json"),
        BodyProblems, AuthProblems, ServerProblems,
    ),
)]
#[post("/customers/{id}/tags")]
pub async fn add_tags(
    _auth: Authorized<scopes::CustomersWrite>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: ValidJson<TagsInput>,
) -> Result<web::Json<Customer>, AppError> {
    let id = id.into_inner();
    let tags = body.0.into_tags()?;
    let record = state.db.run(move |conn| service::add_tags(conn, id, tags)).await?;
    Ok(web::Json(record.into()))
}

/// Remove one tag from a customer. Scope: `customers:write`.
#[utoipa::path(
    tag = "customers",
    security(("bearer" = ["customers:write"])),
    params(
        ("id" = i64, Path, description = "Customer id"),
        ("tag" = String, Path, description = "The tag (matched case-insensitively)"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such customer, or the customer lacks this tag", body = Problem,
         content_type = "application/problem+json"),
        (status = 422, description = "Not a valid tag", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[delete("/customers/{id}/tags/{tag}")]
pub async fn remove_tag(
    _auth: Authorized<scopes::CustomersWrite>,
    state: web::Data<AppState>,
    path: web::Path<(i64, String)>,
) -> Result<HttpResponse, AppError> {
    let (id, tag) = path.into_inner();
    let tag = Tag::parse(&tag).map_err(|message| AppError::invalid("tag", message))?;
    state.db.run(move |conn| service::remove_tag(conn, id, tag)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Pairs of likely duplicates: same phone; same first name, last name and postal code;
/// or same company name and country. Scope: `customers:read`.
#[utoipa::path(
    tag = "customers",
    security(("bearer" = ["customers:read"])),
    params(PageQuery),
    responses(
        (status = 200, description = "One page of pairs, by customer id then duplicate id", body = DuplicatePage),
        (status = 400, description = "Invalid query parameter or cursor", body = Problem,
         content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/customers/duplicates")]
pub async fn list_duplicates(
    _auth: Authorized<scopes::CustomersRead>,
    state: web::Data<AppState>,
    _only_paging: Query<PageQuery>,
    page: Page,
) -> Result<web::Json<DuplicatePage>, AppError> {
    let after = page.after_key(2)?.map_or((0, 0), |key| (key[0], key[1]));
    let fetch = page.fetch();
    let pairs = state.db.run(move |conn| service::duplicates(conn, after, fetch)).await?;
    let (items, next_cursor) = page.answer(pairs, |(pair, _, _)| vec![pair.customer_id, pair.duplicate_id]);
    Ok(web::Json(DuplicatePage { items, next_cursor }))
}

/// Merge a duplicate into this customer, in one transaction.
///
/// Blanks are filled from the duplicate, tags unioned, attributes merged (this
/// customer's values win), everything referring to the duplicate moves here, the merge
/// is recorded with the duplicate's former values, and the duplicate is deleted.
/// Scope: `customers:write`.
#[utoipa::path(
    tag = "customers",
    security(("bearer" = ["customers:write"])),
    params(("id" = i64, Path, description = "The surviving customer")),
    request_body = MergeInput,
    responses(
        (status = 200, description = "The surviving customer", body = Customer),
        (status = 404, description = "No customer `{id}`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The merged email collides with another customer", body = Problem,
         content_type = "application/problem+json"),
        BodyProblems, AuthProblems, ServerProblems,
    ),
)]
#[post("/customers/{id}/merge")]
pub async fn merge_customer(
    auth: Authorized<scopes::CustomersWrite>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: ValidJson<MergeInput>,
) -> Result<web::Json<Customer>, AppError> {
    let survivor_id = id.into_inner();
    let duplicate_id = body.0.duplicate_id;
    let actor = auth.caller.sub;
    let record = state.db.run(move |conn| service::merge(conn, survivor_id, duplicate_id, &actor)).await?;
    Ok(web::Json(record.into()))
}

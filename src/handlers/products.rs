use actix_web::http::header;
use actix_web::{get, patch, post, web, HttpResponse};

use crate::auth::{scopes, Authorized};
use crate::dto::customers::PageQuery;
use crate::dto::pagination::Page;
use crate::dto::problem::Problem;
use crate::dto::products::{
    Product, ProductInput, ProductListQuery, ProductPage, ProductPatchInput, StockAdjustmentInput, StockMovementPage,
};
use crate::error::AppError;
use crate::extract::{Query, ValidJson};
use crate::openapi::{AuthProblems, BodyProblems, ServerProblems};
use crate::services::products as service;
use crate::state::AppState;

/// Add a product to the catalogue. Scope: `products:write`.
#[utoipa::path(
    tag = "products",
    security(("bearer" = ["products:write"])),
    request_body = ProductInput,
    responses(
        (status = 201, description = "Created", body = Product, headers(("Location" = String))),
        (status = 409, description = "The SKU exists (`existing_id`)", body = Problem, content_type = "application/problem+json"),
        BodyProblems, AuthProblems, ServerProblems,
    ),
)]
#[post("/products")]
pub async fn create_product(
    auth: Authorized<scopes::ProductsWrite>,
    state: web::Data<AppState>,
    body: ValidJson<ProductInput>,
) -> Result<HttpResponse, AppError> {
    let draft = body.0.into_draft()?;
    let actor = auth.caller.sub;
    let product = state.db.run(move |conn| service::create(conn, draft, &actor)).await?;
    let location =
        format!("/v1/products/{}", url::form_urlencoded::byte_serialize(product.sku.as_bytes()).collect::<String>());
    Ok(HttpResponse::Created().insert_header((header::LOCATION, location)).json(Product::from(product)))
}

/// One product. Scope: `orders:read`.
#[utoipa::path(
    tag = "products",
    security(("bearer" = ["orders:read"])),
    params(("sku" = String, Path, description = "SKU")),
    responses(
        (status = 200, description = "The product", body = Product),
        (status = 404, description = "No such SKU", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/products/{sku}")]
pub async fn get_product(
    _auth: Authorized<scopes::OrdersRead>,
    state: web::Data<AppState>,
    sku: web::Path<String>,
) -> Result<web::Json<Product>, AppError> {
    let sku = sku.into_inner();
    Ok(web::Json(state.db.run(move |conn| service::get(conn, &sku)).await?.into()))
}

/// Change a product (merge patch; stock goes through stock adjustments). Scope: `products:write`.
#[utoipa::path(
    tag = "products",
    security(("bearer" = ["products:write"])),
    params(("sku" = String, Path, description = "SKU")),
    request_body(content = ProductPatchInput, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The product", body = Product),
        (status = 404, description = "No such SKU", body = Problem, content_type = "application/problem+json"),
        BodyProblems, AuthProblems, ServerProblems,
    ),
)]
#[patch("/products/{sku}")]
pub async fn patch_product(
    _auth: Authorized<scopes::ProductsWrite>,
    state: web::Data<AppState>,
    sku: web::Path<String>,
    body: ValidJson<ProductPatchInput>,
) -> Result<web::Json<Product>, AppError> {
    let sku = sku.into_inner();
    let patch = body.0.into_patch()?;
    Ok(web::Json(state.db.run(move |conn| service::patch(conn, &sku, patch)).await?.into()))
}

/// The catalogue, newest first, with filters. Scope: `orders:read`.
#[utoipa::path(
    tag = "products",
    security(("bearer" = ["orders:read"])),
    params(ProductListQuery),
    responses(
        (status = 200, description = "One page of products", body = ProductPage),
        (status = 400, description = "Invalid query parameter or cursor", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/products")]
pub async fn list_products(
    _auth: Authorized<scopes::OrdersRead>,
    state: web::Data<AppState>,
    query: Query<ProductListQuery>,
    page: Page,
) -> Result<web::Json<ProductPage>, AppError> {
    let query = query.into_inner();
    let before = page.after_id()?;
    let filter = query.into_filter();
    let fetch = page.fetch();
    let rows = state.db.run(move |conn| service::list(conn, &filter, before, fetch)).await?;
    let (items, next_cursor) = page.answer(rows, |p| vec![p.id]);
    Ok(web::Json(ProductPage { items, next_cursor }))
}

/// Move the stock of a tracked product (restock, correction, damaged, return); recorded
/// in the movements ledger. Scope: `products:write`.
#[utoipa::path(
    tag = "products",
    security(("bearer" = ["products:write"])),
    params(("sku" = String, Path, description = "SKU")),
    request_body = StockAdjustmentInput,
    responses(
        (status = 200, description = "The product with its new quantity", body = Product),
        (status = 404, description = "No such SKU", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The product's stock is not tracked", body = Problem, content_type = "application/problem+json"),
        BodyProblems, AuthProblems, ServerProblems,
    ),
)]
#[post("/products/{sku}/stock-adjustments")]
pub async fn adjust_stock(
    auth: Authorized<scopes::ProductsWrite>,
    state: web::Data<AppState>,
    sku: web::Path<String>,
    body: ValidJson<StockAdjustmentInput>,
) -> Result<web::Json<Product>, AppError> {
    let sku = sku.into_inner();
    let (delta, reason, note) = body.0.parse()?;
    let actor = auth.caller.sub;
    let product = state.db.run(move |conn| service::adjust_stock(conn, &sku, delta, &reason, note, &actor)).await?;
    Ok(web::Json(product.into()))
}

/// The stock movements of a product, newest first. Scope: `orders:read`.
#[utoipa::path(
    tag = "products",
    security(("bearer" = ["orders:read"])),
    params(("sku" = String, Path, description = "SKU"), PageQuery),
    responses(
        (status = 200, description = "One page of movements", body = StockMovementPage),
        (status = 404, description = "No such SKU", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/products/{sku}/stock-movements")]
pub async fn stock_movements(
    _auth: Authorized<scopes::OrdersRead>,
    state: web::Data<AppState>,
    sku: web::Path<String>,
    _only_paging: Query<PageQuery>,
    page: Page,
) -> Result<web::Json<StockMovementPage>, AppError> {
    let sku = sku.into_inner();
    let before = page.after_id()?;
    let fetch = page.fetch();
    let rows = state.db.run(move |conn| service::movements(conn, &sku, before, fetch)).await?;
    let (items, next_cursor) = page.answer(rows, |m| vec![m.id]);
    Ok(web::Json(StockMovementPage { items, next_cursor }))
}

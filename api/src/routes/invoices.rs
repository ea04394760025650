//! An order's invoice and packing slip: print-ready HTML (`web::invoice`)
//! and the invoice as a PDF printed from that same HTML.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use haat_domain::catalog::products;
use haat_domain::ids::{OrderId, TypedId};
use haat_domain::money::display::Language;
use haat_domain::orders;
use haat_web::invoice::{self, Document, Paper, Shop, Variant};
use serde::Deserialize;
use utoipa_axum::routes;

use super::Routes;
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Auth, PathId, Query};

/// Invoice routes.
pub fn router() -> Routes {
    Routes::new().routes(routes!(html)).routes(routes!(pdf)).routes(routes!(packing_slip))
}

/// `?lang=&size=` of the documents.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct Layout {
    /// `en` or `bn` (default: the `haat_lang` cookie, else `Accept-Language`).
    lang: Option<String>,
    /// `a4` (default) or `a5`.
    size: Option<String>,
}

impl Layout {
    fn parse(&self, headers: &HeaderMap) -> ApiResult<(Language, Paper)> {
        let language = match self.lang.as_deref() {
            None => invoice::language_of(headers),
            Some("en") => Language::English,
            Some("bn") => Language::Bengali,
            Some(_) => return Err(ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, "lang", "must be en or bn")),
        };
        let paper = match self.size.as_deref() {
            None => Paper::A4,
            Some(word) => Paper::parse(word)
                .ok_or_else(|| ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, "size", "must be a4 or a5"))?,
        };
        Ok((language, paper))
    }
}

/// The order's document as HTML (admin, storefront, or the buyer for its own order).
async fn document(
    state: &AppState,
    auth: &Auth,
    id: OrderId,
    variant: Variant,
    (language, paper): (Language, Paper),
) -> ApiResult<String> {
    let mut conn = state.pool.acquire().await?;
    let owner = orders::owner_of(&mut conn, id.uuid()).await?;
    auth.require_member_access(owner, "order")?;
    let order = orders::get(&mut conn, id.uuid()).await?;
    let ids: Vec<uuid::Uuid> = order.lines.iter().map(|l| l.product_id).collect();
    let names = products::labels(&mut conn, &ids).await?;
    let s = &state.settings;
    let doc = Document {
        order: &order,
        products: &names,
        shop: Shop { name: &s.shop_name, address: &s.shop_address },
        zone: s.time_zone,
    };
    Ok(invoice::render(&doc, variant, paper, language))
}

/// The document as an HTML answer, in its language.
async fn page(
    state: &AppState,
    auth: &Auth,
    id: OrderId,
    variant: Variant,
    layout: &Layout,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let (language, paper) = layout.parse(headers)?;
    let body = document(state, auth, id, variant, (language, paper)).await?;
    let mut res = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
    res.headers_mut().insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(language.tag()));
    Ok(res)
}

/// The invoice, print-ready HTML.
#[utoipa::path(get, path = "/v1/orders/{id}/invoice", tag = "orders", params(("id" = OrderId, Path, description = "The order"), Layout),
    responses((status = 200, description = "The invoice (text/html)", content_type = "text/html", body = String)))]
async fn html(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<OrderId>,
    Query(layout): Query<Layout>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    page(&state, &auth, id, Variant::Invoice, &layout, &headers).await
}

/// The packing slip: the invoice without prices, for the parcel.
#[utoipa::path(get, path = "/v1/orders/{id}/packing-slip", tag = "orders", params(("id" = OrderId, Path, description = "The order"), Layout),
    responses((status = 200, description = "The packing slip (text/html)", content_type = "text/html", body = String)))]
async fn packing_slip(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<OrderId>,
    Query(layout): Query<Layout>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    page(&state, &auth, id, Variant::PackingSlip, &layout, &headers).await
}

/// The invoice as a PDF, printed by headless Chromium from the same HTML.
#[utoipa::path(get, path = "/v1/orders/{id}/invoice.pdf", tag = "orders", params(("id" = OrderId, Path, description = "The order"), Layout),
    responses((status = 200, description = "The invoice (application/pdf)", content_type = "application/pdf", body = Vec<u8>),
              (status = 503, description = "No Chromium to print with (`HAAT_CHROMIUM`)")))]
async fn pdf(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<OrderId>,
    Query(layout): Query<Layout>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let body = document(&state, &auth, id, Variant::Invoice, layout.parse(&headers)?).await?;
    let Some(chromium) = state.settings.chromium.as_deref() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "No PDF renderer",
            "printing a PDF needs Chromium: install it (scripts/bootstrap --browser) or set HAAT_CHROMIUM",
        ));
    };
    let bytes = crate::pdf::render(chromium, &body).await.map_err(|e| {
        tracing::error!(error = %e, "invoice PDF not printed");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "PDF not printed", "the invoice could not be printed: ask again")
    })?;
    let name = format!("attachment; filename=\"invoice-{}.pdf\"", id.uuid());
    Ok(([(header::CONTENT_TYPE, "application/pdf".to_owned()), (header::CONTENT_DISPOSITION, name)], bytes)
        .into_response())
}

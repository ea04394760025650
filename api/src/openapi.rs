//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]`
//! annotations and the request and response types they name, and served at
//! `/openapi.json` with an offline reference page at `/docs`.
//!
//! What is the same for every operation is added here once rather than on
//! 60 annotations: the bearer-key security, the problem+json error answers,
//! and the `Idempotency-Key` header every POST accepts.

use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use haat_domain::FieldError;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, Required, ResponseBuilder};
use utoipa::{PartialSchema, ToSchema};

/// An RFC 9457 problem: what every error answers.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Problem {
    /// Always `about:blank`.
    #[schema(rename = "type")]
    r#type: String,
    /// Short, stable summary.
    title: String,
    /// The HTTP status.
    status: u16,
    /// What went wrong, in words.
    detail: String,
    /// The fields at fault, each named.
    errors: Vec<FieldError>,
}

/// The error answers an operation may give, by status and what they mean.
const ERRORS: &[(&str, &str)] = &[
    ("400", "The body is not JSON, or a header is malformed"),
    ("401", "No API key, an unknown one, or a bad webhook signature"),
    ("403", "The key's role may not do this"),
    ("404", "No such thing, or not this key's to see"),
    ("409", "A conflict: a duplicate, a state that forbids it, or the same Idempotency-Key in flight"),
    ("413", "The body is over 1 MiB"),
    ("422", "A field is invalid (named in `errors`)"),
    ("500", "A fault of ours; nothing internal is told"),
];

/// The document as served: the handlers' paths with what all of them share.
pub fn document(mut doc: OpenApi) -> OpenApi {
    doc.info.title = "haat".into();
    doc.info.version = "1".into();
    doc.info.description = Some(
        "The haat HTTP contract (v1): members, catalog, orders, plans, campaigns, wallets, webhooks \
         and operations. Money, volume and rates are decimal strings; errors are problem+json."
            .into(),
    );
    // Who made it and under what terms: ours, not the generator's defaults.
    doc.info.contact = None;
    doc.info.license = Some(utoipa::openapi::License::new("MIT"));
    let components = doc.components.get_or_insert_with(Default::default);
    components.schemas.extend(haat_domain::ids::schemas());
    components.schemas.insert("Problem".into(), Problem::schema());
    components.schemas.insert("FieldError".into(), FieldError::schema());
    components
        .security_schemes
        .insert("api_key".into(), RefOr::T(SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer))));
    for (status, meaning) in ERRORS {
        let problem = ResponseBuilder::new()
            .description(*meaning)
            .content("application/problem+json", Content::new(Some(RefOr::Ref(Ref::from_schema_name("Problem")))))
            .build();
        components.responses.insert(error_name(status), RefOr::T(problem));
    }
    for (path, item) in doc.paths.paths.iter_mut() {
        let keyed = path.starts_with("/v1/") && !path.starts_with("/v1/webhooks/");
        for (method, op) in operations(item) {
            op.operation_id = Some(operation_id(method, path));
            complete(op, method, keyed);
        }
    }
    doc
}

/// The component name of an error answer (`Error422`).
fn error_name(status: &str) -> String {
    format!("Error{status}")
}

/// A stable, unique operation id from the method and path:
/// `get_v1_members_id_wallet`.
fn operation_id(method: &str, path: &str) -> String {
    let words: Vec<String> =
        path.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_owned).collect();
    format!("{method}_{}", words.join("_"))
}

/// Each operation of a path with its method.
fn operations(item: &mut utoipa::openapi::PathItem) -> Vec<(&'static str, &mut Operation)> {
    [
        ("get", item.get.as_mut()),
        ("post", item.post.as_mut()),
        ("patch", item.patch.as_mut()),
        ("delete", item.delete.as_mut()),
        ("put", item.put.as_mut()),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.map(|op| (m, op)))
    .collect()
}

/// Adds to one operation what every operation of its kind has.
fn complete(op: &mut Operation, method: &str, keyed: bool) {
    if keyed {
        op.security = Some(vec![SecurityRequirement::new("api_key", Vec::<String>::new())]);
    }
    let named = |p: &RefOr<utoipa::openapi::path::Parameter>| matches!(p, RefOr::T(p) if p.name == "Idempotency-Key");
    let has_idem = op.parameters.as_ref().is_some_and(|ps| ps.iter().any(named));
    if method == "post" && keyed && !has_idem {
        let idem = ParameterBuilder::new()
            .name("Idempotency-Key")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "Same key and body: the first answer again; a different body: 422; in flight: 409 with \
                 Retry-After. Required on POST /v1/orders and withdrawals.",
            ))
            .schema(Some(
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .min_length(Some(1))
                    .max_length(Some(255)),
            ))
            .build();
        op.parameters.get_or_insert_with(Vec::new).push(RefOr::T(idem));
    }
    if let Some(RefOr::T(body)) = op.request_body.as_mut() {
        body_is_required(body);
    }
    for (status, _) in ERRORS {
        let answer = RefOr::Ref(Ref::new(format!("#/components/responses/{}", error_name(status))));
        op.responses.responses.entry((*status).into()).or_insert(answer);
    }
}

/// A documented request body is one the handler needs.
fn body_is_required(body: &mut RequestBody) {
    if body.required.is_none() {
        body.required = Some(Required::True);
    }
}

/// The document as served, rendered on first use.
static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document of this api", body = Object)))]
pub async fn serve_document() -> Response {
    let doc = DOCUMENT.get_or_init(crate::openapi_json);
    ([(header::CONTENT_TYPE, "application/json")], doc.as_str()).into_response()
}

/// The reference page, drawn by the vendored Redoc from `/openapi.json`;
/// nothing loads from elsewhere.
#[utoipa::path(get, path = "/docs", tag = "operations",
    responses((status = 200, description = "The reference page (HTML)", body = String, content_type = "text/html")))]
pub async fn docs_page() -> Html<&'static str> {
    Html(DOCS_HTML)
}

/// Redoc (MIT), vendored in `api/assets/`, for the reference page.
#[utoipa::path(get, path = "/docs/redoc.standalone.js", tag = "operations",
    responses((status = 200, description = "Redoc's standalone bundle", body = String, content_type = "text/javascript")))]
pub async fn redoc_script() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], REDOC_JS).into_response()
}

const DOCS_HTML: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>haat API reference</title>
</head>
<body>
<redoc spec-url="/openapi.json" hide-download-button="false"></redoc>
<script src="/docs/redoc.standalone.js"></script>
</body>
</html>
"#;

const REDOC_JS: &[u8] = include_bytes!("../assets/redoc.standalone.js");

//! A member's money: wallet balances, commission lines, statement.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use haat_domain::money::{MONEY_SCALE, format};
use haat_domain::{compensation::commissions, ledger, network::members};
use serde_json::{Value, json};

use super::{Page, bad_cursor, page_of, uuid_cursor};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Auth, Path, Query, parse_id};

/// Wallet routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/members/{id}/wallet", get(wallet))
        .route("/v1/members/{id}/commissions", get(commissions_list))
        .route("/v1/members/{id}/statement", get(statement))
}

async fn member_of(state: &AppState, auth: &Auth, id: &str) -> ApiResult<uuid::Uuid> {
    let id = parse_id(id, "member")?;
    auth.require_member_access(id, "member")?;
    let mut conn = state.pool.acquire().await?;
    members::get(&mut conn, id).await?;
    Ok(id)
}

async fn wallet(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = member_of(&state, &auth, &id).await?;
    let mut conn = state.pool.acquire().await?;
    let w = ledger::wallet(&mut conn, id).await?;
    Ok(Json(json!({
        "currency": state.settings.currency,
        "pending": format(w.pending, MONEY_SCALE),
        "available": format(w.available, MONEY_SCALE),
        "credit": format(w.credit, MONEY_SCALE),
        "reserved": format(w.reserved, MONEY_SCALE),
    })))
}

async fn commissions_list(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Query(page): Query<Page>,
) -> ApiResult<Json<Value>> {
    let id = member_of(&state, &auth, &id).await?;
    let limit = page.limit()?;
    let before = uuid_cursor(&page)?;
    let mut conn = state.pool.acquire().await?;
    let rows = commissions::list_for_member(&mut conn, id, before, limit).await?;
    let last = rows.last().map(|c| c.id.to_string());
    let items = rows.iter().map(|c| serde_json::to_value(c).unwrap_or(Value::Null)).collect();
    Ok(Json(page_of(items, limit, || last)))
}

async fn statement(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Query(page): Query<Page>,
) -> ApiResult<Json<Value>> {
    let id = member_of(&state, &auth, &id).await?;
    let limit = page.limit()?;
    let before = page.cursor.as_deref().map(|c| c.parse::<i64>().map_err(|_| bad_cursor())).transpose()?;
    let mut conn = state.pool.acquire().await?;
    let rows = ledger::statement(&mut conn, id, before, limit).await?;
    let last = rows.last().map(|l| l.id.to_string());
    let items = rows
        .iter()
        .map(|l| {
            json!({
                "id": l.id.to_string(), "at": l.at, "account": l.account,
                "amount": format(l.amount, MONEY_SCALE), "balance_after": format(l.balance_after, MONEY_SCALE),
                "kind": l.kind, "reference": l.reference,
            })
        })
        .collect();
    Ok(Json(page_of(items, limit, || last)))
}

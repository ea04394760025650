//! A member's money: wallet balances, commission lines, statement.

use axum::Json;
use axum::extract::State;
use haat_domain::compensation::commissions::CommissionView;
use haat_domain::ledger::{EntryKind, MemberAccount};
use haat_domain::money::{DecimalText, MONEY_SCALE, format};
use haat_domain::{compensation::commissions, ledger, network::members};
use serde::Serialize;
use serde_json::Value;

use super::{ListOf, Page, Routes, bad_cursor, page_by_id, page_of, uuid_cursor};
use crate::AppState;
use crate::error::{ApiResult, to_json};
use crate::extract::{Auth, PathId, Query};
use haat_domain::ids::{MemberId, TypedId};
use utoipa_axum::routes;

/// Wallet routes.
pub fn router() -> Routes {
    Routes::new().routes(routes!(wallet)).routes(routes!(commissions_list)).routes(routes!(statement))
}

/// `GET /v1/members/{id}/wallet`.
#[derive(Serialize, utoipa::ToSchema)]
struct WalletView {
    /// The deployment's currency (ISO 4217).
    currency: String,
    /// Earned, still held.
    #[schema(value_type = DecimalText)]
    pending: String,
    /// Withdrawable.
    #[schema(value_type = DecimalText)]
    available: String,
    /// Store credit, spendable at checkout.
    #[schema(value_type = DecimalText)]
    credit: String,
    /// Set aside for withdrawals in progress.
    #[schema(value_type = DecimalText)]
    reserved: String,
}

/// One line of `GET /v1/members/{id}/statement`.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct StatementView {
    /// The posting (also the cursor), as a string.
    id: String,
    /// When it was posted.
    at: chrono::DateTime<chrono::Utc>,
    /// Which of the member's accounts.
    account: MemberAccount,
    /// Signed amount.
    #[schema(value_type = DecimalText)]
    amount: String,
    /// The account's balance after it.
    #[schema(value_type = DecimalText)]
    balance_after: String,
    /// The ledger entry kind.
    kind: EntryKind,
    /// What it refers to (a commission, order or withdrawal id).
    reference: String,
}

async fn member_of(state: &AppState, auth: &Auth, id: MemberId) -> ApiResult<uuid::Uuid> {
    let id = id.uuid();
    auth.require_member_access(id, "member")?;
    let mut conn = state.pool.acquire().await?;
    members::get(&mut conn, id).await?;
    Ok(id)
}

/// A member's wallet: pending, available, store credit and reserved balances.
#[utoipa::path(get, path = "/v1/members/{id}/wallet", tag = "wallet", params(("id" = MemberId, Path, description = "The member")),
    responses((status = 200, description = "The member's balances", body = WalletView)))]
async fn wallet(State(state): State<AppState>, auth: Auth, PathId(id): PathId<MemberId>) -> ApiResult<Json<Value>> {
    let id = member_of(&state, &auth, id).await?;
    let mut conn = state.pool.acquire().await?;
    let w = ledger::wallet(&mut conn, id).await?;
    to_json(&WalletView {
        currency: state.settings.currency.clone(),
        pending: format(w.pending, MONEY_SCALE),
        available: format(w.available, MONEY_SCALE),
        credit: format(w.credit, MONEY_SCALE),
        reserved: format(w.reserved, MONEY_SCALE),
    })
    .map(Json)
}

/// A member's commission lines.
#[utoipa::path(get, path = "/v1/members/{id}/commissions", tag = "wallet", params(("id" = MemberId, Path, description = "The member"), Page),
    responses((status = 200, description = "A page of commission lines, newest first", body = ListOf<CommissionView>)))]
async fn commissions_list(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<MemberId>,
    Query(page): Query<Page>,
) -> ApiResult<Json<Value>> {
    let id = member_of(&state, &auth, id).await?;
    let limit = page.limit()?;
    let before = uuid_cursor(&page)?;
    let mut conn = state.pool.acquire().await?;
    let rows = commissions::list_for_member(&mut conn, id, before, limit).await?;
    page_by_id(&rows, limit, |c| c.id)
}

/// A member's ledger statement.
#[utoipa::path(get, path = "/v1/members/{id}/statement", tag = "wallet", params(("id" = MemberId, Path, description = "The member"), Page),
    responses((status = 200, description = "A page of postings with running balances, newest first", body = ListOf<StatementView>)))]
async fn statement(
    State(state): State<AppState>,
    auth: Auth,
    PathId(id): PathId<MemberId>,
    Query(page): Query<Page>,
) -> ApiResult<Json<Value>> {
    let id = member_of(&state, &auth, id).await?;
    statement_page(&state, ledger::Holder::Member(id), &page).await
}

/// A page of a member's or seller's postings with running balances.
pub(crate) async fn statement_page(state: &AppState, holder: ledger::Holder, page: &Page) -> ApiResult<Json<Value>> {
    let limit = page.limit()?;
    let before = page.cursor.as_deref().map(|c| c.parse::<i64>().map_err(|_| bad_cursor())).transpose()?;
    let mut conn = state.pool.acquire().await?;
    let rows = ledger::statement(&mut conn, holder, before, limit).await?;
    let last = rows.last().map(|l| l.id.to_string());
    let items = rows
        .iter()
        .map(|l| {
            to_json(&StatementView {
                id: l.id.to_string(),
                at: l.at,
                account: l.account,
                amount: format(l.amount, MONEY_SCALE),
                balance_after: format(l.balance_after, MONEY_SCALE),
                kind: l.kind,
                reference: l.reference.clone(),
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(page_of(items, limit, || last)))
}

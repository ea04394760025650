//! A member's wallet page: the four balances, as the wallet route reads them.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Utc;
use haat_domain::compensation::{periods, plans};
use haat_domain::error::DomainResult;
use haat_domain::ledger::held::{self, HeldSource};
use haat_domain::reports::commissions;
use haat_domain::rules::period::rank_progress;
use maud::{Markup, html};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::WebState;
use crate::chart::{self, Bar};
use crate::member;
use crate::pages::{answer, frame};
use crate::sign_in::failed;
use crate::words::{self, t};

/// `GET /app/members/{id}`.
pub async fn page(State(state): State<WebState>, Path(id): Path<Uuid>, headers: HeaderMap) -> Response {
    let (session, whose) = match member::open(&state, &headers, id).await {
        Ok(opened) => opened,
        Err(answer) => return answer,
    };
    let read = async {
        let (figures, period) = (balances(&state, id).await?, this_period(&state, id).await?);
        Ok::<_, haat_domain::error::DomainError>((figures, period, earnings(&state, id).await?))
    };
    match read.await {
        Ok((figures, period, chart)) => {
            let body = html! {
                (whose.tabs("wallet"))
                p { (whose.name) }
                (figures)
                (period)
                (chart)
                @if !whose.own { (crate::office::panel(&whose.member, &session.csrf_token)) }
            };
            answer(StatusCode::OK, frame(&whose.title("wallet"), Some(&session), body))
        }
        Err(e) => failed(&e),
    }
}

async fn balances(state: &WebState, member: Uuid) -> DomainResult<Markup> {
    let mut conn = state.pool.acquire().await?;
    let w = haat_domain::ledger::wallet(&mut conn, member).await?;
    let releases = held::releases(&mut conn, member, state.settings.time_zone).await?;
    let money = words::money;
    Ok(html! {
        dl.figures {
            dt { (t("Held (pending)")) } dd #pending { (money(w.pending)) }
            dt { (t("Available")) } dd #available { (money(w.available)) }
            dt { (t("Store credit")) } dd #credit { (money(w.credit)) }
            dt { (t("Set aside for withdrawals")) } dd #reserved { (money(w.reserved)) }
        }
        @if !releases.is_empty() {
            section {
                h2 { (t("When held money is released")) }
                table #releases {
                    caption { (t("Held money by the day its hold ends")) }
                    thead { tr { th scope="col" { (t("Day")) } th scope="col" { (t("From")) } th scope="col" { (t("Becomes")) } th scope="col" { (t("Amount")) } } }
                    tbody {
                        @for r in &releases {
                            tr {
                                td { (words::day(r.day)) }
                                td { (t(source(r.source))) }
                                td { @if r.source.becomes_available() { (t("available")) } @else { (t("store credit")) } }
                                td.amount { (money(r.amount)) }
                            }
                        }
                    }
                }
            }
        }
    })
}

/// This period's volume so far and the rank it reaches, with what the
/// next rank still needs (the close's own rule, `rules::period`).
async fn this_period(state: &WebState, member: Uuid) -> DomainResult<Markup> {
    let now = Utc::now();
    let period = periods::period_of(now, state.settings.time_zone);
    let mut conn = state.reads.acquire().await?;
    let volume = haat_domain::network::members::volume(&mut conn, member, &period).await?;
    let ranks = plans::in_effect(&mut conn, now).await?.map(|p| p.ranks).unwrap_or_default();
    let progress = rank_progress(&ranks, volume.personal_pv, volume.group_pv);
    let pv = |d: Decimal| words::number(haat_domain::money::format(d, haat_domain::money::VOLUME_SCALE));
    Ok(html! {
        section {
            h2 { (t("This period so far")) " (" (words::month(&period)) ")" }
            dl.figures {
                dt { (t("Personal PV")) } dd #personal-pv { (pv(volume.personal_pv)) }
                dt { (t("Group PV")) } dd #group-pv { (pv(volume.group_pv)) }
                dt { (t("Rank reached")) } dd #rank { (progress.current.as_ref().map_or(t("none yet"), |r| r.name.as_str())) }
                @if let Some(next) = &progress.next {
                    dt { (t("Next rank")) } dd #next-rank { (next.name) }
                    dt { (t("It still needs")) }
                    dd #next-rank-needs {
                        (t("personal PV")) " " (pv(progress.personal_pv_short)) ", " (t("group PV")) " " (pv(progress.group_pv_short))
                    }
                }
            }
        }
    })
}

/// The last twelve months' earnings by kind (what was accrued), as a chart.
async fn earnings(state: &WebState, member: Uuid) -> DomainResult<Markup> {
    let zone = state.settings.time_zone;
    let months = periods::last_periods(Utc::now(), zone, 12);
    let mut tx = state.reads.begin().await?;
    haat_platform::db::report_snapshot(&mut tx, state.settings.report_time_limit).await?;
    let read = commissions::monthly_by_kind(&mut tx, member, &months, zone, &state.settings.currency).await?;
    tx.rollback().await?;
    let mut kinds: Vec<String> =
        read.iter().flat_map(|(_, r)| r.rows.iter().filter_map(|row| row.key.clone())).collect();
    kinds.sort();
    kinds.dedup();
    let bars: Vec<Bar> = read
        .iter()
        .map(|(period, report)| Bar {
            label: words::month(period),
            values: kinds
                .iter()
                .map(|k| report.rows.iter().find(|r| r.key.as_ref() == Some(k)).map_or(Decimal::ZERO, |r| r.accrued.0))
                .collect(),
        })
        .collect();
    let names: Vec<&str> = kinds.iter().map(|k| t(kind_name(k))).collect();
    let caption = "Earned in the last twelve months, by kind";
    Ok(chart::bars(("earnings", t(caption), t("Month")), &names, &bars, words::money))
}

/// A kind of earning in words.
fn kind_name(kind: &str) -> &'static str {
    match kind {
        "level" => "Level commissions",
        "retail" => "Retail (guest orders)",
        "pickup" => "Pickup point",
        "bonus" => "Period bonuses",
        "cashback" => "Campaign cashback",
        "order_reward" => "Rewards on own orders",
        _ => "Other",
    }
}

/// A held source in words.
fn source(s: HeldSource) -> &'static str {
    match s {
        HeldSource::Commission => "commissions",
        HeldSource::OrderCashback => "cashback on your orders",
        HeldSource::OrderPoints => "points on your orders",
        HeldSource::CampaignCashback => "campaign cashback",
    }
}

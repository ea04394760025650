//! A member's points and tier: the tier its last twelve months of spending
//! reached, the rate its next order earns, what the next tier needs, and
//! the points it can spend with the day each lot expires; and its
//! challenges, how far it has come in each, and the badges it holds.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::Utc;
use futures::FutureExt;
use haat_domain::rewards::challenges::{self, AwardStatus, Goal, MemberChallenges, Progress};
use haat_domain::rewards::loyalty::{self, Standing};
use maud::{Markup, html};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::WebState;
use crate::member::{self, Whose};
use crate::words::{self, t};

/// `GET /app/members/{id}/points`.
pub async fn page(State(state): State<WebState>, Path(id): Path<Uuid>, headers: HeaderMap) -> Response {
    let zone = state.settings.time_zone;
    member::page(
        &state,
        &headers,
        id,
        "points",
        move |c| {
            async move {
                let now = Utc::now();
                Ok((loyalty::standing(c, id, now).await?, challenges::of_member(c, id, now).await?))
            }
            .boxed()
        },
        |whose, (standing, challenges)| html! { (render(zone, whose, standing)) (render_challenges(zone, challenges)) },
    )
    .await
}

/// Points in the reader's digits, two places.
fn points(p: Decimal) -> String {
    words::number(haat_domain::money::format(p, haat_domain::money::MONEY_SCALE))
}

fn render(zone: chrono_tz::Tz, whose: &Whose, s: &Standing) -> Markup {
    html! {
        (whose.tabs("points"))
        dl.figures {
            dt { (t("Tier")) } dd #tier { (s.tier.as_ref().map_or(t("none yet"), |tier| tier.name.as_str())) }
            dt { (t("Spent in the last twelve months")) } dd #spend { (words::money(s.spend_12m.0)) }
            dt { (t("The next order earns")) } dd #earn-rate { (words::percent(s.earn_rate.0)) }
            @if let (Some(next), Some(left)) = (&s.next_tier, s.spend_to_next_tier()) {
                dt { (t("Next tier")) } dd #next-tier { (next.name) " (" (words::percent(next.rate.0)) ")" }
                dt { (t("Still to spend for it")) } dd #to-next-tier { (words::money(left.0)) }
            }
            dt { (t("Points to spend")) } dd #points { (points(s.points)) }
            dt { (t("Points still held")) } dd #pending-points { (points(s.pending_points)) }
        }
        section {
            h2 { (t("When points expire")) }
            @if s.lots.is_empty() {
                p { (t("No points to spend yet.")) }
            } @else {
                table #lots {
                    caption { (t("Points by the day they expire, soonest first")) }
                    thead { tr { th scope="col" { (t("Expires")) } th scope="col" { (t("Points")) } } }
                    tbody {
                        @for lot in &s.lots {
                            tr {
                                td { (lot.expires_at.map_or_else(|| "—".to_owned(), |at| words::day(at.with_timezone(&zone).date_naive()))) }
                                td.amount { (points(lot.points)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A challenge's figure: spend as money, counts as numbers.
fn figure(goal: Goal, value: Decimal) -> String {
    match goal {
        Goal::Spend => words::money(value),
        Goal::Orders | Goal::Recruits => words::number(value.normalize().to_string()),
    }
}

/// What a goal counts, in the reader's words.
fn goal_words(goal: Goal) -> &'static str {
    match goal {
        Goal::Orders => t("orders"),
        Goal::Spend => t("spent"),
        Goal::Recruits => t("active recruits"),
    }
}

fn award_words(status: AwardStatus) -> &'static str {
    match status {
        AwardStatus::Open => t("in progress"),
        AwardStatus::Awarded => t("completed"),
        AwardStatus::Undone => t("undone by a return"),
    }
}

fn render_challenges(zone: chrono_tz::Tz, c: &MemberChallenges) -> Markup {
    let day = |at: chrono::DateTime<Utc>| words::day(at.with_timezone(&zone).date_naive());
    let row = |p: &Progress| {
        let ch = &p.challenge;
        // The last day of the window is the day before its exclusive end.
        let last = ch.ends_at - chrono::Duration::seconds(1);
        html! {
            tr data-challenge=(ch.id) {
                th scope="row" { (ch.name) }
                td { (day(ch.starts_at)) " – " (day(last)) }
                td.progress {
                    progress value=(p.progress.min(ch.target)) max=(ch.target) aria-label=(ch.name) {}
                    " " span.figure { (figure(ch.goal, p.progress)) " / " (figure(ch.goal, ch.target)) " " (goal_words(ch.goal)) }
                }
                td {
                    @if let Some(points) = ch.points { (points_words(points)) }
                    @if ch.points.is_some() && ch.badge.is_some() { ", " }
                    @if let Some(badge) = &ch.badge { (badge) " " (t("badge")) }
                }
                td.status { (award_words(p.status)) }
            }
        }
    };
    html! {
        section {
            h2 { (t("Challenges")) }
            @if c.challenges.is_empty() {
                p { (t("No challenges running.")) }
            } @else {
                table #challenges {
                    caption { (t("Challenges open now and those you took part in")) }
                    thead { tr {
                        th scope="col" { (t("Challenge")) } th scope="col" { (t("Window")) }
                        th scope="col" { (t("Progress")) } th scope="col" { (t("Reward")) } th scope="col" { (t("Status")) }
                    } }
                    tbody { @for p in &c.challenges { (row(p)) } }
                }
            }
            h3 { (t("Badges")) }
            @if c.badges.is_empty() {
                p #badges { (t("No badges yet.")) }
            } @else {
                ul #badges { @for b in &c.badges { li { (b.badge) } } }
            }
        }
    }
}

/// Points as a reward: "50.00 points".
fn points_words(p: Decimal) -> String {
    format!("{} {}", points(p), t("points"))
}

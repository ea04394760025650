//! What every member page shares: whose page it is, its heading ("Your
//! wallet" to the member, "Rahim's wallet" to the office), and the tabs
//! between the member's pages.

use haat_domain::auth::Role;
use haat_domain::auth::sessions::Session;
use haat_domain::error::DomainResult;
use haat_domain::network::members;
use maud::{Markup, html};
use uuid::Uuid;

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use futures::future::BoxFuture;
use haat_domain::error::DomainError;
use sqlx::PgConnection;

use crate::pages::{answer, frame};
use crate::sign_in::failed;
use crate::words::{self, t};
use crate::{WebState, session};
use haat_domain::money::display::Language;

/// A member page: answered only to a viewer who may see the member (404
/// otherwise), its figures read by `read` on the read pool, rendered by
/// `render` under the title `what` ("Your …", "Rahim's …").
pub async fn page<T>(
    state: &WebState,
    headers: &HeaderMap,
    id: Uuid,
    what: &'static str,
    read: impl for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, DomainResult<T>>,
    render: impl FnOnce(&Whose, &T) -> Markup,
) -> Response {
    let (session, whose) = match open(state, headers, id).await {
        Ok(opened) => opened,
        Err(answer) => return answer,
    };
    let read = async {
        let mut conn = state.reads.acquire().await?;
        read(&mut conn).await
    };
    match read.await {
        Ok(figures) => answer(StatusCode::OK, frame(&whose.title(what), Some(&session), render(&whose, &figures))),
        Err(e) => failed(&e),
    }
}

/// The viewer and the member of a member page, or the answer when the
/// viewer may not see it or there is no such member (both 404).
pub async fn open(state: &WebState, headers: &HeaderMap, id: Uuid) -> Result<(Session, Whose), Response> {
    let session = session::seeing(state, headers, id).await?;
    match Whose::read(state, &session, id).await {
        Ok(whose) => Ok((session, whose)),
        Err(DomainError::NotFound(_)) => Err(session::not_found()),
        Err(e) => Err(failed(&e)),
    }
}

/// The member a page is about, as its heading names them.
pub struct Whose {
    /// The member.
    pub id: Uuid,
    /// Their name.
    pub name: String,
    /// The member as stored (what the office's panel shows).
    pub member: members::Member,
    /// Whether the member is looking at their own page.
    pub own: bool,
}

impl Whose {
    /// Reads the member (not found when there is none).
    pub async fn read(state: &WebState, session: &Session, id: Uuid) -> DomainResult<Self> {
        let mut conn = state.reads.acquire().await?;
        let member = members::get(&mut conn, id).await?;
        Ok(Self { id, name: member.name.clone(), member, own: session.role == Role::Member })
    }

    /// `Your {what}` or `{name}'s {what}`, in the reader's language.
    pub fn title(&self, what: &'static str) -> String {
        let what = t(what);
        match (self.own, words::language()) {
            (true, Language::English) => format!("Your {what}"),
            (true, Language::Bengali) => format!("আপনার {what}"),
            (false, Language::English) => format!("{}'s {what}", self.name),
            (false, Language::Bengali) => format!("{}-এর {what}", self.name),
        }
    }

    /// The tabs between this member's pages, `current` marked.
    pub fn tabs(&self, current: &str) -> Markup {
        let base = format!("/app/members/{}", self.id);
        let tabs = [
            ("wallet", "Wallet", base.clone()),
            ("commissions", "Commissions", format!("{base}/commissions")),
            ("team", "Team", format!("{base}/team")),
            ("orders", "Orders", format!("{base}/orders")),
            ("points", "Points", format!("{base}/points")),
            ("cashback", "Cashback", format!("{base}/cashback")),
            ("share", "Share", format!("{base}/share")),
            ("withdrawals", "Withdrawals", format!("{base}/withdrawals")),
        ];
        html! {
            nav.tabs aria-label=(t("This member's pages")) {
                @for (key, label, href) in tabs {
                    @if key == current {
                        a href=(href) aria-current="page" { (t(label)) }
                    } @else {
                        a href=(href) { (t(label)) }
                    }
                }
            }
        }
    }
}

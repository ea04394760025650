//! Dashboard sessions: who a browser is signed in as. The browser keeps an
//! opaque random token; only its SHA-256 is stored (as API keys are), so a
//! copy of the table signs no one in. Each session has its own CSRF token,
//! which every form it posts must carry.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Role, new_token, token_hash};
use crate::error::{DomainError, DomainResult};
use crate::money::display::{Language, digits};

/// How long a session lasts after sign-in.
pub const LIFETIME: Duration = Duration::hours(12);

/// A live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Admin or member.
    pub role: Role,
    /// The member a member session is bound to.
    pub member_id: Option<Uuid>,
    /// The seller a seller session is bound to.
    pub seller_id: Option<Uuid>,
    /// What its forms must carry.
    pub csrf_token: String,
    /// When it ends by itself.
    pub expires_at: DateTime<Utc>,
}

impl Session {
    /// Whether this session may see `member_id`'s pages: an admin any
    /// member's, a member only its own (the same isolation as a member API
    /// key; anything else is answered as not found).
    pub fn may_see(&self, member_id: Uuid) -> bool {
        match self.role {
            Role::Admin | Role::Storefront => true,
            Role::Member => self.member_id == Some(member_id),
            Role::Seller => false,
        }
    }

    /// Whether this session may see `seller_id`'s pages: an admin any
    /// seller's, a seller only its own.
    pub fn may_see_seller(&self, seller_id: Uuid) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Seller => self.seller_id == Some(seller_id),
            Role::Member | Role::Storefront => false,
        }
    }
}

/// A session just opened, with the token the browser keeps (the only time
/// it is seen).
#[derive(Debug, Clone)]
pub struct Opened {
    /// For the cookie.
    pub token: String,
    /// The session.
    pub session: Session,
}

/// Opens a session for an admin (`member_id` none) or a member.
pub async fn open(conn: &mut PgConnection, role: Role, member_id: Option<Uuid>) -> DomainResult<Opened> {
    match (role, member_id) {
        (Role::Admin, None) | (Role::Member, Some(_)) => insert(conn, role, member_id, None).await,
        _ => Err(DomainError::Internal(anyhow::anyhow!("a {} session cannot be opened", role.as_str()))),
    }
}

/// Opens a session for a seller (signed in with its seller key).
pub async fn open_seller(conn: &mut PgConnection, seller_id: Uuid) -> DomainResult<Opened> {
    insert(conn, Role::Seller, None, Some(seller_id)).await
}

async fn insert(
    conn: &mut PgConnection,
    role: Role,
    member_id: Option<Uuid>,
    seller_id: Option<Uuid>,
) -> DomainResult<Opened> {
    let token = new_token();
    let csrf_token = new_token();
    let expires_at = Utc::now() + LIFETIME;
    sqlx::query!(
        "INSERT INTO web_sessions (token_hash, role, member_id, seller_id, csrf_token, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        token_hash(&token),
        role.as_str(),
        member_id,
        seller_id,
        csrf_token,
        expires_at
    )
    .execute(conn)
    .await?;
    Ok(Opened { token, session: Session { role, member_id, seller_id, csrf_token, expires_at } })
}

/// The live session of `token`: none when unknown, ended or expired.
pub async fn find(conn: &mut PgConnection, token: &str) -> DomainResult<Option<Session>> {
    let row = sqlx::query!(
        r#"SELECT role AS "role: Role", member_id, seller_id, csrf_token, expires_at FROM web_sessions
            WHERE token_hash = $1 AND ended_at IS NULL AND expires_at > now()"#,
        token_hash(token)
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| Session {
        role: r.role,
        member_id: r.member_id,
        seller_id: r.seller_id,
        csrf_token: r.csrf_token,
        expires_at: r.expires_at,
    }))
}

/// Ends the session of `token` (signing out); ending it twice changes nothing.
pub async fn end(conn: &mut PgConnection, token: &str) -> DomainResult<()> {
    sqlx::query!(
        "UPDATE web_sessions SET ended_at = now() WHERE token_hash = $1 AND ended_at IS NULL",
        token_hash(token)
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A random token for a form that is posted before any session exists
/// (the sign-in form's CSRF token, kept in its own cookie).
pub fn form_token() -> String {
    new_token()
}

/// How long an emailed sign-in link can be used.
pub const LINK_LIFETIME: Duration = Duration::minutes(15);

/// Emails a one-time sign-in link to the member with `email`, if there is
/// one (and says nothing either way, so the form tells no one who is a
/// member). The email is queued in the caller's transaction; the link is
/// `{link_base}?token=…`.
pub async fn email_link(conn: &mut PgConnection, email: &str, link_base: &str) -> DomainResult<()> {
    let found =
        sqlx::query!("SELECT id, name, email, language FROM members WHERE lower(email) = lower($1)", email.trim());
    let Some(member) = found.fetch_optional(&mut *conn).await? else {
        return Ok(());
    };
    let token = new_token();
    let hash = token_hash(&token);
    sqlx::query!(
        "INSERT INTO sign_in_links (token_hash, member_id, expires_at) VALUES ($1, $2, $3)",
        hash,
        member.id,
        Utc::now() + LINK_LIFETIME
    )
    .execute(&mut *conn)
    .await?;
    let (link, minutes) = (format!("{link_base}?token={token}"), LINK_LIFETIME.num_minutes());
    let (subject, body) = match Language::of_tag(&member.language) {
        Language::English => (
            "Your haat sign-in link".to_owned(),
            format!(
                "Dear {},\n\nsign in to your haat dashboard with this link (it works once, for {minutes} minutes):\n\n\
                 {link}\n\nIf you did not ask for it, ignore this email.\n",
                member.name
            ),
        ),
        Language::Bengali => (
            "আপনার haat সাইন-ইন লিংক".to_owned(),
            format!(
                "প্রিয় {},\n\nএই লিংক দিয়ে আপনার haat ড্যাশবোর্ডে সাইন ইন করুন (এটি একবার, {} মিনিটের জন্য কাজ \
                 করবে):\n\n{link}\n\nআপনি না চাইলে এই ইমেইলটি উপেক্ষা করুন।\n",
                member.name,
                digits(&minutes.to_string(), Language::Bengali)
            ),
        ),
    };
    let queued = crate::notifications::Email {
        dedupe_key: format!("sign_in:{hash}"),
        member_id: Some(member.id),
        to: member.email,
        subject,
        body,
    };
    crate::notifications::queue(conn, &queued).await
}

/// Spends a sign-in link: the member it was for, once, within its 15
/// minutes; none when unknown, used or expired.
pub async fn redeem_link(conn: &mut PgConnection, token: &str) -> DomainResult<Option<Uuid>> {
    Ok(sqlx::query_scalar!(
        "UPDATE sign_in_links SET used_at = now()
          WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING member_id",
        token_hash(token)
    )
    .fetch_optional(conn)
    .await?)
}

/// Sign-in attempts one address may make in [`ATTEMPT_WINDOW`].
pub const MAX_ATTEMPTS: i64 = 10;

/// The window the attempts are counted over.
pub const ATTEMPT_WINDOW: Duration = Duration::minutes(15);

/// Records a sign-in attempt from `who` (the client's address) and says
/// whether it may go on: at most [`MAX_ATTEMPTS`] in [`ATTEMPT_WINDOW`],
/// counted before any key or link is checked, so guessing costs the same
/// whether the guesses are right or wrong.
pub async fn attempt_allowed(conn: &mut PgConnection, who: &str) -> DomainResult<bool> {
    sqlx::query!("INSERT INTO sign_in_attempts (who) VALUES ($1)", who).execute(&mut *conn).await?;
    let recent = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM sign_in_attempts WHERE who = $1 AND at > $2"#,
        who,
        Utc::now() - ATTEMPT_WINDOW
    )
    .fetch_one(conn)
    .await?;
    Ok(recent <= MAX_ATTEMPTS)
}

//! API keys: stored as SHA-256 of the secret, shown once at creation. A key
//! has one role; a member key is bound to one member.

use rand::Rng;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{DomainError, DomainResult};

pub mod sessions;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything.
    Admin,
    /// Acts for any member; no admin routes.
    Storefront,
    /// Reads and acts only for its own member.
    Member,
    /// A marketplace seller's: reads only its own seller's balance, lines
    /// and statement; everything else is answered as not found.
    Seller,
}

impl Role {
    /// Parses the stored/API spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Self::Admin),
            "storefront" => Some(Self::Storefront),
            "member" => Some(Self::Member),
            "seller" => Some(Self::Seller),
            _ => None,
        }
    }

    /// The stored/API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Storefront => "storefront",
            Self::Member => "member",
            Self::Seller => "seller",
        }
    }
}

crate::words::sqlx_words!(Role);

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The key's id (`config` for the configured admin token): scopes
    /// idempotency keys.
    pub key_id: String,
    /// Its role.
    pub role: Role,
    /// For member keys, the member.
    pub member_id: Option<Uuid>,
    /// For seller keys, the seller.
    pub seller_id: Option<Uuid>,
}

/// The hex SHA-256 of a token: what is stored and looked up.
pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new random secret token.
pub(crate) fn new_token() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let secret: String = (0..40).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect();
    format!("haat_{secret}")
}

/// What a new key is bound to: nothing (admin, storefront), a member or
/// a seller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    /// The member of a member key.
    pub member_id: Option<Uuid>,
    /// The seller of a seller key.
    pub seller_id: Option<Uuid>,
}

fn check_binding(role: Role, b: Binding) -> DomainResult<()> {
    match (role, b.member_id, b.seller_id) {
        (Role::Member, None, _) => Err(DomainError::invalid("member_id", "is required for a member key")),
        (Role::Seller, _, None) => Err(DomainError::invalid("seller_id", "is required for a seller key")),
        (Role::Member, Some(_), None)
        | (Role::Seller, None, Some(_))
        | (Role::Admin | Role::Storefront, None, None) => Ok(()),
        (_, Some(_), _) => Err(DomainError::invalid("member_id", "only member keys are bound to a member")),
        (_, _, Some(_)) => Err(DomainError::invalid("seller_id", "only seller keys are bound to a seller")),
    }
}

/// Creates a key; returns its id and its secret (the only time it is seen).
pub async fn create_key(conn: &mut PgConnection, role: Role, binding: Binding) -> DomainResult<(Uuid, String)> {
    check_binding(role, binding)?;
    if let Some(m) = binding.member_id {
        let exists = sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM members WHERE id = $1) AS "e!""#, m)
            .fetch_one(&mut *conn)
            .await?;
        if !exists {
            return Err(DomainError::invalid("member_id", "no such member"));
        }
    }
    if let Some(s) = binding.seller_id {
        let exists = sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM sellers WHERE id = $1) AS "e!""#, s)
            .fetch_one(&mut *conn)
            .await?;
        if !exists {
            return Err(DomainError::invalid("seller_id", "no such seller"));
        }
    }
    let id = Uuid::now_v7();
    let token = new_token();
    sqlx::query!(
        "INSERT INTO api_keys (id, role, member_id, seller_id, token_hash) VALUES ($1, $2, $3, $4, $5)",
        id,
        role as Role,
        binding.member_id,
        binding.seller_id,
        token_hash(&token)
    )
    .execute(conn)
    .await?;
    Ok((id, token))
}

/// Revokes a key.
pub async fn revoke_key(conn: &mut PgConnection, id: Uuid) -> DomainResult<()> {
    let done = sqlx::query!("UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", id)
        .execute(conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(DomainError::NotFound("api key"));
    }
    Ok(())
}

/// An API key as admins see it: never its secret (only a digest is kept).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct KeyView {
    /// Id.
    pub id: Uuid,
    /// What it may do.
    pub role: Role,
    /// The member a member key acts for.
    pub member_id: Option<Uuid>,
    /// The seller a seller key reads for.
    pub seller_id: Option<Uuid>,
    /// Created.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Revoked (it no longer authenticates), if it was.
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A page of API keys, revoked ones included, newest first, before cursor
/// `before`.
pub async fn list_keys(conn: &mut PgConnection, before: Option<Uuid>, limit: i64) -> DomainResult<Vec<KeyView>> {
    Ok(sqlx::query_as!(
        KeyView,
        r#"SELECT id, role AS "role: Role", member_id, seller_id, created_at, revoked_at FROM api_keys
            WHERE ($1::uuid IS NULL OR id < $1) ORDER BY id DESC LIMIT $2"#,
        before,
        limit
    )
    .fetch_all(conn)
    .await?)
}

/// The principal of a stored, unrevoked key.
pub async fn principal(conn: &mut PgConnection, token: &str) -> DomainResult<Option<Principal>> {
    let row = sqlx::query!(
        r#"SELECT id, role AS "role: Role", member_id, seller_id FROM api_keys
            WHERE token_hash = $1 AND revoked_at IS NULL"#,
        token_hash(token)
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| Principal {
        key_id: r.id.to_string(),
        role: r.role,
        member_id: r.member_id,
        seller_id: r.seller_id,
    }))
}

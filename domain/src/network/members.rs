//! Members and the unilevel tree: referral codes, sponsors, placement,
//! suspension, and the upline walk the cascade depends on.

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::Deserialize;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use crate::error::{DomainError, DomainResult, Problems, is_unique_violation};
use crate::ledger;
use crate::money::display::Language;

/// Characters of a referral code: no 0/O, 1/I/L, so it can be read aloud.
const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
const CODE_LEN: usize = 6;
/// An advisory lock taken by every placement change, so two concurrent moves
/// can never together create a cycle.
const TREE_LOCK_KEY: i64 = 0x6861_6174_7472_6565; // "haattree"

crate::words::stored_words!(
    /// Whether a member takes part: a suspended member earns nothing.
    MemberStatus {
        /// Takes part.
        Active = "active",
        /// Earns nothing until reinstated.
        Suspended = "suspended",
    }
);

/// A member as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Member {
    /// Id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// Email (unique, case-insensitive).
    pub email: String,
    /// Phone.
    pub phone: Option<String>,
    /// Code others join with.
    pub referral_code: String,
    /// Who referred them.
    pub sponsor_id: Option<Uuid>,
    /// Placement parent.
    pub parent_id: Option<Uuid>,
    /// Whether the member earns and may be bought for.
    pub status: MemberStatus,
    /// When they joined.
    pub joined_at: DateTime<Utc>,
}

/// What a storefront sends to create a member.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    /// Display name.
    pub name: String,
    /// Email.
    pub email: String,
    /// Phone.
    #[serde(default)]
    pub phone: Option<String>,
    /// The sponsor's referral code; none places the member under the root.
    #[serde(default)]
    pub sponsor_code: Option<String>,
}

fn validate(input: &NewMember) -> DomainResult<()> {
    let mut p = Problems::default();
    if input.name.trim().is_empty() || crate::input::chars(&input.name) > 200 {
        p.add("name", "must be 1 to 200 characters");
    }
    if !crate::input::looks_like_email(input.email.trim()) {
        p.add("email", "must be an email address");
    }
    if input.phone.as_deref().is_some_and(|phone| !crate::input::looks_like_phone(phone)) {
        p.add("phone", "must be a phone number of digits, '+', '-' or spaces");
    }
    p.finish()
}

/// Creates a member under its sponsor (or under the root when no code is
/// given; the very first member without a code becomes the root).
pub async fn create(conn: &mut PgConnection, input: &NewMember, currency: &str) -> DomainResult<Member> {
    validate(input)?;
    let sponsor_id = match input.sponsor_code.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(code) => Some(
            sqlx::query_scalar!("SELECT id FROM members WHERE referral_code = $1", code.to_uppercase())
                .fetch_optional(&mut *conn)
                .await?
                .ok_or_else(|| DomainError::invalid("sponsor_code", "no member has this referral code"))?,
        ),
        None => sqlx::query_scalar!("SELECT id FROM members WHERE is_root").fetch_optional(&mut *conn).await?,
    };
    let id = Uuid::now_v7();
    for _ in 0..5 {
        let code = new_referral_code();
        let mut sp = conn.begin().await?;
        let inserted = sqlx::query!(
            "INSERT INTO members (id, name, email, phone, referral_code, sponsor_id, parent_id, is_root)
             VALUES ($1, $2, $3, $4, $5, $6, $6, $7)",
            id,
            input.name.trim(),
            input.email.trim(),
            input.phone.as_deref(),
            code,
            sponsor_id,
            sponsor_id.is_none()
        )
        .execute(&mut *sp)
        .await;
        match inserted {
            Ok(_) => {
                sp.commit().await?;
                ledger::open_member_accounts(conn, id, currency).await?;
                let member = get(conn, id).await?;
                tell_endpoints(conn, &member).await?;
                return Ok(member);
            }
            Err(e) if is_unique_violation(&e) => {
                sp.rollback().await?;
                let constraint = e.as_database_error().and_then(|d| d.constraint()).unwrap_or_default();
                if constraint == "members_email_key" {
                    return Err(DomainError::conflict("email", "a member with this email exists"));
                }
                if constraint == "members_one_root" {
                    return Err(DomainError::Conflict { field: None, message: "root raced".into() });
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(DomainError::Internal(anyhow::anyhow!("could not find a free referral code")))
}

/// The `member.joined` event.
async fn tell_endpoints(conn: &mut PgConnection, m: &Member) -> DomainResult<()> {
    use crate::integrations::events::{self, EventType};
    let data = serde_json::json!({
        "member_id": m.id, "name": m.name, "email": m.email, "sponsor_id": m.sponsor_id,
        "referral_code": m.referral_code,
    });
    events::emit(conn, EventType::MemberJoined, &format!("member.joined:{}", m.id), data, m.joined_at).await
}

fn new_referral_code() -> String {
    let mut rng = rand::rng();
    (0..CODE_LEN).map(|_| CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())] as char).collect()
}

/// Reads a member.
pub async fn get(conn: &mut PgConnection, id: Uuid) -> DomainResult<Member> {
    sqlx::query_as!(
        Member,
        r#"SELECT id, name, email, phone, referral_code, sponsor_id, parent_id, status AS "status: MemberStatus",
                  joined_at
             FROM members WHERE id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound("member"))
}

/// A page of members, newest first; with `q`, only the member whose email
/// (any case), phone or referral code (any case) is exactly `q` — what an
/// admin looks a member up by.
pub async fn search(
    conn: &mut PgConnection,
    q: Option<&str>,
    before: Option<Uuid>,
    limit: i64,
) -> DomainResult<Vec<Member>> {
    let q = q.map(str::trim).filter(|q| !q.is_empty());
    // No email, phone or referral code is longer than an email may be.
    if let Some(q) = q {
        crate::input::bounded(q, 254).map_err(|e| DomainError::invalid("q", e.to_string()))?;
    }
    Ok(sqlx::query_as!(
        Member,
        r#"SELECT id, name, email, phone, referral_code, sponsor_id, parent_id, status AS "status: MemberStatus",
                  joined_at
             FROM members
            WHERE ($1::text IS NULL OR lower(email) = lower($1) OR phone = $1 OR referral_code = upper($1))
              AND ($2::uuid IS NULL OR id < $2)
            ORDER BY id DESC LIMIT $3"#,
        q,
        before,
        limit
    )
    .fetch_all(conn)
    .await?)
}

/// The one member whose email, phone or referral code is exactly `q`, as
/// the office names a member in a form; refused naming `field` when no
/// member is.
pub async fn looked_up(conn: &mut PgConnection, field: &str, q: &str) -> DomainResult<Member> {
    let found = search(conn, Some(q), None, 1).await.map_err(|_| DomainError::invalid(field, "is too long"))?;
    found
        .into_iter()
        .next()
        .ok_or_else(|| DomainError::invalid(field, "no member has that email, phone or referral code"))
}

/// A member of someone's upline.
#[derive(Debug, Clone, PartialEq)]
pub struct Ancestor {
    /// The member.
    pub member_id: Uuid,
    /// 1 = the placement parent.
    pub level: u32,
    /// Whether they are suspended now.
    pub suspended: bool,
}

/// The names of `ids` (those that exist), for lists that show members
/// by name: one query for a whole page.
pub async fn names(conn: &mut PgConnection, ids: &[Uuid]) -> DomainResult<std::collections::HashMap<Uuid, String>> {
    let rows = sqlx::query!("SELECT id, name FROM members WHERE id = ANY($1)", ids).fetch_all(conn).await?;
    Ok(rows.into_iter().map(|r| (r.id, r.name)).collect())
}

/// Keeps the language `member_id` reads the dashboard and its emails in.
pub async fn set_language(conn: &mut PgConnection, member_id: Uuid, language: Language) -> DomainResult<()> {
    sqlx::query!("UPDATE members SET language = $2 WHERE id = $1", member_id, language.tag()).execute(conn).await?;
    Ok(())
}

/// The member's upline, nearest first, at most `levels` long. One recursive
/// query of `levels` primary-key lookups: its cost depends on the levels
/// asked for, not on the size or depth of the tree.
pub async fn upline(conn: &mut PgConnection, member_id: Uuid, levels: i32) -> DomainResult<Vec<Ancestor>> {
    let rows = sqlx::query!(
        r#"WITH RECURSIVE up (id, parent_id, status, level) AS (
               SELECT m.id, m.parent_id, m.status, 0 FROM members m WHERE m.id = $1
             UNION ALL
               SELECT p.id, p.parent_id, p.status, up.level + 1
                 FROM up JOIN members p ON p.id = up.parent_id
                WHERE up.level < $2
           )
           SELECT id AS "id!", status AS "status!: MemberStatus", level AS "level!" FROM up WHERE level > 0 ORDER BY level"#,
        member_id,
        levels
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Ancestor {
            member_id: r.id,
            level: u32::try_from(r.level).unwrap_or(0),
            suspended: r.status == MemberStatus::Suspended,
        })
        .collect())
}

/// Members' places in the tree, read once each however many orders a
/// replay walks up from (plan simulation: the top of the tree is in every
/// upline, and is read once, not once per order).
#[derive(Default)]
pub struct Placements {
    /// Member → (placement parent, suspended now).
    known: std::collections::HashMap<Uuid, (Option<Uuid>, bool)>,
}

impl Placements {
    /// Reads what is not known yet of the uplines of `starts`, `levels`
    /// deep: one query per level at most, for the members not read before.
    pub async fn read(&mut self, conn: &mut PgConnection, starts: &[Uuid], levels: u32) -> DomainResult<()> {
        loop {
            let mut missing: Vec<Uuid> = starts.iter().filter_map(|s| self.first_unknown(*s, levels)).collect();
            if missing.is_empty() {
                return Ok(());
            }
            missing.sort();
            missing.dedup();
            let rows = sqlx::query!(
                r#"SELECT id, parent_id, status AS "status: MemberStatus" FROM members WHERE id = ANY($1)"#,
                &missing
            )
            .fetch_all(&mut *conn)
            .await?;
            for r in rows {
                self.known.insert(r.id, (r.parent_id, r.status == MemberStatus::Suspended));
            }
            // Not a member (a start only: parents are members by the
            // foreign key): known to have no upline.
            for id in missing {
                self.known.entry(id).or_insert((None, false));
            }
        }
    }

    /// The first member on the way up from `start` (itself, then up to
    /// `levels` ancestors) not read yet.
    fn first_unknown(&self, start: Uuid, levels: u32) -> Option<Uuid> {
        let (mut at, mut steps) = (Some(start), 0);
        while let Some(id) = at {
            let (parent, _) = match self.known.get(&id) {
                None => return Some(id),
                Some(known) => known,
            };
            if steps == levels {
                return None;
            }
            at = *parent;
            steps += 1;
        }
        None
    }

    /// The ancestors of `start` up to `levels`, nearest first, as
    /// [`upline`] gives them (from what [`Placements::read`] read).
    pub fn upline(&self, start: Uuid, levels: u32) -> Vec<Ancestor> {
        let mut out = Vec::new();
        let mut at = self.known.get(&start).and_then(|(parent, _)| *parent);
        while let Some(id) = at {
            let Some((parent, suspended)) = self.known.get(&id) else { break };
            out.push(Ancestor { member_id: id, level: out.len() as u32 + 1, suspended: *suspended });
            if out.len() as u32 >= levels {
                break;
            }
            at = *parent;
        }
        out
    }
}

/// Moves a member (with its whole downline) under `parent_id`. Refuses a
/// move under the member itself or its own downline.
pub async fn place(conn: &mut PgConnection, member_id: Uuid, parent_id: Uuid) -> DomainResult<Member> {
    sqlx::query!("SELECT pg_advisory_xact_lock($1)", TREE_LOCK_KEY).execute(&mut *conn).await?;
    get(conn, member_id).await?;
    get(conn, parent_id).await.map_err(|_| DomainError::invalid("parent_id", "no such member"))?;
    let would_cycle = sqlx::query_scalar!(
        r#"WITH RECURSIVE up (id, parent_id) AS (
               SELECT id, parent_id FROM members WHERE id = $1
             UNION ALL
               SELECT p.id, p.parent_id FROM up JOIN members p ON p.id = up.parent_id
           )
           SELECT EXISTS (SELECT 1 FROM up WHERE id = $2) AS "cycle!""#,
        parent_id,
        member_id
    )
    .fetch_one(&mut *conn)
    .await?;
    if would_cycle {
        return Err(DomainError::invalid(
            "parent_id",
            "is the member itself or in its downline: the move would create a cycle",
        ));
    }
    sqlx::query!("UPDATE members SET parent_id = $2 WHERE id = $1", member_id, parent_id).execute(&mut *conn).await?;
    get(conn, member_id).await
}

/// Sets a member's status (`active` or `suspended`).
pub async fn set_status(conn: &mut PgConnection, member_id: Uuid, suspended: bool) -> DomainResult<Member> {
    let status = if suspended { MemberStatus::Suspended } else { MemberStatus::Active };
    let done = sqlx::query!("UPDATE members SET status = $2 WHERE id = $1", member_id, status as MemberStatus)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(DomainError::NotFound("member"));
    }
    get(conn, member_id).await
}

/// Deepest team level a caller may ask for (bounds the downline walk).
pub const MAX_TEAM_DEPTH: i32 = 10;

/// A member's volume in one period (`YYYY-MM`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct PeriodVolume {
    /// The period.
    pub period: String,
    /// The member's own PV.
    #[schema(value_type = crate::money::DecimalText)]
    pub personal_pv: rust_decimal::Decimal,
    /// The member's own BV.
    #[schema(value_type = crate::money::DecimalText)]
    pub personal_bv: rust_decimal::Decimal,
    /// PV of the member and their whole downline.
    #[schema(value_type = crate::money::DecimalText)]
    pub group_pv: rust_decimal::Decimal,
    /// BV of the member and their whole downline.
    #[schema(value_type = crate::money::DecimalText)]
    pub group_bv: rust_decimal::Decimal,
}

/// Checks a `YYYY-MM` period.
pub fn parse_period(period: &str) -> DomainResult<String> {
    let ok = period.len() == 7
        && chrono::NaiveDate::parse_from_str(&format!("{period}-01"), "%Y-%m-%d").is_ok()
        && period.as_bytes()[4] == b'-';
    if ok { Ok(period.to_owned()) } else { Err(DomainError::invalid("period", "must be a month, YYYY-MM")) }
}

/// Personal and group volume of a member in `period`. Group volume walks
/// the whole downline (placement tree).
pub async fn volume(conn: &mut PgConnection, member_id: Uuid, period: &str) -> DomainResult<PeriodVolume> {
    get(conn, member_id).await?;
    let row = sqlx::query!(
        r#"WITH RECURSIVE down (id) AS (
               SELECT $1::uuid
             UNION ALL
               SELECT m.id FROM members m JOIN down d ON m.parent_id = d.id
           )
           SELECT coalesce(sum(v.pv) FILTER (WHERE v.member_id = $1), 0) AS "personal_pv!",
                  coalesce(sum(v.bv) FILTER (WHERE v.member_id = $1), 0) AS "personal_bv!",
                  coalesce(sum(v.pv), 0) AS "group_pv!",
                  coalesce(sum(v.bv), 0) AS "group_bv!"
             FROM down JOIN volume_entries v ON v.member_id = down.id AND v.period = $2"#,
        member_id,
        period
    )
    .fetch_one(conn)
    .await?;
    Ok(PeriodVolume {
        period: period.to_owned(),
        personal_pv: row.personal_pv,
        personal_bv: row.personal_bv,
        group_pv: row.group_pv,
        group_bv: row.group_bv,
    })
}

/// One level of a member's downline.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct TeamLevel {
    /// 1 = the member's direct placements.
    pub level: i32,
    /// Members at this level.
    pub members: i64,
    /// Their PV in the period.
    #[schema(value_type = crate::money::DecimalText)]
    pub pv: rust_decimal::Decimal,
    /// Their BV in the period.
    #[schema(value_type = crate::money::DecimalText)]
    pub bv: rust_decimal::Decimal,
}

/// A member's downline by level, `depth` levels deep, with each level's
/// member count and volume in `period`.
pub async fn team(conn: &mut PgConnection, member_id: Uuid, depth: i32, period: &str) -> DomainResult<Vec<TeamLevel>> {
    if !(1..=MAX_TEAM_DEPTH).contains(&depth) {
        return Err(DomainError::invalid("depth", format!("must be from 1 to {MAX_TEAM_DEPTH}")));
    }
    get(conn, member_id).await?;
    let rows = sqlx::query!(
        r#"WITH RECURSIVE down (id, level) AS (
               SELECT m.id, 1 FROM members m WHERE m.parent_id = $1
             UNION ALL
               SELECT m.id, d.level + 1 FROM members m JOIN down d ON m.parent_id = d.id WHERE d.level < $2
           ),
           vol AS (
               SELECT member_id, sum(pv) AS pv, sum(bv) AS bv FROM volume_entries
                WHERE period = $3 AND member_id IN (SELECT id FROM down) GROUP BY member_id
           )
           SELECT d.level AS "level!", count(*) AS "members!",
                  coalesce(sum(vol.pv), 0) AS "pv!", coalesce(sum(vol.bv), 0) AS "bv!"
             FROM down d LEFT JOIN vol ON vol.member_id = d.id
            GROUP BY d.level ORDER BY d.level"#,
        member_id,
        depth,
        period
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| TeamLevel { level: r.level, members: r.members, pv: r.pv, bv: r.bv }).collect())
}

//! A member's downline as members, not counts: a page of it ordered by
//! level then id, and a subtree a few levels deep for a tree view that
//! loads lazily (each node says how many direct members it has, so a
//! client expands it with another call). Personal volume is the asked
//! period's; group volume and rank come from the last closed period, the
//! only time they are computed over the whole tree.

use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use super::members::{self, MAX_TEAM_DEPTH, MemberStatus};
use crate::error::{DomainError, DomainResult};
use crate::money::{Volume, in_minor_units};

/// The most levels one tree call returns.
pub const MAX_TREE_DEPTH: i32 = 3;

/// The most members one tree call returns; a deeper view is expanded a
/// member at a time.
pub const MAX_TREE_MEMBERS: usize = 1_000;

/// One member of a downline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Downline {
    /// The member.
    pub member_id: Uuid,
    /// Their name (masked beyond level 1 when the deployment asks for it).
    pub name: String,
    /// 1 = placed directly under the member asked about.
    pub level: i32,
    /// Active or suspended.
    pub status: MemberStatus,
    /// The highest rank they ever reached (null: none).
    pub rank: Option<String>,
    /// Their PV in the period asked.
    pub personal_pv: Volume,
    /// Their BV in the period asked.
    pub personal_bv: Volume,
    /// Group PV of the last closed period (null: none closed with them).
    pub group_pv: Option<Volume>,
    /// Group BV of that period.
    pub group_bv: Option<Volume>,
    /// Which period the group volume is of.
    pub group_period: Option<String>,
    /// How many members are placed directly under them.
    pub direct_members: i64,
}

/// One node of a subtree: the member and the members under it, as deep as
/// was asked (beyond that, `children` is empty and `direct_members` says
/// whether there is more to expand).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TreeNode {
    /// The member and its figures.
    #[serde(flatten)]
    pub member: Downline,
    /// The members placed under it, by id.
    #[schema(no_recursion)]
    pub children: Vec<TreeNode>,
}

/// Where a page of the downline resumes: after this level and member.
pub type After = (i32, Uuid);

/// A name as the caller may see it: in full at level 1 or when not
/// masking, else its first and last letters around `***`.
pub fn shown_name(name: &str, level: i32, mask: bool) -> String {
    if !mask || level <= 1 {
        return name.to_owned();
    }
    let letters: Vec<char> = name.chars().collect();
    match letters.as_slice() {
        [] => String::new(),
        [only] => format!("{only}***"),
        [first, .., last] => format!("{first}***{last}"),
    }
}

/// A page of `member_id`'s downline `depth` levels deep, by level then id,
/// after `after`.
pub async fn team_members(
    conn: &mut PgConnection,
    member_id: Uuid,
    depth: i32,
    period: &str,
    after: Option<After>,
    limit: i64,
    mask: bool,
) -> DomainResult<Vec<Downline>> {
    if !(1..=MAX_TEAM_DEPTH).contains(&depth) {
        return Err(DomainError::invalid("depth", format!("must be from 1 to {MAX_TEAM_DEPTH}")));
    }
    members::get(conn, member_id).await?;
    let (after_level, after_id) = after.map_or((None, None), |(l, id)| (Some(l), Some(id)));
    let rows = sqlx::query!(
        r#"WITH RECURSIVE down (id, level) AS (
               SELECT m.id, 1 FROM members m WHERE m.parent_id = $1
             UNION ALL
               SELECT m.id, d.level + 1 FROM members m JOIN down d ON m.parent_id = d.id WHERE d.level < $2
           ), page AS (
               SELECT id, level FROM down
                WHERE $4::int IS NULL OR (level, id) > ($4, $5::uuid)
                ORDER BY level, id LIMIT $6
           )
           SELECT p.id AS "id!", p.level AS "level!", m.name, m.status AS "status: MemberStatus",
                  r.highest_rank AS "rank?", coalesce(v.pv, 0) AS "pv!", coalesce(v.bv, 0) AS "bv!",
                  g.group_pv AS "group_pv?", g.group_bv AS "group_bv?", g.period AS "group_period?",
                  (SELECT count(*) FROM members c WHERE c.parent_id = p.id) AS "direct!"
             FROM page p
             JOIN members m ON m.id = p.id
             LEFT JOIN member_ranks r ON r.member_id = p.id
             LEFT JOIN LATERAL (SELECT sum(pv) AS pv, sum(bv) AS bv FROM volume_entries
                                 WHERE member_id = p.id AND period = $3) v ON true
             LEFT JOIN LATERAL (SELECT period, group_pv, group_bv FROM member_periods
                                 WHERE member_id = p.id ORDER BY period DESC LIMIT 1) g ON true
            ORDER BY p.level, p.id"#,
        member_id,
        depth,
        period,
        after_level,
        after_id,
        limit
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Downline {
            member_id: r.id,
            name: shown_name(&r.name, r.level, mask),
            level: r.level,
            status: r.status,
            rank: r.rank,
            personal_pv: Volume(in_minor_units(r.pv)),
            personal_bv: Volume(in_minor_units(r.bv)),
            group_pv: r.group_pv.map(|v| Volume(in_minor_units(v))),
            group_bv: r.group_bv.map(|v| Volume(in_minor_units(v))),
            group_period: r.group_period,
            direct_members: r.direct,
        })
        .collect())
}

/// The subtree under `member_id`, `depth` levels deep (1 to
/// [`MAX_TREE_DEPTH`]); refused naming `depth` when it would hold more
/// than [`MAX_TREE_MEMBERS`] members.
pub async fn tree(
    conn: &mut PgConnection,
    member_id: Uuid,
    depth: i32,
    period: &str,
    mask: bool,
) -> DomainResult<Vec<TreeNode>> {
    if !(1..=MAX_TREE_DEPTH).contains(&depth) {
        return Err(DomainError::invalid("depth", format!("must be from 1 to {MAX_TREE_DEPTH}")));
    }
    let limit = MAX_TREE_MEMBERS as i64 + 1;
    let found = team_members(conn, member_id, depth, period, None, limit, mask).await?;
    if found.len() > MAX_TREE_MEMBERS {
        return Err(DomainError::invalid(
            "depth",
            format!("more than {MAX_TREE_MEMBERS} members that deep: ask for fewer levels and expand a member"),
        ));
    }
    let parents = parents_of(conn, &found).await?;
    Ok(assemble(member_id, found, &parents))
}

/// How many levels `member_id` sits below `root` (0: it is `root`), or
/// not found when it is not in `root`'s downline: what keeps a member
/// expanding only its own tree. One walk up from `member_id`, as long as
/// the tree is deep there.
pub async fn level_below(conn: &mut PgConnection, root: Uuid, member_id: Uuid) -> DomainResult<i32> {
    let level = sqlx::query_scalar!(
        r#"WITH RECURSIVE up (id, parent_id, level) AS (
               SELECT m.id, m.parent_id, 0 FROM members m WHERE m.id = $2
             UNION ALL
               SELECT p.id, p.parent_id, up.level + 1 FROM up JOIN members p ON p.id = up.parent_id
                WHERE up.id <> $1
           )
           SELECT level AS "level!" FROM up WHERE id = $1"#,
        root,
        member_id
    )
    .fetch_optional(conn)
    .await?;
    level.ok_or(DomainError::NotFound("member"))
}

/// A page of the members placed directly under `node`, a member of
/// `root`'s downline (or `root` itself), with levels counted from `root`
/// and names masked as `root` may see them: one level of a tree that is
/// opened a member at a time.
pub async fn children(
    conn: &mut PgConnection,
    root: Uuid,
    node: Uuid,
    period: &str,
    after: Option<Uuid>,
    limit: i64,
    mask: bool,
) -> DomainResult<Vec<Downline>> {
    let offset = level_below(conn, root, node).await?;
    let after = after.map(|id| (1, id));
    let found = team_members(conn, node, 1, period, after, limit, false).await?;
    Ok(found
        .into_iter()
        .map(|d| {
            let level = d.level + offset;
            Downline { name: shown_name(&d.name, level, mask), level, ..d }
        })
        .collect())
}

/// Each member's parent, for hanging the nodes together.
async fn parents_of(
    conn: &mut PgConnection,
    found: &[Downline],
) -> DomainResult<std::collections::HashMap<Uuid, Uuid>> {
    let ids: Vec<Uuid> = found.iter().map(|d| d.member_id).collect();
    let rows = sqlx::query!(r#"SELECT id, parent_id AS "parent_id!" FROM members WHERE id = ANY($1)"#, &ids)
        .fetch_all(conn)
        .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.parent_id)).collect())
}

/// Nests the members under their parents, children by id.
fn assemble(root: Uuid, found: Vec<Downline>, parents: &std::collections::HashMap<Uuid, Uuid>) -> Vec<TreeNode> {
    let mut by_parent: std::collections::HashMap<Uuid, Vec<Downline>> = std::collections::HashMap::new();
    for d in found {
        if let Some(parent) = parents.get(&d.member_id) {
            by_parent.entry(*parent).or_default().push(d);
        }
    }
    fn build(parent: Uuid, by_parent: &mut std::collections::HashMap<Uuid, Vec<Downline>>) -> Vec<TreeNode> {
        let mut members = by_parent.remove(&parent).unwrap_or_default();
        members.sort_by_key(|d| d.member_id);
        members
            .into_iter()
            .map(|member| {
                let children = build(member.member_id, by_parent);
                TreeNode { member, children }
            })
            .collect()
    }
    build(root, &mut by_parent)
}

#[cfg(test)]
mod tests {
    use super::shown_name;

    #[test]
    fn names_beyond_the_first_level_are_masked_only_when_asked() {
        assert_eq!(shown_name("Karim", 2, true), "K***m");
        assert_eq!(shown_name("করিম", 3, true), "ক***ম");
        assert_eq!(shown_name("Karim", 1, true), "Karim");
        assert_eq!(shown_name("Karim", 5, false), "Karim");
        assert_eq!(shown_name("K", 2, true), "K***");
    }
}

//! Period close rules: group volume over the whole tree, ranks (the highest
//! ever achieved never drops; the paid-as rank is this period's) and
//! team-target bonuses. Pure: the same tree and volume give the same result.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::payout;

/// A rank a member reaches in a period by their personal and group PV.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rank {
    /// Its name (`silver`, `gold`, …).
    pub name: String,
    /// Personal PV needed in the period.
    #[schema(value_type = crate::money::DecimalText)]
    pub min_personal_pv: Decimal,
    /// Group PV (own + whole downline) needed in the period.
    #[schema(value_type = crate::money::DecimalText)]
    pub min_group_pv: Decimal,
}

/// A team-target bonus: a fixed amount, or a rate of group BV, for every
/// member whose period figures reach its targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PeriodBonus {
    /// Its name: part of the ledger key, so unique within a plan.
    pub name: String,
    /// Group PV needed.
    #[schema(value_type = crate::money::DecimalText)]
    pub min_group_pv: Decimal,
    /// The paid-as rank needed (index into the plan's ranks), if any.
    #[serde(default)]
    pub min_rank: Option<String>,
    /// A fixed amount…
    #[serde(default)]
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub amount: Option<Decimal>,
    /// …or a rate of the member's group BV.
    #[serde(default)]
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub rate: Option<Decimal>,
}

/// One member of the tree as the period close sees it. `parent` indexes
/// into the same slice.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Node {
    /// The placement parent's index.
    pub parent: Option<usize>,
    /// PV credited to the member in the period.
    pub personal_pv: Decimal,
    /// BV credited to the member in the period.
    pub personal_bv: Decimal,
}

/// Group PV and BV of every node (own + whole downline), in one pass
/// bottom-up: O(n) whatever the shape of the tree.
pub fn group_volumes(nodes: &[Node]) -> Vec<(Decimal, Decimal)> {
    let depth = depths(nodes);
    let mut order: Vec<usize> = (0..nodes.len()).collect();
    order.sort_unstable_by_key(|&i| std::cmp::Reverse(depth[i]));
    let mut group: Vec<(Decimal, Decimal)> = nodes.iter().map(|n| (n.personal_pv, n.personal_bv)).collect();
    for i in order {
        if let Some(p) = nodes[i].parent {
            let (pv, bv) = group[i];
            group[p].0 += pv;
            group[p].1 += bv;
        }
    }
    group
}

/// Each node's distance from its root, computed iteratively (a 10,000-deep
/// chain must not overflow the stack) and each node once.
fn depths(nodes: &[Node]) -> Vec<u32> {
    let mut depth: Vec<Option<u32>> = vec![None; nodes.len()];
    let mut path = Vec::new();
    for start in 0..nodes.len() {
        let mut at = Some(start);
        let mut known = None;
        while let Some(i) = at {
            if let Some(d) = depth[i] {
                known = Some(d);
                break;
            }
            path.push(i);
            // A cycle cannot be stored (placement refuses one); never loop on one.
            if path.len() > nodes.len() {
                break;
            }
            at = nodes[i].parent;
        }
        let mut d = known.map_or(0, |k| k + 1);
        while let Some(i) = path.pop() {
            depth[i] = Some(d);
            d += 1;
        }
    }
    depth.into_iter().map(Option::unwrap_or_default).collect()
}

/// What the period close decides for one member.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberOutcome {
    /// The highest rank whose targets this period's figures meet (paid-as).
    pub paid_as: Option<usize>,
    /// The highest rank ever achieved, this period included.
    pub highest: Option<usize>,
    /// Bonuses earned: (bonus index, basis, amount).
    pub bonuses: Vec<(usize, Decimal, Decimal)>,
}

/// Evaluates ranks and bonuses for one member's period figures.
/// `ranks` are ordered lowest first; `previous_highest` indexes into them.
pub fn evaluate(
    ranks: &[Rank],
    bonuses: &[PeriodBonus],
    personal_pv: Decimal,
    group: (Decimal, Decimal),
    previous_highest: Option<usize>,
) -> MemberOutcome {
    let (group_pv, group_bv) = group;
    let paid_as = ranks.iter().rposition(|r| personal_pv >= r.min_personal_pv && group_pv >= r.min_group_pv);
    let highest = paid_as.max(previous_highest);
    let mut earned = Vec::new();
    for (i, b) in bonuses.iter().enumerate() {
        if group_pv < b.min_group_pv || group_pv.is_zero() {
            continue;
        }
        if let Some(min) = &b.min_rank {
            let needed = ranks.iter().position(|r| &r.name == min);
            if needed.is_none() || paid_as < needed {
                continue;
            }
        }
        let (basis, amount) = match (b.amount, b.rate) {
            (Some(a), _) => (group_bv, a),
            (None, Some(rate)) => (group_bv, payout(group_bv * rate).0),
            (None, None) => continue,
        };
        if amount > Decimal::ZERO {
            earned.push((i, basis, amount));
        }
    }
    MemberOutcome { paid_as, highest, bonuses: earned }
}

/// Where a member stands this period against the plan's ranks: the rank
/// its figures so far would be paid as, the next one up, and what that
/// one still needs (zero where a target is met).
#[derive(Debug, Clone, PartialEq)]
pub struct RankProgress {
    /// The highest rank met so far (the close's paid-as rule).
    pub current: Option<Rank>,
    /// The rank above it.
    pub next: Option<Rank>,
    /// Personal PV the next rank still needs.
    pub personal_pv_short: Decimal,
    /// Group PV the next rank still needs.
    pub group_pv_short: Decimal,
}

/// The member's rank progress from this period's figures; `ranks` lowest
/// first, as [`evaluate`] takes them.
pub fn rank_progress(ranks: &[Rank], personal_pv: Decimal, group_pv: Decimal) -> RankProgress {
    let met = ranks.iter().rposition(|r| personal_pv >= r.min_personal_pv && group_pv >= r.min_group_pv);
    let next = ranks.get(met.map_or(0, |i| i + 1)).cloned();
    let short = |needed: Decimal, have: Decimal| (needed - have).max(Decimal::ZERO);
    RankProgress {
        current: met.map(|i| ranks[i].clone()),
        personal_pv_short: next.as_ref().map_or(Decimal::ZERO, |n| short(n.min_personal_pv, personal_pv)),
        group_pv_short: next.as_ref().map_or(Decimal::ZERO, |n| short(n.min_group_pv, group_pv)),
        next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rank_progress_names_the_rank_met_the_next_and_what_it_still_needs() {
        let ranks = vec![
            Rank { name: "silver".into(), min_personal_pv: dec!(50), min_group_pv: dec!(500) },
            Rank { name: "gold".into(), min_personal_pv: dec!(100), min_group_pv: dec!(5000) },
        ];
        let none = rank_progress(&ranks, dec!(20), dec!(600));
        assert_eq!((none.current, none.next.map(|r| r.name)), (None, Some("silver".to_owned())));
        assert_eq!((none.personal_pv_short, none.group_pv_short), (dec!(30), dec!(0)));
        let silver = rank_progress(&ranks, dec!(120), dec!(700));
        assert_eq!(silver.current.map(|r| r.name), Some("silver".to_owned()));
        assert_eq!((silver.personal_pv_short, silver.group_pv_short), (dec!(0), dec!(4300)));
        let top = rank_progress(&ranks, dec!(100), dec!(5000));
        assert_eq!((top.next, top.group_pv_short), (None, dec!(0)));
    }
    use rust_decimal_macros::dec;

    fn node(parent: Option<usize>, pv: i64) -> Node {
        Node { parent, personal_pv: Decimal::from(pv), personal_bv: Decimal::from(pv * 10) }
    }

    #[test]
    fn group_volume_is_own_plus_the_whole_downline() {
        // 0 ← 1 ← 2, and 0 ← 3
        let nodes = [node(None, 1), node(Some(0), 10), node(Some(1), 100), node(Some(0), 1000)];
        let g = group_volumes(&nodes);
        let pv: Vec<_> = g.iter().map(|(pv, _)| *pv).collect();
        assert_eq!(pv, [dec!(1111), dec!(110), dec!(100), dec!(1000)]);
        assert_eq!(g[0].1, dec!(11110));
    }

    #[test]
    fn a_ten_thousand_deep_chain_is_summed_without_recursion() {
        let nodes: Vec<Node> = (0..10_000usize).map(|i| node(i.checked_sub(1), 1)).collect();
        let g = group_volumes(&nodes);
        assert_eq!(g[0].0, dec!(10000));
        assert_eq!(g[9_999].0, dec!(1));
    }

    fn ranks() -> Vec<Rank> {
        vec![
            Rank { name: "silver".into(), min_personal_pv: dec!(20), min_group_pv: dec!(100) },
            Rank { name: "gold".into(), min_personal_pv: dec!(40), min_group_pv: dec!(1000) },
        ]
    }

    #[test]
    fn the_paid_as_rank_is_this_periods_and_the_highest_never_drops() {
        let up = evaluate(&ranks(), &[], dec!(40), (dec!(1000), dec!(0)), None);
        assert_eq!((up.paid_as, up.highest), (Some(1), Some(1)));
        let quiet = evaluate(&ranks(), &[], dec!(20), (dec!(150), dec!(0)), Some(1));
        assert_eq!((quiet.paid_as, quiet.highest), (Some(0), Some(1)));
        let nothing = evaluate(&ranks(), &[], dec!(0), (dec!(0), dec!(0)), Some(1));
        assert_eq!((nothing.paid_as, nothing.highest), (None, Some(1)));
    }

    #[test]
    fn team_bonuses_pay_a_fixed_amount_or_a_rate_of_group_bv_when_the_targets_are_met() {
        let bonuses = vec![
            PeriodBonus {
                name: "team".into(),
                min_group_pv: dec!(100),
                min_rank: None,
                amount: Some(dec!(500.00)),
                rate: None,
            },
            PeriodBonus {
                name: "share".into(),
                min_group_pv: dec!(100),
                min_rank: Some("gold".into()),
                amount: None,
                rate: Some(dec!(0.0150)),
            },
        ];
        let silver = evaluate(&ranks(), &bonuses, dec!(20), (dec!(100), dec!(1234.56)), None);
        assert_eq!(silver.bonuses, [(0, dec!(1234.56), dec!(500.00))]);
        let gold = evaluate(&ranks(), &bonuses, dec!(40), (dec!(1000), dec!(1234.56)), None);
        // 1.5% of 1234.56 = 18.5184 → 18.51 (toward zero).
        assert_eq!(gold.bonuses, [(0, dec!(1234.56), dec!(500.00)), (1, dec!(1234.56), dec!(18.51))]);
        let short = evaluate(&ranks(), &bonuses, dec!(40), (dec!(99.99), dec!(1000)), None);
        assert!(short.bonuses.is_empty());
    }

    proptest! {
        #[test]
        fn every_group_volume_is_own_plus_its_childrens_groups(
            parents in proptest::collection::vec(any::<proptest::sample::Index>(), 1..200),
            pv in proptest::collection::vec(0i64..1000, 200),
        ) {
            let nodes: Vec<Node> = parents
                .iter()
                .enumerate()
                .map(|(i, p)| node(if i == 0 { None } else { Some(p.index(i)) }, pv[i]))
                .collect();
            let g = group_volumes(&nodes);
            for (i, n) in nodes.iter().enumerate() {
                let children: Decimal = nodes.iter().enumerate().filter(|(_, c)| c.parent == Some(i)).map(|(c, _)| g[c].0).sum();
                prop_assert_eq!(g[i].0, n.personal_pv + children);
            }
            let total: Decimal = nodes.iter().map(|n| n.personal_pv).sum();
            prop_assert_eq!(g[0].0, total);
        }
    }
}

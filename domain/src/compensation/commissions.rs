//! Volume crediting, the commission cascade and hold release, as the jobs
//! run them: each loads current state under the order's row lock, calls the
//! pure rules, and writes its effects with business idempotency keys.

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::compensation::cascade_inputs::{self, OrderHead};
use crate::compensation::plans;
use crate::error::{DomainError, DomainResult};
use crate::integrations::events::{self, Cause, EventType};
use crate::jobs::{self, ReleaseHold};
use crate::ledger::bulk::Transfer;
use crate::ledger::{self, Account, Entry, EntryKind, MemberAccount, Posting, SystemAccount};
use crate::marketplace::escrow::{self, HoldCalendar};
use crate::money::display::{Language, taka_of};
use crate::notifications::{self, ToMember};
use crate::orders::reversals;
use crate::rules::cascade::{self, Commission, Forfeit, Kind};

/// What the `credit_volume` job does: the order's volume, then its cascade,
/// in the caller's one transaction. They were two jobs; as one, an order
/// costs one fetch, one transaction and one job row fewer, and the order's
/// row lock serialises both steps as before. The order is locked and read
/// once for both, and marked credited and cascaded in one update.
pub async fn credit_and_cascade(
    conn: &mut PgConnection,
    order_id: Uuid,
    currency: &str,
    tz: chrono_tz::Tz,
    calendar: &HoldCalendar,
) -> DomainResult<()> {
    let o = Locked::read(conn, order_id).await?;
    // A job runs at least once: a second run after the first committed
    // changes nothing (and must not read the tree again).
    if o.cascaded {
        return Ok(());
    }
    let Some((head, plan_id)) = &o.head else {
        return Ok(());
    };
    if !o.volume_credited {
        write_volume(conn, o.member_id, head, tz).await?;
    }
    cascade_locked(conn, &o, head, *plan_id, currency, calendar, Marks::CreditedAndCascaded).await
}

/// The order as the volume and the cascade start from it, read under its
/// row lock (taken here, held to the commit) in one statement.
struct Locked {
    order_id: Uuid,
    /// Whose volume it is: the buyer's, or a guest order's referrer's.
    member_id: Uuid,
    /// The head and plan once commissionable.
    head: Option<(OrderHead, Uuid)>,
    volume_credited: bool,
    cascaded: bool,
    /// Whether some line is a seller's (only then do the marketplace's
    /// shares follow). Lines never change sellers, so this reads true with
    /// the lock; a return another transaction recorded while this one
    /// waited for the lock would not (the statement reads other tables as
    /// of its start), so returns are read after it.
    sold_by_sellers: bool,
}

impl Locked {
    async fn read(conn: &mut PgConnection, order_id: Uuid) -> DomainResult<Self> {
        let o = sqlx::query!(
            r#"SELECT coalesce(o.buyer_id, o.referrer_id) AS "member_id!", o.invoice_no, o.buyer_id, o.referrer_id,
                      o.pickup_point_id, o.commissionable_at, o.plan_id, o.volume_credited_at, o.cascaded_at,
                      EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.id AND l.seller_id IS NOT NULL)
                        AS "sold_by_sellers!"
                 FROM orders o WHERE o.id = $1 FOR UPDATE OF o"#,
            order_id
        )
        .fetch_one(&mut *conn)
        .await?;
        let head = match (o.commissionable_at, o.plan_id) {
            (Some(credited_at), Some(plan_id)) => Some((
                OrderHead {
                    order_id,
                    invoice_no: o.invoice_no,
                    buyer_id: o.buyer_id,
                    referrer_id: o.referrer_id,
                    pickup_point_id: o.pickup_point_id,
                    credited_at,
                },
                plan_id,
            )),
            _ => None,
        };
        Ok(Self {
            order_id,
            member_id: o.member_id,
            head,
            volume_credited: o.volume_credited_at.is_some(),
            cascaded: o.cascaded_at.is_some(),
            sold_by_sellers: o.sold_by_sellers,
        })
    }
}

/// Writes the order's volume entries (one per line: the buyer's, or a guest
/// order's referrer's as customer volume); says whether the order is
/// commissionable (false: nothing was written). The volume's period is the
/// month of the credit time in `tz`. Returns that arrived before the
/// volume are applied by the cascade that follows, which the caller runs.
pub async fn credit_volume(conn: &mut PgConnection, order_id: Uuid, tz: chrono_tz::Tz) -> DomainResult<bool> {
    let o = Locked::read(conn, order_id).await?;
    let Some((head, _)) = &o.head else {
        return Ok(false);
    };
    write_volume(conn, o.member_id, head, tz).await?;
    sqlx::query!("UPDATE orders SET volume_credited_at = coalesce(volume_credited_at, now()) WHERE id = $1", order_id)
        .execute(&mut *conn)
        .await?;
    Ok(true)
}

/// The volume entries of the order's lines, to `member_id`, in the period
/// of the credit time (once per line).
async fn write_volume(
    conn: &mut PgConnection,
    member_id: Uuid,
    head: &OrderHead,
    tz: chrono_tz::Tz,
) -> DomainResult<()> {
    sqlx::query!(
        "INSERT INTO volume_entries (member_id, order_id, order_line_id, kind, pv, bv, period, at)
         SELECT $1, order_id, id, 'order', pv * quantity, bv * quantity, $3, $4 FROM order_lines WHERE order_id = $2
         ON CONFLICT (order_line_id) WHERE kind = 'order' DO NOTHING",
        member_id,
        head.order_id,
        crate::compensation::periods::period_of(head.credited_at, tz),
        head.credited_at
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What the cascade's closing update of the order records.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Marks {
    /// The cascade alone (the volume was credited before).
    Cascaded,
    /// The volume written in the same transaction, and the cascade.
    CreditedAndCascaded,
}

/// Computes and posts the order's commissions as pending, each with its
/// ledger entry, records forfeited shares as breakage, queues one email per
/// beneficiary and schedules the release.
pub async fn cascade_commission(
    conn: &mut PgConnection,
    order_id: Uuid,
    currency: &str,
    calendar: &HoldCalendar,
) -> DomainResult<()> {
    let o = Locked::read(conn, order_id).await?;
    // A job runs at least once: a second run after the first committed must
    // not read the tree again (a member moved since would be paid too).
    if o.cascaded {
        return Ok(());
    }
    let Some((head, plan_id)) = &o.head else {
        return Ok(());
    };
    cascade_locked(conn, &o, head, *plan_id, currency, calendar, Marks::Cascaded).await
}

/// The cascade of an order locked and read by the caller, not cascaded yet.
///
/// The uplines' balance rows are the hottest rows of the system (the top
/// of the tree earns on most orders), so the entries are posted last, in
/// one set statement: those rows stay locked from there to the commit only.
async fn cascade_locked(
    conn: &mut PgConnection,
    o: &Locked,
    head: &OrderHead,
    plan_id: Uuid,
    currency: &str,
    calendar: &HoldCalendar,
    marks: Marks,
) -> DomainResult<()> {
    let order_id = o.order_id;
    let plan = plans::get(conn, plan_id).await?;
    let inputs = cascade_inputs::load(conn, head, &plan).await?;
    cascade_inputs::store(conn, order_id, plan_id, &inputs).await?;
    let mut result = cascade::cascade(&plan.rules(), &inputs);
    result.commissions.sort_by_key(|c| (c.beneficiary_id, c.kind, c.line_id, c.paid_level));
    let release_at = head.credited_at + Duration::days(i64::from(plan.holding_days));
    let (owed, earned) = insert_commissions(conn, order_id, &plan, &result.commissions, release_at).await?;
    record_breakage(conn, &result.forfeits).await?;
    notify_beneficiaries(conn, order_id, &head.invoice_no, &result.commissions, currency).await?;
    crate::rewards::loyalty::reward_order(conn, head, &plan, release_at, currency).await?;
    // Every commissionable order gets its release job, whether or not it
    // earned anyone anything: its end settles the order.
    let (job, run_at) = ReleaseHold::at(order_id, release_at);
    if o.sold_by_sellers {
        // The sellers' escrow schedules release jobs of this order too,
        // maybe for the same second: a taken key is no error.
        jobs::enqueue(conn, &job, Some(run_at)).await?;
    } else {
        // Without seller lines nothing else schedules this order's release
        // before its cascade (release jobs schedule their successors, and
        // the first is this one; a cascade that committed marked the order
        // cascaded, and one that rolled back left no job): the key is new,
        // so one statement and no savepoint. Were it taken after all, the
        // insert fails and the transaction with it, never a silent skip.
        jobs::enqueue_for_new_row_at(conn, &[job], Some(run_at)).await?;
    }
    sqlx::query!(
        "UPDATE orders SET cascaded_at = coalesce(cascaded_at, now()),
                volume_credited_at = CASE WHEN $2 THEN coalesce(volume_credited_at, now()) ELSE volume_credited_at END
          WHERE id = $1",
        order_id,
        marks == Marks::CreditedAndCascaded
    )
    .execute(&mut *conn)
    .await?;
    if let Some(buyer_id) = head.buyer_id {
        crate::rewards::milestones::order_credited(conn, buyer_id).await?;
    }
    crate::rewards::challenges::review_order(conn, order_id, currency).await?;
    events::emit_all(conn, EventType::CommissionEarned, earned, Utc::now()).await?;
    // The uplines' balance rows stay locked from here to the commit.
    ledger::bulk::post_transfers(conn, currency, EntryKind::Commission, &owed).await?;
    // The sellers' shares, in the same transaction as the network's pay
    // (their accounts after the members', as a reversal locks them).
    if o.sold_by_sellers {
        escrow::credit_order(conn, order_id, calendar, currency).await?;
    }
    // Returns that arrived before the commissions existed take effect now
    // (nearly always one read: the order has none).
    reversals::apply_pending(conn, order_id, currency).await
}

/// The business key of a commission's ledger entry.
fn commission_key(c: &Commission) -> String {
    match c.kind {
        Kind::Level => ledger::keys::commission(c.line_id, c.beneficiary_id, c.paid_level),
        kind => ledger::keys::commission(c.line_id, c.beneficiary_id, kind.as_str()),
    }
}

/// Inserts the commission rows in one statement; returns the ledger entry
/// (expense → the beneficiary's pending balance) and the
/// `commission.earned` event owed by each row that was new. A re-run finds
/// them all and owes none: a row and its entry commit together, so an
/// existing row has its entry.
async fn insert_commissions(
    conn: &mut PgConnection,
    order_id: Uuid,
    plan: &plans::Plan,
    commissions: &[Commission],
    release_at: DateTime<Utc>,
) -> DomainResult<(Vec<Transfer>, Vec<Cause>)> {
    if commissions.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let ids: Vec<Uuid> = commissions.iter().map(|_| Uuid::now_v7()).collect();
    let lines: Vec<Uuid> = commissions.iter().map(|c| c.line_id).collect();
    let beneficiaries: Vec<Uuid> = commissions.iter().map(|c| c.beneficiary_id).collect();
    let kinds: Vec<String> = commissions.iter().map(|c| c.kind.as_str().to_owned()).collect();
    let physical: Vec<i32> = commissions.iter().map(|c| c.physical_level as i32).collect();
    let paid: Vec<i32> = commissions.iter().map(|c| c.paid_level as i32).collect();
    let basis: Vec<Decimal> = commissions.iter().map(|c| c.basis.get()).collect();
    let rates: Vec<Decimal> = commissions.iter().map(|c| c.rate.get()).collect();
    let rules: Vec<String> = commissions.iter().map(|c| c.rule.clone()).collect();
    let qualifications = commissions
        .iter()
        .map(|c| serde_json::to_value(&c.qualification))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::from)?;
    let amounts: Vec<Decimal> = commissions.iter().map(|c| c.amount.get()).collect();
    let residues: Vec<Decimal> = commissions.iter().map(|c| c.rounding_residue).collect();
    let caps: Vec<Option<Decimal>> = commissions.iter().map(|c| c.cap_factor).collect();
    let rows = sqlx::query!(
        r#"INSERT INTO commissions (id, order_id, order_line_id, beneficiary_id, kind, physical_level, paid_level,
                                   basis, rate, rule, plan_id, plan_version, qualification, amount,
                                   rounding_residue, status, release_at, cap_factor)
           SELECT c.id, $2, c.line_id, c.beneficiary_id, c.kind, c.physical_level, c.paid_level, c.basis, c.rate,
                  c.rule, $10, $11, c.qualification, c.amount, c.residue, 'pending', $15, c.cap_factor
             FROM unnest($1::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::int4[], $7::int4[], $8::numeric[],
                         $9::numeric[], $12::text[], $13::jsonb[], $14::numeric[], $16::numeric[], $17::numeric[])
                  AS c (id, line_id, beneficiary_id, kind, physical_level, paid_level, basis, rate, rule,
                        qualification, amount, residue, cap_factor)
           ON CONFLICT (order_line_id, beneficiary_id, paid_level, kind) DO NOTHING
           RETURNING id"#,
        &ids,
        order_id,
        &lines,
        &beneficiaries,
        &kinds,
        &physical,
        &paid,
        &basis,
        &rates,
        plan.id,
        plan.version,
        &rules as &[String],
        &qualifications,
        &amounts,
        release_at,
        &residues,
        &caps as &[Option<Decimal>]
    )
    .fetch_all(&mut *conn)
    .await?;
    let new: std::collections::HashSet<Uuid> = rows.into_iter().map(|r| r.id).collect();
    Ok(commissions
        .iter()
        .zip(ids)
        .filter(|(_, id)| new.contains(id))
        .map(|(c, commission_id)| {
            let transfer = Transfer {
                idempotency_key: commission_key(c),
                reference: commission_id.to_string(),
                from: Account::System(SystemAccount::CommissionExpense),
                to: Account::Member(c.beneficiary_id, MemberAccount::Pending),
                amount: c.amount.get(),
            };
            let data = serde_json::json!({
                "commission_id": commission_id, "order_id": order_id, "order_line_id": c.line_id,
                "member_id": c.beneficiary_id, "kind": c.kind.as_str(), "level": c.paid_level,
                "amount": c.amount, "release_at": release_at,
            });
            (transfer, Cause::new(format!("commission.earned:{commission_id}"), data))
        })
        .unzip())
}

/// Records the shares forfeited by unqualified members (once each).
async fn record_breakage(conn: &mut PgConnection, forfeits: &[Forfeit]) -> DomainResult<()> {
    if forfeits.is_empty() {
        return Ok(());
    }
    let lines: Vec<Uuid> = forfeits.iter().map(|f| f.line_id).collect();
    let members: Vec<Uuid> = forfeits.iter().map(|f| f.member_id).collect();
    let levels: Vec<i32> = forfeits.iter().map(|f| f.physical_level as i32).collect();
    let amounts: Vec<Decimal> = forfeits.iter().map(|f| f.amount.get()).collect();
    let reasons: Vec<String> = forfeits.iter().map(|f| f.reason.to_owned()).collect();
    let kinds: Vec<String> = forfeits.iter().map(|f| f.kind.as_str().to_owned()).collect();
    sqlx::query!(
        "INSERT INTO commission_breakage (order_line_id, member_id, physical_level, amount, reason, kind)
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int4[], $4::numeric[], $5::text[], $6::text[])
         ON CONFLICT DO NOTHING",
        &lines,
        &members,
        &levels,
        &amounts,
        &reasons,
        &kinds
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Queues one email per beneficiary with what the order earned them, in
/// a few statements whatever the depth.
async fn notify_beneficiaries(
    conn: &mut PgConnection,
    order_id: Uuid,
    invoice_no: &str,
    commissions: &[Commission],
    currency: &str,
) -> DomainResult<()> {
    let mut totals: std::collections::BTreeMap<Uuid, crate::money::Money> = Default::default();
    for c in commissions {
        *totals.entry(c.beneficiary_id).or_default() += c.amount;
    }
    let emails: Vec<ToMember<_>> = totals
        .into_iter()
        .map(|(member_id, total)| ToMember {
            member_id,
            dedupe_key: format!("commission:{order_id}:{member_id}"),
            write: move |name: &str, language: Language| match language {
                Language::English => (
                    format!("You earned {total} {currency}"),
                    format!(
                        "Dear {name},\n\nyou earned a commission of {total} {currency} on order {invoice_no}.\n\
                         It is held until the return period ends, then becomes available.\n"
                    ),
                ),
                Language::Bengali => {
                    let amount = taka_of(total.0, language);
                    (
                        format!("আপনি {amount} আয় করেছেন"),
                        format!(
                            "প্রিয় {name},\n\nঅর্ডার {invoice_no}-এ আপনি {amount} কমিশন আয় করেছেন।\n\
                             ফেরতের সময় শেষ হওয়া পর্যন্ত এটি আটকে থাকবে, তারপর তোলা যাবে।\n"
                        ),
                    )
                }
            },
        })
        .collect();
    notifications::queue_to_members(conn, &emails).await
}

/// Moves the order's held commissions whose hold has ended to available
/// (and releases the buyer's held rewards and the sellers' shares with
/// them, dating the sellers' holds once the order is delivered), as the
/// release job `job` running at `now`. Anything still held gets the release job of
/// its own end; when that is this job's own second (its worker's clock
/// behind the database's, which let it run), the job schedules itself
/// again under a key of its own, a second later.
pub async fn release_holds(
    conn: &mut PgConnection,
    job: ReleaseHold,
    now: DateTime<Utc>,
    currency: &str,
    calendar: &HoldCalendar,
) -> DomainResult<()> {
    let order_id = job.order_id;
    sqlx::query!("SELECT id FROM orders WHERE id = $1 FOR UPDATE", order_id).fetch_one(&mut *conn).await?;
    escrow::date_releases(conn, order_id, calendar).await?;
    let due = sqlx::query!(
        r#"SELECT id, beneficiary_id, amount - reversed_amount AS "amount!" FROM commissions
          WHERE order_id = $1 AND status = 'pending' AND release_at <= $2 ORDER BY beneficiary_id, id"#,
        order_id,
        now
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut released = Vec::new();
    for c in due {
        // What a partial return already cancelled stays cancelled.
        if c.amount <= Decimal::ZERO {
            continue;
        }
        let data = serde_json::json!({
            "commission_id": c.id, "order_id": order_id, "member_id": c.beneficiary_id, "amount": c.amount,
        });
        released.push(Cause::new(format!("commission.released:{}", c.id), data));
        let key = ledger::keys::commission_release(c.id);
        let reference = c.id.to_string();
        ledger::post(
            conn,
            currency,
            Entry {
                idempotency_key: &key,
                kind: EntryKind::Release,
                reference: &reference,
                postings: vec![
                    Posting { account: Account::Member(c.beneficiary_id, MemberAccount::Pending), amount: -c.amount },
                    Posting { account: Account::Member(c.beneficiary_id, MemberAccount::Available), amount: c.amount },
                ],
            },
        )
        .await?;
        sqlx::query!("UPDATE commissions SET status = 'available', released_at = $2 WHERE id = $1", c.id, now)
            .execute(&mut *conn)
            .await?;
    }
    events::emit_all(conn, EventType::CommissionReleased, released, now).await?;
    crate::rewards::loyalty::release(conn, order_id, now, currency).await?;
    escrow::release_due(conn, order_id, now, currency).await?;
    let next = sqlx::query_scalar!(
        "SELECT min(at) FROM (SELECT release_at AS at FROM commissions WHERE order_id = $1 AND status = 'pending'
                              UNION ALL
                              SELECT release_at FROM order_rewards WHERE order_id = $1 AND status = 'pending'
                              UNION ALL
                              SELECT release_at FROM seller_credits WHERE order_id = $1 AND status = 'pending') t",
        order_id
    )
    .fetch_one(&mut *conn)
    .await?;
    match next {
        Some(at) => {
            let (next_job, run_at) = next_release(job, at, now);
            jobs::enqueue(conn, &next_job, Some(run_at)).await
        }
        // A seller's share waits for the delivery, which runs this job again.
        None if escrow::awaiting_delivery(conn, order_id).await? => Ok(()),
        None => crate::orders::settle(conn, order_id, "release_hold", now).await,
    }
}

/// The job that releases what is still held until `at`, after `job` ran
/// at `now`: the job of `at`'s own second, or, when that is `job`'s own
/// (it ran before the hold ended by its clock), `job` again under its
/// next rerun key, no sooner than a second from now.
fn next_release(job: ReleaseHold, at: DateTime<Utc>, now: DateTime<Utc>) -> (ReleaseHold, DateTime<Utc>) {
    let (next, run_at) = ReleaseHold::at(job.order_id, at);
    if next.release_at != job.release_at {
        return (next, run_at);
    }
    let again = ReleaseHold { rerun: job.rerun.saturating_add(1), ..job };
    (again, run_at.max(now + Duration::seconds(1)))
}

crate::words::sqlx_words!(crate::rules::cascade::Kind);

crate::words::stored_words!(
    /// Where a commission line stands.
    CommissionStatus {
        /// Earned, held until its release time.
        Pending = "pending",
        /// Released: withdrawable.
        Available = "available",
        /// Taken back in full by a return, refund or cancellation.
        Reversed = "reversed",
    }
);

/// One commission line as a member sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CommissionView {
    /// Id (also the cursor).
    pub id: Uuid,
    /// The order.
    pub order_id: Uuid,
    /// The order line.
    pub order_line_id: Uuid,
    /// A level of the upline, a guest order's referrer, or a pickup operator.
    pub kind: Kind,
    /// Where the member sits above the buyer.
    pub physical_level: i32,
    /// Which level's rate was paid.
    pub paid_level: i32,
    /// The BV the rate applied to.
    #[schema(value_type = crate::money::DecimalText)]
    pub basis: Decimal,
    /// The rate.
    #[schema(value_type = crate::money::DecimalText)]
    pub rate: Decimal,
    /// Which rate table.
    pub rule: String,
    /// The plan version.
    pub plan_version: i32,
    /// The beneficiary's qualification at the credit time (suspended,
    /// personal PV in the window, what the plan asked, compression).
    pub qualification: serde_json::Value,
    /// The payout cap's scale factor when the cap cut the order.
    #[schema(value_type = Option<crate::money::DecimalText>)]
    pub cap_factor: Option<Decimal>,
    /// basis × rate (× cap_factor) − amount: what rounding kept back.
    #[schema(value_type = crate::money::DecimalText)]
    pub rounding_residue: Decimal,
    /// The amount.
    #[schema(value_type = crate::money::DecimalText)]
    pub amount: Decimal,
    /// How much of it was reversed by returns and refunds.
    #[schema(value_type = crate::money::DecimalText)]
    pub reversed_amount: Decimal,
    /// Where it stands.
    pub status: CommissionStatus,
    /// When the hold ends.
    pub release_at: DateTime<Utc>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// A page of a member's commissions, newest first, before cursor `before`.
pub async fn list_for_member(
    conn: &mut PgConnection,
    member_id: Uuid,
    before: Option<Uuid>,
    limit: i64,
) -> DomainResult<Vec<CommissionView>> {
    sqlx::query_as!(
        CommissionView,
        r#"SELECT id, order_id, order_line_id, kind AS "kind: Kind", physical_level, paid_level, basis, rate, rule,
                  plan_version, qualification, cap_factor, rounding_residue, amount, reversed_amount,
                  status AS "status: CommissionStatus", release_at, created_at
             FROM commissions WHERE beneficiary_id = $1 AND ($2::uuid IS NULL OR id < $2)
            ORDER BY id DESC LIMIT $3"#,
        member_id,
        before,
        limit
    )
    .fetch_all(conn)
    .await
    .map_err(DomainError::from)
}

//! Typed ids: a member's id cannot be passed where an order's is meant.
//! Each is a uuid underneath (v7, so they sort by creation), transparent to
//! serde and sqlx, and shown in the OpenAPI document as a uuid string.

use uuid::Uuid;

/// What every typed id can do: name what it identifies (for a 404 that
/// says what was not found) and convert to and from its uuid.
pub trait TypedId: Copy + Send + Sync + 'static {
    /// What it identifies, as errors name it (`member`, `order`, …).
    const WHAT: &'static str;
    /// Wraps a uuid.
    fn from_uuid(id: Uuid) -> Self;
    /// The uuid underneath.
    fn uuid(self) -> Uuid;
    /// Parses the text form; `None` for anything that is not a uuid (an
    /// id we never gave, so callers answer "not found").
    fn parse(text: &str) -> Option<Self> {
        Uuid::parse_str(text).ok().map(Self::from_uuid)
    }
}

/// Defines a typed id.
macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize, sqlx::Type, utoipa::ToSchema,
        )]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(pub Uuid);

        impl TypedId for $name {
            const WHAT: &'static str = $what;
            fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }
            fn uuid(self) -> Uuid {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }
    };
}

typed_id!(
    /// A member of the network.
    MemberId,
    "member"
);
typed_id!(
    /// An order.
    OrderId,
    "order"
);
typed_id!(
    /// One line of an order.
    OrderLineId,
    "order line"
);
typed_id!(
    /// A product of the catalog.
    ProductId,
    "product"
);
typed_id!(
    /// A version of a compensation plan.
    PlanId,
    "plan"
);
typed_id!(
    /// A cashback campaign.
    CampaignId,
    "campaign"
);
typed_id!(
    /// A withdrawal request.
    WithdrawalId,
    "withdrawal"
);
typed_id!(
    /// A marketplace seller.
    SellerId,
    "seller"
);
typed_id!(
    /// A version of the marketplace's fee schedule.
    FeeScheduleId,
    "fee schedule"
);
typed_id!(
    /// An API key (never its secret).
    ApiKeyId,
    "api key"
);
typed_id!(
    /// A business account (B2B).
    BusinessAccountId,
    "business account"
);
typed_id!(
    /// A price list of an account tier.
    PriceListId,
    "price list"
);

/// Every typed id's OpenAPI schema by name: a route that takes one as a
/// path parameter refers to it, so the document must carry it.
pub fn schemas() -> Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)> {
    fn one<T: utoipa::ToSchema>() -> (String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>) {
        (T::name().into_owned(), T::schema())
    }
    vec![
        one::<MemberId>(),
        one::<OrderId>(),
        one::<OrderLineId>(),
        one::<ProductId>(),
        one::<PlanId>(),
        one::<CampaignId>(),
        one::<WithdrawalId>(),
        one::<ApiKeyId>(),
        one::<SellerId>(),
        one::<FeeScheduleId>(),
        one::<BusinessAccountId>(),
        one::<PriceListId>(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_id_reads_and_writes_as_its_uuid_and_refuses_anything_else() {
        let uuid = Uuid::now_v7();
        let id = MemberId::parse(&uuid.to_string()).expect("a uuid parses");
        assert_eq!(id.uuid(), uuid);
        assert_eq!(serde_json::to_value(id).expect("json"), serde_json::json!(uuid.to_string()));
        assert_eq!(MemberId::parse("not-an-id"), None);
        assert_eq!(OrderId::WHAT, "order");
    }
}

//! A member's share links: the storefront's join link, which makes the
//! member the sponsor of whoever signs up through it, and a link per
//! product, which makes a guest's order the member's retail sale. The
//! storefront reads `ref` and passes it on as `sponsor_code` or
//! `referrer_code`; haat only writes the links.

/// The link that signs a new member up under the member with `code`.
pub fn join_link(shop_url: &str, code: &str) -> String {
    format!("{shop_url}/join?{}", query(&[("ref", code)]))
}

/// The link to the product `sku` that credits a guest's order to the
/// member with `code`.
pub fn product_link(shop_url: &str, sku: &str, code: &str) -> String {
    format!("{shop_url}/products?{}", query(&[("sku", sku), ("ref", code)]))
}

fn query(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_links_carry_the_code_and_the_sku_encoded() {
        assert_eq!(join_link("https://shop.example.com", "AB12CD"), "https://shop.example.com/join?ref=AB12CD");
        assert_eq!(
            product_link("https://shop.example.com", "TEA 500/g&x", "AB12CD"),
            "https://shop.example.com/products?sku=TEA+500%2Fg%26x&ref=AB12CD"
        );
    }
}

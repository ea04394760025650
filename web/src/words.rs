//! The dashboard in the reader's language, Bengali or English: chosen by
//! the `haat_lang` cookie (the switch on every page), else by the
//! browser's `Accept-Language`. The choice is set for the whole request by
//! a layer around the dashboard's routes, so a page asks [`t`] for a
//! phrase and [`money`], [`day`] and [`number`] for figures without the
//! language passed through every function. Phrases are the English text
//! itself; one without a Bengali entry below reads in English.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, NaiveDate, Utc};
use haat_domain::money::display::{self, Language};
use rust_decimal::Decimal;

use crate::cookies;

/// Who is reading: their language, and the page they asked for (where the
/// language switch brings them back to).
#[derive(Clone)]
struct Reader {
    language: Language,
    path: String,
}

tokio::task_local! {
    static READER: Reader;
}

/// The cookie the switch sets.
pub const COOKIE: &str = "haat_lang";

/// The language of a request: its cookie, else its first `Accept-Language`.
pub fn of_request(headers: &HeaderMap) -> Language {
    if let Some(chosen) = cookies::read(headers, COOKIE) {
        return Language::of_tag(&chosen);
    }
    let preferred = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    preferred.split(',').next().map_or(Language::English, |tag| Language::of_tag(tag.split(';').next().unwrap_or("")))
}

/// The layer: runs the request in its reader's language and says so.
pub async fn layer(request: Request, next: Next) -> Response {
    let language = of_request(request.headers());
    let path = request.uri().path_and_query().map_or("/app", |p| p.as_str());
    let reader = Reader { language, path: format!("/app{path}") };
    let mut response = READER.scope(reader, next.run(request)).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(language.tag()));
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Language, Cookie"));
    response
}

/// Runs `render` as if answering a reader of `language` (for a document
/// rendered outside the dashboard's layer: an invoice asked of the API).
pub fn rendered_in<R>(language: Language, render: impl FnOnce() -> R) -> R {
    READER.sync_scope(Reader { language, path: "/app".into() }, render)
}

/// The language of the request being answered (English outside one).
pub fn language() -> Language {
    READER.try_with(|r| r.language).unwrap_or(Language::English)
}

/// The page being answered (`/app/…`), for the switch to come back to.
pub fn path() -> String {
    READER.try_with(|r| r.path.clone()).unwrap_or_else(|_| "/app".into())
}

/// Where the switch may send the browser back to: a page of the
/// dashboard's own, never another site.
pub fn back_to(asked: &str) -> &str {
    let ours = asked.starts_with("/app") && !asked.contains("//") && !asked.contains('\\');
    if ours { asked } else { "/app" }
}

/// `english` in the reader's language.
pub fn t(english: &'static str) -> &'static str {
    match language() {
        Language::English => english,
        Language::Bengali => bengali(english).unwrap_or(english),
    }
}

/// `english` (with one `{}`) in the reader's language, `arg` in its
/// digits where the `{}` is.
pub fn tf(english: &'static str, arg: impl std::fmt::Display) -> String {
    t(english).replacen("{}", &number(arg), 1)
}

/// A rate as a percentage in the reader's digits (`0.125` → `12.5%`).
pub fn percent(rate: Decimal) -> String {
    number(format!("{}%", (rate * Decimal::ONE_HUNDRED).normalize()))
}

/// An amount in Taka in the reader's digits.
pub fn money(amount: Decimal) -> String {
    display::taka_of(amount, language())
}

/// A count or other plain number in the reader's digits.
pub fn number(n: impl std::fmt::Display) -> String {
    display::digits(&n.to_string(), language())
}

/// A day (`8 Dec 2026`).
pub fn day(date: NaiveDate) -> String {
    display::day(date, language())
}

/// A moment in `zone` (`8 Dec 2026 14:05`).
pub fn day_time(at: DateTime<Utc>, zone: chrono_tz::Tz) -> String {
    display::day_time(at, zone, language())
}

/// A month (`2026-12` → `Dec 2026`).
pub fn month(period: &str) -> String {
    display::month(period, language())
}

/// The Bengali of a phrase, where there is one.
fn bengali(english: &str) -> Option<&'static str> {
    Some(match english {
        // Invoices and packing slips.
        "Packing slip" => "প্যাকিং স্লিপ",
        "Invoice number" => "ইনভয়েস নম্বর",
        "Date" => "তারিখ",
        "Deliver to" => "যেখানে পৌঁছাবে",
        "Item" => "পণ্য",
        "Quantity" => "সংখ্যা",
        "Payment" => "পরিশোধ",
        "Cash on delivery: collect" => "ক্যাশ অন ডেলিভারি: আদায় করুন",
        "Paid online" => "অনলাইনে পরিশোধিত",
        "Online payment not received yet" => "অনলাইন পরিশোধ এখনো আসেনি",
        "Thank you for your order." => "আপনার অর্ডারের জন্য ধন্যবাদ।",
        "Delivery" => "ডেলিভারি",
        "Tracking number" => "ট্র্যাকিং নম্বর",
        "Print the invoice" => "ইনভয়েস প্রিন্ট করুন",
        // The frame and the way around.
        "Sign out" => "সাইন আউট",
        "Main" => "প্রধান",
        "Language" => "ভাষা",
        "Wallet" => "ওয়ালেট",
        "Commissions" => "কমিশন",
        "Team" => "টিম",
        "Orders" => "অর্ডার",
        "Withdrawals" => "উত্তোলন",
        "Overview" => "সারসংক্ষেপ",
        "Members" => "সদস্য",
        "Payouts" => "পেআউট",
        "Jobs" => "জব",
        "This member's pages" => "এই সদস্যের পাতা",
        // Titles.
        "wallet" => "ওয়ালেট",
        "commissions" => "কমিশন",
        "team" => "টিম",
        "orders" => "অর্ডার",
        "withdrawals" => "উত্তোলন",
        "Your" => "আপনার",
        "This month" => "এই মাস",
        "Dead jobs" => "বন্ধ হয়ে যাওয়া জব",
        "Sign in" => "সাইন ইন",
        "Not found" => "পাওয়া যায়নি",
        "Not allowed" => "অনুমতি নেই",
        "Not done" => "করা হয়নি",
        "Check the form" => "ফর্মটি দেখুন",
        "Check your email" => "আপনার ইমেইল দেখুন",
        "Too many attempts" => "অনেকবার চেষ্টা হয়েছে",
        "Link not valid" => "লিংকটি বৈধ নয়",
        "Something went wrong" => "কিছু একটা ভুল হয়েছে",
        // Sign-in.
        "Office" => "অফিস",
        "Your email address" => "আপনার ইমেইল ঠিকানা",
        "Email me a sign-in link" => "আমাকে সাইন-ইন লিংক ইমেইল করুন",
        "Admin or seller key" => "অ্যাডমিন বা বিক্রেতার কী",
        "If that address belongs to a member, a sign-in link is on its way. It works once, for {} minutes." => {
            "ঠিকানাটি কোনো সদস্যের হলে একটি সাইন-ইন লিংক পাঠানো হচ্ছে। এটি একবার, {} মিনিটের জন্য কাজ করবে।"
        }
        "Too many sign-in attempts from here. Try again in {} minutes." => {
            "এখান থেকে অনেকবার সাইন ইনের চেষ্টা হয়েছে। {} মিনিট পরে আবার চেষ্টা করুন।"
        }
        "Period" => "পিরিয়ড",
        "Orders paid today" => "আজ পরিশোধিত অর্ডার",
        "Net sales today" => "আজকের নিট বিক্রি",
        "Orders paid" => "পরিশোধিত অর্ডার",
        "Net sales" => "নিট বিক্রি",
        "Commissions accrued" => "অর্জিত কমিশন",
        "Owed to members (now)" => "সদস্যদের পাওনা (এখন)",
        "Net sales per day this month" => "এই মাসে দিনভিত্তিক নিট বিক্রি",
        "Commissions accrued per day this month" => "এই মাসে দিনভিত্তিক অর্জিত কমিশন",
        "Accrued" => "অর্জিত",
        "Queues" => "কিউ",
        "No job is waiting, running or failed." => "কোনো জব অপেক্ষায়, চলমান বা ব্যর্থ নয়।",
        "Jobs not done, by queue and status" => "যে জবগুলো শেষ হয়নি, কিউ ও অবস্থা অনুযায়ী",
        "delivered" => "ডেলিভারি হয়েছে",
        "pending_payment" => "পরিশোধের অপেক্ষায়",
        "shipped" => "পাঠানো হয়েছে",
        "partially_delivered" => "আংশিক ডেলিভারি",
        "settled" => "নিষ্পন্ন",
        "cancelled" => "বাতিল",
        "returned" => "ফেরত",
        "partially_returned" => "আংশিক ফেরত",
        "refunded" => "টাকা ফেরত",
        "partially_refunded" => "আংশিক টাকা ফেরত",
        "That is not an admin or seller key. Nothing was signed in." => "এটি অ্যাডমিন বা বিক্রেতার কী নয়। কেউ সাইন ইন হয়নি।",
        "This link has been used or has expired. Ask for a new one." => {
            "এই লিংকটি ব্যবহার হয়ে গেছে বা মেয়াদ শেষ। নতুন একটি চান।"
        }
        "There is no such page." => "এমন কোনো পাতা নেই।",
        "This form has expired or did not come from this site. Nothing was done." => {
            "ফর্মটির মেয়াদ শেষ বা এটি এই সাইট থেকে আসেনি। কিছুই করা হয়নি।"
        }
        "Something went wrong on our side. Nothing was changed; try again." => {
            "আমাদের দিকে কিছু ভুল হয়েছে। কিছুই বদলায়নি; আবার চেষ্টা করুন।"
        }
        "Nothing was done." => "কিছুই করা হয়নি।",
        // The wallet.
        "Held (pending)" => "আটকে আছে (পেন্ডিং)",
        "Available" => "তোলা যায়",
        "Store credit" => "স্টোর ক্রেডিট",
        "Set aside for withdrawals" => "উত্তোলনের জন্য রাখা",
        "When held money is released" => "আটকে থাকা টাকা কবে ছাড়া হবে",
        "Held money by the day its hold ends" => "যেদিন আটকে রাখা শেষ হয়, সেদিন অনুযায়ী",
        "Day" => "দিন",
        "From" => "উৎস",
        "Becomes" => "হয়ে যাবে",
        "Amount" => "পরিমাণ",
        "available" => "তোলার যোগ্য",
        "store credit" => "স্টোর ক্রেডিট",
        "commissions from your team" => "টিম থেকে কমিশন",
        "cashback on your orders" => "আপনার অর্ডারে ক্যাশব্যাক",
        "points on your orders" => "আপনার অর্ডারে পয়েন্ট",
        "campaign cashback" => "ক্যাম্পেইন ক্যাশব্যাক",
        "Earned in the last twelve months, by kind" => "গত বারো মাসের আয়, ধরন অনুযায়ী",
        "Month" => "মাস",
        "Level commissions" => "লেভেল কমিশন",
        "Retail (guest orders)" => "রিটেইল (গেস্ট অর্ডার)",
        "Pickup point" => "পিকআপ পয়েন্ট",
        "Period bonuses" => "পিরিয়ড বোনাস",
        "Campaign cashback" => "ক্যাম্পেইন ক্যাশব্যাক",
        "Rewards on own orders" => "নিজের অর্ডারে পুরস্কার",
        "Other" => "অন্যান্য",
        "The figures" => "সংখ্যাগুলো",
        "the highest bar is" => "সবচেয়ে উঁচু বার",
        "This period so far" => "এই পিরিয়ডে এ পর্যন্ত",
        "Personal PV" => "ব্যক্তিগত PV",
        "Group PV" => "গ্রুপ PV",
        "Rank reached" => "অর্জিত র‍্যাংক",
        "Next rank" => "পরের র‍্যাংক",
        "It still needs" => "এখনো দরকার",
        "personal PV" => "ব্যক্তিগত PV",
        "group PV" => "গ্রুপ PV",
        // Commissions.
        "No commissions yet." => "এখনো কোনো কমিশন নেই।",
        "Commission lines, newest first" => "কমিশনের লাইন, নতুনগুলো আগে",
        "Earned" => "আয় হয়েছে",
        "What for" => "কিসের জন্য",
        "Status" => "অবস্থা",
        "Older lines" => "পুরোনো লাইন",
        "pending" => "আটকে আছে",
        "reversed" => "ফেরত নেওয়া",
        // Team.
        "Personal volume of this month; group volume and rank of the last closed period." => {
            "ব্যক্তিগত ভলিউম এই মাসের; গ্রুপ ভলিউম ও র‍্যাংক শেষ বন্ধ হওয়া পিরিয়ডের।"
        }
        "Back to the first level" => "প্রথম লেভেলে ফিরুন",
        "No one is placed here yet." => "এখানে এখনো কেউ নেই।",
        "More members" => "আরও সদস্য",
        "level" => "লেভেল",
        "under" => "জন নিচে",
        "Open this level" => "এই লেভেল খুলুন",
        "active" => "সক্রিয়",
        "suspended" => "স্থগিত",
        "group BV" => "গ্রুপ BV",
        // Orders.
        "No orders yet." => "এখনো কোনো অর্ডার নেই।",
        "Orders, newest first" => "অর্ডার, নতুনগুলো আগে",
        "Invoice" => "ইনভয়েস",
        "Placed" => "দেওয়া হয়েছে",
        "Total" => "মোট",
        "Order" => "অর্ডার",
        "Paid by" => "পরিশোধের মাধ্যম",
        "Subtotal" => "উপমোট",
        "Discount" => "ছাড়",
        "Lines" => "লাইন",
        "Product" => "পণ্য",
        "Units" => "একক",
        "Unit price" => "একক মূল্য",
        "Line total" => "লাইনের মোট",
        "Returned" => "ফেরত",
        "History" => "ইতিহাস",
        // Withdrawals.
        "Request a withdrawal" => "উত্তোলনের অনুরোধ",
        "At least" => "কমপক্ষে",
        "in multiples of" => "যার গুণিতকে",
        "from the available balance." => "তোলার যোগ্য ব্যালেন্স থেকে।",
        "Amount (৳)" => "পরিমাণ (৳)",
        "Bank transfer" => "ব্যাংক ট্রান্সফার",
        "Wallet or account number" => "ওয়ালেট বা অ্যাকাউন্ট নম্বর",
        "Request" => "অনুরোধ করুন",
        "None yet." => "এখনো নেই।",
        "Withdrawals, newest first" => "উত্তোলন, নতুনগুলো আগে",
        "Asked" => "অনুরোধের সময়",
        "To" => "যেখানে",
        "Steps" => "ধাপ",
        "requested" => "অনুরোধ করা হয়েছে",
        "approved" => "অনুমোদিত",
        "paid" => "পরিশোধিত",
        "rejected" => "বাতিল",
        "failed" => "ব্যর্থ",
        "ref" => "রেফ",
        // Cashback.
        "Cashback" => "ক্যাশব্যাক",
        "cashback" => "ক্যাশব্যাক",
        "No cashback yet." => "এখনো কোনো ক্যাশব্যাক নেই।",
        "Cashback received, newest first" => "পাওয়া ক্যাশব্যাক, নতুনগুলো আগে",
        "Taken back" => "ফেরত নেওয়া",
        "cashback on your order" => "আপনার অর্ডারে ক্যাশব্যাক",
        "held until" => "আটকে থাকবে",
        "held" => "আটকে আছে",
        "released" => "ছাড়া হয়েছে",
        // Sharing.
        "Share" => "শেয়ার",
        "share links" => "শেয়ার লিংক",
        "Your referral code" => "আপনার রেফারেল কোড",
        "Join link" => "যোগদানের লিংক",
        "Product links" => "পণ্যের লিংক",
        "No product is on sale yet." => "এখনো কোনো পণ্য বিক্রিতে নেই।",
        "A guest's order through these links is your sale" => "এই লিংক দিয়ে অতিথির অর্ডার আপনার বিক্রি",
        "Price" => "দাম",
        "Link" => "লিংক",
        // Campaigns.
        "Campaigns" => "ক্যাম্পেইন",
        "No campaigns yet." => "এখনো কোনো ক্যাম্পেইন নেই।",
        "Campaigns, newest first" => "ক্যাম্পেইন, নতুনগুলো আগে",
        "Name" => "নাম",
        "Window" => "সময়সীমা",
        "Target" => "লক্ষ্য",
        "Settles" => "নিষ্পত্তি",
        "Settlement" => "নিষ্পত্তির ফল",
        "units" => "একক",
        "purchases paid" => "কেনাকাটায় পরিশোধ",
        "Settle now" => "এখনই নিষ্পত্তি",
        "Cancel" => "বাতিল করুন",
        "scheduled" => "নির্ধারিত",
        "recurring" => "পুনরাবৃত্ত",
        "New campaign" => "নতুন ক্যাম্পেইন",
        "Which products count" => "কোন পণ্য গণ্য হবে",
        "every product" => "সব পণ্য",
        "Until (the end of that day)" => "পর্যন্ত (সেদিনের শেষ)",
        "Pays when the target is" => "লক্ষ্য যখন",
        "reached" => "পূরণ হয়",
        "missed" => "পূরণ হয় না",
        "Target: units sold" => "লক্ষ্য: বিক্রির একক",
        "Cashback rate (0.10 is 10%)" => "ক্যাশব্যাকের হার (০.১০ মানে ১০%)",
        "Paid as" => "যেভাবে দেওয়া হবে",
        "cash" => "নগদ",
        "Rewarded purchases per buyer (empty: all)" => "প্রতি ক্রেতার পুরস্কৃত কেনাকাটা (খালি: সব)",
        "Create" => "তৈরি করুন",
        // Plans.
        "Plans" => "প্ল্যান",
        "Plan" => "প্ল্যান",
        "Plan versions, newest first" => "প্ল্যানের সংস্করণ, নতুনগুলো আগে",
        "Version" => "সংস্করণ",
        "Effective from" => "কার্যকর",
        "Level rates" => "লেভেলের হার",
        "Holding days" => "আটকে রাখার দিন",
        "draft" => "খসড়া",
        "Activate" => "চালু করুন",
        "To (not included)" => "পর্যন্ত (বাদে)",
        "Simulate" => "সিমুলেট করুন",
        "Simulation" => "সিমুলেশন",
        "Too many orders in this range to replay here; ask the API for a simulation job." => {
            "এই সময়ে এখানে চালানোর জন্য অর্ডার অনেক বেশি; API-তে একটি সিমুলেশন জব চান।"
        }
        "Orders replayed" => "চালানো অর্ডার",
        "This plan would have paid" => "এই প্ল্যান দিত",
        "Paid" => "দেওয়া হয়েছে",
        "Difference" => "পার্থক্য",
        "The members whose pay would change most" => "যাদের আয় সবচেয়ে বেশি বদলাত",
        "Member" => "সদস্য",
        "Would be paid" => "পেতেন",
        "Back to the plans" => "প্ল্যানে ফিরুন",
        // Catalogue.
        "Catalogue" => "ক্যাটালগ",
        "Products" => "পণ্য",
        "Products, by id" => "পণ্য, আইডি অনুযায়ী",
        "Stock" => "স্টক",
        "On sale" => "বিক্রিতে",
        "yes" => "হ্যাঁ",
        "no" => "না",
        "Coupons" => "কুপন",
        "No coupons." => "কোনো কুপন নেই।",
        "Coupons, newest first" => "কুপন, নতুনগুলো আগে",
        "Code" => "কোড",
        "Takes off" => "ছাড়",
        "Used" => "ব্যবহার",
        "Least subtotal" => "ন্যূনতম উপমোট",
        "Flash sales" => "ফ্ল্যাশ সেল",
        "No flash sales." => "কোনো ফ্ল্যাশ সেল নেই।",
        "Flash sales, newest first" => "ফ্ল্যাশ সেল, নতুনগুলো আগে",
        // Reports.
        "Reports" => "রিপোর্ট",
        "Report" => "রিপোর্ট",
        "Grouped by (day, month, kind, level, member, product, status, method)" => {
            "যেভাবে ভাগ (day, month, kind, level, member, product, status, method)"
        }
        "Show" => "দেখান",
        "Rows" => "সারি",
        "The first 500 rows; {} more are in the CSV." => "প্রথম ৫০০টি সারি; আরও {}টি CSV-তে আছে।",
        "Download as CSV" => "CSV হিসেবে ডাউনলোড",
        // The audit.
        "Audit" => "অডিট",
        "Run the books' checks" => "হিসাবের পরীক্ষা চালান",
        "Every check holds: the books balance." => "সব পরীক্ষা ঠিক আছে: হিসাব মিলছে।",
        "{} checks fail." => "{}টি পরীক্ষা ব্যর্থ।",
        "The books' checks" => "হিসাবের পরীক্ষা",
        "Check" => "পরীক্ষা",
        "Holds" => "ঠিক আছে",
        "What breaks it" => "যা ভাঙছে",
        // Points.
        "Points" => "পয়েন্ট",
        "points" => "পয়েন্ট",
        "Tier" => "টিয়ার",
        "none yet" => "এখনো নেই",
        "Spent in the last twelve months" => "গত বারো মাসে কেনাকাটা",
        "The next order earns" => "পরের অর্ডারে পাবেন",
        "Next tier" => "পরের টিয়ার",
        "Still to spend for it" => "এর জন্য আরও কিনতে হবে",
        "Points to spend" => "খরচযোগ্য পয়েন্ট",
        "Points still held" => "আটকে থাকা পয়েন্ট",
        "When points expire" => "পয়েন্টের মেয়াদ কবে শেষ",
        "Challenges" => "চ্যালেঞ্জ",
        "No challenges running." => "এখন কোনো চ্যালেঞ্জ চলছে না।",
        "Challenges open now and those you took part in" => "এখন চলমান চ্যালেঞ্জ এবং যেগুলোতে আপনি অংশ নিয়েছেন",
        "Challenge" => "চ্যালেঞ্জ",
        "Progress" => "অগ্রগতি",
        "Reward" => "পুরস্কার",
        "Badges" => "ব্যাজ",
        "No badges yet." => "এখনো কোনো ব্যাজ নেই।",
        "badge" => "ব্যাজ",
        "spent" => "কেনাকাটা",
        "active recruits" => "সক্রিয় রিক্রুট",
        "in progress" => "চলছে",
        "completed" => "সম্পন্ন",
        "undone by a return" => "ফেরতের কারণে বাতিল",
        "No points to spend yet." => "এখনো খরচযোগ্য পয়েন্ট নেই।",
        "Points by the day they expire, soonest first" => "মেয়াদ শেষের দিন অনুযায়ী পয়েন্ট, আগেরগুলো আগে",
        "Expires" => "মেয়াদ শেষ",
        "Balance" => "ব্যালান্স",
        "Held" => "আটকে আছে",
        "Reserved" => "সংরক্ষিত",
        "No lines yet." => "এখনো কোনো লাইন নেই।",
        "Prepare by" => "প্রস্তুতির শেষ সময়",
        "Statement" => "বিবরণী",
        "No postings yet." => "এখনো কোনো লেনদেন নেই।",
        "When" => "কখন",
        "What" => "কী",
        "Account" => "হিসাব",
        "late" => "দেরিতে",
        "prepared" => "প্রস্তুত",
        "Mark prepared" => "প্রস্তুত চিহ্নিত করুন",
        "waiting for payment" => "পরিশোধের অপেক্ষায়",
        "Sellers" => "বিক্রেতারা",
        "Approve" => "অনুমোদন করুন",
        "Suspend" => "স্থগিত করুন",
        "Fee schedules" => "ফি তালিকা",
        "Default rate" => "সাধারণ হার",
        "Per item" => "প্রতি পণ্যে",
        "Hold (business days)" => "আটকে রাখা (কার্যদিবস)",
        "in force" => "চালু",
        "My shop" => "আমার দোকান",
        "New fee schedule" => "নতুন ফি তালিকা",
        "A new version is written once and changes nothing until it is activated." => {
            "নতুন সংস্করণ একবারই লেখা হয়, চালু না করা পর্যন্ত কিছু বদলায় না।"
        }
        "Default rate (0.05 is 5%)" => "সাধারণ হার (০.০৫ মানে ৫%)",
        "Rates by category, one per line: category=rate" => "ধরন অনুযায়ী হার, প্রতি লাইনে একটি: ধরন=হার",
        "Fixed fee per item (৳)" => "প্রতি পণ্যে নির্দিষ্ট ফি (৳)",
        "Penalty per late line (৳)" => "দেরির প্রতি লাইনে জরিমানা (৳)",
        _ => return None,
    })
}

//! A local stand-in for the payment gateways' server APIs (their real
//! servers cannot be reached from here). It speaks the documented request
//! and response formats — SSLCommerz's session and validation APIs,
//! bKash's token grant and refresh, create, execute and payment status —
//! checks the credentials and fields it is called with, records what it
//! was sent, and answers what the test registered: a session, a refusal,
//! a malformed answer, a 503, or an answer slower than our timeout.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

/// The store credentials the stand-in expects: those of SSLCommerz's
/// public sandbox store, whose issued password is only six letters (haat
/// must accept what the gateway issued).
pub const SSL_STORE_ID: &str = "testbox";
/// SSLCommerz store password (also what IPNs are signed with).
pub const SSL_STORE_PASSWORD: &str = "qwerty";
/// bKash app key.
pub const BKASH_APP_KEY: &str = "haat-test-app-key";
/// bKash app secret.
pub const BKASH_APP_SECRET: &str = "haat-test-app-secret";
/// bKash user.
pub const BKASH_USERNAME: &str = "haat-test-user";
/// bKash password.
pub const BKASH_PASSWORD: &str = "haat-test-bkash-password";
const BKASH_TOKEN: &str = "standin-id-token";
/// Steadfast `Api-Key`.
pub const STEADFAST_API_KEY: &str = "haat-test-steadfast-key";
/// Steadfast `Secret-Key`.
pub const STEADFAST_SECRET_KEY: &str = "haat-test-steadfast-secret";
/// Pathao client id.
pub const PATHAO_CLIENT_ID: &str = "haat-test-pathao-client";
/// Pathao client secret.
pub const PATHAO_CLIENT_SECRET: &str = "haat-test-pathao-client-secret";
/// Pathao merchant login.
pub const PATHAO_USERNAME: &str = "merchant@haat.test";
/// Pathao merchant password.
pub const PATHAO_PASSWORD: &str = "haat-test-pathao-password";
/// Pathao store id.
pub const PATHAO_STORE_ID: &str = "148221";
/// RedX API access token.
pub const REDX_API_TOKEN: &str = "haat-test-redx-api-token";
const PATHAO_ACCESS_TOKEN: &str = "standin-pathao-access-token";

#[derive(Default)]
struct Books {
    /// SSLCommerz validation answers by val_id.
    validations: HashMap<String, Value>,
    /// bKash payments by paymentID: (answer, executed yet).
    payments: HashMap<String, (Value, bool)>,
    /// When each call arrived, by path.
    calls: HashMap<String, Vec<Instant>>,
    /// How many of the next calls to a path fail, and with what status.
    outages: HashMap<String, (usize, StatusCode)>,
    /// How long the next calls to a path wait before answering, by path.
    delays: HashMap<String, VecDeque<std::time::Duration>>,
    /// Answers the next calls to a path give instead of their own, by path.
    scripted: HashMap<String, VecDeque<Value>>,
    /// The session forms SSLCommerz was sent, in order.
    session_forms: Vec<BTreeMap<String, String>>,
    /// The create bodies bKash was sent, in order.
    create_bodies: Vec<Value>,
    /// Where the stand-in answers (for the pages it hands out).
    base: String,
    /// What each courier was sent to book, by courier, in order.
    parcels: HashMap<String, Vec<Value>>,
    /// The invoices Steadfast holds parcels for (it refuses a repeat).
    steadfast_invoices: Vec<String>,
}

/// The running stand-in.
#[derive(Clone)]
pub struct Standin {
    /// `http://127.0.0.1:port`.
    pub base: String,
    books: Arc<Mutex<Books>>,
}

impl Standin {
    /// Starts it on a free port.
    pub async fn start() -> Self {
        let books = Arc::new(Mutex::new(Books::default()));
        let app = Router::new()
            .route("/validator/api/validationserverAPI.php", get(validation))
            .route("/gwprocess/v4/api.php", post(session))
            .route("/tokenized/checkout/token/grant", post(grant))
            .route("/tokenized/checkout/token/refresh", post(refresh))
            .route("/tokenized/checkout/create", post(create))
            .route("/create_order", post(steadfast_create))
            .route("/aladdin/api/v1/issue-token", post(pathao_token))
            .route("/aladdin/api/v1/orders", post(pathao_order))
            .route("/areas", get(redx_areas))
            .route("/parcel", post(redx_parcel))
            .route("/tokenized/checkout/execute", post(execute))
            .route("/tokenized/checkout/payment/status", post(status))
            .with_state(books.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("stand-in binds");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        books.lock().expect("books").base = base.clone();
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        Self { base, books }
    }

    /// What the validation API answers for `val_id`.
    pub fn register_validation(&self, val_id: &str, answer: Value) {
        self.books.lock().expect("books").validations.insert(val_id.to_owned(), answer);
    }

    /// What execute / payment status answer for `payment_id`.
    pub fn register_payment(&self, payment_id: &str, answer: Value) {
        self.books.lock().expect("books").payments.insert(payment_id.to_owned(), (answer, false));
    }

    /// How many calls `path` received.
    pub fn calls(&self, path: &str) -> usize {
        self.call_times(path).len()
    }

    /// When each call to `path` arrived.
    pub fn call_times(&self, path: &str) -> Vec<Instant> {
        self.books.lock().expect("books").calls.get(path).cloned().unwrap_or_default()
    }

    /// The next `n` calls to `path` (`validation`, `session`, `create`)
    /// answer 503, as a gateway does while it is down.
    pub fn fail_next(&self, path: &str, n: usize) {
        self.fail_next_with(path, n, StatusCode::SERVICE_UNAVAILABLE);
    }

    /// The next `n` calls to `path` answer `status` (a 500 of a gateway
    /// with an internal error).
    pub fn fail_next_with(&self, path: &str, n: usize, status: StatusCode) {
        self.books.lock().expect("books").outages.insert(path.to_owned(), (n, status));
    }

    /// The next call to `path` (`session`, `create`, `validation`) waits `delay` before
    /// it answers, as a gateway does when it is slow.
    pub fn delay_next(&self, path: &str, delay: std::time::Duration) {
        self.books.lock().expect("books").delays.entry(path.to_owned()).or_default().push_back(delay);
    }

    /// The next call to `path` answers `answer` (a refusal, a malformed
    /// answer) instead of its own.
    pub fn answer_next(&self, path: &str, answer: Value) {
        self.books.lock().expect("books").scripted.entry(path.to_owned()).or_default().push_back(answer);
    }

    /// The session forms SSLCommerz received, in order.
    pub fn session_forms(&self) -> Vec<BTreeMap<String, String>> {
        self.books.lock().expect("books").session_forms.clone()
    }

    /// What `courier` (`steadfast`, `pathao`, `redx`) was sent to book, in order.
    pub fn parcels(&self, courier: &str) -> Vec<Value> {
        self.books.lock().expect("books").parcels.get(courier).cloned().unwrap_or_default()
    }

    /// The create bodies bKash received, in order.
    pub fn create_bodies(&self) -> Vec<Value> {
        self.books.lock().expect("books").create_bodies.clone()
    }
}

/// The delay and scripted answer registered for this call to `path`, if any.
fn next_of(books: &Mutex<Books>, path: &str) -> (Option<std::time::Duration>, Option<Value>) {
    let mut b = books.lock().expect("books");
    let delay = b.delays.get_mut(path).and_then(VecDeque::pop_front);
    let answer = b.scripted.get_mut(path).and_then(VecDeque::pop_front);
    (delay, answer)
}

/// The fields SSLCommerz's v4 session API requires.
const SESSION_FIELDS: &[&str] = &[
    "store_id",
    "store_passwd",
    "total_amount",
    "currency",
    "tran_id",
    "success_url",
    "fail_url",
    "cancel_url",
    "cus_name",
    "cus_email",
    "cus_add1",
    "cus_city",
    "cus_postcode",
    "cus_country",
    "cus_phone",
    "shipping_method",
    "num_of_item",
    "ship_name",
    "ship_add1",
    "ship_city",
    "ship_postcode",
    "ship_country",
    "product_name",
    "product_category",
    "product_profile",
];

async fn session(State(books): State<Arc<Mutex<Books>>>, body: String) -> Result<Json<Value>, StatusCode> {
    if let Some(status) = count_or_fail(&books, "session") {
        return Err(status);
    }
    let form: BTreeMap<String, String> = serde_urlencoded::from_str(&body).unwrap_or_default();
    // Recorded as it arrives, so a call answered too late still counts.
    let (n, base) = {
        let mut b = books.lock().expect("books");
        b.session_forms.push(form.clone());
        (b.session_forms.len(), b.base.clone())
    };
    let (delay, scripted) = next_of(&books, "session");
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    let f = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let answer = if f("store_id") != SSL_STORE_ID || f("store_passwd") != SSL_STORE_PASSWORD {
        json!({"status": "FAILED", "failedreason": "Store Credential Error Or Store is De-active"})
    } else if let Some(missing) = SESSION_FIELDS.iter().find(|k| f(k).trim().is_empty()) {
        json!({"status": "FAILED", "failedreason": format!("Invalid Information: {missing} is missing")})
    } else {
        let key = format!("SK{n:04}{}", f("tran_id"));
        json!({"status": "SUCCESS", "failedreason": "", "sessionkey": key,
               "GatewayPageURL": format!("{base}/EasyCheckOut/{key}"),
               "storeBanner": "", "storeLogo": "", "desc": []})
    };
    Ok(Json(scripted.unwrap_or(answer)))
}

async fn create(
    State(books): State<Arc<Mutex<Books>>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Result<Json<Value>, StatusCode> {
    if let Some(status) = count_or_fail(&books, "create") {
        return Err(status);
    }
    let (delay, scripted) = next_of(&books, "create");
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    if !bkash_authentic(&headers) {
        return Ok(Json(json!({"statusCode": "2079", "statusMessage": "Invalid app token"})));
    }
    let mut b = books.lock().expect("books");
    b.create_bodies.push(body.clone());
    let n = b.create_bodies.len();
    let filled = ["payerReference", "callbackURL", "amount", "currency", "merchantInvoiceNumber"]
        .iter()
        .all(|k| body[*k].as_str().is_some_and(|v| !v.is_empty()));
    let answer = if body["mode"] != "0011" || body["intent"] != "sale" || !filled {
        json!({"statusCode": "2065", "statusMessage": "Mandatory field missing"})
    } else {
        let id = format!("TR0011{n:04}");
        json!({"paymentID": id, "bkashURL": format!("{}/bkash/?paymentId={id}", b.base),
               "callbackURL": body["callbackURL"], "amount": body["amount"], "intent": "sale",
               "currency": body["currency"], "paymentCreateTime": "2026-12-01T10:00:00:000 GMT+0600",
               "transactionStatus": "Initiated", "merchantInvoiceNumber": body["merchantInvoiceNumber"],
               "statusCode": "0000", "statusMessage": "Successful"})
    };
    Ok(Json(scripted.unwrap_or(answer)))
}

async fn refresh(State(books): State<Arc<Mutex<Books>>>, headers: HeaderMap, Json(body): Json<Value>) -> Json<Value> {
    count(&books, "refresh");
    let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let ok = h("username") == BKASH_USERNAME
        && h("password") == BKASH_PASSWORD
        && body["refresh_token"] == "standin-refresh";
    Json(if ok {
        json!({"statusCode": "0000", "statusMessage": "Successful", "id_token": BKASH_TOKEN,
               "token_type": "Bearer", "expires_in": 3600, "refresh_token": "standin-refresh"})
    } else {
        json!({"statusCode": "2079", "statusMessage": "Invalid refresh token"})
    })
}

fn count(books: &Mutex<Books>, path: &str) {
    books.lock().expect("books").calls.entry(path.to_owned()).or_default().push(Instant::now());
}

/// Counts the call; the status it is answered with if it falls in an
/// outage.
fn count_or_fail(books: &Mutex<Books>, path: &str) -> Option<StatusCode> {
    count(books, path);
    let mut b = books.lock().expect("books");
    match b.outages.get_mut(path) {
        Some((n, status)) if *n > 0 => {
            *n -= 1;
            Some(*status)
        }
        _ => None,
    }
}

async fn validation(
    State(books): State<Arc<Mutex<Books>>>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, StatusCode> {
    if let Some(status) = count_or_fail(&books, "validation") {
        return Err(status);
    }
    let delay = books.lock().expect("books").delays.get_mut("validation").and_then(VecDeque::pop_front);
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    let authentic = q.get("store_id").map(String::as_str) == Some(SSL_STORE_ID)
        && q.get("store_passwd").map(String::as_str) == Some(SSL_STORE_PASSWORD)
        && q.get("format").map(String::as_str) == Some("json");
    if !authentic {
        return Ok(Json(json!({"APIConnect": "INVALID_REQUEST"})));
    }
    let val_id = q.get("val_id").cloned().unwrap_or_default();
    let answer = books.lock().expect("books").validations.get(&val_id).cloned();
    Ok(Json(answer.unwrap_or_else(|| json!({"status": "INVALID_TRANSACTION", "val_id": val_id}))))
}

async fn grant(State(books): State<Arc<Mutex<Books>>>, headers: HeaderMap, Json(body): Json<Value>) -> Json<Value> {
    count(&books, "grant");
    let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let ok = h("username") == BKASH_USERNAME
        && h("password") == BKASH_PASSWORD
        && body["app_key"] == BKASH_APP_KEY
        && body["app_secret"] == BKASH_APP_SECRET;
    Json(if ok {
        json!({"statusCode": "0000", "statusMessage": "Successful", "id_token": BKASH_TOKEN,
               "token_type": "Bearer", "expires_in": 3600, "refresh_token": "standin-refresh"})
    } else {
        json!({"statusCode": "2079", "statusMessage": "Invalid app token"})
    })
}

fn bkash_authentic(headers: &HeaderMap) -> bool {
    let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    h("authorization") == BKASH_TOKEN && h("x-app-key") == BKASH_APP_KEY
}

async fn execute(State(books): State<Arc<Mutex<Books>>>, headers: HeaderMap, Json(body): Json<Value>) -> Json<Value> {
    count(&books, "execute");
    if !bkash_authentic(&headers) {
        return Json(json!({"statusCode": "2079", "statusMessage": "Invalid app token"}));
    }
    let id = body["paymentID"].as_str().unwrap_or_default().to_owned();
    let mut b = books.lock().expect("books");
    Json(match b.payments.get_mut(&id) {
        Some((answer, executed)) if !*executed => {
            *executed = true;
            answer.clone()
        }
        Some(_) => json!({"statusCode": "2117", "statusMessage": "Payment execution already been called before"}),
        None => json!({"statusCode": "2056", "statusMessage": "Invalid Payment State"}),
    })
}

async fn status(State(books): State<Arc<Mutex<Books>>>, headers: HeaderMap, Json(body): Json<Value>) -> Json<Value> {
    count(&books, "status");
    if !bkash_authentic(&headers) {
        return Json(json!({"statusCode": "2079", "statusMessage": "Invalid app token"}));
    }
    let id = body["paymentID"].as_str().unwrap_or_default();
    let answer = books.lock().expect("books").payments.get(id).map(|(a, _)| a.clone());
    Json(answer.unwrap_or_else(|| json!({"statusCode": "2056", "statusMessage": "Invalid Payment State"})))
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

/// Records a booking request of `courier` and answers its registered
/// delay, outage or scripted answer: `Err` is the answer to give at once.
async fn courier_call(
    books: &Mutex<Books>,
    courier: &str,
    body: &Value,
) -> Result<(usize, Option<Value>), (StatusCode, Json<Value>)> {
    // Recorded as it arrives, even when it is then answered 503.
    let n = {
        let mut b = books.lock().expect("books");
        let sent = b.parcels.entry(courier.to_owned()).or_default();
        sent.push(body.clone());
        sent.len()
    };
    if let Some(status) = count_or_fail(books, courier) {
        return Err((status, Json(json!({"message": "Service Unavailable"}))));
    }
    let (delay, scripted) = next_of(books, courier);
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    Ok((n, scripted))
}

fn text_field(body: &Value, key: &str) -> String {
    match &body[key] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Steadfast `create_order`: `Api-Key` and `Secret-Key`, an 11-digit phone,
/// a unique invoice.
async fn steadfast_create(
    State(books): State<Arc<Mutex<Books>>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    if header(&headers, "api-key") != STEADFAST_API_KEY || header(&headers, "secret-key") != STEADFAST_SECRET_KEY {
        return (StatusCode::UNAUTHORIZED, Json(json!({"status": 401, "message": "Unauthorized"})));
    }
    let (n, scripted) = match courier_call(&books, "steadfast", &body).await {
        Ok(call) => call,
        Err(answer) => return answer,
    };
    if let Some(answer) = scripted {
        return (StatusCode::OK, Json(answer));
    }
    let invoice = text_field(&body, "invoice");
    let phone = text_field(&body, "recipient_phone");
    let missing = ["invoice", "recipient_name", "recipient_phone", "recipient_address"]
        .into_iter()
        .find(|k| text_field(&body, k).is_empty())
        .or((!body["cod_amount"].is_number()).then_some("cod_amount"));
    if let Some(field) = missing {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"status": 400, "errors": {field: [format!("The {field} field is required.")]}})),
        );
    }
    if phone.len() != 11 || !phone.chars().all(|c| c.is_ascii_digit()) {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"status": 400, "errors": {"recipient_phone": ["The recipient phone must be 11 digits."]}})),
        );
    }
    let mut b = books.lock().expect("books");
    if b.steadfast_invoices.contains(&invoice) {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"status": 400, "errors": {"invoice": ["The invoice has already been taken."]}})),
        );
    }
    b.steadfast_invoices.push(invoice.clone());
    (
        StatusCode::OK,
        Json(json!({"status": 200, "message": "Consignment has been created successfully.",
        "consignment": {"consignment_id": 1_424_100 + n, "invoice": invoice, "tracking_code": format!("SFT{n:05}"),
                        "recipient_name": body["recipient_name"], "recipient_phone": phone,
                        "recipient_address": body["recipient_address"], "cod_amount": body["cod_amount"],
                        "status": "in_review", "note": body["note"],
                        "created_at": "2026-12-01T10:00:00.000000Z", "updated_at": "2026-12-01T10:00:00.000000Z"}})),
    )
}

/// Pathao `issue-token`: the password grant or the refresh grant.
async fn pathao_token(State(books): State<Arc<Mutex<Books>>>, Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    count(&books, "pathao_token");
    let client = body["client_id"] == PATHAO_CLIENT_ID && body["client_secret"] == PATHAO_CLIENT_SECRET;
    let grant = match body["grant_type"].as_str() {
        Some("password") => body["username"] == PATHAO_USERNAME && body["password"] == PATHAO_PASSWORD,
        Some("refresh_token") => body["refresh_token"] == "standin-pathao-refresh",
        _ => false,
    };
    if !(client && grant) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Invalid credentials", "type": "error", "code": 401})),
        );
    }
    (
        StatusCode::OK,
        Json(json!({"token_type": "Bearer", "expires_in": 432_000,
        "access_token": PATHAO_ACCESS_TOKEN, "refresh_token": "standin-pathao-refresh"})),
    )
}

/// Pathao `orders`: the bearer token, the merchant's store, the recipient.
async fn pathao_order(
    State(books): State<Arc<Mutex<Books>>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    if header(&headers, "authorization") != format!("Bearer {PATHAO_ACCESS_TOKEN}") {
        return (StatusCode::UNAUTHORIZED, Json(json!({"message": "Unauthorized", "type": "error", "code": 401})));
    }
    let (n, scripted) = match courier_call(&books, "pathao", &body).await {
        Ok(call) => call,
        Err(answer) => return answer,
    };
    if let Some(answer) = scripted {
        return (StatusCode::OK, Json(answer));
    }
    let filled = ["store_id", "merchant_order_id", "recipient_name", "recipient_phone", "recipient_address"]
        .iter()
        .all(|k| !text_field(&body, k).is_empty());
    if !filled || body["store_id"] != PATHAO_STORE_ID || body["delivery_type"] != 48 || body["item_type"] != 2 {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"message": "Please fix the given errors", "type": "error", "code": 422})),
        );
    }
    let id = format!("DL1212{n:04}PTH");
    (
        StatusCode::OK,
        Json(json!({"message": "Order Created Successfully", "type": "success", "code": 200,
        "data": {"consignment_id": id, "merchant_order_id": body["merchant_order_id"], "order_status": "Pending",
                 "delivery_fee": 80}})),
    )
}

fn redx_authentic(headers: &HeaderMap) -> bool {
    header(headers, "api-access-token") == format!("Bearer {REDX_API_TOKEN}")
}

/// RedX `areas?post_code=`: one Dhaka area for 1207, none elsewhere.
async fn redx_areas(headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> (StatusCode, Json<Value>) {
    if !redx_authentic(&headers) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"message": "Unauthorized"})));
    }
    let areas = match q.get("post_code").map(String::as_str) {
        Some("1207") => {
            json!([{"id": 3, "name": "Mohammadpur(Dhaka)", "post_code": 1207, "division_name": "Dhaka", "zone_id": 1}])
        }
        _ => json!([]),
    };
    (StatusCode::OK, Json(json!({"areas": areas})))
}

/// RedX `parcel`: the token, a delivery area, the recipient.
async fn redx_parcel(
    State(books): State<Arc<Mutex<Books>>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    if !redx_authentic(&headers) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"message": "Unauthorized"})));
    }
    let (n, scripted) = match courier_call(&books, "redx", &body).await {
        Ok(call) => call,
        Err(answer) => return answer,
    };
    if let Some(answer) = scripted {
        return (StatusCode::OK, Json(answer));
    }
    if body["delivery_area_id"] != 3 || text_field(&body, "merchant_invoice_id").is_empty() {
        return (StatusCode::BAD_REQUEST, Json(json!({"message": "Invalid delivery area"})));
    }
    (StatusCode::OK, Json(json!({"tracking_id": format!("21A42{n:04}RDX")})))
}

//! A local stand-in for the payment gateways' server APIs (their real
//! servers cannot be reached from here). It speaks the documented request
//! and response formats — SSLCommerz's validation API, bKash's token grant,
//! execute and payment status — checks the credentials it is called with,
//! and answers what the test registered.

use std::collections::HashMap;
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

#[derive(Default)]
struct Books {
    /// SSLCommerz validation answers by val_id.
    validations: HashMap<String, Value>,
    /// bKash payments by paymentID: (answer, executed yet).
    payments: HashMap<String, (Value, bool)>,
    /// When each call arrived, by path.
    calls: HashMap<String, Vec<Instant>>,
    /// How many of the next calls to a path fail with 503, by path.
    outages: HashMap<String, usize>,
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
            .route("/tokenized/checkout/token/grant", post(grant))
            .route("/tokenized/checkout/execute", post(execute))
            .route("/tokenized/checkout/payment/status", post(status))
            .with_state(books.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("stand-in binds");
        let base = format!("http://{}", listener.local_addr().expect("address"));
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

    /// The next `n` calls to `path` (only `validation` so far) answer 503,
    /// as a gateway does while it is down.
    pub fn fail_next(&self, path: &str, n: usize) {
        self.books.lock().expect("books").outages.insert(path.to_owned(), n);
    }
}

fn count(books: &Mutex<Books>, path: &str) {
    books.lock().expect("books").calls.entry(path.to_owned()).or_default().push(Instant::now());
}

/// Counts the call; whether it falls in an outage (and is answered 503).
fn count_or_fail(books: &Mutex<Books>, path: &str) -> bool {
    count(books, path);
    let mut b = books.lock().expect("books");
    match b.outages.get_mut(path) {
        Some(n) if *n > 0 => {
            *n -= 1;
            true
        }
        _ => false,
    }
}

async fn validation(
    State(books): State<Arc<Mutex<Books>>>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, StatusCode> {
    if count_or_fail(&books, "validation") {
        return Err(StatusCode::SERVICE_UNAVAILABLE);
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

//! The served OpenAPI document against the written contract (`docs/API.md`,
//! the copy of the shared `API.md`): every route and field the contract
//! names is in the document under that name, the document is valid
//! OpenAPI 3.1, the reference page loads nothing from elsewhere, and
//! Schemathesis finds no server error, no answer outside its schema and no
//! bad input accepted.

use std::collections::{BTreeSet, HashMap};
use std::process::Command;

use haat_tests::{TestApp, order_body, workspace_dir};
use regex::Regex;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Sections of the contract the api does not serve yet, and why they are
/// not compared: the "arriving" list is by its own words not served until
/// each lands (the routes of it we serve are in the document because the
/// router and the document are made from the same annotations).
const NOT_YET_SERVED: &[&str] = &["Arriving in v1"];

/// Example map keys in the contract's JSON (a category name), not fields.
const EXAMPLE_KEYS: &[&str] = &["grocery"];

/// One paragraph of the contract: the routes it names and the fields and
/// query parameters it shows for them.
#[derive(Debug, Default)]
struct Promise {
    routes: Vec<(String, String)>,
    fields: BTreeSet<String>,
    params: BTreeSet<String>,
}

fn contract() -> String {
    let copy = std::fs::read_to_string(workspace_dir().join("docs/API.md")).expect("docs/API.md");
    // Where the shared original sits beside the project, the copy must be it.
    if let Ok(original) = std::fs::read_to_string(workspace_dir().join("../shared/API.md")) {
        assert_eq!(copy, original, "docs/API.md must be the shared API.md as it is now");
    }
    copy
}

/// Expands `approve|reject|paid` in a path's last segment.
fn expand(path: &str) -> Vec<String> {
    match path.rsplit_once('/') {
        Some((head, last)) if last.contains('|') => last.split('|').map(|l| format!("{head}/{l}")).collect(),
        _ => vec![path.to_owned()],
    }
}

/// Reads the contract's promises, section by section and paragraph by
/// paragraph (a bullet is a paragraph); a paragraph without a route (a
/// code block, "→ 201 {…}") continues the routes of the one before it.
fn promises(text: &str) -> Vec<Promise> {
    let route =
        Regex::new(r"`(GET|POST|PATCH|DELETE|PUT)(?:/(GET|POST))? (/[^\s`{?]*(?:\{[a-z_]+\}[^\s`{?]*)*)(\?[^\s`]*)?")
            .expect("regex");
    let relative = Regex::new(r"· `(/[a-z_-]+)`").expect("regex");
    let key = Regex::new(r#"(^|[^:|\w\s]\s*)"([a-z_][a-z0-9_]*)""#).expect("regex");
    let param = Regex::new(r"[?&]([a-z_]+)=").expect("regex");
    let mut out = Vec::new();
    for section in text.split("\n## ").skip(1) {
        let title = section.lines().next().unwrap_or_default();
        if NOT_YET_SERVED.iter().any(|s| title.starts_with(s)) {
            continue;
        }
        let mut current: Option<Promise> = None;
        for paragraph in paragraphs(section) {
            let mut routes = Vec::new();
            let mut params = BTreeSet::new();
            for c in route.captures_iter(&paragraph) {
                routes.extend(expand(&c[3]).into_iter().map(|path| (c[1].to_lowercase(), path)));
                if let Some(q) = c.get(4) {
                    params.extend(param.captures_iter(q.as_str()).map(|p| p[1].to_owned()));
                }
            }
            if let Some(last) = routes.last().cloned() {
                for c in relative.captures_iter(&paragraph) {
                    let base = last.1.rsplit_once('/').map(|(h, _)| h).unwrap_or_default();
                    routes.push((last.0.clone(), format!("{base}{}", &c[1])));
                }
            }
            if !routes.is_empty() {
                out.extend(current.take());
                current = Some(Promise { routes, params, ..Promise::default() });
            } else if paragraph.starts_with("- ") {
                // A bullet without a route is a convention of its own (its
                // fields, the problem's and the list's, have their own test).
                out.extend(current.take());
                continue;
            }
            if let Some(p) = current.as_mut() {
                let fields = key.captures_iter(&paragraph).map(|c| c[2].to_owned());
                p.fields.extend(fields.filter(|f| !EXAMPLE_KEYS.contains(&f.as_str())));
            }
        }
        out.extend(current);
    }
    out
}

/// Paragraphs, with a fenced code block kept whole.
fn paragraphs(section: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut buf = String::new();
    let mut fenced = false;
    for line in section.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        }
        let bullet = line.starts_with("- ") && !fenced;
        if (line.trim().is_empty() && !fenced) || bullet {
            if !buf.is_empty() {
                out.push(std::mem::take(&mut buf));
            }
            if !bullet {
                continue;
            }
        }
        buf.push_str(line);
        buf.push('\n');
    }
    if !buf.is_empty() {
        out.push(buf);
    }
    out
}

/// Every property name reachable from `schema`, following `$ref`s.
fn names_in(doc: &Value, schema: &Value, seen: &mut BTreeSet<String>, out: &mut BTreeSet<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                let name = r.rsplit('/').next().unwrap_or_default().to_owned();
                if seen.insert(name.clone()) {
                    names_in(doc, &doc["components"]["schemas"][&name], seen, out);
                }
            }
            if let Some(Value::Object(props)) = map.get("properties") {
                out.extend(props.keys().cloned());
            }
            map.values().for_each(|v| names_in(doc, v, seen, out));
        }
        Value::Array(items) => items.iter().for_each(|v| names_in(doc, v, seen, out)),
        _ => {}
    }
}

/// The field names an operation takes or answers (bodies of 2xx answers).
fn fields_of(doc: &Value, op: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut seen = BTreeSet::new();
    names_in(doc, &op["requestBody"], &mut seen, &mut out);
    if let Some(responses) = op["responses"].as_object() {
        for (status, answer) in responses {
            if status.starts_with('2') {
                names_in(doc, answer, &mut seen, &mut out);
            }
        }
    }
    out
}

fn params_of(op: &Value) -> BTreeSet<String> {
    let params = op["parameters"].as_array().cloned().unwrap_or_default();
    params.iter().filter_map(|p| p["name"].as_str().map(str::to_owned)).collect()
}

async fn served_document(app: &TestApp) -> Value {
    let reply = app.request("GET", "/openapi.json", "", None, &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.content_type, "application/json");
    reply.body
}

#[tokio::test]
async fn every_route_and_field_the_contract_names_is_in_the_served_document() {
    let app = TestApp::spawn().await;
    let doc = served_document(&app).await;
    let promises = promises(&contract());
    // The parser reads the contract: 48 distinct routes outside the section
    // not served yet, as of this writing (more as the contract grows).
    let distinct: BTreeSet<&(String, String)> = promises.iter().flat_map(|p| &p.routes).collect();
    assert!(distinct.len() >= 48, "the contract's routes were read ({} found): {distinct:#?}", distinct.len());
    let named: usize = promises.iter().map(|p| p.fields.len() + p.params.len()).sum();
    // 214 fields and query parameters as of this writing.
    assert!(named >= 214, "the contract's fields were read ({named} found)");
    let mut missing = Vec::new();
    for promise in &promises {
        let mut fields = BTreeSet::new();
        let mut params = BTreeSet::new();
        for (method, path) in &promise.routes {
            match doc["paths"][path].get(method) {
                Some(op) => {
                    fields.extend(fields_of(&doc, op));
                    params.extend(params_of(op));
                }
                None => missing.push(format!("route {} {path}", method.to_uppercase())),
            }
        }
        let routes: Vec<String> = promise.routes.iter().map(|(m, p)| format!("{} {p}", m.to_uppercase())).collect();
        for f in promise.fields.difference(&fields) {
            missing.push(format!("field \"{f}\" of {}", routes.join(", ")));
        }
        for q in promise.params.difference(&params) {
            missing.push(format!("query parameter {q} of {}", routes.join(", ")));
        }
    }
    assert!(missing.is_empty(), "the served document lacks what the contract names:\n{}", missing.join("\n"));
}

#[tokio::test]
async fn every_error_is_documented_as_a_problem_json_with_the_contracts_fields() {
    let app = TestApp::spawn().await;
    let doc = served_document(&app).await;
    let problem: BTreeSet<&str> = doc["components"]["schemas"]["Problem"]["properties"]
        .as_object()
        .expect("Problem")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(problem, BTreeSet::from(["type", "title", "status", "detail", "errors"]));
    let field: BTreeSet<&str> = doc["components"]["schemas"]["FieldError"]["properties"]
        .as_object()
        .expect("FieldError")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(field, BTreeSet::from(["field", "message"]));
    let mut undocumented = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            for status in ["401", "404", "422", "500"] {
                if op["responses"][status].is_null() {
                    undocumented.push(format!("{method} {path} {status}"));
                }
            }
        }
    }
    assert!(undocumented.is_empty(), "errors without a documented problem+json: {undocumented:?}");
    let error = &doc["components"]["responses"]["Error422"]["content"]["application/problem+json"]["schema"]["$ref"];
    assert_eq!(error, "#/components/schemas/Problem");
}

#[tokio::test]
async fn money_in_the_document_is_a_decimal_string_with_a_pattern() {
    let app = TestApp::spawn().await;
    let doc = served_document(&app).await;
    let decimal = &doc["components"]["schemas"]["DecimalText"];
    assert_eq!(decimal["type"], "string");
    assert_eq!(decimal["pattern"], haat_domain::money::DECIMAL_PATTERN);
    for (schema, field) in
        [("Order", "total"), ("Product", "price"), ("CommissionView", "amount"), ("NewWithdrawal", "amount")]
    {
        let prop = &doc["components"]["schemas"][schema]["properties"][field];
        assert_eq!(prop["$ref"], "#/components/schemas/DecimalText", "{schema}.{field}: {prop}");
    }
}

/// The project's Python tools (`scripts/pytools` installs them).
fn pytool(name: &str) -> std::path::PathBuf {
    let path = workspace_dir().join("target/pytools/bin").join(name);
    assert!(path.exists(), "{} is missing: run scripts/pytools (scripts/test does)", path.display());
    path
}

#[tokio::test]
async fn the_served_document_validates_as_openapi_3_1() {
    let app = TestApp::spawn().await;
    let doc = served_document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let file = workspace_dir().join("target").join(format!("openapi-{}.json", uuid::Uuid::new_v4().simple()));
    std::fs::write(&file, doc.to_string()).expect("write the document");
    let out = Command::new(pytool("openapi-spec-validator")).arg(&file).output().expect("the validator runs");
    std::fs::remove_file(&file).ok();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains(": OK"),
        "not valid OpenAPI: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn the_reference_page_loads_only_what_the_api_itself_serves() {
    let app = TestApp::spawn().await;
    let page = app.request("GET", "/docs", "", None, &[]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.content_type.starts_with("text/html"), "{}", page.content_type);
    let html = page.body.as_str().expect("html").to_owned();
    let src = Regex::new(r#"(?:src|href|spec-url)="([^"]+)""#).expect("regex");
    let sources: Vec<String> = src.captures_iter(&html).map(|c| c[1].to_owned()).collect();
    assert_eq!(sources, ["/openapi.json", "/docs/redoc.standalone.js"]);
    let script = app.http.get(format!("{}/docs/redoc.standalone.js", app.base)).send().await.expect("script");
    assert_eq!(script.status(), StatusCode::OK);
    assert_eq!(script.headers()["content-type"], "text/javascript; charset=utf-8");
    let js = script.bytes().await.expect("body");
    assert!(js.len() > 500_000 && js.starts_with(b"/*! For license information"), "the vendored Redoc bundle");
}

/// Real things for Schemathesis to reach past the 404s: a member chain,
/// a product, an order, a plan, a campaign, a withdrawal-ready wallet.
async fn seeded_ids(app: &TestApp) -> HashMap<&'static str, String> {
    let id = |v: &Value| v["id"].as_str().expect("id").to_owned();
    let chain = app.create_chain(3).await;
    let product = app.create_product("ST-1", "450.00", "300.00", 100).await;
    let order = app.place_order(&chain[2], &product, 1, "cod").await;
    let (status, plan) = app.admin("POST", "/v1/admin/plans", Some(&haat_tests::five_level_plan(7))).await;
    assert_eq!(status, StatusCode::CREATED, "{plan}");
    let campaign = json!({"name": "ST", "scope": {"kind": "all"}, "starts_at": "2026-01-01T00:00:00Z",
        "ends_at": "2026-02-01T00:00:00Z", "rate": "0.10", "trigger": "reached", "min_units": 1, "reward": "cash"});
    let (status, campaign) = app.admin("POST", "/v1/admin/campaigns", Some(&campaign)).await;
    assert_eq!(status, StatusCode::CREATED, "{campaign}");
    let body = order_body(&chain[1], &product, 1, "online");
    let (status, online) = app
        .call_with("POST", "/v1/orders", &app.admin_token, Some(body.to_string()), &[("idempotency-key", "st-online")])
        .await;
    assert_eq!(status, StatusCode::CREATED, "{online}");
    HashMap::from([
        ("HAAT_ST_MEMBER", id(&chain[2])),
        ("HAAT_ST_PRODUCT", id(&product)),
        ("HAAT_ST_ORDER", id(&order)),
        ("HAAT_ST_ONLINE_ORDER", id(&online)),
        ("HAAT_ST_PLAN", id(&plan)),
        ("HAAT_ST_CAMPAIGN", id(&campaign)),
    ])
}

#[tokio::test]
async fn schemathesis_finds_no_server_error_no_answer_outside_its_schema_and_no_bad_input_accepted() {
    let app = TestApp::spawn().await;
    let ids = seeded_ids(&app).await;
    let config = workspace_dir().join("tests/schemathesis.toml");
    // A folder of its own for each run: Schemathesis keeps a cache of past
    // findings where it runs, and a run must not depend on earlier ones.
    let report = workspace_dir().join("target/schemathesis").join(uuid::Uuid::new_v4().simple().to_string());
    std::fs::create_dir_all(&report).expect("report folder");
    let out = Command::new(pytool("schemathesis"))
        .current_dir(&report)
        .arg("--config-file")
        .arg(&config)
        .args(["run", &format!("{}/openapi.json", app.base)])
        .arg("--report-dir")
        .arg(&report)
        .envs(ids)
        .env("HAAT_ST_TOKEN", &app.admin_token)
        .env("NO_COLOR", "1")
        .output()
        .expect("schemathesis runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "schemathesis found problems:\n{text}\n{}", String::from_utf8_lossy(&out.stderr));
    let figure = |pattern: &str| {
        let re = Regex::new(pattern).expect("regex");
        re.captures(&text).map(|c| c[1].parse::<usize>().expect("a count"))
    };
    let selected = figure(r"Selected: (\d+)/\d+");
    assert!(selected.is_some_and(|n| n >= 60), "the document's operations were selected:\n{text}");
    assert_eq!(figure(r"Tested: (\d+)"), selected, "every selected operation was tested:\n{text}");
}

/// The folders `ARCHITECTURE.md`'s code map names under `domain/` (each
/// written as `` `name/` `` in a bullet of that part of the map).
fn mapped_domain_folders(architecture: &str) -> BTreeSet<String> {
    let map = architecture.split("- `domain/`").nth(1).and_then(|rest| rest.split("\n- `").next()).unwrap_or_default();
    map.lines()
        .filter_map(|l| l.trim_start().strip_prefix("- `"))
        .filter_map(|l| l.split_once("/`").map(|(name, _)| name.to_owned()))
        .collect()
}

#[test]
fn the_architecture_code_map_names_exactly_the_domain_folders_that_exist() {
    let root = workspace_dir();
    let architecture = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let folders: BTreeSet<String> = std::fs::read_dir(root.join("domain/src"))
        .expect("domain/src")
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(folders.len() >= 10, "{folders:?}");
    assert_eq!(mapped_domain_folders(&architecture), folders);
}

#[test]
fn the_business_crate_depends_on_neither_the_log_subscriber_nor_the_metrics_exporter() {
    let out = Command::new(env!("CARGO"))
        .args(["tree", "-p", "haat-domain", "-e", "normal,build", "--prefix", "none", "--locked", "--offline"])
        .current_dir(workspace_dir())
        .output()
        .expect("cargo tree runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(tree.lines().any(|l| l.starts_with("sqlx ")), "the tree is read: {tree}");
    for plumbing in ["tracing-subscriber ", "metrics-exporter-prometheus "] {
        assert!(!tree.lines().any(|l| l.starts_with(plumbing)), "haat-domain depends on {plumbing}");
    }
}

//! Soak run (release build; run through `scripts/soak.sh`, which starts PostgreSQL's
//! database, S3, a WeChat stand-in and the server). Not a test: it prints figures.
//!
//! Open-loop traffic at a fixed rate — requests are started on schedule whether or not
//! earlier ones finished, so a server that slows down shows it in its latencies — from
//! every role, each second:
//! - one full case walk: an inspector reports a case on patrol, sends an AFTER photo
//!   (upload ticket → POST to S3 → confirm) and submits it; the township supervisor
//!   approves it;
//! - one WeChat tip-off by a public user, who then reads their tips;
//! - reads: three inspectors' task lists, two supervisors' case pages (with relations),
//!   an anonymous `locate` and a tracking-code look-up.
//!
//! Every 5 s it samples the server's RSS, open file descriptors and PostgreSQL
//! connections; each minute it prints those with the requests' p50/p99; at the end the
//! least-squares slope of each per minute, and every error by code. Exit 1 when a
//! request failed with anything but a retryable code.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn env(k: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| panic!("{k} not set (run scripts/soak.sh)"))
}

/// Latencies and errors, by the minute they started in.
#[derive(Default)]
struct Record {
    latencies: BTreeMap<u64, Vec<f64>>,
    by_operation: BTreeMap<(String, u64), Vec<f64>>,
    errors_by_minute: BTreeMap<u64, u64>,
    errors: BTreeMap<String, u64>,
    hard_errors: u64,
}

#[derive(Clone)]
struct Load {
    client: reqwest::Client,
    base: String,
    start: Instant,
    record: Arc<Mutex<Record>>,
}

impl Load {
    /// One GraphQL request, timed; `None` (and the error counted) unless it had data.
    async fn gql(&self, token: Option<&str>, what: &str, q: &str, vars: Value) -> Option<Value> {
        let minute = self.start.elapsed().as_secs() / 60;
        let t = Instant::now();
        let mut req = self
            .client
            .post(format!("{}/graphql", self.base))
            .json(&json!({ "query": q, "variables": vars }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let answer: Result<Value, String> = match req.send().await {
            Ok(r) => r.json().await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        let mut rec = self.record.lock().unwrap();
        rec.latencies.entry(minute).or_default().push(ms);
        rec.by_operation
            .entry((what.to_owned(), minute))
            .or_default()
            .push(ms);
        if !answer.as_ref().is_ok_and(|a| a.get("errors").is_none()) {
            *rec.errors_by_minute.entry(minute).or_default() += 1;
        }
        match answer {
            Ok(a) if a.get("errors").is_none() => Some(a["data"].clone()),
            Ok(a) => {
                let code = a["errors"][0]["extensions"]["code"]
                    .as_str()
                    .unwrap_or("NO_CODE")
                    .to_owned();
                if !["UNAVAILABLE", "STORAGE_UNAVAILABLE", "RATE_LIMITED"].contains(&code.as_str())
                {
                    rec.hard_errors += 1;
                    if rec.hard_errors <= 5 {
                        println!("  error in {what}: {a}");
                    }
                }
                *rec.errors.entry(format!("{what}: {code}")).or_default() += 1;
                None
            }
            Err(e) => {
                rec.hard_errors += 1;
                if rec.hard_errors <= 5 {
                    println!("  no answer to {what}: {e}");
                }
                *rec.errors.entry(format!("{what}: no answer")).or_default() += 1;
                None
            }
        }
    }
}

/// One sample of the server: (minute, RSS KiB, open fds, database connections).
type Sample = (u64, u64, u64, u64);

struct Village {
    code: String,
    lat: f64,
    lng: f64,
    supervisor: String,
}

async fn login(load: &Load, username: &str) -> String {
    let d = load
        .gql(
            None,
            "login",
            "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }",
            json!({ "u": username, "p": gridwatch::seed::DEMO_PASSWORD }),
        )
        .await
        .unwrap_or_else(|| panic!("login {username}"));
    d["login"]["accessToken"].as_str().unwrap().to_owned()
}

const REPORT: &str = "mutation($i: ReportCaseInput!) { reportCase(input: $i) { id version } }";
const REQUEST: &str = "mutation($i: RequestEvidenceUploadInput!) { requestEvidenceUpload(input: $i) { evidence { id } url method fields { name value } headers { name value } } }";
const CONFIRM: &str = "mutation($id: ID!) { confirmEvidence(id: $id) { status } }";
const SUBMIT: &str = "mutation($id: ID!, $v: Int!, $e: [ID!]) { submitCase(id: $id, version: $v, evidenceIds: $e) { version } }";
const VERIFY: &str =
    "mutation($id: ID!, $v: Int!) { verifyCase(id: $id, version: $v, approve: true) { status } }";
const TIP: &str = "mutation($i: SubmitTipInput!) { submitTip(input: $i) { trackingCode } }";
const MY_TASKS: &str = "{ myTasks(first: 20) { edges { node { id status category { name } lastEvent { action } } } } }";
const CASES: &str = "{ cases(first: 20) { edges { node { id status priority category { code } region { name } assignee { name } lastEvent { action } } } } }";

async fn walk(load: Load, v: Arc<Village>, insp: String, sup: String, photo: Arc<Vec<u8>>, n: u64) {
    let key = format!("soak-{}-{n}", std::process::id());
    let Some(d) = load
        .gql(
            Some(&insp),
            "reportCase",
            REPORT,
            json!({ "i": { "categoryCode": "DUST", "description": format!("巡查发现工地扬尘 {key}"),
                "idempotencyKey": key, "location": { "lat": v.lat, "lng": v.lng, "coord": "WGS84" } } }),
        )
        .await
    else {
        return;
    };
    let id = d["reportCase"]["id"].clone();
    let version = d["reportCase"]["version"].clone();
    let mut evidence = Vec::new();
    for phase in ["BEFORE", "AFTER"] {
        let Some(ev) = photo_of(&load, &insp, &id, phase, &photo, &key).await else {
            return;
        };
        evidence.push(ev);
    }
    let Some(d) = load
        .gql(
            Some(&insp),
            "submitCase",
            SUBMIT,
            json!({ "id": id, "v": version, "e": evidence }),
        )
        .await
    else {
        return;
    };
    let version = d["submitCase"]["version"].clone();
    load.gql(
        Some(&sup),
        "verifyCase",
        VERIFY,
        json!({ "id": id, "v": version }),
    )
    .await;
}

/// Sends one photo (ticket, upload, confirm); its evidence id.
async fn photo_of(
    load: &Load,
    insp: &str,
    id: &Value,
    phase: &str,
    photo: &[u8],
    key: &str,
) -> Option<Value> {
    let sha = hex::encode(Sha256::digest(photo));
    let d = load
        .gql(
            Some(insp),
            "requestEvidenceUpload",
            REQUEST,
            json!({ "i": { "caseId": id, "phase": phase, "contentType": "image/jpeg",
                "byteSize": photo.len(), "sha256": sha, "idempotencyKey": format!("{key}-{phase}") } }),
        )
        .await?;
    let up = &d["requestEvidenceUpload"];
    let sent = if up["method"] == "POST" {
        let mut form = reqwest::multipart::Form::new();
        for f in up["fields"].as_array().unwrap() {
            form = form.text(
                f["name"].as_str().unwrap().to_owned(),
                f["value"].as_str().unwrap().to_owned(),
            );
        }
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(photo.to_vec())
                .file_name("photo.jpg")
                .mime_str("image/jpeg")
                .unwrap(),
        );
        load.client
            .post(up["url"].as_str().unwrap())
            .multipart(form)
            .send()
            .await
    } else {
        let mut req = load
            .client
            .put(up["url"].as_str().unwrap())
            .body(photo.to_vec());
        for h in up["headers"].as_array().unwrap() {
            req = req.header(h["name"].as_str().unwrap(), h["value"].as_str().unwrap());
        }
        req.send().await
    };
    if !sent.as_ref().is_ok_and(|r| r.status().is_success()) {
        let mut rec = load.record.lock().unwrap();
        rec.hard_errors += 1;
        *rec.errors.entry("photo upload to S3".into()).or_default() += 1;
        return None;
    }
    let ev = up["evidence"]["id"].clone();
    load.gql(Some(insp), "confirmEvidence", CONFIRM, json!({ "id": ev }))
        .await?;
    Some(ev)
}

async fn tip(load: Load, v: Arc<Village>, public: String, n: u64) {
    let key = format!("soak-tip-{}-{n}", std::process::id());
    let d = load
        .gql(
            Some(&public),
            "submitTip",
            TIP,
            json!({ "i": { "categoryCode": "OPEN_BURNING", "description": "村口有人焚烧秸秆，烟很大",
                "idempotencyKey": key, "location": { "lat": v.lat + 0.0005, "lng": v.lng, "coord": "WGS84" } } }),
        )
        .await;
    load.gql(
        Some(&public),
        "myTips",
        "{ myTips { trackingCode status } }",
        json!({}),
    )
    .await;
    if let Some(code) = d
        .as_ref()
        .and_then(|d| d["submitTip"]["trackingCode"].as_str())
    {
        load.gql(
            None,
            "tipByTrackingCode",
            "query($c: String!) { tipByTrackingCode(code: $c) { status } }",
            json!({ "c": code }),
        )
        .await;
    }
}

fn read_proc(pid: &str) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count) as u64;
    (rss, fds)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// Least-squares slope of `ys` over their index.
fn slope(ys: &[f64]) -> f64 {
    let n = ys.len() as f64;
    if ys.len() < 2 {
        return 0.0;
    }
    let mx = (n - 1.0) / 2.0;
    let my = ys.iter().sum::<f64>() / n;
    let (mut num, mut den) = (0.0, 0.0);
    for (i, y) in ys.iter().enumerate() {
        let dx = i as f64 - mx;
        num += dx * (y - my);
        den += dx * dx;
    }
    num / den
}

#[tokio::main]
async fn main() {
    let base = env("SOAK_BASE");
    let pid = env("SOAK_SERVER_PID");
    let db_url = env("SOAK_DB_URL");
    let secs: u64 = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let load = Load {
        client,
        base,
        start: Instant::now(),
        record: Arc::default(),
    };
    let db = Database::connect(&db_url).await.unwrap();
    let db_name = db_url.rsplit('/').next().unwrap().to_owned();

    // Eight villages of different townships, their inspectors and supervisors.
    let snap = load
        .gql(
            None,
            "regions",
            "{ regions { children { code children { code centroid { lat lng } } } } }",
            json!({}),
        )
        .await
        .unwrap();
    let mut villages = Vec::new();
    for t in snap["regions"][0]["children"]
        .as_array()
        .unwrap()
        .iter()
        .take(8)
    {
        let v = &t["children"][0];
        villages.push(Arc::new(Village {
            code: v["code"].as_str().unwrap().to_owned(),
            lat: v["centroid"]["lat"].as_f64().unwrap(),
            lng: v["centroid"]["lng"].as_f64().unwrap(),
            supervisor: t["code"].as_str().unwrap().to_owned(),
        }));
    }
    let mut tokens = Vec::new();
    for v in &villages {
        let insp = login(&load, &format!("demo-insp-{}", v.code)).await;
        let sup = login(&load, &format!("demo-sup-{}", v.supervisor)).await;
        let public = load
            .gql(
                None,
                "loginWithWechat",
                "mutation($c: String!) { loginWithWechat(code: $c) { accessToken } }",
                json!({ "c": format!("soak-{}", v.code) }),
            )
            .await
            .expect("WeChat login through the stand-in")["loginWithWechat"]["accessToken"]
            .as_str()
            .unwrap()
            .to_owned();
        tokens.push((insp, sup, public));
    }
    let photo = Arc::new(gridwatch::domain::media::fixtures::big_jpeg(300 * 1024));
    println!(
        "soak: {secs} s at 1 walk (2 photos) + 1 tip-off + 7 reads per second over {} villages, photo {} KiB",
        villages.len(),
        photo.len() / 1024
    );
    println!(
        "{:>4} {:>8} {:>8} {:>9} {:>9} {:>10} {:>6} {:>8}",
        "min", "requests", "errors", "p50 ms", "p99 ms", "RSS MiB", "fds", "db conns"
    );

    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let sampler = {
        let (samples, pid, db, start) = (Arc::clone(&samples), pid.clone(), db.clone(), load.start);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                let (rss, fds) = read_proc(&pid);
                let conns = db
                    .query_one_raw(Statement::from_sql_and_values(
                        DbBackend::Postgres,
                        "SELECT count(*)::bigint AS n FROM pg_stat_activity WHERE datname = $1",
                        [db_name.clone().into()],
                    ))
                    .await
                    .ok()
                    .flatten()
                    .and_then(|r| r.try_get::<i64>("", "n").ok())
                    .unwrap_or(-1);
                samples.lock().unwrap().push((
                    start.elapsed().as_secs() / 60,
                    rss,
                    fds,
                    conns.max(0) as u64,
                ));
            }
        })
    };

    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut tasks = tokio::task::JoinSet::new();
    let mut printed = 0u64;
    let mut rows: Vec<(f64, f64, f64, f64, f64)> = Vec::new();
    let print_minute = |m: u64, rows: &mut Vec<(f64, f64, f64, f64, f64)>| {
        let rec = load.record.lock().unwrap();
        let mut lat = rec.latencies.get(&m).cloned().unwrap_or_default();
        let errors = rec.errors_by_minute.get(&m).copied().unwrap_or(0);
        drop(rec);
        lat.sort_by(f64::total_cmp);
        let s = samples.lock().unwrap();
        let mine: Vec<_> = s.iter().filter(|x| x.0 == m).collect();
        let rss = mine.iter().map(|x| x.1).max().unwrap_or(0) as f64 / 1024.0;
        let fds = mine.iter().map(|x| x.2).max().unwrap_or(0) as f64;
        let conns = mine.iter().map(|x| x.3).max().unwrap_or(0) as f64;
        let (p50, p99) = (percentile(&lat, 0.5), percentile(&lat, 0.99));
        println!(
            "{:>4} {:>8} {:>8} {:>9.1} {:>9.1} {:>10.1} {:>6} {:>8}",
            m + 1,
            lat.len(),
            errors,
            p50,
            p99,
            rss,
            fds,
            conns
        );
        rows.push((p50, p99, rss, fds, conns));
    };
    for n in 0..secs {
        tick.tick().await;
        let i = (n as usize) % villages.len();
        let v = Arc::clone(&villages[i]);
        let (insp, sup, public) = tokens[i].clone();
        tasks.spawn(walk(
            load.clone(),
            Arc::clone(&v),
            insp,
            sup.clone(),
            Arc::clone(&photo),
            n,
        ));
        tasks.spawn(tip(load.clone(), Arc::clone(&v), public, n));
        for k in 0..3 {
            let (l, t) = (load.clone(), tokens[(i + k) % tokens.len()].0.clone());
            tasks.spawn(async move {
                l.gql(Some(&t), "myTasks", MY_TASKS, json!({})).await;
            });
        }
        for k in 0..2 {
            let (l, t) = (load.clone(), tokens[(i + k) % tokens.len()].1.clone());
            tasks.spawn(async move {
                l.gql(Some(&t), "cases", CASES, json!({})).await;
            });
        }
        {
            let (l, v) = (load.clone(), Arc::clone(&v));
            tasks.spawn(async move {
                l.gql(
                    None,
                    "locate",
                    "query($a: Float!, $b: Float!) { locate(lat: $a, lng: $b) { code } }",
                    json!({ "a": v.lat, "b": v.lng }),
                )
                .await;
            });
        }
        while tasks.try_join_next().is_some() {}
        let minute = load.start.elapsed().as_secs() / 60;
        if minute > printed {
            print_minute(printed, &mut rows);
            printed = minute;
        }
    }
    while tasks.join_next().await.is_some() {}
    tokio::time::sleep(Duration::from_secs(5)).await;
    print_minute(printed, &mut rows);
    sampler.abort();

    // The last row holds only the tail of the run: slopes use the whole minutes.
    let whole = rows
        .len()
        .min(usize::try_from(secs / 60).unwrap_or(usize::MAX).max(2));
    let rows = &rows[..whole.min(rows.len())];
    let col = |f: fn(&(f64, f64, f64, f64, f64)) -> f64| rows.iter().map(f).collect::<Vec<_>>();
    println!(
        "slopes per minute (least squares over the {} whole minutes):",
        rows.len()
    );
    println!("  p50 {:+.2} ms/min", slope(&col(|r| r.0)));
    println!("  p99 {:+.2} ms/min", slope(&col(|r| r.1)));
    println!("  RSS {:+.2} MiB/min", slope(&col(|r| r.2)));
    println!("  fds {:+.2} /min", slope(&col(|r| r.3)));
    println!("  db connections {:+.2} /min", slope(&col(|r| r.4)));
    let rec = load.record.lock().unwrap();
    let last = u64::try_from(rows.len()).unwrap_or(1).saturating_sub(1);
    println!(
        "p50 / p99 ms by operation, first minute → minute {}:",
        last + 1
    );
    let ops: std::collections::BTreeSet<&String> = rec.by_operation.keys().map(|k| &k.0).collect();
    for op in ops {
        let at = |m: u64| {
            let mut v = rec
                .by_operation
                .get(&(op.clone(), m))
                .cloned()
                .unwrap_or_default();
            v.sort_by(f64::total_cmp);
            (percentile(&v, 0.5), percentile(&v, 0.99))
        };
        let ((a50, a99), (b50, b99)) = (at(0), at(last));
        println!("  {op:22} {a50:7.1} / {a99:7.1}  →  {b50:7.1} / {b99:7.1}");
    }
    let total: usize = rec.latencies.values().map(Vec::len).sum();
    println!("{total} requests; errors by operation and code:");
    for (k, n) in &rec.errors {
        println!("  {k}: {n}");
    }
    if rec.hard_errors > 0 {
        println!(
            "soak: {} requests failed with a non-retryable error",
            rec.hard_errors
        );
        std::process::exit(1);
    }
}

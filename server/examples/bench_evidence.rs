//! Evidence benchmark (release build; run through `scripts/bench-evidence.sh`, which
//! starts S3 and the server). Not a test: it prints figures.
//!
//! 1. A 4 MB photo through the whole flow (requestEvidenceUpload → POST to the store →
//!    confirmEvidence) against a plain `curl` PUT of the same bytes to the same store,
//!    interleaved, as a throughput ratio. `BENCH_STORE=s3` (default): the S3 server,
//!    PUT with SigV4. `BENCH_STORE=fs`: the folder store, whose uploads the server
//!    answers itself; the baseline is a `curl` PUT to a signed upload URL fetched
//!    beforehand (not timed).
//! 2. The streaming path (`uploadEvidence`, GraphQL multipart) with a 100 MB photo: its
//!    throughput and the server's peak RSS growth (VmHWM from /proc).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::Instant;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn env(k: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| panic!("{k} not set (run scripts/bench-evidence.sh)"))
}

fn vm_hwm_kib(pid: &str) -> u64 {
    vm_kib(pid, "VmHWM:")
}

fn vm_kib(pid: &str, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

async fn gql(
    client: &reqwest::Client,
    base: &str,
    token: Option<&str>,
    q: &str,
    vars: Value,
) -> Value {
    let mut req = client
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": q, "variables": vars }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let v: Value = req.send().await.unwrap().json().await.unwrap();
    assert!(v.get("errors").is_none(), "{v}");
    v["data"].clone()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let base = env("BENCH_BASE");
    let pid = env("BENCH_SERVER_PID");
    let folder = std::env::var("BENCH_STORE").is_ok_and(|s| s == "fs");
    let s3 = |k: &str| if folder { String::new() } else { env(k) };
    let (endpoint, bucket, ak, sk, region) = (
        s3("GRIDWATCH_TEST_S3_ENDPOINT"),
        s3("GRIDWATCH_TEST_S3_BUCKET"),
        s3("GRIDWATCH_TEST_S3_ACCESS_KEY"),
        s3("GRIDWATCH_TEST_S3_SECRET_KEY"),
        s3("GRIDWATCH_TEST_S3_REGION"),
    );
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let client = reqwest::Client::new();
    let login = gql(&client, &base, None, "mutation { login(username: \"demo-insp-140521100001\", password: \"Demo-2026-gridwatch\") { accessToken } }", json!({})).await;
    let token = login["login"]["accessToken"].as_str().unwrap().to_owned();
    let (lat, lng) = (35.70, 112.20);
    let snap = gql(
        &client,
        &base,
        None,
        "query { regions { children { code children { code centroid { lat lng } } } } }",
        json!({}),
    )
    .await;
    let village = snap["regions"][0]["children"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["children"].as_array().unwrap().clone())
        .find(|v| v["code"] == "140521100001")
        .unwrap();
    let (vlat, vlng) = (
        village["centroid"]["lat"].as_f64().unwrap_or(lat),
        village["centroid"]["lng"].as_f64().unwrap_or(lng),
    );
    let report = gql(
        &client,
        &base,
        Some(&token),
        "mutation($i: ReportCaseInput!) { reportCase(input: $i) { id } }",
        json!({ "i": { "categoryCode": "DUST", "description": "基准测试用案件", "location": { "lat": vlat, "lng": vlng }, "idempotencyKey": format!("bench-{}", std::process::id()) } }),
    )
    .await;
    let case_id = report["reportCase"]["id"].as_str().unwrap().to_owned();

    let photo = gridwatch::domain::media::fixtures::big_jpeg(4 * 1024 * 1024);
    let sha = hex::encode(Sha256::digest(&photo));
    let mb = photo.len() as f64 / 1_000_000.0;
    let dir = std::env::temp_dir().join(format!("gw-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("photo.jpg");
    std::fs::write(&file, &photo).unwrap();

    let (mut flow, mut plain) = (Vec::new(), Vec::new());
    let mut phases: [Vec<f64>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for i in 0..rounds {
        // The whole flow.
        let t = Instant::now();
        let up = gql(
            &client,
            &base,
            Some(&token),
            "mutation($i: RequestEvidenceUploadInput!) { requestEvidenceUpload(input: $i) { evidence { id } url method fields { name value } } }",
            json!({ "i": { "caseId": case_id, "phase": "DURING", "contentType": "image/jpeg", "byteSize": photo.len(), "sha256": sha } }),
        )
        .await;
        let up = &up["requestEvidenceUpload"];
        let t_request = t.elapsed();
        let mut form = reqwest::multipart::Form::new();
        for f in up["fields"].as_array().unwrap() {
            form = form.text(
                f["name"].as_str().unwrap().to_owned(),
                f["value"].as_str().unwrap().to_owned(),
            );
        }
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(photo.clone())
                .file_name("p.jpg")
                .mime_str("image/jpeg")
                .unwrap(),
        );
        let r = client
            .post(up["url"].as_str().unwrap())
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "upload {}", r.status());
        let t_upload = t.elapsed();
        let c = gql(
            &client,
            &base,
            Some(&token),
            "mutation($id: ID!) { confirmEvidence(id: $id) { status } }",
            json!({ "id": up["evidence"]["id"] }),
        )
        .await;
        assert_eq!(c["confirmEvidence"]["status"], "CONFIRMED", "{c}");
        let t_all = t.elapsed();
        flow.push(mb / t_all.as_secs_f64());
        phases[0].push(t_request.as_secs_f64() * 1000.0);
        phases[1].push((t_upload - t_request).as_secs_f64() * 1000.0);
        phases[2].push((t_all - t_upload).as_secs_f64() * 1000.0);
        // A plain curl PUT of the same bytes to the same store.
        let mut curl = std::process::Command::new("curl");
        curl.args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT"]);
        if folder {
            // A signed upload URL for a fresh key, fetched before the clock starts.
            let ticket = gql(
                &client,
                &base,
                Some(&token),
                "mutation($i: RequestEvidenceUploadInput!) { requestEvidenceUpload(input: $i) { putUrl putHeaders { name value } } }",
                json!({ "i": { "caseId": case_id, "phase": "DURING", "contentType": "image/jpeg", "byteSize": photo.len(), "sha256": sha } }),
            )
            .await;
            let ticket = &ticket["requestEvidenceUpload"];
            for h in ticket["putHeaders"].as_array().unwrap() {
                curl.arg("-H").arg(format!(
                    "{}: {}",
                    h["name"].as_str().unwrap(),
                    h["value"].as_str().unwrap()
                ));
            }
            curl.arg("--data-binary")
                .arg(format!("@{}", file.display()))
                .arg(ticket["putUrl"].as_str().unwrap());
        } else {
            curl.arg("--aws-sigv4")
                .arg(format!("aws:amz:{region}:s3"))
                .arg("--user")
                .arg(format!("{ak}:{sk}"))
                .arg("-H")
                .arg("x-amz-content-sha256: UNSIGNED-PAYLOAD")
                .arg("-H")
                .arg("content-type: image/jpeg")
                .arg("--data-binary")
                .arg(format!("@{}", file.display()))
                .arg(format!("{endpoint}/{bucket}/bench/plain-{i}.jpg"));
        }
        let t = Instant::now();
        let out = curl.output().unwrap();
        let code = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(code.starts_with('2'), "curl PUT answered {code}");
        plain.push(mb / t.elapsed().as_secs_f64());
    }
    let (f, p) = (median(flow), median(plain));
    println!("4 MB photo, {rounds} interleaved rounds (median):");
    println!("  full flow (request + POST + confirm): {f:.1} MB/s");
    let [a, b, c] = phases;
    println!(
        "    request {:.1} ms, upload {:.1} ms, confirm {:.1} ms",
        median(a),
        median(b),
        median(c)
    );
    let store = if folder { "folder store" } else { "S3" };
    println!("  plain curl PUT to the same {store}: {p:.1} MB/s");
    println!("  ratio flow / plain: {:.2} (target >= 0.85)", f / p);

    // Streaming path with 100 MB.
    let big = gridwatch::domain::media::fixtures::big_jpeg(100 * 1024 * 1024);
    let big_mb = big.len() as f64 / 1_000_000.0;
    // The 4 MB rounds' public derivatives (decoded photos) are made in the background
    // and set the peak: let them finish, then reset the peak (clear_refs 5) so VmHWM
    // afterwards is this upload's own peak.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
    let before = vm_kib(&pid, "VmRSS:");
    let ops = json!({
        "query": "mutation($c: ID!, $f: Upload!) { uploadEvidence(caseId: $c, phase: DURING, file: $f) { status } }",
        "variables": { "c": case_id, "f": null }
    });
    let form = reqwest::multipart::Form::new()
        .text("operations", ops.to_string())
        .text("map", json!({ "0": ["variables.f"] }).to_string())
        .part(
            "0",
            reqwest::multipart::Part::bytes(big)
                .file_name("big.jpg")
                .mime_str("image/jpeg")
                .unwrap(),
        );
    let t = Instant::now();
    let r: Value = client
        .post(format!("{base}/graphql"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(r["data"]["uploadEvidence"]["status"], "CONFIRMED", "{r}");
    let after = vm_hwm_kib(&pid);
    println!(
        "100 MB through uploadEvidence (multipart, streamed): {:.1} MB/s",
        big_mb / secs
    );
    println!(
        "  server RSS {:.1} MiB before, peak during the upload {:.1} MiB: +{:.1} MiB (target <= +16 MiB)",
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        (after.saturating_sub(before)) as f64 / 1024.0
    );
    let _ = std::fs::remove_dir_all(&dir);
}

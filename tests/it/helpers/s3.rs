//! The real S3 server of the suite (`scripts/s3.sh`): its settings, fresh buckets, a
//! private server that tests may stop, and sending bytes to an upload ticket.

use std::sync::Arc;

use gridwatch::config::{Config, S3Config, StorageBackend};
use gridwatch::storage::{self, BlobStore, UploadMethod, UploadTicket};
use s3::creds::Credentials;
use s3::{Bucket, BucketConfiguration, Region};

use super::Store;

pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set. The S3 tests need a real S3 server: run the suite through \
             scripts/test.sh, or start one with `eval \"$(scripts/s3.sh start)\"` first."
        )
    })
}

/// Which S3 server scripts/s3.sh started for `store`: `s3s-fs` or `garage` for
/// [`Store::S3`] (`GRIDWATCH_TEST_S3`, s3s-fs by default), and Garage for
/// [`Store::Garage`], the second server scripts/test.sh starts (`GRIDWATCH_TEST_GARAGE_*`).
pub fn s3_kind(store: Store) -> String {
    match store {
        Store::Garage => "garage".into(),
        _ => std::env::var("GRIDWATCH_TEST_S3").unwrap_or_else(|_| "s3s-fs".into()),
    }
}

/// One of the variables scripts/test.sh exports for `store`'s server, e.g. `ENDPOINT`.
pub fn var(store: Store, name: &str) -> String {
    match store {
        Store::Garage => env(&format!("GRIDWATCH_TEST_GARAGE_{name}")),
        _ => env(&format!("GRIDWATCH_TEST_S3_{name}")),
    }
}

/// The S3 settings exported by `scripts/s3.sh start` (the suite's first server), for
/// `bucket` at `endpoint`.
pub fn s3_config(endpoint: &str, bucket: &str) -> S3Config {
    s3_config_of(Store::S3, endpoint, bucket)
}

/// The settings of `store`'s server, for `bucket` at `endpoint`.
pub fn s3_config_of(store: Store, endpoint: &str, bucket: &str) -> S3Config {
    S3Config {
        endpoint: endpoint.to_owned(),
        region: var(store, "REGION"),
        bucket: bucket.to_owned(),
        access_key: Some(var(store, "ACCESS_KEY").into()),
        secret_key: Some(var(store, "SECRET_KEY").into()),
        path_style: true,
        timeout_secs: 5,
    }
}

/// A fresh bucket on `store`'s shared test server, so tests never see each other's
/// objects: (endpoint, bucket). (On s3s-fs a bucket is a folder; Garage's default key
/// may not create buckets, so there the shared bucket is used — every key is random
/// anyway.)
pub async fn fresh_bucket(store: Store) -> (String, String) {
    let endpoint = var(store, "ENDPOINT");
    let name = format!("gw-test-{:016x}", rand::random::<u64>());
    let region = Region::Custom {
        region: var(store, "REGION"),
        endpoint: endpoint.clone(),
    };
    let creds = Credentials::new(
        Some(&var(store, "ACCESS_KEY")),
        Some(&var(store, "SECRET_KEY")),
        None,
        None,
        None,
    )
    .unwrap();
    let created =
        Bucket::create_with_path_style(&name, region, creds, BucketConfiguration::default())
            .await
            .map(|r| (r.response_code, r.response_text));
    match created {
        Ok((code, _)) if (200..300).contains(&code) => (endpoint, name),
        other if s3_kind(store) == "garage" => {
            eprintln!("garage: cannot create a bucket ({other:?}); using the shared one");
            (endpoint, var(store, "BUCKET"))
        }
        other => panic!("creating test bucket {name}: {other:?}"),
    }
}

pub async fn send(
    client: &reqwest::Client,
    ticket: &UploadTicket,
    content_type: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    let is_ct = |k: &str| k.eq_ignore_ascii_case("content-type");
    match ticket.method {
        UploadMethod::Put => {
            let mut req = client.put(&ticket.url);
            for (k, v) in &ticket.headers {
                req = req.header(k, if is_ct(k) { content_type } else { v });
            }
            req.body(body).send().await.unwrap()
        }
        UploadMethod::Post => {
            let mut form = reqwest::multipart::Form::new();
            for (k, v) in &ticket.fields {
                let v = if is_ct(k) { content_type } else { v };
                form = form.text(k.clone(), v.to_owned());
            }
            let file = reqwest::multipart::Part::bytes(body)
                .file_name("photo.jpg")
                .mime_str(content_type)
                .unwrap();
            form = form.part("file", file);
            client
                .post(&ticket.url)
                .multipart(form)
                .send()
                .await
                .unwrap()
        }
    }
}

/// A private S3 server started through scripts/s3.sh, stopped on drop.
pub struct PrivateS3 {
    pub vars: std::collections::HashMap<String, String>,
}

impl PrivateS3 {
    /// Starts one; with `same_as`, on the same port and data folder.
    pub fn start(same_as: Option<&PrivateS3>) -> Self {
        let script = env("GRIDWATCH_TEST_S3_SCRIPT");
        let mut cmd = std::process::Command::new(script);
        cmd.arg("start");
        if let Some(prev) = same_as {
            cmd.env("GRIDWATCH_S3_PORT", &prev.vars["GRIDWATCH_TEST_S3_PORT"])
                .env("GRIDWATCH_S3_DATA", &prev.vars["GRIDWATCH_TEST_S3_DATA"]);
            if let Some(rpc) = prev.vars.get("GRIDWATCH_TEST_S3_RPC_PORT") {
                cmd.env("GRIDWATCH_S3_RPC_PORT", rpc);
            }
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "scripts/s3.sh start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let vars = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter_map(|l| l.strip_prefix("export ")?.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Self { vars }
    }

    /// Stops the server, keeping its data (a restart on it must find the objects).
    pub fn stop(&self) {
        self.stop_with(&[]);
    }

    fn stop_with(&self, extra: &[&str]) {
        let status = std::process::Command::new(env("GRIDWATCH_TEST_S3_SCRIPT"))
            .args(["stop", &self.vars["GRIDWATCH_TEST_S3_PID"]])
            .args(extra)
            .status()
            .unwrap();
        assert!(status.success());
    }

    pub fn store(&self, timeout_secs: u64) -> Arc<dyn BlobStore> {
        let mut config = Config::default();
        config.storage.backend = StorageBackend::S3;
        config.storage.s3 = s3_config(
            &self.vars["GRIDWATCH_TEST_S3_ENDPOINT"],
            &self.vars["GRIDWATCH_TEST_S3_BUCKET"],
        );
        config.storage.s3.timeout_secs = timeout_secs;
        storage::build(
            &config.storage,
            &config.server,
            &gridwatch::clock::Clock::system(),
        )
        .unwrap()
    }

    /// Sends a signal (`STOP`, `CONT`) to the server process.
    pub fn signal(&self, sig: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{sig}"), &self.vars["GRIDWATCH_TEST_S3_PID"]])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for PrivateS3 {
    fn drop(&mut self) {
        self.stop_with(&[&self.vars["GRIDWATCH_TEST_S3_DATA"]]);
    }
}

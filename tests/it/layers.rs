//! The house's rules, checked on the source so that they cannot quietly break: the
//! domain stands alone (nothing of HTTP, GraphQL or the app), storage knows nothing of
//! axum, every transaction begins in the unit of work, the domain reads time from its
//! clock — and closed sets read from the database are typed (an unknown value is an
//! error, never a default).

use std::path::{Path, PathBuf};

use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::both;
use crate::helpers::{Backend, TestApp, error_code};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, with its text (tests inside a file included).
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push((p.clone(), std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    assert!(!out.is_empty(), "no sources under {}", dir.display());
    out
}

/// Lines of `files` that mention any of `forbidden` (comments aside).
fn offenders(files: &[(PathBuf, String)], forbidden: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for (path, text) in files {
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for f in forbidden {
                if code.contains(f) {
                    out.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                }
            }
        }
    }
    out
}

#[test]
fn the_domain_imports_nothing_from_the_edges() {
    let domain = sources(&src().join("domain"));
    assert!(domain.len() >= 20, "{} domain files", domain.len());
    let bad = offenders(
        &domain,
        &[
            "crate::app",
            "crate::http",
            "crate::graphql",
            "crate::state",
            "async_graphql",
            "axum",
            "tower",
            "hyper",
        ],
    );
    assert!(
        bad.is_empty(),
        "the domain reaches outwards:\n{}",
        bad.join("\n")
    );
}

#[test]
fn storage_knows_nothing_of_http() {
    let bad = offenders(
        &sources(&src().join("storage")),
        &[
            "axum",
            "crate::http",
            "crate::graphql",
            "crate::app",
            "crate::state",
        ],
    );
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn the_edges_do_not_import_the_app_that_builds_them() {
    let mut files = sources(&src().join("graphql"));
    files.extend(sources(&src().join("http")));
    let bad = offenders(&files, &["crate::app"]);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    let graphql = sources(&src().join("graphql"));
    let bad = offenders(&graphql, &["crate::http"]);
    assert!(
        bad.is_empty(),
        "GraphQL depends on HTTP:\n{}",
        bad.join("\n")
    );
}

#[test]
fn transactions_begin_only_in_the_unit_of_work() {
    let all = sources(&src());
    // The CLI's grid import and the seeds run outside any request; the text check
    // holds an advisory lock in a transaction that writes nothing.
    let allowed = [
        "domain/uow.rs",
        "domain/grid",
        "seed.rs",
        "jobs/text_check.rs",
    ];
    let bad: Vec<String> = offenders(&all, &[".begin()", "TransactionTrait::begin"])
        .into_iter()
        .filter(|l| !allowed.iter().any(|a| l.contains(a)))
        .collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn the_domain_reads_time_from_its_clock() {
    let domain: Vec<(PathBuf, String)> = sources(&src().join("domain"))
        .into_iter()
        .map(|(p, text)| {
            // Unit tests may build fixed instants as they like.
            let body = text.split("#[cfg(test)]").next().unwrap_or("").to_owned();
            (p, body)
        })
        .collect();
    let bad = offenders(&domain, &["Utc::now()", "SystemTime::now()"]);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

async fn unknown_values_in_the_database_are_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (sup, _) = app.login("demo-sup-140521100").await;
    let village = app.region_id("140521100001").to_string();
    let b = app
        .gql(
            Some(&sup),
            "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
            json!({ "i": { "categoryCode": "DUST", "title": "巡查", "description": "检查工地", "regionId": village } }),
        )
        .await;
    let id = b["data"]["createTask"]["id"].as_str().unwrap().to_owned();
    // Someone writes a status the code does not know, by hand.
    app.db
        .execute_raw(Statement::from_string(
            app.db.get_database_backend(),
            format!("UPDATE \"case\" SET status = 'ON_HOLD' WHERE id = {id}"),
        ))
        .await
        .unwrap();
    let b = app
        .gql(
            Some(&sup),
            "query($id: ID!) { case(id: $id) { id status } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(error_code(&b), "INTERNAL", "never a silent default: {b}");
    let b = app
        .gql(
            Some(&sup),
            "{ cases(first: 5) { edges { node { id status } } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&b), "INTERNAL", "{b}");
}
both!(unknown_values, unknown_values_in_the_database_are_errors);

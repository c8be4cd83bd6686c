//! A webhook receiver for tests: records every delivery (headers and body) and can
//! refuse the first attempts of each delivery id with a 500.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

/// One POST received.
#[derive(Debug, Clone)]
pub struct Received {
    pub delivery: String,
    pub event: String,
    pub signature: String,
    pub body: Vec<u8>,
    /// Whether it was answered 2xx.
    pub accepted: bool,
}

#[derive(Clone, Default)]
struct Inner {
    log: Arc<Mutex<Vec<Received>>>,
    refuse_first: usize,
    seen: Arc<Mutex<HashMap<String, usize>>>,
}

/// A running receiver; stops when dropped.
pub struct Receiver {
    pub url: String,
    inner: Inner,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn take(State(s): State<Inner>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let h = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let delivery = h("x-gridwatch-delivery");
    let attempt = {
        let mut seen = s.seen.lock().unwrap();
        let n = seen.entry(delivery.clone()).or_default();
        *n += 1;
        *n
    };
    let accepted = attempt > s.refuse_first;
    s.log.lock().unwrap().push(Received {
        delivery,
        event: h("x-gridwatch-event"),
        signature: h("x-gridwatch-signature"),
        body: body.to_vec(),
        accepted,
    });
    if accepted {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

impl Receiver {
    /// Starts a receiver that refuses the first `refuse_first` attempts of each delivery.
    pub async fn start(refuse_first: usize) -> Self {
        let inner = Inner {
            refuse_first,
            ..Inner::default()
        };
        let app = Router::new()
            .route("/hook", post(take))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    rx.await.ok();
                })
                .await
                .ok();
        });
        Self {
            url: format!("http://{addr}/hook"),
            inner,
            _stop: tx,
        }
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner.log.lock().unwrap().clone()
    }

    /// The accepted deliveries, by id: how many times each was accepted.
    pub fn accepted(&self) -> HashMap<String, usize> {
        let mut out: HashMap<String, usize> = HashMap::new();
        for r in self.received().into_iter().filter(|r| r.accepted) {
            *out.entry(r.delivery).or_default() += 1;
        }
        out
    }
}

//! A `graphql-transport-ws` client, as a mini-program or dashboard would speak it.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// An acknowledged connection.
pub struct WsClient {
    socket: Socket,
}

/// How a connection attempt ended when it was not acknowledged.
#[derive(Debug)]
pub struct Refused {
    pub code: u16,
    pub reason: String,
}

impl WsClient {
    /// Opens `/graphql/ws` of `base` (`http://…`) and authenticates with `token` in
    /// `connection_init`.
    pub async fn connect(base: &str, token: Option<&str>) -> Result<Self, Refused> {
        let url = format!("{}/graphql/ws", base.replacen("http://", "ws://", 1));
        let mut req = url.into_client_request().unwrap();
        req.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        let (mut socket, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
        assert_eq!(
            resp.headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok()),
            Some("graphql-transport-ws")
        );
        let payload = match token {
            Some(t) => json!({ "authorization": format!("Bearer {t}") }),
            None => json!({}),
        };
        socket
            .send(Message::text(
                json!({ "type": "connection_init", "payload": payload }).to_string(),
            ))
            .await
            .unwrap();
        let mut me = Self { socket };
        match me.message(Duration::from_secs(10)).await {
            Some(Ok(m)) if m["type"] == "connection_ack" => Ok(me),
            Some(Ok(m)) => panic!("unexpected answer to connection_init: {m}"),
            Some(Err(refused)) => Err(refused),
            None => panic!("no answer to connection_init"),
        }
    }

    /// Starts subscription `id`.
    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.socket
            .send(Message::text(
                json!({ "type": "subscribe", "id": id, "payload": { "query": query, "variables": variables } })
                    .to_string(),
            ))
            .await
            .unwrap();
    }

    /// The next `next`/`error`/`complete` message within `wait` (pings answered);
    /// `None` on timeout.
    pub async fn next(&mut self, wait: Duration) -> Option<Value> {
        match self.message(wait).await {
            Some(Ok(m)) => Some(m),
            Some(Err(r)) => panic!("socket closed: {r:?}"),
            None => None,
        }
    }

    async fn message(&mut self, wait: Duration) -> Option<Result<Value, Refused>> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .ok()?;
            match msg {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v["type"] == "ping" {
                        let _ = self
                            .socket
                            .send(Message::text(json!({ "type": "pong" }).to_string()))
                            .await;
                        continue;
                    }
                    return Some(Ok(v));
                }
                Some(Ok(Message::Close(frame))) => {
                    return Some(Err(Refused {
                        code: frame.as_ref().map(|f| u16::from(f.code)).unwrap_or(0),
                        reason: frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                    }));
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => {
                    return Some(Err(Refused {
                        code: 0,
                        reason: e.to_string(),
                    }));
                }
                None => {
                    return Some(Err(Refused {
                        code: 0,
                        reason: "closed".into(),
                    }));
                }
            }
        }
    }
}

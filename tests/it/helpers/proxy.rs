//! A small TCP proxy that makes a link slow and unreliable, for the fault tests.
//!
//! Every chunk is held for `latency` in each direction, and every chunk, either way,
//! may be struck: cut part-way (the near side gets only a prefix and the connection
//! closes — an answer lost after the far side committed, or a photo half sent) or
//! stalled part-way (the rest never arrives; the connection closes after `stall_for`).
//! That is what lost segments on a dying link look like to both ends: TCP never
//! delivers a stream with a hole in it, so lost bytes show up as a stall or a reset.
//! Strikes come from a seeded generator. [`Proxy::set`] changes the faults and drops
//! every open connection, so long-lived ones (a database pool) meet the new link too.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How bad the link is.
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    /// Delay added to every chunk, each way.
    pub latency: Duration,
    /// Chance that a chunk is cut part-way (and the connection with it).
    pub cut: f64,
    /// Chance that a chunk stalls part-way.
    pub stall: f64,
    /// How long a stalled connection is held before it is closed.
    pub stall_for: Duration,
}

/// What happened on the link.
#[derive(Debug, Default)]
pub struct Counts {
    pub connections: AtomicUsize,
    pub cut: AtomicUsize,
    pub stalled: AtomicUsize,
}

/// A running proxy; stops when dropped.
pub struct Proxy {
    pub addr: SocketAddr,
    pub counts: Arc<Counts>,
    faults: Arc<std::sync::Mutex<Faults>>,
    generation: tokio::sync::watch::Sender<u64>,
    task: JoinHandle<()>,
}

impl Faults {
    /// A clean, fast link.
    pub const CLEAN: Self = Self {
        latency: Duration::ZERO,
        cut: 0.0,
        stall: 0.0,
        stall_for: Duration::ZERO,
    };
}

/// What struck a connection.
#[derive(Debug, Clone, Copy)]
enum Strike {
    Cut,
    Stall,
}

/// splitmix64: a deterministic sequence from the seed, shared by all connections.
fn next(state: &AtomicU64) -> u64 {
    let mut z = state
        .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[allow(clippy::cast_precision_loss)]
fn unit(state: &AtomicU64) -> f64 {
    (next(state) >> 11) as f64 / (1u64 << 53) as f64
}

impl Proxy {
    /// Listens on a free local port and forwards every connection to `target`.
    pub async fn start(target: SocketAddr, faults: Faults, seed: u64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let counts = Arc::new(Counts::default());
        let rng = Arc::new(AtomicU64::new(seed));
        let faults = Arc::new(std::sync::Mutex::new(faults));
        let (generation, _) = tokio::sync::watch::channel(0u64);
        let task = {
            let counts = Arc::clone(&counts);
            let faults = Arc::clone(&faults);
            let generation = generation.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((near, _)) = listener.accept().await else {
                        continue;
                    };
                    counts.connections.fetch_add(1, Ordering::Relaxed);
                    let f = *faults.lock().unwrap();
                    tokio::spawn(serve(
                        near,
                        target,
                        f,
                        Arc::clone(&rng),
                        Arc::clone(&counts),
                        generation.subscribe(),
                    ));
                }
            })
        };
        Self {
            addr,
            counts,
            faults,
            generation,
            task,
        }
    }

    /// New faults for new connections; every open connection is dropped.
    pub fn set(&self, faults: Faults) {
        *self.faults.lock().unwrap() = faults;
        self.generation.send_modify(|g| *g += 1);
    }

    /// `host:port` of the proxy.
    pub fn host_port(&self) -> String {
        self.addr.to_string()
    }

    /// Connections, cuts and stalls so far.
    pub fn summary(&self) -> (usize, usize, usize) {
        (
            self.counts.connections.load(Ordering::Relaxed),
            self.counts.cut.load(Ordering::Relaxed),
            self.counts.stalled.load(Ordering::Relaxed),
        )
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    near: TcpStream,
    target: SocketAddr,
    faults: Faults,
    rng: Arc<AtomicU64>,
    counts: Arc<Counts>,
    mut generation: tokio::sync::watch::Receiver<u64>,
) {
    let Ok(far) = TcpStream::connect(target).await else {
        return;
    };
    let _ = near.set_nodelay(true);
    let _ = far.set_nodelay(true);
    let (near_r, near_w) = near.into_split();
    let (far_r, far_w) = far.into_split();
    let mut up = tokio::spawn(forward(near_r, far_w, faults, Arc::clone(&rng)));
    let mut down = tokio::spawn(forward(far_r, near_w, faults, rng));
    // Whichever way ends first (a close, a strike, a new link) ends the connection.
    let ended = tokio::select! {
        r = &mut up => r.ok().flatten(),
        r = &mut down => r.ok().flatten(),
        _ = generation.changed() => None,
    };
    up.abort();
    down.abort();
    match ended {
        Some(Strike::Cut) => {
            counts.cut.fetch_add(1, Ordering::Relaxed);
        }
        Some(Strike::Stall) => {
            counts.stalled.fetch_add(1, Ordering::Relaxed);
        }
        None => {}
    }
}

/// Copies `from` to `to` with the link's latency per chunk until a close or a strike
/// (which it returns).
async fn forward(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    faults: Faults,
    rng: Arc<AtomicU64>,
) -> Option<Strike> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => n,
        };
        if !faults.latency.is_zero() {
            tokio::time::sleep(faults.latency).await;
        }
        let r = unit(&rng);
        let strike = if r < faults.cut {
            Some(Strike::Cut)
        } else if r < faults.cut + faults.stall {
            Some(Strike::Stall)
        } else {
            None
        };
        #[allow(clippy::cast_possible_truncation)]
        let keep = match strike {
            Some(_) => (next(&rng) % n as u64) as usize,
            None => n,
        };
        if to.write_all(&buf[..keep]).await.is_err() {
            return None;
        }
        if let Some(strike) = strike {
            if let Strike::Stall = strike {
                let _ = to.flush().await;
                tokio::time::sleep(faults.stall_for).await;
            }
            return Some(strike);
        }
    }
}

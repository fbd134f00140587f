//! What checking a token costs each call: `Gate::admit` (SHA-256 of the
//! secret, the cached token, the RPC→roles table, the quota) beside the
//! baseline of an open call (health), which skips all of it; and the first
//! call of a token, which reads it from the database (SQLite).
//!
//! ```text
//! cargo run --release -p noriai-benches --bin auth_bench -- [--calls N]
//! ```

use std::num::NonZeroU32;
use std::time::Instant;

use noriai_model::access::{Role, Scope, TokenRecord};
use noriai_server::auth::{AccessConfig, Gate, create_token};
use noriai_server::now_unix;

fn calls() -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--calls")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000)
}

fn headers(secret: &str) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    h.insert(http::header::AUTHORIZATION, format!("Bearer {secret}").parse().expect("ascii"));
    h
}

/// Median nanoseconds per call over batches of 1,000 calls.
async fn median_ns(gate: &Gate, path: &str, h: &http::HeaderMap, calls: usize) -> f64 {
    let mut per_call = Vec::new();
    for _ in 0..calls / 1000 {
        let t = Instant::now();
        for _ in 0..1000 {
            std::hint::black_box(gate.admit(path, h).await.expect("admitted"));
        }
        per_call.push(t.elapsed().as_nanos() as f64 / 1000.0);
    }
    per_call.sort_by(f64::total_cmp);
    per_call[per_call.len() / 2]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n = calls().max(1000);
    let dir = std::env::temp_dir().join(format!("noriai-auth-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = noriai_store::Store::connect(&format!("sqlite://{}", dir.join("auth.sqlite").display()))
        .await
        .expect("store");
    let token = |name: &str| TokenRecord {
        id: 0,
        role: Role::Operator,
        scope: Scope::Service,
        service: Some(store.service()),
        name: name.into(),
        created_at: now_unix(),
        expires_at: None,
        revoked_at: None,
    };
    let (_, secret) = create_token(&store, &token("bench")).await.expect("token");
    let config = AccessConfig { quota_per_minute: NonZeroU32::new(u32::MAX).expect("non-zero") };
    let gate = Gate::new(store.clone(), config);
    let h = headers(&secret);
    gate.admit("/noriai.v1.BookingService/GetBooking", &h).await.expect("warm");
    let open = median_ns(&gate, "/grpc.health.v1.Health/Check", &h, n).await;
    let checked = median_ns(&gate, "/noriai.v1.BookingService/GetBooking", &h, n).await;
    let metered = median_ns(&gate, "/noriai.v1.BookingService/Quote", &h, n).await;
    // First calls: each token read from the database once.
    let mut first = Vec::new();
    for k in 0..200 {
        let (_, s) = create_token(&store, &token(&format!("first-{k}"))).await.expect("token");
        let h = headers(&s);
        let t = Instant::now();
        gate.admit("/noriai.v1.BookingService/GetBooking", &h).await.expect("admitted");
        first.push(t.elapsed().as_nanos() as f64);
    }
    first.sort_by(f64::total_cmp);
    println!("calls per case: {n} (median of batches of 1,000)");
    println!("open call (health, no check), baseline: {:>8.0} ns", open);
    println!(
        "token + role check (GetBooking):       {:>8.0} ns  (+{:.2} µs, ×{:.0})",
        checked,
        (checked - open) / 1000.0,
        checked / open.max(1.0)
    );
    println!(
        "token + role + quota (Quote):          {:>8.0} ns  (+{:.2} µs)",
        metered,
        (metered - open) / 1000.0
    );
    println!("first call of a token (SQLite read):   {:>8.0} ns median of 200", first[first.len() / 2]);
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

//! Benchmark (not a timed test): on the real stack (pcscd + vpcd + virtual card), the median
//! over many runs of
//!   - host request → decoded basic data (`read_basic_data` through the host binary's
//!     stdin/stdout, JSON decoded into `CardBasicData`),
//!   - host request → card proof,
//!   - the raw APDU round trip through pcscd (one SELECT on an open connection), and
//!   - connect + SELECT + READ + disconnect straight through PC/SC (what the host does per read),
//!
//! all measured in the same run. Run: `cargo bench -p nhi-bridge --bench roundtrip`
//! (`NHI_BENCH_RUNS` sets the run count, default 300). Needs what the integration tests need.

#[path = "../tests/support/mod.rs"]
mod support;

use std::ffi::CString;
use std::time::{Duration, Instant};

use nhi_protocol::apdu::{READ_BASIC_DATA, SELECT_NHI};
use nhi_protocol::card_proof::Nonce;
use nhi_protocol::CardBasicData;
use serde_json::json;

fn stats(name: &str, mut v: Vec<Duration>) -> Duration {
    v.sort();
    let pct = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    let (med, p10, p90, max) = (pct(0.5), pct(0.1), pct(0.9), v[v.len() - 1]);
    println!(
        "{name:<42} n={:<4} median {:>8.3} ms   p10 {:>8.3}   p90 {:>8.3}   max {:>8.3}",
        v.len(),
        ms(med),
        ms(p10),
        ms(p90),
        ms(max)
    );
    med
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would pass nothing useful: only run
    // when asked to benchmark.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let runs: usize = std::env::var("NHI_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300)
        .max(10);
    let stack = support::Stack::start();
    let mut host = stack.host().ready();

    let mut read = Vec::with_capacity(runs);
    let mut proof = Vec::with_capacity(runs);
    for i in 0..runs + 20 {
        let t = Instant::now();
        let r = host.request(json!({"type": "read_basic_data"}));
        let data: CardBasicData =
            serde_json::from_value(support::ok(&r)["data"].clone()).expect("decodes");
        let dt = t.elapsed();
        std::hint::black_box(&data);
        if i >= 20 {
            read.push(dt);
        }
    }
    for i in 0..runs + 20 {
        let nonce = Nonce([(i % 251) as u8; 32]);
        let t = Instant::now();
        let r = host.request_with(
            Some(support::TEST_ORIGIN),
            json!({"type": "card_proof", "nonce": nonce.to_string()}),
            &mut Vec::new(),
        );
        let mac = support::ok(&r)["mac"].as_str().map(str::to_owned);
        let dt = t.elapsed();
        assert!(mac.is_some());
        if i >= 20 {
            proof.push(dt);
        }
    }

    // What a page sees the first time: the browser spawns the host, handshake, first read.
    let cold_runs = (runs / 10).max(10);
    let mut cold = Vec::with_capacity(cold_runs);
    for _ in 0..cold_runs {
        let t = Instant::now();
        let mut h = stack.host().ready();
        support::ok(&h.request(json!({"type": "read_basic_data"})));
        cold.push(t.elapsed());
        drop(h);
    }

    let ctx = pcsc::Context::establish(pcsc::Scope::User).expect("context");
    let reader = CString::new(nhi_bridge::pcscd::VPCD_READER).expect("name");
    let mut buf = [0u8; 300];
    let mut raw = Vec::with_capacity(runs);
    {
        let card = ctx
            .connect(&reader, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)
            .expect("connect");
        for i in 0..runs + 20 {
            let t = Instant::now();
            let r = card.transmit(&SELECT_NHI, &mut buf).expect("transmit");
            let dt = t.elapsed();
            assert_eq!(r, [0x90, 0x00]);
            if i >= 20 {
                raw.push(dt);
            }
        }
        let _ = card.disconnect(pcsc::Disposition::LeaveCard);
    }
    let mut direct = Vec::with_capacity(runs);
    for i in 0..runs + 20 {
        let t = Instant::now();
        let card = ctx
            .connect(&reader, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)
            .expect("connect");
        card.transmit(&SELECT_NHI, &mut buf).expect("select");
        let n = card
            .transmit(&READ_BASIC_DATA, &mut buf)
            .expect("read")
            .len();
        let _ = card.disconnect(pcsc::Disposition::LeaveCard);
        let dt = t.elapsed();
        assert_eq!(n, 59);
        if i >= 20 {
            direct.push(dt);
        }
    }

    println!("\nnhi-bridge round trips (virtual card on pcscd/vpcd, {runs} runs each after 20 warm-up runs)");
    let read_med = stats("host: read_basic_data → decoded data", read);
    let proof_med = stats("host: card_proof → MAC", proof);
    stats("new host process: spawn+hello+first read", cold);
    let raw_med = stats("raw: one APDU (SELECT) through pcscd", raw);
    let direct_med = stats("raw: connect+SELECT+READ+disconnect", direct);
    println!(
        "\nratio host read / raw APDU           = {:.1}x",
        ms(read_med) / ms(raw_med)
    );
    println!(
        "ratio host proof / raw APDU          = {:.1}x",
        ms(proof_med) / ms(raw_med)
    );
    println!(
        "ratio host read / direct PC/SC read  = {:.1}x",
        ms(read_med) / ms(direct_med)
    );
    println!(
        "target: read ≤ 5 ms median at the host: {}",
        if read_med <= Duration::from_millis(5) {
            "met"
        } else {
            "NOT met"
        }
    );
}

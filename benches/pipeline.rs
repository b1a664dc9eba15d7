//! End-to-end HDR benchmarks of the pipeline's hand-offs, printed as percentile tables:
//! - `ring_hop`: one event pushed on one thread, popped on another (both spinning);
//! - `frame_to_book`: a `price_change` frame decoded on the feed thread, pushed through the
//!   ring, applied to the books on the strategy thread (t_rx → applied).
//!
//! Run with `cargo bench --bench pipeline`. Threads are pinned to distinct cores when the
//! machine has two or more; each hop is paced so the figure is latency, not queueing.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use hdrhistogram::Histogram;
use pmbot::adapters::polymarket::decode::MarketDecoder;
use pmbot::bot::clock::Clock;
use pmbot::bot::settings::Settings;
use pmbot::domain::events::{Event, EventBody};
use pmbot::domain::markets::{MarketSpec, Registry};
use pmbot::domain::num::{Px, Qty};
use pmbot::strategies::core::{Core, Outbox};

const SAMPLES: u64 = 200_000;
const YES: &str = "71321045679252212594626385532706912750332728571942532289631379312455583992563";
const NO: &str = "52114319501245915516055106046884209969926127482827954674443846427813813222426";

/// The machine's cores, read once before any thread is pinned: a pinned thread's children
/// inherit its affinity, and `get_core_ids` would then report only that one core.
static CORES: OnceLock<Vec<core_affinity::CoreId>> = OnceLock::new();

fn pin(index: usize) {
    let cores = CORES.get_or_init(|| core_affinity::get_core_ids().unwrap_or_default());
    if cores.len() >= 2 {
        core_affinity::set_for_current(cores[index % cores.len()]);
    }
}

fn print(name: &str, h: &Histogram<u64>) {
    println!(
        "{name:<14} n={:<8} p50={:>6} ns  p90={:>6} ns  p99={:>6} ns  p99.9={:>7} ns  max={:>9} ns",
        h.len(),
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.9),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999),
        h.max()
    );
}

/// Pushes stamped events one at a time; the consumer acknowledges each before the next is sent.
fn ring_hop(clock: &Clock) -> Histogram<u64> {
    let (mut tx, mut rx) = rtrb::RingBuffer::<Event>::new(1024);
    let acked = Arc::new(AtomicU64::new(0));
    let consumer_acked = acked.clone();
    let consumer_clock = clock.clone();
    let consumer = std::thread::spawn(move || {
        pin(1);
        let mut h = Histogram::<u64>::new_with_bounds(1, 10_000_000, 3).unwrap();
        let mut seen = 0;
        while seen < SAMPLES {
            if let Ok(e) = rx.pop() {
                let now = consumer_clock.raw();
                h.saturating_record(consumer_clock.nanos_between(e.t_dec, now).max(1));
                seen += 1;
                consumer_acked.store(seen, Ordering::Release);
            }
        }
        h
    });
    pin(0);
    for i in 0..SAMPLES {
        let mut e = Event::new(i, EventBody::MessageEnd);
        e.t_dec = clock.raw();
        while tx.push(e).is_err() {}
        while acked.load(Ordering::Acquire) <= i {
            std::hint::spin_loop();
        }
    }
    consumer.join().unwrap()
}

fn registry() -> Registry {
    let mut r = Registry::default();
    r.add_market(MarketSpec {
        condition_id: "0xdd22".into(),
        token_ids: vec![YES.into(), NO.into()],
        tick: Px(100),
        min_order_size: Qty::from_shares(5),
        ..MarketSpec::default()
    })
    .unwrap();
    r
}

/// Decodes on this thread, applies on another, measuring frame read → book updated.
fn frame_to_book(clock: &Clock) -> Histogram<u64> {
    let registry = Arc::new(registry());
    let (mut tx, mut rx) = rtrb::RingBuffer::<Event>::new(4096);
    let acked = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let (consumer_acked, consumer_done, consumer_clock, consumer_registry) =
        (acked.clone(), done.clone(), clock.clone(), registry.clone());
    let consumer = std::thread::spawn(move || {
        pin(1);
        let mut core = Core::new(
            consumer_registry.clone(),
            Settings::shipped_dev()
                .expect("the shipped configuration loads")
                .core_params(),
        );
        let mut out = Outbox::with_capacity(2);
        let mut h = Histogram::<u64>::new_with_bounds(1, 10_000_000, 3).unwrap();
        let mut messages = 0;
        while !consumer_done.load(Ordering::Relaxed) {
            while let Ok(e) = rx.pop() {
                core.on_event(&e, &mut out);
                out.clear();
                if matches!(e.body, EventBody::MessageEnd) {
                    let now = consumer_clock.raw();
                    // The first two messages are the warm-up snapshots, not part of the figure.
                    if messages >= 2 {
                        h.saturating_record(consumer_clock.nanos_between(e.t_rx, now).max(1));
                    }
                    messages += 1;
                    consumer_acked.store(messages, Ordering::Release);
                }
            }
        }
        h
    });
    pin(0);
    let mut decoder = MarketDecoder::new();
    let mut scratch = Vec::with_capacity(256);
    let book = |asset: &str| {
        format!(
            r#"{{"event_type":"book","market":"0xdd22","asset_id":"{asset}","timestamp":"1","hash":"0x1","bids":[{{"price":"0.48","size":"100"}}],"asks":[{{"price":"0.52","size":"100"}}]}}"#
        )
    };
    let mut sent = 0u64;
    let mut send = |frame: &[u8], scratch: &mut Vec<Event>| {
        let t_rx = clock.raw();
        scratch.clear();
        decoder.decode(frame, &registry, scratch).unwrap();
        let t_dec = clock.raw();
        for e in scratch.iter_mut() {
            e.t_rx = t_rx;
            e.t_dec = t_dec;
        }
        while tx.push_entire_slice(scratch).is_err() {}
        sent += 1;
        while acked.load(Ordering::Acquire) < sent {
            std::hint::spin_loop();
        }
    };
    send(book(YES).as_bytes(), &mut scratch);
    send(book(NO).as_bytes(), &mut scratch);
    for i in 0..SAMPLES {
        let size = 10 + i % 50;
        let frame = format!(
            r#"{{"event_type":"price_change","market":"0xdd22","timestamp":"{}","price_changes":[{{"asset_id":"{YES}","price":"0.49","size":"{size}","side":"BUY","hash":"0x2","best_bid":"0.49","best_ask":"0.52"}},{{"asset_id":"{NO}","price":"0.51","size":"{size}","side":"SELL","hash":"0x3","best_bid":"0.48","best_ask":"0.51"}}]}}"#,
            i + 2
        );
        send(frame.as_bytes(), &mut scratch);
    }
    done.store(true, Ordering::Relaxed);
    consumer.join().unwrap()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let clock = Clock::new();
    std::thread::sleep(Duration::from_millis(10));
    println!(
        "pipeline benchmarks ({} cores)",
        core_affinity::get_core_ids().map_or(0, |c| c.len())
    );
    print("ring_hop", &ring_hop(&clock));
    print("frame_to_book", &frame_to_book(&clock));
}

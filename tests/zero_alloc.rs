//! Proves the hot paths perform no heap allocation after warm-up: decode → ring → core apply, and
//! the trading path (an opportunity → risk gate → intents → execution reports → positions).
//!
//! A counting global allocator counts allocations made on the measuring thread only, so the test
//! harness's own threads cannot disturb the figure.

use pmbot::adapters::polymarket::decode::MarketDecoder;
use pmbot::bot::settings::Settings;
use pmbot::domain::events::{Event, EventBody};
use pmbot::domain::intents::{ExecKind, ExecReport, Intent, Liquidity};
use pmbot::domain::markets::{MarketSpec, Registry};
use pmbot::domain::num::{AssetIdx, Px, Qty, Side, Usdc};
use pmbot::strategies::core::{Core, Outbox};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::{CountingAlloc, allocations_of};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

const YES: &str = "71321045679252212594626385532706912750332728571942532289631379312455583992563";
const NO: &str = "52114319501245915516055106046884209969926127482827954674443846427813813222426";

fn frames() -> Vec<Vec<u8>> {
    let book = |asset: &str, ts: u64| {
        format!(
            r#"{{"event_type":"book","market":"0xdd22","asset_id":"{asset}","timestamp":"{ts}","hash":"0x1",
            "bids":[{{"price":"0.48","size":"100"}},{{"price":"0.49","size":"50.5"}}],
            "asks":[{{"price":"0.52","size":"80"}},{{"price":"0.51","size":"20"}}]}}"#
        )
    };
    let change = |ts: u64, size: &str| {
        format!(
            r#"{{"event_type":"price_change","market":"0xdd22","timestamp":"{ts}","price_changes":[
            {{"asset_id":"{YES}","price":"0.50","size":"{size}","side":"BUY","hash":"0x2","best_bid":"0.5","best_ask":"0.51"}},
            {{"asset_id":"{NO}","price":"0.53","size":"{size}","side":"SELL","hash":"0x3","best_bid":"0.49","best_ask":"0.51"}}]}}"#
        )
    };
    vec![
        book(YES, 1).into_bytes(),
        book(NO, 1).into_bytes(),
        change(3, "10").into_bytes(),
        change(3, "12.25").into_bytes(),
    ]
}

fn registry() -> Registry {
    let mut registry = Registry::default();
    registry
        .add_market(MarketSpec {
            condition_id: "0xdd22".into(),
            token_ids: vec![YES.into(), NO.into()],
            tick: Px(100),
            min_order_size: Qty::from_shares(5),
            ..MarketSpec::default()
        })
        .unwrap();
    registry
}

#[test]
fn decode_ring_apply_allocates_nothing_after_warm_up() {
    let registry = registry();
    let frames = frames();
    let mut decoder = MarketDecoder::new();
    let mut scratch: Vec<Event> = Vec::with_capacity(1024);
    let (mut producer, mut consumer) = rtrb::RingBuffer::<Event>::new(1024);
    let mut core = Core::new(
        std::sync::Arc::new(registry.clone()),
        Settings::shipped_dev()
            .expect("the shipped configuration loads")
            .core_params(),
    );
    let mut outbox = Outbox::with_capacity(registry.asset_count());
    let mut run = |frames: &[Vec<u8>]| {
        let mut applied = 0u64;
        for frame in frames {
            scratch.clear();
            decoder.decode(frame, &registry, &mut scratch).unwrap();
            producer.push_entire_slice(&scratch).unwrap();
            while let Ok(event) = consumer.pop() {
                core.on_event(&event, &mut outbox);
                outbox.clear();
                applied += 1;
            }
        }
        applied
    };
    run(&frames);
    // Same venue timestamp on purpose: replaying older messages would (rightly) stale the books.
    let warm = &frames[2..];
    run(warm);

    let mut applied = 0;
    let allocations = allocations_of(|| {
        for _ in 0..1_000 {
            applied += run(warm);
        }
    });
    assert!(applied >= 8_000, "the path really ran: {applied} events");
    assert_eq!(allocations, 0, "heap allocations on the hot path");
    let yes = registry.asset_by_token(YES.as_bytes()).unwrap();
    assert_eq!(
        core.books().book(yes).best_bid(),
        Some((Px(5000), Qty(12_250_000)))
    );
    assert!(!core.books().book(yes).is_stale());
}

#[test]
fn trading_path_allocates_nothing_after_warm_up() {
    let (yes, no) = (AssetIdx(0), AssetIdx(1));
    let mut core = Core::new(
        std::sync::Arc::new(registry()),
        Settings::shipped_dev()
            .expect("the shipped configuration loads")
            .core_params(),
    );
    let mut out = Outbox::with_capacity(2);
    let level = |ts, asset, side, px, shares| {
        Event::new(
            ts,
            EventBody::Level {
                asset,
                side,
                px: Px(px),
                qty: Qty::from_shares(shares),
            },
        )
    };
    let end = |ts| Event::new(ts, EventBody::MessageEnd);
    // YES 0.30 / 0.45 and NO 0.50 / 0.60: no window until YES is offered at 0.38.
    for (asset, bid, ask) in [(yes, 3000, 4500), (no, 5000, 6000)] {
        core.on_event(&Event::new(1, EventBody::BookSnapshot { asset }), &mut out);
        core.on_event(&level(1, asset, Side::Buy, bid, 100), &mut out);
        core.on_event(&level(1, asset, Side::Sell, ask, 100), &mut out);
        core.on_event(&end(1), &mut out);
    }
    assert!(out.intents.is_empty());
    let mut legs = Vec::with_capacity(4);
    let mut reports = Vec::with_capacity(8);
    // One window: it opens, both legs fill in full, it closes. Returns the orders placed.
    let mut cycle = |core: &mut Core, ts: u64| {
        core.on_event(&level(ts, yes, Side::Sell, 3800, 10), &mut out);
        core.on_event(&end(ts), &mut out);
        legs.clear();
        legs.extend(out.intents.iter().filter_map(|i| match i {
            Intent::Place(o) => Some(*o),
            _ => None,
        }));
        out.clear();
        reports.clear();
        for leg in &legs {
            let fill = ExecKind::Fill {
                px: leg.limit_px,
                qty: leg.size,
                fee: Usdc::ZERO,
                liquidity: Liquidity::Taker,
            };
            for kind in [ExecKind::Accepted, fill, ExecKind::Done] {
                reports.push(ExecReport {
                    client_id: leg.client_id,
                    ts_ms: ts,
                    kind,
                });
            }
        }
        for report in &reports {
            core.on_report(report, &mut out);
        }
        // The window closes and the NO book moves on.
        core.on_event(&level(ts, yes, Side::Sell, 3800, 0), &mut out);
        core.on_event(&level(ts, no, Side::Buy, 5000, 100 + ts / 1_000), &mut out);
        core.on_event(&end(ts), &mut out);
        out.clear();
        legs.len()
    };
    // Warm-up, then a window every second of venue time (past the cool-down).
    assert_eq!(cycle(&mut core, 1_000), 2, "the window fires");
    let mut placed = 0;
    let allocations = allocations_of(|| {
        for i in 2..40 {
            placed += cycle(&mut core, i * 1_000);
        }
    });
    assert_eq!(placed, 2 * 38, "every window fired and filled");
    assert_eq!(allocations, 0, "heap allocations on the trading path");
    assert_eq!(core.positions().shares(yes), Qty::from_shares(390));
    assert_eq!(core.positions().shares(no), Qty::from_shares(390));
}

//! Market-channel decode benchmarks: the full decoder against a bare simd-json tape parse.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use pmbot::adapters::polymarket::decode::MarketDecoder;
use pmbot::domain::Px;
use pmbot::domain::Qty;
use pmbot::domain::events::Event;
use pmbot::domain::markets::{MarketSpec, Registry};
use std::hint::black_box;

const YES: &str = "71321045679252212594626385532706912750332728571942532289631379312455583992563";
const NO: &str = "52114319501245915516055106046884209969926127482827954674443846427813813222426";

fn registry() -> Registry {
    let mut r = Registry::default();
    r.add_market(MarketSpec {
        condition_id: "0xdd22472e552920b8438158ea7238bfadfa4f736aa4cee91a6b86c39ead110917".into(),
        token_ids: vec![YES.into(), NO.into()],
        tick: Px(100),
        min_order_size: Qty::from_shares(5),
        ..MarketSpec::default()
    })
    .expect("valid market");
    r
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/polymarket/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn bench_frame(c: &mut Criterion, group: &str, frame: &[u8]) {
    let registry = registry();
    let mut g = c.benchmark_group(group);
    let mut decoder = MarketDecoder::new();
    let mut out: Vec<Event> = Vec::with_capacity(256);
    g.bench_function(BenchmarkId::from_parameter("pmbot"), |b| {
        b.iter(|| {
            out.clear();
            let outcome = decoder.decode(black_box(frame), &registry, &mut out);
            black_box(outcome).expect("frame decodes");
        })
    });
    let mut scratch = Vec::with_capacity(frame.len());
    let mut buffers = simd_json::Buffers::new(frame.len());
    let mut tape = Some(simd_json::Tape::null().reset());
    g.bench_function(BenchmarkId::from_parameter("simd_json_tape"), |b| {
        b.iter(|| {
            scratch.clear();
            scratch.extend_from_slice(black_box(frame));
            let mut t = tape.take().expect("tape is put back").reset();
            simd_json::fill_tape(&mut scratch, &mut buffers, &mut t).expect("valid JSON");
            black_box(t.0.len());
            tape = Some(t.reset());
        })
    });
    g.finish();
}

fn decode(c: &mut Criterion) {
    bench_frame(
        c,
        "decode_price_change",
        &fixture("ws_price_change_two_assets.json"),
    );
    bench_frame(c, "decode_book", &fixture("ws_book_20_levels.json"));
}

criterion_group!(benches, decode);
criterion_main!(benches);

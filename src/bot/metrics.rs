//! Lock-free metrics for hot threads, the hand-over of their latency snapshots, and the Prometheus
//! `/metrics` endpoint served from the telemetry thread.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;

use crossbeam::channel::{self, Receiver, Sender};

use super::latency::{LatencyRecorder, Segment};

/// Content type of Prometheus text exposition format 0.0.4.
const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Counters of one feed. Hot threads only ever add to them ([`FeedCounters::inc`],
/// [`FeedCounters::add`]: a relaxed `fetch_add`).
#[derive(Debug, Default)]
pub struct FeedCounters {
    /// Websocket frames read.
    pub frames: AtomicU64,
    /// Events pushed to the ring.
    pub events: AtomicU64,
    /// Frames that failed to decode.
    pub decode_errors: AtomicU64,
    /// Events dropped because their type or asset is unknown.
    pub unknown_events: AtomicU64,
    /// Connections re-established.
    pub reconnects: AtomicU64,
    /// Connections declared stalled (silent past the stall timeout).
    pub stalls: AtomicU64,
    /// Book resynchronisations (after a reset, a gap or a full ring).
    pub resyncs: AtomicU64,
    /// Pushes that found the ring full.
    pub ring_full: AtomicU64,
    /// Keep-alive replies received.
    pub pongs: AtomicU64,
    /// Snapshots requested over REST because the WebSocket did not bring them in time.
    pub backfills: AtomicU64,
    /// Fee schedule changes found by the market parameters refresh and handed to the core.
    pub fee_changes: AtomicU64,
}

impl FeedCounters {
    /// Adds one to `counter` (the only ordering hot threads need is `Relaxed`).
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `n` to `counter`.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Every counter with its metric name (without prefix and `_total`) and help text.
    fn fields(&self) -> [(&'static str, &'static str, &AtomicU64); 11] {
        [
            ("frames", "Websocket frames read.", &self.frames),
            ("events", "Events pushed to the ring.", &self.events),
            (
                "decode_errors",
                "Frames that failed to decode.",
                &self.decode_errors,
            ),
            (
                "unknown_events",
                "Events dropped as unknown type or asset.",
                &self.unknown_events,
            ),
            (
                "reconnects",
                "Connections re-established.",
                &self.reconnects,
            ),
            ("stalls", "Connections declared stalled.", &self.stalls),
            ("resyncs", "Book resynchronisations.", &self.resyncs),
            (
                "ring_full",
                "Ring pushes that found the ring full.",
                &self.ring_full,
            ),
            ("pongs", "Keep-alive replies received.", &self.pongs),
            (
                "backfills",
                "Snapshots requested over REST because the websocket did not bring them in time.",
                &self.backfills,
            ),
            (
                "fee_changes",
                "Fee schedule changes handed to the core.",
                &self.fee_changes,
            ),
        ]
    }
}

/// Process-wide metrics, shared through an `Arc`; every field is atomic. Each feed's counters
/// sit in their own `Arc` so a feed thread can hold just its own.
#[derive(Debug, Default)]
pub struct Metrics {
    /// The market-data feed.
    pub market_feed: Arc<FeedCounters>,
    /// The user (orders and trades) feed.
    pub user_feed: Arc<FeedCounters>,
    /// Events waiting in the market ring at the last sample.
    pub ring_occupancy: AtomicU64,
}

impl Metrics {
    fn feeds(&self) -> [(&'static str, &FeedCounters); 2] {
        [("market", &*self.market_feed), ("user", &*self.user_feed)]
    }
}

/// Renders `metrics` and `latency` in Prometheus text format 0.0.4.
pub fn render(metrics: &Metrics, latency: &LatencyRecorder) -> String {
    let mut out = String::new();
    let feeds = metrics.feeds();
    for (i, (name, help, _)) in feeds[0].1.fields().into_iter().enumerate() {
        let metric = format!("pmbot_feed_{name}_total");
        header(&mut out, &metric, help, "counter");
        for (feed, counters) in feeds {
            let value = counters.fields()[i].2.load(Ordering::Relaxed);
            let _ = writeln!(out, "{metric}{{feed=\"{feed}\"}} {value}");
        }
    }
    header(
        &mut out,
        "pmbot_ring_occupancy",
        "Events waiting in the market ring at the last sample.",
        "gauge",
    );
    let occupancy = metrics.ring_occupancy.load(Ordering::Relaxed);
    let _ = writeln!(out, "pmbot_ring_occupancy {occupancy}");
    header(
        &mut out,
        "pmbot_latency_ns",
        "Latency per pipeline segment in nanoseconds.",
        "summary",
    );
    for segment in Segment::ALL {
        let s = latency.summary(segment);
        let label = segment.as_str();
        let quantiles = [
            ("0.5", s.p50),
            ("0.9", s.p90),
            ("0.99", s.p99),
            ("0.999", s.p999),
            ("1", s.max),
        ];
        for (quantile, value) in quantiles {
            // Prometheus convention: a summary without observations has NaN quantiles.
            let value = if s.count == 0 {
                "NaN".to_string()
            } else {
                value.to_string()
            };
            let _ = writeln!(
                out,
                "pmbot_latency_ns{{segment=\"{label}\",quantile=\"{quantile}\"}} {value}"
            );
        }
        let _ = writeln!(
            out,
            "pmbot_latency_ns_count{{segment=\"{label}\"}} {}",
            s.count
        );
    }
    out
}

fn header(out: &mut String, metric: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {metric} {help}");
    let _ = writeln!(out, "# TYPE {metric} {kind}");
}

/// The hot-thread end of a latency snapshot slot.
#[derive(Debug, Clone)]
pub struct LatencySender {
    source: usize,
    tx: Sender<(usize, LatencyRecorder)>,
}

impl LatencySender {
    /// Hands a copy of `recorder` to the telemetry side without blocking; returns `false` (and
    /// drops the copy) when the slot is full because telemetry has not caught up.
    pub fn offer(&self, recorder: &LatencyRecorder) -> bool {
        self.tx.try_send((self.source, recorder.clone())).is_ok()
    }
}

/// The telemetry end: keeps the latest latency snapshot of every registered source.
#[derive(Debug)]
pub struct LatencySnapshots {
    tx: Sender<(usize, LatencyRecorder)>,
    rx: Receiver<(usize, LatencyRecorder)>,
    sources: Vec<(String, Option<LatencyRecorder>)>,
}

impl LatencySnapshots {
    /// A slot holding at most `capacity` undelivered snapshots (at least one).
    pub fn new(capacity: usize) -> Self {
        let (tx, rx) = channel::bounded(capacity.max(1));
        LatencySnapshots {
            tx,
            rx,
            sources: Vec::new(),
        }
    }

    /// Registers a source (a hot thread, e.g. `"pm-market"`) and returns its sender.
    pub fn sender(&mut self, source: &str) -> LatencySender {
        self.sources.push((source.to_string(), None));
        LatencySender {
            source: self.sources.len() - 1,
            tx: self.tx.clone(),
        }
    }

    /// Takes every snapshot delivered so far, keeping the newest per source.
    pub fn collect(&mut self) {
        for (source, recorder) in self.rx.try_iter() {
            self.sources[source].1 = Some(recorder);
        }
    }

    /// The newest snapshot of `source`, if it delivered one.
    pub fn latest(&self, source: &str) -> Option<&LatencyRecorder> {
        self.sources
            .iter()
            .find(|(name, _)| name == source)
            .and_then(|(_, recorder)| recorder.as_ref())
    }

    /// The newest snapshots of all sources merged into one recorder.
    pub fn merged(&self) -> LatencyRecorder {
        let mut merged = LatencyRecorder::new();
        for recorder in self.sources.iter().filter_map(|(_, r)| r.as_ref()) {
            merged.merge(recorder);
        }
        merged
    }
}

/// The telemetry endpoint could not be started or stopped cleanly.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// Binding the listen address failed.
    #[error("cannot serve metrics on {listen}: {message}")]
    Bind {
        /// The requested address.
        listen: SocketAddr,
        /// What the HTTP server reported.
        message: String,
    },
    /// Spawning the telemetry thread failed.
    #[error("cannot spawn the telemetry thread: {0}")]
    Spawn(std::io::Error),
    /// The telemetry thread panicked.
    #[error("the telemetry thread panicked")]
    Panicked,
}

/// A running `/metrics` endpoint on its own telemetry thread.
pub struct TelemetryServer {
    addr: SocketAddr,
    server: Arc<tiny_http::Server>,
    stopping: Arc<AtomicBool>,
    thread: JoinHandle<LatencySnapshots>,
}

impl std::fmt::Debug for TelemetryServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl TelemetryServer {
    /// The bound address (useful when listening on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving, joins the telemetry thread and returns the snapshot slot with every
    /// snapshot delivered so far collected (for the final reports).
    pub fn shutdown(self) -> Result<LatencySnapshots, MetricsError> {
        self.stopping.store(true, Ordering::SeqCst);
        self.server.unblock();
        let mut snapshots = self.thread.join().map_err(|_| MetricsError::Panicked)?;
        snapshots.collect();
        Ok(snapshots)
    }
}

/// Serves `GET /metrics` on `listen` from a new telemetry thread (never a hot thread): counters,
/// ring occupancy and the merged newest latency snapshots, rendered by [`render`].
pub fn serve_prometheus(
    listen: SocketAddr,
    metrics: Arc<Metrics>,
    mut snapshots: LatencySnapshots,
) -> Result<TelemetryServer, MetricsError> {
    let bind_error = |message: String| MetricsError::Bind { listen, message };
    let server = Arc::new(tiny_http::Server::http(listen).map_err(|e| bind_error(e.to_string()))?);
    let addr = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| bind_error("not an IP listener".to_string()))?;
    let stopping = Arc::new(AtomicBool::new(false));
    let thread = {
        let (server, stopping) = (Arc::clone(&server), Arc::clone(&stopping));
        std::thread::Builder::new()
            .name("pm-telemetry".to_string())
            .spawn(move || {
                loop {
                    match server.recv() {
                        Ok(request) => respond(request, &metrics, &mut snapshots),
                        Err(_) if stopping.load(Ordering::SeqCst) => break,
                        Err(err) => tracing::warn!(%err, "metrics endpoint: accept failed"),
                    }
                }
                snapshots
            })
            .map_err(MetricsError::Spawn)?
    };
    Ok(TelemetryServer {
        addr,
        server,
        stopping,
        thread,
    })
}

fn respond(request: tiny_http::Request, metrics: &Metrics, snapshots: &mut LatencySnapshots) {
    let response = match (request.method(), request.url()) {
        (tiny_http::Method::Get, "/metrics") => {
            snapshots.collect();
            let body = render(metrics, &snapshots.merged());
            let content_type =
                tiny_http::Header::from_bytes("Content-Type", PROMETHEUS_CONTENT_TYPE)
                    .expect("constant header is valid");
            tiny_http::Response::from_string(body).with_header(content_type)
        }
        _ => tiny_http::Response::from_string("not found\n").with_status_code(404),
    };
    if let Err(err) = request.respond(response) {
        tracing::debug!(%err, "metrics endpoint: client went away");
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    use super::*;

    #[test]
    fn render_exact_lines_for_a_known_state() {
        let metrics = Metrics::default();
        FeedCounters::add(&metrics.market_feed.frames, 12);
        FeedCounters::add(&metrics.user_feed.frames, 3);
        FeedCounters::inc(&metrics.market_feed.pongs);
        FeedCounters::inc(&metrics.market_feed.pongs);
        metrics.ring_occupancy.store(7, Ordering::Relaxed);
        let mut latency = LatencyRecorder::new();
        (0..4).for_each(|_| latency.record(Segment::RxToCore, 1000));
        let text = render(&metrics, &latency);
        let lines: Vec<&str> = text.lines().collect();
        let expected_block = [
            "# HELP pmbot_feed_frames_total Websocket frames read.",
            "# TYPE pmbot_feed_frames_total counter",
            "pmbot_feed_frames_total{feed=\"market\"} 12",
            "pmbot_feed_frames_total{feed=\"user\"} 3",
        ];
        assert_eq!(lines[..4], expected_block);
        for expected in [
            "pmbot_feed_pongs_total{feed=\"market\"} 2",
            "pmbot_feed_ring_full_total{feed=\"user\"} 0",
            "# TYPE pmbot_ring_occupancy gauge",
            "pmbot_ring_occupancy 7",
            "# TYPE pmbot_latency_ns summary",
            "pmbot_latency_ns{segment=\"rx_to_core\",quantile=\"0.99\"} 1000",
            "pmbot_latency_ns{segment=\"rx_to_core\",quantile=\"1\"} 1000",
            "pmbot_latency_ns_count{segment=\"rx_to_core\"} 4",
            "pmbot_latency_ns{segment=\"rx_to_dec\",quantile=\"0.5\"} NaN",
            "pmbot_latency_ns_count{segment=\"rx_to_dec\"} 0",
        ] {
            assert!(lines.contains(&expected), "missing {expected:?} in\n{text}");
        }
        let samples = lines.iter().filter(|l| !l.starts_with('#')).count();
        assert_eq!(samples, 11 * 2 + 1 + Segment::ALL.len() * 6);
        assert_eq!(
            lines.iter().filter(|l| l.starts_with("# TYPE")).count(),
            11 + 2
        );
    }

    #[test]
    fn snapshots_keep_the_newest_per_source_and_refuse_when_full() {
        let mut slot = LatencySnapshots::new(2);
        let (feed, core) = (slot.sender("pm-market"), slot.sender("strategy"));
        let mut rec = LatencyRecorder::new();
        rec.record(Segment::RxToDec, 500);
        assert!(feed.offer(&rec));
        rec.record(Segment::RxToDec, 700);
        assert!(feed.offer(&rec));
        assert!(!core.offer(&rec), "slot of capacity 2 is full");
        slot.collect();
        assert_eq!(
            slot.latest("pm-market")
                .unwrap()
                .summary(Segment::RxToDec)
                .count,
            2
        );
        assert!(slot.latest("strategy").is_none());
        let mut core_rec = LatencyRecorder::new();
        core_rec.record(Segment::DecToCore, 90);
        assert!(core.offer(&core_rec));
        slot.collect();
        let merged = slot.merged();
        assert_eq!(merged.summary(Segment::RxToDec).count, 2);
        assert_eq!(merged.summary(Segment::DecToCore).count, 1);
    }

    fn get(addr: SocketAddr, path: &str) -> String {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream
            .set_write_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    }

    #[test]
    fn serves_metrics_over_loopback() {
        let metrics = Arc::new(Metrics::default());
        metrics
            .market_feed
            .reconnects
            .fetch_add(5, Ordering::Relaxed);
        let mut slot = LatencySnapshots::new(4);
        let feed = slot.sender("pm-market");
        let mut rec = LatencyRecorder::new();
        rec.record(Segment::RxToCore, 2500);
        assert!(feed.offer(&rec));
        let server =
            serve_prometheus("127.0.0.1:0".parse().unwrap(), Arc::clone(&metrics), slot).unwrap();

        let response = get(server.local_addr(), "/metrics");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.contains(PROMETHEUS_CONTENT_TYPE));
        assert!(response.contains("\npmbot_feed_reconnects_total{feed=\"market\"} 5\n"));
        assert!(response.contains("\npmbot_latency_ns_count{segment=\"rx_to_core\"} 1\n"));
        assert!(get(server.local_addr(), "/nope").starts_with("HTTP/1.1 404"));

        let snapshots = server.shutdown().unwrap();
        assert_eq!(snapshots.merged().summary(Segment::RxToCore).count, 1);
    }
}

//! Per-segment latency histograms (HdrHistogram), recorded without allocation and reported as
//! summaries, `.hgrm` percentile distributions, an SVG percentile plot and a terminal table.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
use plotters::prelude::*;
use serde::Serialize;

/// Lowest recordable latency in nanoseconds.
const LOWEST_NS: u64 = 1;
/// Highest recordable latency in nanoseconds (60 s); larger values are clamped to it.
const HIGHEST_NS: u64 = 60_000_000_000;
/// Significant decimal digits kept by every histogram.
const SIGFIG: u8 = 3;
/// Report unit: values are written in microseconds.
const NS_PER_US: f64 = 1000.0;
/// Percentile steps per halving of the remaining distance to 100%, as HdrHistogram's reports use.
const TICKS_PER_HALF_DISTANCE: u32 = 5;

/// A latency segment between two stamps of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Segment {
    /// Frame read (`t_rx`) to event pushed to the ring (`t_dec`).
    RxToDec,
    /// Event pushed (`t_dec`) to event popped by the strategy thread (`t_core`).
    DecToCore,
    /// Frame read (`t_rx`) to event popped by the strategy thread (`t_core`).
    RxToCore,
    /// Message end popped (`t_core`) to the first intent it caused pushed (`t_int`): the
    /// strategies' evaluation and the risk gate.
    CoreToIntent,
    /// Intent pushed (`t_int`) to its request's last byte written to the socket (`t_wire`):
    /// the execution thread's queueing, signing (or pre-signed lookup) and request writing.
    IntentToWire,
    /// Frame read (`t_rx`) to the request it triggered written (`t_wire`): the whole hot path.
    TickToTrade,
}

impl Segment {
    /// Every segment, in report order. A new segment is added here and in [`Segment::as_str`].
    pub const ALL: [Segment; 6] = [
        Segment::RxToDec,
        Segment::DecToCore,
        Segment::RxToCore,
        Segment::CoreToIntent,
        Segment::IntentToWire,
        Segment::TickToTrade,
    ];

    /// Stable snake-case name, used in file names and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Segment::RxToDec => "rx_to_dec",
            Segment::DecToCore => "dec_to_core",
            Segment::RxToCore => "rx_to_core",
            Segment::CoreToIntent => "core_to_intent",
            Segment::IntentToWire => "intent_to_wire",
            Segment::TickToTrade => "tick_to_trade",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Percentiles of one segment, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Summary {
    /// Number of recorded values.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest recorded value (to histogram precision).
    pub max: u64,
}

/// One fixed-bounds histogram (1 ns ..= 60 s, 3 significant digits) per [`Segment`].
#[derive(Debug, Clone)]
pub struct LatencyRecorder {
    histograms: [Histogram<u64>; Segment::ALL.len()],
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyRecorder {
    /// Allocates every histogram up front; recording never allocates afterwards.
    pub fn new() -> Self {
        LatencyRecorder {
            histograms: std::array::from_fn(|_| {
                Histogram::new_with_bounds(LOWEST_NS, HIGHEST_NS, SIGFIG)
                    .expect("constant histogram bounds are valid")
            }),
        }
    }

    /// Records one latency; values above 60 s are clamped. Never allocates.
    pub fn record(&mut self, segment: Segment, nanos: u64) {
        self.histograms[segment.index()].saturating_record(nanos);
    }

    /// Adds every value recorded in `other`.
    pub fn merge(&mut self, other: &LatencyRecorder) {
        for (mine, theirs) in self.histograms.iter_mut().zip(&other.histograms) {
            for v in theirs.iter_recorded() {
                mine.saturating_record_n(v.value_iterated_to(), v.count_at_value());
            }
        }
    }

    /// Forgets every recorded value, keeping the allocation.
    pub fn reset(&mut self) {
        self.histograms.iter_mut().for_each(Histogram::reset);
    }

    /// Count and percentiles of `segment`; all zero when nothing was recorded.
    pub fn summary(&self, segment: Segment) -> Summary {
        let h = self.histogram(segment);
        if h.is_empty() {
            return Summary::default();
        }
        Summary {
            count: h.len(),
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }

    /// The percentile distribution of `segment` in HdrHistogram's text format, values in
    /// microseconds (`outputPercentileDistribution(out, 1000.0)`).
    pub fn hgrm(&self, segment: Segment) -> String {
        let h = self.histogram(segment);
        let mut out = format!(
            "{:>12} {:>14} {:>10} {:>14}\n\n",
            "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
        );
        let mut total = 0u64;
        for v in h.iter_quantiles(TICKS_PER_HALF_DISTANCE) {
            total += v.count_since_last_iteration();
            let value = v.value_iterated_to() as f64 / NS_PER_US;
            let quantile = v.quantile_iterated_to();
            if quantile < 1.0 {
                let inverse = 1.0 / (1.0 - quantile);
                let _ = writeln!(
                    out,
                    "{value:12.3} {quantile:2.12} {total:10} {inverse:14.2}"
                );
            } else {
                let _ = writeln!(out, "{value:12.3} {quantile:2.12} {total:10}");
            }
        }
        let _ = writeln!(
            out,
            "#[Mean    = {:12.3}, StdDeviation   = {:12.3}]",
            h.mean() / NS_PER_US,
            h.stdev() / NS_PER_US
        );
        let _ = writeln!(
            out,
            "#[Max     = {:12.3}, Total count    = {:12}]",
            h.max() as f64 / NS_PER_US,
            h.len()
        );
        let _ = writeln!(
            out,
            "#[Buckets = {:12}, SubBuckets     = {:12}]",
            h.buckets(),
            sub_bucket_count()
        );
        out
    }

    /// Writes `<dir>/<segment>.hgrm` for every segment (creating `dir`); returns the paths.
    /// Errors name the file.
    pub fn write_hgrm(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).map_err(|e| with_path(dir, e))?;
        Segment::ALL
            .iter()
            .map(|&segment| {
                let path = dir.join(format!("{}.hgrm", segment.as_str()));
                std::fs::write(&path, self.hgrm(segment)).map_err(|e| with_path(&path, e))?;
                Ok(path)
            })
            .collect()
    }

    /// Plots latency (µs, log scale) against percentile on the classic HDR axis
    /// (`1/(1-p)`, log scale, labelled 90%, 99%, 99.9% …), one line per non-empty segment.
    /// Errors name the file.
    pub fn write_svg(&self, path: &Path) -> io::Result<()> {
        let series: Vec<(Segment, Vec<(f64, f64)>)> = Segment::ALL
            .iter()
            .map(|&segment| (segment, self.plot_points(segment)))
            .filter(|(_, points)| !points.is_empty())
            .collect();
        draw_svg(path, &series).map_err(|message| {
            with_path(
                path,
                io::Error::other(format!("cannot draw plot: {message}")),
            )
        })
    }

    /// A fixed-width table of count and percentiles (µs) per segment, for the terminal.
    pub fn summary_table(&self) -> String {
        let mut out = format!(
            "{:<14} {:>10} {:>12} {:>12} {:>12} {:>12} {:>12}\n",
            "segment", "count", "p50 us", "p90 us", "p99 us", "p99.9 us", "max us"
        );
        for segment in Segment::ALL {
            let s = self.summary(segment);
            let us = |ns: u64| format!("{:.3}", ns as f64 / NS_PER_US);
            let _ = writeln!(
                out,
                "{:<14} {:>10} {:>12} {:>12} {:>12} {:>12} {:>12}",
                segment.as_str(),
                s.count,
                us(s.p50),
                us(s.p90),
                us(s.p99),
                us(s.p999),
                us(s.max)
            );
        }
        out
    }

    fn histogram(&self, segment: Segment) -> &Histogram<u64> {
        &self.histograms[segment.index()]
    }

    /// `(1/(1-p), µs)` points below the 100th percentile, which has no place on the axis.
    fn plot_points(&self, segment: Segment) -> Vec<(f64, f64)> {
        self.histogram(segment)
            .iter_quantiles(TICKS_PER_HALF_DISTANCE)
            .map(|v| (v.quantile_iterated_to(), v.value_iterated_to()))
            .filter(|&(q, _)| q < 1.0)
            .map(|(q, ns)| (1.0 / (1.0 - q), ns.max(LOWEST_NS) as f64 / NS_PER_US))
            .collect()
    }
}

/// `err` with `path` prefixed to its message.
fn with_path(path: &Path, err: io::Error) -> io::Error {
    io::Error::new(err.kind(), format!("{}: {err}", path.display()))
}

/// Sub-buckets per bucket for [`SIGFIG`] digits, as HdrHistogram computes it.
fn sub_bucket_count() -> u64 {
    (2 * 10u64.pow(u32::from(SIGFIG))).next_power_of_two()
}

/// `10^n` for the smallest `n` with `10^n >= x` (at least 1).
fn decade_above(x: f64) -> f64 {
    10f64.powi(x.max(1.0).log10().ceil() as i32)
}

/// `10^n` for the largest `n` with `10^n <= x`.
fn decade_below(x: f64) -> f64 {
    10f64.powi(x.log10().floor() as i32)
}

/// Axis label for `x = 1/(1-p)` at a decade: 1 → 0%, 10 → 90%, 100 → 99%, 1000 → 99.9% …
fn percentile_label(x: f64) -> String {
    match x.log10().round() as usize {
        0 => "0%".to_string(),
        1 => "90%".to_string(),
        2 => "99%".to_string(),
        nines => format!("99.{}%", "9".repeat(nines - 2)),
    }
}

fn draw_svg(path: &Path, series: &[(Segment, Vec<(f64, f64)>)]) -> Result<(), String> {
    const COLORS: [RGBColor; 6] = [RED, BLUE, GREEN, MAGENTA, CYAN, BLACK];
    let points = series.iter().flat_map(|(_, p)| p);
    let x_max = decade_above(points.clone().map(|p| p.0).fold(100.0, f64::max));
    let y_min = decade_below(
        points
            .clone()
            .map(|p| p.1)
            .fold(f64::MAX, f64::min)
            .min(1.0),
    );
    let y_max = decade_above(points.map(|p| p.1).fold(1.0, f64::max));
    let decades = (x_max.log10().round() as i32 + 1).max(1);
    let key_points: Vec<f64> = (0..decades).map(|n| 10f64.powi(n)).collect();

    let root = SVGBackend::new(path, (1024, 640)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Latency by percentile", ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (1.0..x_max).log_scale().with_key_points(key_points),
            (y_min..y_max).log_scale(),
        )
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency (us)")
        .x_label_formatter(&|x| percentile_label(*x))
        .draw()
        .map_err(|e| e.to_string())?;
    for (i, (segment, points)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?
            .label(segment.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A recorder holding 1..=10_000 ns once each in `RxToDec`.
    fn uniform() -> LatencyRecorder {
        let mut rec = LatencyRecorder::new();
        (1..=10_000).for_each(|ns| rec.record(Segment::RxToDec, ns));
        rec
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("pmbot-latency-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn assert_close(actual: u64, expected: u64) {
        let tolerance = expected / 1000 + 1;
        assert!(
            actual.abs_diff(expected) <= tolerance,
            "{actual} is not within {tolerance} of {expected}"
        );
    }

    #[test]
    fn percentiles_of_a_uniform_distribution() {
        let s = uniform().summary(Segment::RxToDec);
        assert_eq!(s.count, 10_000);
        assert_close(s.p50, 5_000);
        assert_close(s.p90, 9_000);
        assert_close(s.p99, 9_900);
        assert_close(s.p999, 9_990);
        assert_close(s.max, 10_000);
        assert_eq!(uniform().summary(Segment::DecToCore), Summary::default());
    }

    #[test]
    fn values_beyond_the_bounds_are_clamped_not_lost() {
        let mut rec = LatencyRecorder::new();
        rec.record(Segment::RxToCore, 0);
        rec.record(Segment::RxToCore, u64::MAX);
        let s = rec.summary(Segment::RxToCore);
        assert_eq!(s.count, 2);
        assert_close(s.max, HIGHEST_NS);
    }

    #[test]
    fn merge_adds_counts_per_segment() {
        let mut a = uniform();
        let mut b = LatencyRecorder::new();
        b.record(Segment::RxToDec, 20_000);
        b.record(Segment::DecToCore, 300);
        a.merge(&b);
        assert_eq!(a.summary(Segment::RxToDec).count, 10_001);
        assert_close(a.summary(Segment::RxToDec).max, 20_000);
        assert_eq!(a.summary(Segment::DecToCore).count, 1);
        a.reset();
        assert_eq!(a.summary(Segment::RxToDec).count, 0);
    }

    #[test]
    fn hgrm_files_parse_back_monotone_with_matching_totals() {
        let dir = temp_dir("hgrm");
        let paths = uniform().write_hgrm(&dir).unwrap();
        assert_eq!(paths.len(), Segment::ALL.len());
        let text = std::fs::read_to_string(dir.join("rx_to_dec.hgrm")).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
        assert_eq!(
            header,
            ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"]
        );
        assert_eq!(lines.next(), Some(""));
        let (mut rows, mut footer) = (Vec::new(), Vec::new());
        for line in lines {
            if line.starts_with("#[") {
                footer.push(line);
            } else {
                let cols: Vec<f64> = line
                    .split_whitespace()
                    .map(|c| c.parse().unwrap())
                    .collect();
                rows.push(cols);
            }
        }
        assert!(rows.len() > 20);
        for pair in rows.windows(2) {
            assert!(pair[0][0] <= pair[1][0], "values not monotone: {pair:?}");
            assert!(
                pair[0][1] <= pair[1][1],
                "percentiles not monotone: {pair:?}"
            );
            assert!(pair[0][2] <= pair[1][2], "counts not monotone: {pair:?}");
        }
        let last = rows.last().unwrap();
        assert_eq!((last.len(), last[1], last[2]), (3, 1.0, 10_000.0));
        assert!((last[0] - 10.0).abs() < 0.01, "max {} us", last[0]);
        assert_eq!(footer.len(), 3);
        let total: u64 = footer[1]
            .split("Total count    =")
            .nth(1)
            .and_then(|t| t.trim().trim_end_matches(']').trim().parse().ok())
            .unwrap();
        assert_eq!(total, 10_000);
        assert!(
            footer[2].ends_with("SubBuckets     =         2048]"),
            "{}",
            footer[2]
        );
        let empty = std::fs::read_to_string(dir.join("dec_to_core.hgrm")).unwrap();
        assert!(empty.contains("Total count    =            0]"));
    }

    #[test]
    fn svg_plot_is_written() {
        let dir = temp_dir("svg");
        let mut rec = uniform();
        (1..=100).for_each(|i| rec.record(Segment::RxToCore, i * 1_000));
        let path = dir.join("latency.svg");
        rec.write_svg(&path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.contains("<svg"));
        assert!(svg.contains("rx_to_dec") && svg.contains("rx_to_core"));
        assert!(
            !svg.contains("dec_to_core"),
            "empty segments are not plotted"
        );
        assert!(svg.contains("99.9%"));
    }

    #[test]
    fn percentile_labels_count_nines() {
        let labels: Vec<String> = [1.0, 10.0, 100.0, 1e3, 1e4].map(percentile_label).to_vec();
        assert_eq!(labels, ["0%", "90%", "99%", "99.9%", "99.99%"]);
    }

    #[test]
    fn summary_table_has_a_row_per_segment() {
        let table = uniform().summary_table();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 1 + Segment::ALL.len());
        let row: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(row[0], "rx_to_dec");
        assert_eq!(row[1], "10000");
        let p50: f64 = row[2].parse().unwrap();
        assert!((p50 - 5.0).abs() < 0.01);
        assert!(lines.iter().all(|l| l.len() == lines[0].len()));
    }
}

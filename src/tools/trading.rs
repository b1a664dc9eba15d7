//! Live execution from settings: API credentials (configured, or created/derived with an L1
//! signature), the warm order connections, the user channel's feed and the live sink. Shared by
//! `pmbot run` and `pmbot demo`.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::adapters::polymarket::auth::{ApiCreds, L2Signer, l1_sign};
use crate::adapters::polymarket::clob_client::rest::RestClient;
use crate::adapters::polymarket::clob_client::{ClobClient, ClobConfig, Endpoint};
use crate::adapters::polymarket::transport;
use crate::adapters::polymarket::ws_market::Backoff;
use crate::adapters::polymarket::ws_user::{Subscription, UserEvent, UserFeed, UserFeedParams};
use crate::bot::clock::Clock;
use crate::bot::metrics::Metrics;
use crate::bot::secrets::Secrets;
use crate::bot::settings::Settings;
use crate::domain::markets::Registry;
use crate::domain::num::Qty;
use crate::execution::live::{LiveParts, LiveSink};
use crate::execution::order_signer::OrderSigner;

/// User-channel events the ring holds before the feed thread waits for execution.
const USER_RING_SLOTS: usize = 4096;

/// Why live execution could not start. Messages never carry a secret.
#[derive(Debug, thiserror::Error)]
pub enum TradingError {
    /// No API credentials configured and the venue would not create or derive them.
    #[error("API credentials: {0}")]
    Credentials(String),
    /// The order connections could not be opened.
    #[error("order connections to {url}: {why}")]
    Connect {
        /// The venue's REST URL.
        url: String,
        /// What failed.
        why: String,
    },
    /// The user channel's feed could not be built.
    #[error("user channel: {0}")]
    UserFeed(String),
}

/// A live sink and the user-channel feed whose ring it reads, ready for
/// [`crate::bot::pipeline::Pipeline::start_with`].
pub struct LiveExecution {
    /// The execution thread's sink.
    pub sink: LiveSink,
    /// The user channel's feed thread body.
    pub user_feed: UserFeed,
}

/// The API credentials: the configured ones, else created (or derived, when they exist) with
/// an L1 signature of the wallet key.
pub fn credentials(settings: &Settings, secrets: &Secrets) -> Result<ApiCreds, TradingError> {
    if let Some(creds) = &secrets.creds {
        return Ok(creds.clone());
    }
    let now_s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let l1 = l1_sign(&secrets.signer, now_s, 0, settings.venue.chain_id)
        .map_err(|e| TradingError::Credentials(e.to_string()))?;
    RestClient::new(&settings.venue.rest_url, settings.execution.request_timeout)
        .create_or_derive_api_key(&l1)
        .map_err(|e| TradingError::Credentials(e.to_string()))
}

/// Opens the order connections and builds the sink and the user feed for `registry`'s markets.
pub fn connect(
    settings: &Settings,
    secrets: Secrets,
    registry: &Arc<Registry>,
    metrics: &Metrics,
    clock: Clock,
) -> Result<LiveExecution, TradingError> {
    let creds = credentials(settings, &secrets)?;
    let address = secrets.signer.address();
    let l2 =
        L2Signer::new(&creds, &address).map_err(|e| TradingError::Credentials(e.to_string()))?;
    let venue = &settings.venue;
    let exec = &settings.execution;
    let connect_err = |why: String| TradingError::Connect {
        url: venue.rest_url.clone(),
        why,
    };
    let tls = transport::tls_config(venue.tls_ca_file.as_deref())
        .map_err(|e| connect_err(e.to_string()))?;
    let endpoint = Endpoint::parse(&venue.rest_url).map_err(|e| connect_err(e.to_string()))?;
    let feed = &settings.feeds.market;
    let client = ClobClient::connect(
        &endpoint,
        ClobConfig {
            conns: exec.connections,
            connect_timeout: feed.connect_timeout,
            request_timeout: exec.request_timeout,
            warm_every: exec.keep_warm,
        },
        l2.clone(),
        Some(tls.clone()),
    )
    .map_err(|e| connect_err(e.to_string()))?;

    let markets: Vec<&str> = registry
        .markets()
        .iter()
        .map(|m| m.condition_id.as_str())
        .collect();
    let subscription = Subscription::new(
        &creds.api_key,
        creds.secret.expose(),
        creds.passphrase.expose(),
        &markets,
    );
    let (user_tx, user_rx) = rtrb::RingBuffer::<UserEvent>::new(USER_RING_SLOTS);
    let user_feed = UserFeed::new(
        UserFeedParams {
            url: venue.ws_user_url.clone(),
            subscription,
            ping_interval: feed.ping_interval,
            stall_timeout: feed.stall_timeout,
            connect_timeout: feed.connect_timeout,
            backoff: Backoff {
                initial: feed.reconnect_backoff.initial,
                max: feed.reconnect_backoff.max,
                jitter: feed.reconnect_backoff.jitter,
            },
            tls,
        },
        registry.clone(),
        user_tx,
        metrics.user_feed.clone(),
    )
    .map_err(|e| TradingError::UserFeed(e.to_string()))?;

    let pair_arb = &settings.strategy.pair_arb;
    let presign_sizes: Vec<Qty> = [pair_arb.maker_pair.quote_size, pair_arb.max_sets].to_vec();
    let maker = secrets.maker();
    let signer = OrderSigner::new(
        secrets.signer,
        maker,
        secrets.signature_type,
        venue.chain_id,
        registry.clone(),
    );
    let sink = LiveSink::new(LiveParts {
        registry: registry.clone(),
        signer,
        client,
        rest: RestClient::new(&venue.rest_url, exec.request_timeout),
        l2,
        user: user_rx,
        settings: exec.clone(),
        presign_sizes,
        clock,
    });
    Ok(LiveExecution { sink, user_feed })
}

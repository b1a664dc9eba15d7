//! The user channel (`/ws/user`, on the market channel's port): a connection authenticates in its
//! subscribe frame, `{"auth": {"apiKey", "secret", "passphrase"}, "type": "user", "markets":
//! [condition ids]}`, and then receives its own account's order and trade events for those
//! markets (every market when the list is empty). The connection loop is the market channel's.

use serde::Deserialize;

use crate::sim::hub::Hub;

/// The channel's path.
pub const PATH: &str = "/ws/user";

/// The subscribe frame. Unknown keys are tolerated, as the venue does.
#[derive(Deserialize)]
struct Subscription {
    #[serde(default)]
    auth: Option<Auth>,
    #[serde(default)]
    operation: Option<String>,
    #[serde(default)]
    markets: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Auth {
    api_key: String,
    secret: String,
    passphrase: String,
}

/// What a text frame on the user channel did.
#[derive(Debug, PartialEq, Eq)]
pub enum Handled {
    /// Subscribed (or re-subscribed) with valid credentials.
    Subscribed,
    /// Nothing to act on (not a subscription, or an unsubscribe).
    Ignored,
}

/// Handles a non-PING text frame of user connection `id`; `Err` with the close reason when its
/// credentials are not valid.
pub fn on_text(hub: &Hub, id: u64, text: &str) -> Result<Handled, &'static str> {
    let Ok(sub) = serde_json::from_str::<Subscription>(text) else {
        return Ok(Handled::Ignored);
    };
    if sub.operation.as_deref() == Some("unsubscribe") {
        return Ok(Handled::Ignored);
    }
    let auth = sub.auth.ok_or("missing auth")?;
    let (account, markets) = {
        let state = hub.lock();
        let (account, creds) = state
            .exchange
            .accounts
            .by_api_key(&auth.api_key)
            .ok_or("invalid auth")?;
        if creds.secret != auth.secret || creds.passphrase != auth.passphrase {
            return Err("invalid auth");
        }
        let markets: Vec<usize> = sub
            .markets
            .iter()
            .filter_map(|m| state.world.market_by_condition(m))
            .collect();
        (account.id, markets)
    };
    hub.subscribe_user(id, account, &markets);
    Ok(Handled::Subscribed)
}

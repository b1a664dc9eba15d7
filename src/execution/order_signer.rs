//! Turns a placement (token, side, price, size) into a signed V2 order for the market's exchange:
//! the one place the live sink, the pre-signed ladder and the signing dry run build orders.

use std::sync::Arc;

use crate::adapters::polymarket::signing::{
    Address, AmountError, Domain, Exchange, OrderFields, SignError, SignedOrder, Signer, amounts,
    parse_u256, salt_from, sign_order,
};
use crate::domain::markets::Registry;
use crate::domain::num::{AssetIdx, MarketIdx, Px};
use crate::execution::presign::PresignKey;

/// Why an order could not be signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OrderSignError {
    /// Price or size do not make whole on-chain amounts at the market's tick.
    #[error("amounts: {0}")]
    Amounts(#[from] AmountError),
    /// The asset's token id is not a decimal uint256.
    #[error("token id of asset {0} is not a uint256")]
    TokenId(u32),
    /// The signature failed.
    #[error("signature: {0}")]
    Sign(#[from] SignError),
}

/// Who signs, who pays, and for which exchanges.
pub struct OrderSigner {
    signer: Signer,
    funder: Address,
    signature_type: u8,
    /// Standard and neg-risk exchange domains, separators computed once.
    domains: [Domain; 2],
    /// Per asset, its token id as a uint256 (`None` when the registry's id is not one).
    token_ids: Vec<Option<[u8; 32]>>,
    /// Per market, the tick orders are priced on (the registry's until the venue changes it).
    ticks: Vec<Px>,
    registry: Arc<Registry>,
    rng: fastrand::Rng,
}

impl std::fmt::Debug for OrderSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderSigner")
            .field("signer", &self.signer)
            .field("funder", &self.funder)
            .field("signature_type", &self.signature_type)
            .finish_non_exhaustive()
    }
}

impl OrderSigner {
    /// A signer for `registry`'s markets on `chain_id`: `signer` signs, `funder` (the maker)
    /// holds the funds under `signature_type` (0 EOA, 1 proxy, 2 safe). Salts come from a
    /// generator seeded from the OS.
    pub fn new(
        signer: Signer,
        funder: Address,
        signature_type: u8,
        chain_id: u64,
        registry: Arc<Registry>,
    ) -> OrderSigner {
        let token_ids = registry
            .assets()
            .map(|(_, info)| parse_u256(info.token_id.as_bytes()).ok())
            .collect();
        let ticks = registry.markets().iter().map(|m| m.tick).collect();
        OrderSigner {
            ticks,
            signer,
            funder,
            signature_type,
            domains: [
                Domain::new(Exchange::Standard, chain_id),
                Domain::new(Exchange::NegRisk, chain_id),
            ],
            token_ids,
            registry,
            rng: fastrand::Rng::new(),
        }
    }

    /// 0 EOA, 1 proxy, 2 safe: how the venue reads the funder's balances.
    pub fn signature_type(&self) -> u8 {
        self.signature_type
    }

    /// The signing address.
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// Signs `key` as an order created at `now_ms`, for its market's exchange.
    pub fn sign(&mut self, key: &PresignKey, now_ms: u64) -> Result<SignedOrder, OrderSignError> {
        let market_idx = self.registry.asset(key.asset).market;
        let market = self.registry.market(market_idx);
        let tick = self.ticks[market_idx.0 as usize];
        let (maker_amount, taker_amount) = amounts(key.side, key.px, key.size, tick)?;
        let token_id = self
            .token_ids
            .get(key.asset.0 as usize)
            .copied()
            .flatten()
            .ok_or(OrderSignError::TokenId(key.asset.0))?;
        let fields = OrderFields {
            salt: salt_from(self.rng.u64(..)),
            maker: self.funder,
            signer: self.signer.address(),
            token_id,
            maker_amount,
            taker_amount,
            side: key.side,
            signature_type: self.signature_type,
            timestamp_ms: now_ms,
            metadata: [0; 32],
            builder: [0; 32],
        };
        let domain = &self.domains[usize::from(market.neg_risk)];
        Ok(sign_order(&self.signer, domain, fields)?)
    }

    /// The venue changed `market`'s tick: orders are priced on `tick` from now on.
    pub fn set_tick(&mut self, market: MarketIdx, tick: Px) {
        if let Some(t) = self.ticks.get_mut(market.0 as usize) {
            *t = tick;
        }
    }

    /// The tick `market`'s orders are priced on.
    pub fn tick(&self, market: MarketIdx) -> Px {
        self.ticks[market.0 as usize]
    }

    /// The token id string of an asset, as the order body carries it.
    pub fn token_id(&self, asset: AssetIdx) -> &str {
        &self.registry.asset(asset).token_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::polymarket::signing::recover_signer;
    use crate::domain::fees::FeeSchedule;
    use crate::domain::markets::MarketSpec;
    use crate::domain::num::{Qty, Side};

    fn registry(neg_risk: bool) -> Arc<Registry> {
        let mut r = Registry::default();
        r.add_market(MarketSpec {
            condition_id: "0xc1".into(),
            token_ids: vec!["123".into(), "456".into()],
            tick: Px(100),
            min_order_size: Qty(5_000_000),
            neg_risk,
            fees: FeeSchedule::default(),
            seconds_delay: 0,
            accepting_orders: true,
            closed: false,
        })
        .unwrap();
        Arc::new(r)
    }

    fn key(px: u16) -> PresignKey {
        PresignKey {
            asset: AssetIdx(1),
            side: Side::Buy,
            px: Px(px),
            size: Qty(10_000_000),
        }
    }

    #[test]
    fn signs_for_the_markets_exchange_with_recoverable_signatures() {
        let signer = Signer::from_secret(&[7; 32]).unwrap();
        let address = signer.address();
        for neg_risk in [false, true] {
            let mut s = OrderSigner::new(
                Signer::from_secret(&[7; 32]).unwrap(),
                address,
                0,
                137,
                registry(neg_risk),
            );
            let o = s.sign(&key(4_500), 1_700_000_000_000).unwrap();
            let exchange = if neg_risk {
                Exchange::NegRisk
            } else {
                Exchange::Standard
            };
            let expected = crate::adapters::polymarket::signing::order_hash(
                &Domain::new(exchange, 137),
                &o.fields,
            );
            assert_eq!(o.hash, expected);
            assert_eq!(recover_signer(&o.hash, &o.signature).unwrap(), address);
            assert_eq!(parse_u256(b"456").unwrap(), o.fields.token_id);
            assert_eq!(
                (o.fields.maker_amount, o.fields.taker_amount),
                (4_500_000, 10_000_000)
            );
        }
    }

    #[test]
    fn refuses_off_tick_prices_and_gives_every_order_its_own_salt() {
        let signer = Signer::from_secret(&[7; 32]).unwrap();
        let address = signer.address();
        let mut s = OrderSigner::new(signer, address, 0, 137, registry(false));
        assert!(matches!(
            s.sign(&key(4_550), 0),
            Err(OrderSignError::Amounts(_))
        ));
        let a = s.sign(&key(4_500), 0).unwrap();
        let b = s.sign(&key(4_500), 0).unwrap();
        assert_ne!(a.hash, b.hash);
        s.set_tick(MarketIdx(0), Px(10));
        assert!(
            s.sign(&key(4_550), 0).is_ok(),
            "a finer tick admits the price"
        );
    }
}

//! EIP-712 order signing for Polymarket's CTF Exchange V2: the signed order struct, the two
//! exchanges' domains, the order digest, a secp256k1 signer, and the SDK's amount rules.
//!
//! Everything here is byte-identical to the official Rust SDK (`polymarket_client_sdk_v2` 0.9):
//! `peer-bench/tests/signing_vectors.rs` checks it against the SDK and writes the vectors that
//! `tests/signing.rs` replays without the SDK.

use std::fmt;

use k256::ecdsa::SigningKey;
use sha3::{Digest, Keccak256};

use crate::domain::markets::is_valid_tick;
use crate::domain::{NumError, Px, Qty, Side};

/// A 20-byte EVM address.
pub type Address = [u8; 20];

/// Polygon mainnet's chain id, the default for [`Domain::polygon`].
pub const POLYGON: u64 = 137;

/// The V2 order's EIP-712 type string; its field order is what the exchange contract hashes.
pub const ORDER_TYPE: &str = concat!(
    "Order(uint256 salt,address maker,address signer,uint256 tokenId,",
    "uint256 makerAmount,uint256 takerAmount,uint8 side,uint8 signatureType,",
    "uint256 timestamp,bytes32 metadata,bytes32 builder)"
);

/// `keccak256(ORDER_TYPE)`, fixed at compile time (a unit test recomputes it).
pub const ORDER_TYPE_HASH: [u8; 32] = [
    0xbb, 0x86, 0x31, 0x8a, 0x21, 0x38, 0xf5, 0xfa, 0x8a, 0xe3, 0x2f, 0xbe, 0x8e, 0x65, 0x9f, 0x8f,
    0xcf, 0x13, 0xcc, 0x6a, 0xe4, 0x01, 0x4a, 0x70, 0x78, 0x93, 0x05, 0x54, 0x33, 0x81, 0x85, 0x89,
];

const DOMAIN_TYPE: &str =
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)";
const DOMAIN_NAME: &str = "Polymarket CTF Exchange";
const DOMAIN_VERSION: &str = "2";

/// The largest salt the venue accepts: salts travel as JSON numbers, so they stay below 2^53.
pub const SALT_MASK: u64 = (1 << 53) - 1;

/// Brings a random 64-bit value into the salt range the way the SDK does (masking to 53 bits).
pub const fn salt_from(raw: u64) -> u64 {
    raw & SALT_MASK
}

fn keccak(bytes: &[u8]) -> [u8; 32] {
    Keccak256::digest(bytes).into()
}

/// Which CTF Exchange V2 contract an order is for: neg-risk markets have their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Exchange {
    /// The standard exchange (`0xE111…996B`).
    Standard,
    /// The neg-risk exchange (`0xe222…0F59`).
    NegRisk,
}

impl Exchange {
    /// The contract the EIP-712 domain names as `verifyingContract` (same on Polygon and Amoy).
    pub const fn verifying_contract(self) -> Address {
        match self {
            Exchange::Standard => [
                0xe1, 0x11, 0x18, 0x00, 0x00, 0xd2, 0x66, 0x3c, 0x00, 0x91, 0xe4, 0xf4, 0x00, 0x23,
                0x75, 0x45, 0xb8, 0x7b, 0x99, 0x6b,
            ],
            Exchange::NegRisk => [
                0xe2, 0x22, 0x2d, 0x27, 0x9d, 0x74, 0x40, 0x50, 0xd2, 0x8e, 0x00, 0x52, 0x00, 0x10,
                0x52, 0x00, 0x00, 0x31, 0x0f, 0x59,
            ],
        }
    }
}

/// An EIP-712 domain for one exchange and chain, with its separator computed once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Domain {
    exchange: Exchange,
    chain_id: u64,
    separator: [u8; 32],
}

impl Domain {
    /// The domain `{name: "Polymarket CTF Exchange", version: "2", chainId, verifyingContract}`.
    pub fn new(exchange: Exchange, chain_id: u64) -> Domain {
        let mut encoded = [0u8; 5 * 32];
        encoded[..32].copy_from_slice(&keccak(DOMAIN_TYPE.as_bytes()));
        encoded[32..64].copy_from_slice(&keccak(DOMAIN_NAME.as_bytes()));
        encoded[64..96].copy_from_slice(&keccak(DOMAIN_VERSION.as_bytes()));
        encoded[96..128].copy_from_slice(&word_u64(chain_id));
        encoded[128..].copy_from_slice(&word_address(&exchange.verifying_contract()));
        Domain {
            exchange,
            chain_id,
            separator: keccak(&encoded),
        }
    }

    /// The domain on Polygon mainnet.
    pub fn polygon(exchange: Exchange) -> Domain {
        Domain::new(exchange, POLYGON)
    }

    /// The exchange this domain verifies against.
    pub const fn exchange(&self) -> Exchange {
        self.exchange
    }

    /// The chain id.
    pub const fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The EIP-712 domain separator (`hashStruct(EIP712Domain)`).
    pub const fn separator(&self) -> [u8; 32] {
        self.separator
    }
}

/// The fields of a V2 order that are signed, in the contract's order. `expiration` is not among
/// them: it travels beside the order in the request body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderFields {
    /// Random per order, below 2^53 (see [`salt_from`]).
    pub salt: u64,
    /// The funder: the wallet whose collateral or tokens the order spends.
    pub maker: Address,
    /// The key owner whose signature the exchange checks.
    pub signer: Address,
    /// The outcome token id, a big-endian uint256 (see [`parse_u256`]).
    pub token_id: [u8; 32],
    /// What the maker gives, in 1e-6 units (USDC for a buy, shares for a sell).
    pub maker_amount: u64,
    /// What the maker receives, in 1e-6 units (shares for a buy, USDC for a sell).
    pub taker_amount: u64,
    /// Buy (0) or sell (1).
    pub side: Side,
    /// 0 EOA, 1 proxy, 2 Gnosis safe, 3 EIP-1271 deposit wallet.
    pub signature_type: u8,
    /// Creation time in Unix milliseconds.
    pub timestamp_ms: u64,
    /// Free 32 bytes, zero unless used.
    pub metadata: [u8; 32],
    /// Builder code, zero unless used.
    pub builder: [u8; 32],
}

impl OrderFields {
    /// `hashStruct(Order)`: keccak of the type hash and the eleven fields, each one ABI word.
    pub fn struct_hash(&self) -> [u8; 32] {
        let words: [[u8; 32]; 12] = [
            ORDER_TYPE_HASH,
            word_u64(self.salt),
            word_address(&self.maker),
            word_address(&self.signer),
            self.token_id,
            word_u64(self.maker_amount),
            word_u64(self.taker_amount),
            word_u64(side_code(self.side)),
            word_u64(u64::from(self.signature_type)),
            word_u64(self.timestamp_ms),
            self.metadata,
            self.builder,
        ];
        keccak(words.as_flattened())
    }
}

const fn side_code(side: Side) -> u64 {
    match side {
        Side::Buy => 0,
        Side::Sell => 1,
    }
}

fn word_u64(value: u64) -> [u8; 32] {
    let mut word = [0u8; 32];
    word[24..].copy_from_slice(&value.to_be_bytes());
    word
}

fn word_address(address: &Address) -> [u8; 32] {
    let mut word = [0u8; 32];
    word[12..].copy_from_slice(address);
    word
}

/// The EIP-712 digest the maker signs: `keccak(0x1901 ‖ domainSeparator ‖ hashStruct(order))`.
/// It is also the order hash the venue reports, so it is known before the order is sent.
pub fn order_hash(domain: &Domain, order: &OrderFields) -> [u8; 32] {
    let mut encoded = [0u8; 2 + 32 + 32];
    encoded[..2].copy_from_slice(&[0x19, 0x01]);
    encoded[2..34].copy_from_slice(&domain.separator);
    encoded[34..].copy_from_slice(&order.struct_hash());
    keccak(&encoded)
}

/// Parses a decimal uint256 (a token id as the venue writes it) into 32 big-endian bytes.
pub fn parse_u256(bytes: &[u8]) -> Result<[u8; 32], NumError> {
    if bytes.is_empty() {
        return Err(NumError::Empty);
    }
    let mut out = [0u8; 32];
    for &b in bytes {
        let digit = match b {
            b'0'..=b'9' => u16::from(b - b'0'),
            _ => return Err(NumError::Garbage),
        };
        let mut carry = digit;
        for byte in out.iter_mut().rev() {
            let v = u16::from(*byte) * 10 + carry;
            *byte = (v & 0xff) as u8;
            carry = v >> 8;
        }
        if carry != 0 {
            return Err(NumError::Overflow);
        }
    }
    Ok(out)
}

/// Why a key could not be loaded or a digest signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The secret is zero or not below the curve order.
    #[error("private key is not a valid secp256k1 scalar")]
    InvalidKey,
    /// The ECDSA primitive refused the digest (a zero `r` or `s`; practically unreachable).
    #[error("ECDSA signing failed")]
    Signing,
}

/// A secp256k1 key that signs order digests. Its `Debug` shows the address, never the key.
pub struct Signer {
    key: SigningKey,
    address: Address,
}

impl Signer {
    /// Loads a key from its 32 secret bytes.
    pub fn from_secret(secret: &[u8; 32]) -> Result<Signer, SignError> {
        let key = SigningKey::from_bytes(secret.into()).map_err(|_| SignError::InvalidKey)?;
        let point = key.verifying_key().to_encoded_point(false);
        let hash = keccak(&point.as_bytes()[1..]);
        let mut address = [0u8; 20];
        address.copy_from_slice(&hash[12..]);
        Ok(Signer { key, address })
    }

    /// The address the key controls (the last 20 bytes of keccak of the public key).
    pub const fn address(&self) -> Address {
        self.address
    }

    /// Signs a 32-byte digest: RFC 6979 nonce, low-`s` normalised, laid out `r ‖ s ‖ v` with
    /// `v` = 27 or 28, as the SDK (through alloy) produces.
    pub fn sign(&self, digest: &[u8; 32]) -> Result<[u8; 65], SignError> {
        let (signature, recovery) = self
            .key
            .sign_prehash_recoverable(digest)
            .map_err(|_| SignError::Signing)?;
        let mut out = [0u8; 65];
        out[..64].copy_from_slice(&signature.to_bytes());
        out[64] = 27 + recovery.to_byte();
        Ok(out)
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signer {{ address: 0x")?;
        for byte in self.address {
            write!(f, "{byte:02x}")?;
        }
        write!(f, " }}")
    }
}

/// Why a limit order's amounts could not be computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// The tick is not one the venue uses.
    #[error("tick {0} is not a venue tick size")]
    BadTick(Px),
    /// The price is below the tick or above `1 - tick`.
    #[error("price {0} is outside [tick, 1 - tick]")]
    PriceOutOfRange(Px),
    /// The price is not a multiple of the tick.
    #[error("price {0} is not on the tick")]
    PriceOffTick(Px),
    /// The size truncates to zero at the 0.01-share lot.
    #[error("size {0} rounds down to zero at the 0.01 lot")]
    SizeTooSmall(Qty),
}

/// The lot: sizes are truncated to 2 decimals (1e4 units of 1e-6 shares).
const LOT: u64 = 10_000;

/// A limit order's `(maker_amount, taker_amount)` in 1e-6 units, by the SDK's rules: the size is
/// truncated to 2 decimals; a buy gives `size × price` USDC for `size` shares, a sell the reverse.
/// The SDK truncates `size × price` to `tick decimals + 2` places; with the price on the tick
/// that product is already exact at that precision, so no digit is dropped.
pub fn amounts(side: Side, price: Px, size: Qty, tick: Px) -> Result<(u64, u64), AmountError> {
    if !is_valid_tick(tick) {
        return Err(AmountError::BadTick(tick));
    }
    if price < tick || price > Px(Px::ONE.0 - tick.0) {
        return Err(AmountError::PriceOutOfRange(price));
    }
    if !price.0.is_multiple_of(tick.0) {
        return Err(AmountError::PriceOffTick(price));
    }
    let lots = size.0 / LOT;
    if lots == 0 {
        return Err(AmountError::SizeTooSmall(size));
    }
    let shares = lots * LOT;
    let usdc = lots * u64::from(price.0);
    Ok(match side {
        Side::Buy => (usdc, shares),
        Side::Sell => (shares, usdc),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hardhat's first well-known test account (public; its address is published everywhere).
    const TEST_SECRET: [u8; 32] = [
        0xac, 0x09, 0x74, 0xbe, 0xc3, 0x9a, 0x17, 0xe3, 0x6b, 0xa4, 0xa6, 0xb4, 0xd2, 0x38, 0xff,
        0x94, 0x4b, 0xac, 0xb4, 0x78, 0xcb, 0xed, 0x5e, 0xfc, 0xae, 0x78, 0x4d, 0x7b, 0xf4, 0xf2,
        0xff, 0x80,
    ];

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn type_hash_constant_is_keccak_of_the_type_string() {
        assert_eq!(ORDER_TYPE_HASH, keccak(ORDER_TYPE.as_bytes()));
    }

    #[test]
    fn keccak_matches_the_published_eip712_domain_type_hash() {
        assert_eq!(
            hex(&keccak(DOMAIN_TYPE.as_bytes())),
            "8b73c3c69bb8fe3d512ecc4cf759cc79239f7b179b0ffacaa9a75d522b39400f"
        );
    }

    /// Pinned after the SDK vectors (tests/fixtures/signing) matched on both exchanges.
    #[test]
    fn domain_separators_of_both_exchanges() {
        let standard = Domain::polygon(Exchange::Standard);
        let neg_risk = Domain::polygon(Exchange::NegRisk);
        assert_eq!(
            hex(&standard.separator()),
            "3264e159346253e26a64e00b69032db0e7d32f94628de3e6eecb50304d7af3d2"
        );
        assert_eq!(
            hex(&neg_risk.separator()),
            "9b858f53327b0bd13af8ec14cfb35234fb9eb7b0504d1a4e61f433840d30e81a"
        );
        assert_ne!(
            Domain::new(Exchange::Standard, 80_002).separator(),
            standard.separator()
        );
    }

    #[test]
    fn signer_derives_the_published_address_and_debug_hides_the_key() {
        let signer = Signer::from_secret(&TEST_SECRET).unwrap();
        assert_eq!(
            hex(&signer.address()),
            "f39fd6e51aad88f6f4ce6ab8827279cfffb92266"
        );
        let shown = format!("{signer:?}");
        assert_eq!(
            shown,
            "Signer { address: 0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266 }"
        );
        assert!(!shown.contains(&hex(&TEST_SECRET)));
    }

    #[test]
    fn invalid_secrets_are_refused() {
        assert_eq!(
            Signer::from_secret(&[0; 32]).unwrap_err(),
            SignError::InvalidKey
        );
        assert_eq!(
            Signer::from_secret(&[0xff; 32]).unwrap_err(),
            SignError::InvalidKey
        );
    }

    #[test]
    fn signatures_are_low_s_with_v_27_or_28() {
        let signer = Signer::from_secret(&TEST_SECRET).unwrap();
        // (n - 1) / 2 for the secp256k1 group order n: the largest low `s`.
        let half_order: [u8; 32] = [
            0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46,
            0x68, 0x1b, 0x20, 0xa0,
        ];
        let mut seen_v = [false; 2];
        for n in 0u64..64 {
            let signature = signer.sign(&keccak(&n.to_be_bytes())).unwrap();
            assert!(signature[32..64] <= half_order[..], "high s for digest {n}");
            let v = signature[64];
            assert!(v == 27 || v == 28, "v = {v}");
            seen_v[usize::from(v - 27)] = true;
        }
        assert_eq!(seen_v, [true, true]);
    }

    #[test]
    fn parse_u256_reads_decimal_token_ids() {
        assert_eq!(parse_u256(b"0").unwrap(), [0; 32]);
        let mut expected = [0u8; 32];
        expected[30..].copy_from_slice(&0x1234u16.to_be_bytes());
        assert_eq!(parse_u256(b"4660").unwrap(), expected);
        let max = b"115792089237316195423570985008687907853269984665640564039457584007913129639935";
        assert_eq!(parse_u256(max).unwrap(), [0xff; 32]);
        let over =
            b"115792089237316195423570985008687907853269984665640564039457584007913129639936";
        assert_eq!(parse_u256(over).unwrap_err(), NumError::Overflow);
        assert_eq!(parse_u256(b"").unwrap_err(), NumError::Empty);
        assert_eq!(parse_u256(b"12a").unwrap_err(), NumError::Garbage);
    }

    #[test]
    fn salt_is_masked_to_53_bits() {
        assert_eq!(salt_from(u64::MAX), SALT_MASK);
        assert_eq!(salt_from(1 << 53), 0);
        assert_eq!(salt_from(42), 42);
    }

    #[test]
    fn amounts_follow_the_lot_and_side() {
        let (price, size, tick) = (Px(5_500), Qty(12_345_678), Px(100));
        assert_eq!(
            amounts(Side::Buy, price, size, tick),
            Ok((6_787_000, 12_340_000))
        );
        assert_eq!(
            amounts(Side::Sell, price, size, tick),
            Ok((12_340_000, 6_787_000))
        );
    }

    #[test]
    fn amounts_refuse_bad_inputs() {
        let tick = Px(100);
        assert_eq!(
            amounts(Side::Buy, Px(5_000), Qty(1_000_000), Px(30)),
            Err(AmountError::BadTick(Px(30)))
        );
        assert_eq!(
            amounts(Side::Buy, Px(50), Qty(1_000_000), tick),
            Err(AmountError::PriceOutOfRange(Px(50)))
        );
        assert_eq!(
            amounts(Side::Buy, Px(9_950), Qty(1_000_000), tick),
            Err(AmountError::PriceOutOfRange(Px(9_950)))
        );
        assert_eq!(
            amounts(Side::Buy, Px(5_050), Qty(1_000_000), tick),
            Err(AmountError::PriceOffTick(Px(5_050)))
        );
        assert_eq!(
            amounts(Side::Sell, Px(5_000), Qty(9_999), tick),
            Err(AmountError::SizeTooSmall(Qty(9_999)))
        );
    }
}

//! EIP-712 order signing for Polymarket's CTF Exchange V2 (and V3 position orders): the signed
//! order struct, the exchanges' domains, the order digest, a secp256k1 signer and recovery,
//! addresses, the SDK's amount rules, and the `POST /order` body writer.
//!
//! Everything here is byte-identical to the official Rust SDK (`polymarket_client_sdk_v2` 0.9):
//! `peer-bench/tests/signing_vectors.rs` checks it against the SDK and writes the vectors that
//! `tests/signing.rs` replays without the SDK.

use std::fmt;

use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use secp256k1::{Message, PublicKey, Secp256k1, SecretKey, SignOnly};
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

/// The largest salt the venue accepts: salts travel as JSON numbers, so they stay below 2^53.
pub const SALT_MASK: u64 = (1 << 53) - 1;

/// Brings a random 64-bit value into the salt range the way the SDK does (masking to 53 bits).
pub const fn salt_from(raw: u64) -> u64 {
    raw & SALT_MASK
}

pub(crate) fn keccak(bytes: &[u8]) -> [u8; 32] {
    Keccak256::digest(bytes).into()
}

/// Which exchange contract an order is for: neg-risk markets have their own V2 contract, and
/// position orders go to the V3 contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Exchange {
    /// The standard V2 exchange (`0xE111…996B`).
    Standard,
    /// The neg-risk V2 exchange (`0xe222…0F59`).
    NegRisk,
    /// The V3 exchange for position orders (`0xe333…00Aa`, Polygon's address), domain version "3".
    V3,
}

impl Exchange {
    /// The EIP-712 domain `version`: "2" for both V2 exchanges, "3" for V3.
    pub const fn version(self) -> &'static str {
        match self {
            Exchange::Standard | Exchange::NegRisk => "2",
            Exchange::V3 => "3",
        }
    }

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
            Exchange::V3 => [
                0xe3, 0x33, 0x37, 0x00, 0xca, 0x9d, 0x93, 0x00, 0x3f, 0x00, 0xf0, 0xf7, 0x1f, 0x85,
                0x15, 0x00, 0x5f, 0x6c, 0x00, 0xaa,
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
    /// The domain `{name: "Polymarket CTF Exchange", version, chainId, verifyingContract}` with
    /// the exchange's version and contract.
    pub fn new(exchange: Exchange, chain_id: u64) -> Domain {
        let mut encoded = [0u8; 5 * 32];
        encoded[..32].copy_from_slice(&keccak(DOMAIN_TYPE.as_bytes()));
        encoded[32..64].copy_from_slice(&keccak(DOMAIN_NAME.as_bytes()));
        encoded[64..96].copy_from_slice(&keccak(exchange.version().as_bytes()));
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

pub(crate) fn word_u64(value: u64) -> [u8; 32] {
    let mut word = [0u8; 32];
    word[24..].copy_from_slice(&value.to_be_bytes());
    word
}

pub(crate) fn word_address(address: &Address) -> [u8; 32] {
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
    /// A signature is not `0x` + 130 hex digits, its `v` is not 27/28, or it recovers no key.
    #[error("signature is malformed or does not recover a public key")]
    InvalidSignature,
    /// An address is not `0x` followed by 40 hex digits.
    #[error("address is not 0x followed by 40 hex digits")]
    InvalidAddress,
    /// A hash is not `0x` followed by 64 hex digits.
    #[error("hash is not 0x followed by 64 hex digits")]
    InvalidHash,
}

/// A secp256k1 key that signs order digests, through libsecp256k1 (the `secp256k1` crate),
/// which signs faster than the pure-Rust `k256` with identical output (benches/execution.rs,
/// `sign_order`). Its `Debug` shows the address, never the key.
pub struct Signer {
    context: Secp256k1<SignOnly>,
    key: SecretKey,
    address: Address,
}

impl Signer {
    /// Loads a key from its 32 secret bytes. The signing context is blinded with a value
    /// derived from the key (libsecp256k1's side-channel countermeasure).
    pub fn from_secret(secret: &[u8; 32]) -> Result<Signer, SignError> {
        let key = SecretKey::from_byte_array(*secret).map_err(|_| SignError::InvalidKey)?;
        let mut context = Secp256k1::signing_only();
        let mut seed = [0u8; 64];
        seed[..32].copy_from_slice(secret);
        seed[32..].copy_from_slice(&keccak(b"pmbot signing context blinding"));
        context.seeded_randomize(&keccak(&seed));
        seed.fill(0);
        let address = address_of(&PublicKey::from_secret_key(&context, &key));
        Ok(Signer {
            context,
            key,
            address,
        })
    }

    /// The address the key controls (the last 20 bytes of keccak of the public key).
    pub const fn address(&self) -> Address {
        self.address
    }

    /// Signs a 32-byte digest: RFC 6979 nonce, low `s`, laid out `r ‖ s ‖ v` with `v` = 27 or
    /// 28, as the SDK (through alloy) produces.
    pub fn sign(&self, digest: &[u8; 32]) -> Result<[u8; 65], SignError> {
        let signature = self
            .context
            .sign_ecdsa_recoverable(Message::from_digest(*digest), &self.key);
        let (recovery, compact) = signature.serialize_compact();
        let v = u8::try_from(i32::from(recovery)).map_err(|_| SignError::Signing)?;
        if v > 1 {
            return Err(SignError::Signing);
        }
        let mut out = [0u8; 65];
        out[..64].copy_from_slice(&compact);
        out[64] = 27 + v;
        Ok(out)
    }
}

/// The address of a public key: the last 20 bytes of keccak of its uncompressed coordinates.
fn address_of(key: &PublicKey) -> Address {
    let hash = keccak(&key.serialize_uncompressed()[1..]);
    let mut address = [0u8; 20];
    address.copy_from_slice(&hash[12..]);
    address
}

/// The address whose key produced `signature` (`r ‖ s ‖ v`, `v` = 27 or 28) over `digest`.
pub fn recover_signer(digest: &[u8; 32], signature: &[u8; 65]) -> Result<Address, SignError> {
    let recovery = match signature[64] {
        v @ (27 | 28) => {
            RecoveryId::try_from(i32::from(v - 27)).map_err(|_| SignError::InvalidSignature)?
        }
        _ => return Err(SignError::InvalidSignature),
    };
    let signature = RecoverableSignature::from_compact(&signature[..64], recovery)
        .map_err(|_| SignError::InvalidSignature)?;
    let key = Secp256k1::verification_only()
        .recover_ecdsa(Message::from_digest(*digest), &signature)
        .map_err(|_| SignError::InvalidSignature)?;
    Ok(address_of(&key))
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Writes `bytes` as lowercase hex into `out`, which must be exactly twice as long.
fn write_hex(out: &mut [u8], bytes: &[u8]) {
    for (pair, byte) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX_DIGITS[usize::from(byte >> 4)];
        pair[1] = HEX_DIGITS[usize::from(byte & 0x0f)];
    }
}

/// `0x` + lowercase hex of `N` bytes as a fixed array of `M` = 2 + 2N characters.
fn prefixed_hex<const N: usize, const M: usize>(bytes: &[u8; N]) -> [u8; M] {
    let mut out = [0u8; M];
    out[..2].copy_from_slice(b"0x");
    write_hex(&mut out[2..], bytes);
    out
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Reads `0x` + exactly `2N` hex digits (either case).
fn parse_prefixed_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let digits = s.strip_prefix("0x")?.as_bytes();
    if digits.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = hex_value(pair[0])? << 4 | hex_value(pair[1])?;
    }
    Some(out)
}

/// A 32-byte hash as `0x` + 64 lowercase hex digits (the venue's order id form), without allocating.
pub fn hex_hash(h: &[u8; 32]) -> [u8; 66] {
    prefixed_hex(h)
}

/// A signature as `0x` + 130 lowercase hex digits, without allocating.
pub fn hex_signature(signature: &[u8; 65]) -> [u8; 132] {
    prefixed_hex(signature)
}

/// An address as `0x` + 40 lowercase hex digits, without allocating.
pub fn hex_address(a: &Address) -> [u8; 42] {
    prefixed_hex(a)
}

/// Parses `0x` + 40 hex digits in any case (the EIP-55 checksum is not enforced).
pub fn parse_address(s: &str) -> Result<Address, SignError> {
    parse_prefixed_hex(s).ok_or(SignError::InvalidAddress)
}

/// Parses `0x` + 130 hex digits into `r ‖ s ‖ v` (the value is not checked here).
pub fn parse_signature(s: &str) -> Result<[u8; 65], SignError> {
    parse_prefixed_hex(s).ok_or(SignError::InvalidSignature)
}

/// Parses `0x` + 64 hex digits (an order hash or a bytes32 field).
pub fn parse_hash(s: &str) -> Result<[u8; 32], SignError> {
    parse_prefixed_hex(s).ok_or(SignError::InvalidHash)
}

/// The EIP-55 mixed-case checksum form of an address (`0xf39Fd6e5…`).
pub fn checksum_address(a: &Address) -> String {
    let mut text = hex_address(a);
    let hash = keccak(&text[2..]);
    for (i, c) in text[2..].iter_mut().enumerate() {
        let nibble = if i % 2 == 0 {
            hash[i / 2] >> 4
        } else {
            hash[i / 2] & 0x0f
        };
        if nibble >= 8 {
            c.make_ascii_uppercase();
        }
    }
    text.iter().map(|&b| char::from(b)).collect()
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

/// An order with its EIP-712 hash (the venue's order id) and the maker's signature over it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedOrder {
    /// The signed fields.
    pub fields: OrderFields,
    /// `order_hash(domain, fields)`.
    pub hash: [u8; 32],
    /// `r ‖ s ‖ v` over `hash`, `v` = 27 or 28.
    pub signature: [u8; 65],
}

/// Hashes `fields` under `domain` and signs the digest.
pub fn sign_order(
    signer: &Signer,
    domain: &Domain,
    fields: OrderFields,
) -> Result<SignedOrder, SignError> {
    let hash = order_hash(domain, &fields);
    let signature = signer.sign(&hash)?;
    Ok(SignedOrder {
        fields,
        hash,
        signature,
    })
}

/// The decimal digits of `value`, written at the end of `buf` (no allocation).
pub(crate) fn decimal_digits(value: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    let mut rest = value;
    loop {
        at -= 1;
        buf[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    &buf[at..]
}

/// Appends the decimal digits of `value`.
fn push_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(decimal_digits(value, &mut [0; 20]));
}

/// Appends `text` as a JSON string, escaping quotes, backslashes and control characters.
fn push_json_str(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    for &b in text.as_bytes() {
        match b {
            b'"' | b'\\' => out.extend_from_slice(&[b'\\', b]),
            0..=0x1f => {
                out.extend_from_slice(b"\\u00");
                out.extend_from_slice(&[
                    HEX_DIGITS[usize::from(b >> 4)],
                    HEX_DIGITS[usize::from(b & 0x0f)],
                ]);
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// Writes the `POST /order` JSON body for `order` into `out` (cleared first; no allocation once
/// `out` has grown to a body's size). See [`append_order_entry`] for the layout.
pub fn write_order_body(
    out: &mut Vec<u8>,
    order: &SignedOrder,
    token_id: &str,
    expiration_s: u64,
    owner_api_key: &str,
    order_type: &str,
    post_only: bool,
) {
    out.clear();
    append_order_entry(
        out,
        order,
        token_id,
        expiration_s,
        owner_api_key,
        order_type,
        post_only,
    );
}

/// Appends one order object, as `POST /order` takes it and `POST /orders` takes each array
/// element, in the SDK's key order:
/// `{"order":{salt, maker, signer, tokenId, makerAmount, takerAmount, side, expiration,
/// signatureType, timestamp, metadata, builder, signature}, "orderType", "owner", "postOnly",
/// "deferExec"}`. `salt` and `signatureType` are JSON numbers; ids, amounts, `expiration`
/// (seconds) and `timestamp` (ms) are strings; hex is lowercase; `deferExec` is always `false`.
pub fn append_order_entry(
    out: &mut Vec<u8>,
    order: &SignedOrder,
    token_id: &str,
    expiration_s: u64,
    owner_api_key: &str,
    order_type: &str,
    post_only: bool,
) {
    let f = &order.fields;
    out.extend_from_slice(b"{\"order\":{\"salt\":");
    push_u64(out, f.salt);
    out.extend_from_slice(b",\"maker\":\"");
    out.extend_from_slice(&hex_address(&f.maker));
    out.extend_from_slice(b"\",\"signer\":\"");
    out.extend_from_slice(&hex_address(&f.signer));
    out.extend_from_slice(b"\",\"tokenId\":");
    push_json_str(out, token_id);
    out.extend_from_slice(b",\"makerAmount\":\"");
    push_u64(out, f.maker_amount);
    out.extend_from_slice(b"\",\"takerAmount\":\"");
    push_u64(out, f.taker_amount);
    out.extend_from_slice(b"\",\"side\":\"");
    out.extend_from_slice(f.side.as_str().as_bytes());
    out.extend_from_slice(b"\",\"expiration\":\"");
    push_u64(out, expiration_s);
    out.extend_from_slice(b"\",\"signatureType\":");
    push_u64(out, u64::from(f.signature_type));
    out.extend_from_slice(b",\"timestamp\":\"");
    push_u64(out, f.timestamp_ms);
    out.extend_from_slice(b"\",\"metadata\":\"");
    out.extend_from_slice(&hex_hash(&f.metadata));
    out.extend_from_slice(b"\",\"builder\":\"");
    out.extend_from_slice(&hex_hash(&f.builder));
    out.extend_from_slice(b"\",\"signature\":\"");
    out.extend_from_slice(&hex_signature(&order.signature));
    out.extend_from_slice(b"\"},\"orderType\":");
    push_json_str(out, order_type);
    out.extend_from_slice(b",\"owner\":");
    push_json_str(out, owner_api_key);
    out.extend_from_slice(if post_only {
        b",\"postOnly\":true,\"deferExec\":false}"
    } else {
        b",\"postOnly\":false,\"deferExec\":false}"
    });
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

    #[test]
    fn recover_signer_returns_the_signing_address() {
        let signer = Signer::from_secret(&TEST_SECRET).unwrap();
        let digest = keccak(b"recover me");
        let mut signature = signer.sign(&digest).unwrap();
        assert_eq!(recover_signer(&digest, &signature), Ok(signer.address()));
        assert_ne!(
            recover_signer(&keccak(b"other"), &signature),
            Ok(signer.address())
        );
        signature[64] = 29;
        assert_eq!(
            recover_signer(&digest, &signature),
            Err(SignError::InvalidSignature)
        );
        assert_eq!(
            recover_signer(&digest, &[0; 65]),
            Err(SignError::InvalidSignature)
        );
    }

    /// The EIP-55 specification's own examples.
    #[test]
    fn checksum_address_follows_eip55() {
        for expected in [
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
            "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        ] {
            let address = parse_address(&expected.to_lowercase()).unwrap();
            assert_eq!(checksum_address(&address), expected);
            assert_eq!(parse_address(expected), Ok(address));
        }
    }

    #[test]
    fn parsers_refuse_malformed_hex() {
        for bad in [
            "",
            "5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
            "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beae",
            "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaedd",
            "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaeg",
            "0x5aaeb6053f3e94c9b9a09f33669435e7ef1bea\u{e9}",
        ] {
            assert_eq!(parse_address(bad), Err(SignError::InvalidAddress), "{bad}");
        }
        assert_eq!(parse_signature("0x00"), Err(SignError::InvalidSignature));
        assert_eq!(parse_hash("0x00"), Err(SignError::InvalidHash));
    }

    #[test]
    fn hex_writers_round_trip_through_the_parsers() {
        let hash = keccak(b"hash");
        let text = hex_hash(&hash);
        let text = std::str::from_utf8(&text).unwrap();
        assert_eq!(text, format!("0x{}", hex(&hash)));
        assert_eq!(parse_hash(text), Ok(hash));
        let signer = Signer::from_secret(&TEST_SECRET).unwrap();
        let signature = signer.sign(&hash).unwrap();
        let text = hex_signature(&signature);
        assert_eq!(
            parse_signature(std::str::from_utf8(&text).unwrap()),
            Ok(signature)
        );
    }

    #[test]
    fn v3_domain_uses_version_3_and_its_own_contract() {
        let v3 = Domain::polygon(Exchange::V3);
        assert_eq!(Exchange::V3.version(), "3");
        assert_eq!(
            checksum_address(&Exchange::V3.verifying_contract()),
            "0xe3333700cA9d93003F00f0F71f8515005F6c00Aa"
        );
        assert_ne!(
            v3.separator(),
            Domain::polygon(Exchange::Standard).separator()
        );
    }

    #[test]
    fn push_json_str_escapes_quotes_backslashes_and_controls() {
        let mut out = Vec::new();
        push_json_str(&mut out, "a\"b\\c\n");
        assert_eq!(out, br#""a\"b\\c\u000a""#);
        out.clear();
        push_u64(&mut out, u64::MAX);
        push_u64(&mut out, 0);
        assert_eq!(out, b"184467440737095516150");
    }
}

//! The order on the wire ([`Order`], [`Item`]; money in integer cents, never a float) and the deterministic
//! order book the producer sends and the verifier expects: order `n` is always the same order, so separate
//! processes agree on it without sharing anything but the order count.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// One order, as the web tier puts it on the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// Unique per order; also the idempotency key of every step.
    pub order_id: String,
    /// Who pays.
    pub customer_id: String,
    /// What to ship.
    pub items: Vec<Item>,
    /// What to charge, in cents (exact: sums of integers, no rounding).
    pub total_price_cents: u64,
    /// Filler the consumer ignores (`order_producer --pad-bytes N`), to push large orders through the S3
    /// offload path; left out of the JSON when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub padding: String,
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// The product.
    pub product_id: String,
    /// How many.
    pub quantity: u32,
}

/// A product the inventory rejects at once: the order can never succeed, so the consumer dead-letters it.
pub const RECALLED_PRODUCT: &str = "SKU-RECALLED";
/// A product whose warehouse never answers: every attempt fails transiently, so the order keeps failing
/// until the queue's redrive policy moves it to the dead-letter queue.
pub const UNREACHABLE_PRODUCT: &str = "SKU-NO-WAREHOUSE";

/// How a poison order fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Poison {
    /// Contains [`RECALLED_PRODUCT`]: a permanent failure, dead-lettered by the consumer on the first try.
    Recalled,
    /// Contains [`UNREACHABLE_PRODUCT`]: a transient failure on every try, dead-lettered by SQS's redrive.
    Unreachable,
}

/// The id of order number `n` (1-based).
pub fn order_id(n: u64) -> String {
    format!("ORD-{n:06}")
}

/// The order numbers (1..=`count`) that are poison when `poison` of `count` orders are: spread evenly, the
/// first recalled, the next unreachable, alternating.
pub fn poison_numbers(count: u64, poison: u64) -> Vec<(u64, Poison)> {
    let poison = poison.min(count);
    (1..=poison)
        .map(|i| {
            let n = (i * count / (poison + 1)).max(i);
            (n, if i % 2 == 1 { Poison::Recalled } else { Poison::Unreachable })
        })
        .collect()
}

/// The order numbers re-sent on purpose: `duplicates` of them, spread evenly, never a poison order.
pub fn duplicate_numbers(count: u64, poison: u64, duplicates: u64) -> Vec<u64> {
    let poisoned: Vec<u64> = poison_numbers(count, poison).into_iter().map(|(n, _)| n).collect();
    let healthy: Vec<u64> = (1..=count).filter(|n| !poisoned.contains(n)).collect();
    let duplicates = (duplicates as usize).min(healthy.len());
    (0..duplicates).map(|i| healthy[i * healthy.len() / duplicates]).collect()
}

/// Unit price of a product, in cents.
fn unit_price_cents(product: u32) -> u64 {
    199 + u64::from(product) * 137 % 4_800
}

/// Order number `n`: the same order every time (seeded by `n`), poisoned as `poison` says.
pub fn order(n: u64, poison: Option<Poison>) -> Order {
    let mut rng = StdRng::seed_from_u64(n);
    let mut items: Vec<Item> = (0..rng.random_range(1..=4))
        .map(|_| Item {
            product_id: format!("SKU-{:04}", rng.random_range(1..=50u32)),
            quantity: rng.random_range(1..=5),
        })
        .collect();
    let mut total_price_cents = items
        .iter()
        .map(|item| {
            let product = item.product_id[4..].parse::<u32>().unwrap_or_default();
            unit_price_cents(product) * u64::from(item.quantity)
        })
        .sum();
    if let Some(poison) = poison {
        let product = match poison {
            Poison::Recalled => RECALLED_PRODUCT,
            Poison::Unreachable => UNREACHABLE_PRODUCT,
        };
        items.push(Item { product_id: product.to_owned(), quantity: 1 });
        total_price_cents += 999;
    }
    Order {
        order_id: order_id(n),
        customer_id: format!("CUST-{:04}", rng.random_range(1..=500u32)),
        items,
        total_price_cents,
        padding: String::new(),
    }
}

/// Orders 1..=`count`, with `poison` of them poisoned.
pub fn order_book(count: u64, poison: u64) -> Vec<Order> {
    let poisoned = poison_numbers(count, poison);
    (1..=count).map(|n| order(n, poisoned.iter().find(|(p, _)| *p == n).map(|(_, kind)| *kind))).collect()
}

/// Dollars and cents for people: `1234567` → `$12,345.67`.
pub fn dollars(cents: u64) -> String {
    format!("${}.{:02}", thousands(cents / 100), cents % 100)
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_are_deterministic_and_priced_in_cents() {
        assert_eq!(order(7, None), order(7, None));
        assert_eq!(dollars(1_234_567), "$12,345.67");
        assert_eq!(dollars(5), "$0.05");
    }
}

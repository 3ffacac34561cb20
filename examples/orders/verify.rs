//! The end-of-run check: from the ledger (what was charged and shipped) and the dead-letter queue (what gave
//! up), is every order of the order book accounted for exactly once? Pure: no SQS, no clock.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use super::ledger::LedgerSnapshot;
use super::model::{Poison, dollars, order_id, poison_numbers, thousands};
use super::queues::DeadLetter;

/// What the producer sent: orders `1..=orders`, `poison` of them poisoned (see [`poison_numbers`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    /// Distinct orders.
    pub orders: u64,
    /// Poison orders among them.
    pub poison: u64,
}

/// The result of [`verify`].
#[derive(Debug, Clone, Default)]
pub struct Verdict {
    /// Distinct orders expected.
    pub orders: u64,
    /// Poison orders among them.
    pub poison: u64,
    /// Orders charged once and shipped once, not dead-lettered.
    pub exactly_once: u64,
    /// Orders charged more than once, with the count.
    pub charged_twice: Vec<(String, u32)>,
    /// Orders shipped more than once, with the count.
    pub shipped_twice: Vec<(String, u32)>,
    /// Orders neither completed nor dead-lettered (lost, or not processed yet).
    pub missing: Vec<String>,
    /// Orders charged but never shipped and not dead-lettered.
    pub unfinished: Vec<String>,
    /// Poison orders that are not in the dead-letter queue.
    pub poison_not_dead_lettered: Vec<String>,
    /// Poison orders that were charged.
    pub poison_charged: Vec<String>,
    /// Healthy orders that gave up anyway (injected failures on every allowed receive), with whether they
    /// were charged first: the redrive policy doing its job, reported but not a failure.
    pub gave_up: Vec<(String, bool)>,
    /// Ledger or dead-letter records of orders not in the order book.
    pub unknown: Vec<String>,
    /// The dead-letter queue's orders, with what they are.
    pub dead_letters: Vec<(DeadLetter, Option<Poison>)>,
    /// Total charged.
    pub charged_cents: u64,
    /// Distinct orders charged.
    pub charged_orders: u64,
}

/// Checks every order of `expected` against the ledger and the dead-letter queue.
pub fn verify(expected: Expected, ledger: &LedgerSnapshot, dead_letters: &[DeadLetter]) -> Verdict {
    let poison: HashMap<String, Poison> =
        poison_numbers(expected.orders, expected.poison).into_iter().map(|(n, kind)| (order_id(n), kind)).collect();
    let dead: BTreeMap<&str, &DeadLetter> = dead_letters.iter().map(|d| (d.order_id.as_str(), d)).collect();
    let mut verdict = Verdict {
        orders: expected.orders,
        poison: poison.len() as u64,
        charged_cents: ledger.charged_cents,
        charged_orders: ledger.charges.len() as u64,
        ..Verdict::default()
    };
    for n in 1..=expected.orders {
        let id = order_id(n);
        let charges = ledger.charges.get(&id).copied().unwrap_or_default();
        let shipments = ledger.shipments.get(&id).copied().unwrap_or_default();
        let dead_lettered = dead.contains_key(id.as_str());
        if charges > 1 {
            verdict.charged_twice.push((id.clone(), charges));
        }
        if shipments > 1 {
            verdict.shipped_twice.push((id.clone(), shipments));
        }
        if poison.contains_key(&id) {
            if !dead_lettered {
                verdict.poison_not_dead_lettered.push(id.clone());
            }
            if charges > 0 {
                verdict.poison_charged.push(id);
            }
        } else if dead_lettered {
            verdict.gave_up.push((id, charges > 0));
        } else if charges == 1 && shipments == 1 {
            verdict.exactly_once += 1;
        } else if charges == 0 {
            verdict.missing.push(id);
        } else if shipments == 0 {
            verdict.unfinished.push(id);
        }
    }
    let known = |id: &str| {
        id.strip_prefix("ORD-").and_then(|n| n.parse::<u64>().ok()).is_some_and(|n| (1..=expected.orders).contains(&n))
    };
    verdict.unknown = ledger
        .charges
        .keys()
        .chain(ledger.shipments.keys())
        .map(String::as_str)
        .chain(dead.keys().copied())
        .filter(|id| !known(id))
        .map(str::to_owned)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    verdict.dead_letters = dead_letters.iter().map(|d| (d.clone(), poison.get(&d.order_id).copied())).collect();
    verdict
}

impl Verdict {
    /// Whether every check passed: nobody charged or shipped twice, every healthy order completed or in the
    /// dead-letter queue, every poison order there and never charged, nothing unknown.
    pub fn ok(&self) -> bool {
        self.charged_twice.is_empty()
            && self.shipped_twice.is_empty()
            && self.missing.is_empty()
            && self.unfinished.is_empty()
            && self.poison_not_dead_lettered.is_empty()
            && self.poison_charged.is_empty()
            && self.unknown.is_empty()
    }

    /// The verdict for people: a few aligned lines, and the first few ids of anything wrong.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let healthy = self.orders - self.poison;
        let mark = |good: bool| if good { "ok  " } else { "FAIL" };
        let _ = writeln!(
            out,
            "  {} processed exactly once   {} of {} healthy orders (charged once, shipped once)",
            mark(self.exactly_once + self.gave_up.len() as u64 == healthy),
            thousands(self.exactly_once),
            thousands(healthy)
        );
        let _ = writeln!(
            out,
            "  {} charged twice            {}   (total charged {} for {} orders)",
            mark(self.charged_twice.is_empty() && self.shipped_twice.is_empty()),
            self.charged_twice.len() + self.shipped_twice.len(),
            dollars(self.charged_cents),
            thousands(self.charged_orders)
        );
        let _ = writeln!(
            out,
            "  {} lost or unfinished       {}",
            mark(self.missing.is_empty() && self.unfinished.is_empty()),
            self.missing.len() + self.unfinished.len()
        );
        let poison_ok = self.poison_not_dead_lettered.is_empty() && self.poison_charged.is_empty();
        let _ = writeln!(
            out,
            "  {} dead-letter queue        {} order(s)",
            mark(poison_ok && self.unknown.is_empty()),
            self.dead_letters.len()
        );
        for (dead, poison) in &self.dead_letters {
            let what = match poison {
                Some(Poison::Recalled) => "poison (recalled product)",
                Some(Poison::Unreachable) => "poison (warehouse never answers)",
                None => "gave up after repeated injected failures",
            };
            let how = match &dead.reason {
                Some(reason) => format!("dead-lettered by the consumer: {reason}"),
                None => "moved by the redrive policy after maxReceiveCount receives".to_owned(),
            };
            let copies = if dead.copies > 1 { format!(", {} copies", dead.copies) } else { String::new() };
            let _ = writeln!(out, "         {}  {what}; {how}{copies}", dead.order_id);
        }
        let problems: [(&str, Vec<String>); 7] = [
            ("charged twice", self.charged_twice.iter().map(|(id, n)| format!("{id} x{n}")).collect()),
            ("shipped twice", self.shipped_twice.iter().map(|(id, n)| format!("{id} x{n}")).collect()),
            ("missing (neither completed nor dead-lettered)", self.missing.clone()),
            ("charged but never shipped", self.unfinished.clone()),
            ("poison not in the dead-letter queue", self.poison_not_dead_lettered.clone()),
            ("poison charged", self.poison_charged.clone()),
            ("not in the order book", self.unknown.clone()),
        ];
        for (what, ids) in problems.iter().filter(|(_, ids)| !ids.is_empty()) {
            let more = if ids.len() > 5 { format!(" and {} more", ids.len() - 5) } else { String::new() };
            let _ = writeln!(out, "         {what}: {}{more}", ids[..ids.len().min(5)].join(", "));
        }
        for (id, charged) in &self.gave_up {
            let note = if *charged { "charged before it gave up: refund or ship by hand" } else { "not charged" };
            let _ = writeln!(out, "         note: {id} gave up after repeated injected failures ({note})");
        }
        let _ = writeln!(
            out,
            "\n  {}",
            if self.ok() {
                "RESULT: every order was processed exactly once; poison orders are in the dead-letter queue"
            } else {
                "RESULT: FAILED (see above)"
            }
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger(charges: &[(&str, u32)], shipments: &[(&str, u32)]) -> LedgerSnapshot {
        LedgerSnapshot {
            charges: charges.iter().map(|(id, n)| ((*id).to_owned(), *n)).collect(),
            shipments: shipments.iter().map(|(id, n)| ((*id).to_owned(), *n)).collect(),
            ..LedgerSnapshot::default()
        }
    }

    fn dead(id: &str) -> DeadLetter {
        DeadLetter { order_id: id.to_owned(), copies: 1, reason: None }
    }

    #[test]
    fn a_clean_run_passes_and_each_kind_of_mistake_fails() {
        // Three orders, order 1 poisoned (poison_numbers(3, 1) picks order 1).
        let expected = Expected { orders: 3, poison: 1 };
        let clean = ledger(&[("ORD-000002", 1), ("ORD-000003", 1)], &[("ORD-000002", 1), ("ORD-000003", 1)]);
        assert!(verify(expected, &clean, &[dead("ORD-000001")]).ok());

        let twice = ledger(&[("ORD-000002", 2), ("ORD-000003", 1)], &[("ORD-000002", 1), ("ORD-000003", 1)]);
        assert_eq!(verify(expected, &twice, &[dead("ORD-000001")]).charged_twice, [("ORD-000002".to_owned(), 2)]);
        assert!(!verify(expected, &twice, &[dead("ORD-000001")]).ok());

        let lost = ledger(&[("ORD-000002", 1)], &[("ORD-000002", 1)]);
        assert_eq!(verify(expected, &lost, &[dead("ORD-000001")]).missing, ["ORD-000003"]);
        assert!(!verify(expected, &clean, &[]).ok(), "the poison order must be dead-lettered");

        let gave_up = verify(
            expected,
            &ledger(&[("ORD-000002", 1)], &[("ORD-000002", 1)]),
            &[dead("ORD-000001"), dead("ORD-000003")],
        );
        assert!(gave_up.ok(), "a healthy order that exhausted its receives is reported, not lost");
        assert_eq!(gave_up.gave_up, [("ORD-000003".to_owned(), false)]);
    }
}

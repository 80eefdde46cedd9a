//! Budgets: which of a subject's request and token limits a request would cross, the rate-limit
//! figures for the reply, and the detection tier's own per-minute allowance. Pure functions over a
//! ledger [`Record`]; the atomic check-and-charge around them is in [`crate::decision`].

use crate::ledger::{Quantity, Record};
use crate::policy::{Action, Budget, LedgerConfig, Window};

/// Rate-limit figures of the budget that throttled, for the response headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitInfo {
    /// Budget window length in seconds.
    pub window_seconds: u64,
    /// `max_requests`, with remaining and seconds until a request fits again.
    pub requests: Option<(u64, u64, u64)>,
    /// `max_tokens`, with remaining and seconds until this request's estimate fits.
    pub tokens: Option<(u64, u64, u64)>,
}

/// A budget the request would cross.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fired<'p> {
    /// The budget.
    pub budget: &'p Budget,
    /// Its figures.
    pub limit: LimitInfo,
    /// Seconds until the request fits.
    pub retry: u64,
}

impl Fired<'_> {
    /// True when this budget refuses the request (an enforced throttle).
    pub fn rejects(&self, global_shadow: bool) -> bool {
        !global_shadow && !self.budget.shadow && self.budget.action == Action::Throttle
    }

    /// True when the request-count limit is what is crossed.
    pub fn over_requests(&self, record: &Record) -> bool {
        self.limit
            .requests
            .is_some_and(|(max, _, _)| over(record.budget_count(self.budget.window, Quantity::Requests), 1, max))
    }
}

fn over(counted: u64, need: u64, max: u64) -> bool {
    counted.saturating_add(need) > max
}

/// One limit of a budget: (max, remaining, seconds until `need` fits), and whether `need` crosses it.
fn limit(record: &Record, w: Window, q: Quantity, now_ms: u64, need: u64, max: u64) -> ((u64, u64, u64), bool) {
    let counted = record.budget_count(w, q);
    let wait = record.budget.seconds_until_room(w, q, now_ms, need, max);
    ((max, max.saturating_sub(counted), wait), over(counted, need, max))
}

/// The budgets a request needing `need_tokens` (and one request) would cross, with their figures.
/// The record must be rolled to `now_ms`.
pub fn fired<'p>(
    budgets: impl Iterator<Item = &'p Budget>,
    record: &Record,
    now_ms: u64,
    need_tokens: u64,
) -> Vec<Fired<'p>> {
    let mut fired = Vec::new();
    for b in budgets {
        // The figures (remaining, time until room) are worked out only for a budget that is crossed.
        let crosses = |q: Quantity, need: u64, max: Option<u64>| {
            max.is_some_and(|max| over(record.budget_count(b.window, q), need, max))
        };
        if !crosses(Quantity::Requests, 1, b.max_requests) && !crosses(Quantity::Tokens, need_tokens, b.max_tokens) {
            continue;
        }
        let mut retry = 0u64;
        let mut crossed = false;
        let mut check = |q: Quantity, need: u64, max: u64| {
            let (figures, over) = limit(record, b.window, q, now_ms, need, max);
            if over {
                crossed = true;
                retry = retry.max(figures.2);
            }
            figures
        };
        let requests = b.max_requests.map(|max| check(Quantity::Requests, 1, max));
        let tokens = b.max_tokens.map(|max| check(Quantity::Tokens, need_tokens, max));
        if crossed {
            let limit = LimitInfo { window_seconds: b.window.seconds(), requests, tokens };
            fired.push(Fired { budget: b, limit, retry });
        }
    }
    fired
}

/// The detection throttle tier's allowance: `max` requests a minute. Over it, the figures for the
/// 429 and the seconds until a request fits; within it, `None`.
pub fn over_allowance(record: &Record, max: u64, now_ms: u64) -> Option<(LimitInfo, u64)> {
    let (figures, over) = limit(record, Window::Minute, Quantity::Requests, now_ms, 1, max);
    over.then_some((LimitInfo { window_seconds: 60, requests: Some((max, 0, figures.2)), tokens: None }, figures.2))
}

/// True when a request needing `need_tokens` would leave less than the exact margin under any of
/// these budgets (see [`within_margin`]). Such a request is decided on the shared record, not on a
/// worker's view (see [`crate::ledger::local`]).
pub fn near_limit<'p>(
    budgets: impl Iterator<Item = &'p Budget>,
    record: &Record,
    need_tokens: u64,
    cfg: &LedgerConfig,
) -> bool {
    budgets.into_iter().any(|b| {
        let count = |q: Quantity| record.budget_count(b.window, q);
        b.max_requests.is_some_and(|max| within_margin(count(Quantity::Requests), 1, max, cfg))
            || b.max_tokens.is_some_and(|max| within_margin(count(Quantity::Tokens), need_tokens, max, cfg))
    })
}

/// True when adding `need` to `count` would cross `max` or leave less room than the exact margin:
/// `ledger.exact_within` of `max`, or room for `ledger.exact_within_requests` more of `need`.
pub fn within_margin(count: u64, need: u64, max: u64, cfg: &LedgerConfig) -> bool {
    let after = count.saturating_add(need);
    let share = u64::try_from(u128::from(max) * u128::from(cfg.exact_within_ppm) / 1_000_000).unwrap_or(max);
    let margin = share.max(need.saturating_mul(cfg.exact_within_requests));
    after > max || max - after < margin
}

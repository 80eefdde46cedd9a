//! Budgets: which of a subject's request and token limits a request would cross, the rate-limit
//! figures for the reply, and the detection tier's own per-minute allowance. Pure functions over a
//! ledger [`Record`]; the atomic check-and-charge around them is in [`crate::decision`].

use crate::ledger::{seconds_until_room, Record, WindowCounts};
use crate::policy::{Action, Budget, Window};

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
    pub fn over_requests(&self, record: &Record, now_ms: u64) -> bool {
        self.limit
            .requests
            .is_some_and(|(max, _, _)| over(record.estimate(self.budget.window, now_ms).requests, 1, max))
    }
}

fn over(estimate: f64, need: u64, max: u64) -> bool {
    estimate + need as f64 > max as f64
}

/// Seconds until `need` more fits under `max` in a window, from its previous and current counts.
fn wait(window: Window, counts: &WindowCounts, now_ms: u64, (prev, cur): (u64, u64), need: u64, max: u64) -> u64 {
    seconds_until_room(window, counts, now_ms, prev, cur, need, max)
}

/// The budgets a request needing `need_tokens` (and one request) would cross, with their figures.
pub fn fired<'p>(
    budgets: impl Iterator<Item = &'p Budget>,
    record: &Record,
    now_ms: u64,
    need_tokens: u64,
) -> Vec<Fired<'p>> {
    let mut fired = Vec::new();
    for b in budgets {
        let est = record.estimate(b.window, now_ms);
        let counts = record.window(b.window);
        let mut retry = 0u64;
        let mut crossed = false;
        let requests = b.max_requests.map(|max| {
            let wait = wait(b.window, &counts, now_ms, (counts.previous.requests, counts.current.requests), 1, max);
            if over(est.requests, 1, max) {
                crossed = true;
                retry = retry.max(wait);
            }
            (max, max.saturating_sub(est.requests.ceil() as u64), wait)
        });
        let tokens = b.max_tokens.map(|max| {
            let used = (counts.previous.tokens(), counts.current.tokens());
            let wait = wait(b.window, &counts, now_ms, used, need_tokens, max);
            if over(est.tokens, need_tokens, max) {
                crossed = true;
                retry = retry.max(wait);
            }
            (max, max.saturating_sub(est.tokens.ceil() as u64), wait)
        });
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
    if !over(record.estimate(Window::Minute, now_ms).requests, 1, max) {
        return None;
    }
    let counts = record.window(Window::Minute);
    let wait = wait(Window::Minute, &counts, now_ms, (counts.previous.requests, counts.current.requests), 1, max);
    Some((LimitInfo { window_seconds: 60, requests: Some((max, 0, wait)), tokens: None }, wait))
}

//! The enforcement contract: the headers the upstream sees and the local replies callers get. Every
//! later detector reports through these, so their names and formats are stable (see the README).

pub use crate::api::rfc3339;
use crate::api::{error_body, ErrorStyle, Rejection};
use crate::credential::Credential;
use crate::decision::Verdict;

/// Prefix of every header the filter owns; client-sent copies are removed.
pub const HEADER_PREFIX: &str = "x-distill-";
/// Hashed credential id.
pub const CREDENTIAL_HEADER: &str = "x-distill-credential";
/// Tenant, when one was identified.
pub const TENANT_HEADER: &str = "x-distill-tenant";
/// Computed verdict.
pub const VERDICT_HEADER: &str = "x-distill-verdict";
/// Suspicion score, two decimals.
pub const SCORE_HEADER: &str = "x-distill-score";
/// Comma list of reasons.
pub const SIGNALS_HEADER: &str = "x-distill-signals";
/// `true` when the computed verdict was not enforced (shadow mode).
pub const SHADOW_HEADER: &str = "x-distill-shadow";
/// The prompt template fingerprint (for `detection.campaign.allow_fingerprints`).
pub const TEMPLATE_HEADER: &str = "x-distill-template";

/// True for a header name the filter owns (case-insensitive).
pub fn is_owned_header(name: &str) -> bool {
    name.len() >= HEADER_PREFIX.len()
        && name.get(..HEADER_PREFIX.len()).is_some_and(|p| p.eq_ignore_ascii_case(HEADER_PREFIX))
}

/// Headers added to the request forwarded upstream.
pub fn upstream_headers(
    credential: &Credential,
    verdict: &Verdict,
    template: Option<u64>,
) -> Vec<(&'static str, String)> {
    let mut headers = Vec::with_capacity(7);
    each_upstream_header(credential, verdict, template, |name, value| headers.push((name, value)));
    headers
}

/// The headers of [`upstream_headers`], in the same order, handed to `add` one at a time (no list
/// built on the request path).
pub fn each_upstream_header(
    credential: &Credential,
    verdict: &Verdict,
    template: Option<u64>,
    mut add: impl FnMut(&'static str, String),
) {
    add(CREDENTIAL_HEADER, credential.id.clone());
    add(VERDICT_HEADER, verdict.action.name().to_string());
    add(SCORE_HEADER, two_decimals(verdict.score.clamp(0.0, 1.0)));
    let signals = verdict.signal_list();
    if !signals.is_empty() {
        add(SIGNALS_HEADER, signals);
    }
    if let Some(t) = &credential.tenant {
        add(TENANT_HEADER, t.clone());
    }
    if verdict.shadowed() {
        add(SHADOW_HEADER, "true".to_string());
    }
    if let Some(t) = template {
        add(TEMPLATE_HEADER, crate::hash::hex(&t.to_be_bytes()));
    }
}

/// `format!("{:.2}", score)` for a score in [0, 1], without the formatting machinery: the hundredths
/// rounded to nearest; a score within a hair of a rounding boundary (or not finite) is left to
/// `format!`, whose exact decimal rounding then decides.
pub fn two_decimals(score: f64) -> String {
    let x = score * 100.0;
    let n = x.round();
    if !(0.0..=100.0).contains(&x) || ((x - x.floor()) - 0.5).abs() < 1e-6 {
        return format!("{score:.2}");
    }
    let n = n as u32;
    let digits = [b'0' + (n / 100) as u8, b'.', b'0' + ((n / 10) % 10) as u8, b'0' + (n % 10) as u8];
    String::from_utf8_lossy(&digits).into_owned()
}

/// A reply the filter sends instead of forwarding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalReply {
    /// HTTP status.
    pub status: u32,
    /// Headers (content-type included).
    pub headers: Vec<(String, String)>,
    /// JSON body in the caller's API format.
    pub body: String,
}

/// The message of a refusal. By default it is generic: nothing about *why* (no signal or budget
/// names, scores or thresholds) reaches the client, so a distiller cannot learn what to change; the
/// reasons stay in the structured log, the metrics and the upstream `x-distill-*` headers. `reveal`
/// (`detection.reveal_reasons`, for debugging) appends the verdict's signal list.
pub fn refusal_message(rejection: Rejection, verdict: Option<&Verdict>, reveal: bool) -> String {
    let signals = verdict.map(Verdict::signal_list).unwrap_or_default();
    let why = if reveal && !signals.is_empty() { format!(" ({signals})") } else { String::new() };
    match rejection {
        Rejection::MissingCredential => "No API key provided.".to_string(),
        Rejection::Blocked => format!("This request is not permitted{why}."),
        Rejection::Throttled => {
            let retry = verdict.and_then(|v| v.retry_after).unwrap_or(1);
            format!("Rate limit reached{why}. Please try again in {retry}s.")
        }
        Rejection::BodyTooLarge => "Request body is larger than this gateway inspects.".to_string(),
    }
}

/// The local reply for a rejection, with `Retry-After` and the API's rate-limit headers on 429. The
/// body's message is [`refusal_message`]: generic unless `reveal`.
pub fn local_reply(
    style: ErrorStyle,
    rejection: Rejection,
    verdict: Option<&Verdict>,
    reveal: bool,
    now_ms: u64,
) -> LocalReply {
    let message = refusal_message(rejection, verdict, reveal);
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    if rejection == Rejection::Throttled {
        if let Some(v) = verdict {
            let retry = v.retry_after.unwrap_or(1);
            headers.push(("retry-after".to_string(), retry.to_string()));
            if let Some(limit) = v.limit {
                for (kind, figures) in [("requests", limit.requests), ("tokens", limit.tokens)] {
                    let Some(figures) = figures else { continue };
                    headers.extend(style.rate_limit_headers(kind, figures, now_ms / 1000));
                }
            }
        }
    }
    LocalReply { status: rejection.status(), headers, body: error_body(style, rejection, &message) }
}

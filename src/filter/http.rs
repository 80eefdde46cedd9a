//! One HTTP exchange: phase callbacks → core → host actions.

use std::cell::Cell;
use std::rc::Rc;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action as HostAction, BufferType, MapType};

use super::metrics::Metrics;
use super::now_ms;
use super::store::EnvoySharedData;
use crate::api::{ApiKind, ErrorStyle, Rejection};
use crate::contract::{is_owned_header, local_reply, upstream_headers};
use crate::credential::{identify, Credential};
use crate::decision::{decide, precheck, settle, Charge, LedgerStats, Verdict};
use crate::host::{CachingStore, RecentReads};
use crate::ledger::Ledger;
use crate::policy::{Action, MissingCredential, OversizeBody, Policy};
use crate::request::{degrade, inspect, BodyStatus, RequestFacts};
use crate::response::{Metered, ResponseMeter, UsageSource};
use crate::tokens::Tokenizer;

/// The wasm memory gauge is refreshed every this many exchanges (context ids count up per VM).
const MEMORY_REPORT_EVERY: u32 = 256;

pub(super) struct Exchange {
    id: u32,
    policy: Rc<Policy>,
    metrics: Rc<Metrics>,
    recent: Rc<RecentReads>,
    api: ApiKind,
    style: ErrorStyle,
    credential: Option<Credential>,
    decided: bool,
    charge: Option<Charge>,
    meter: Option<ResponseMeter>,
    status: u32,
    tokenizer: Tokenizer,
    path: String,
    clock_ms: Cell<Option<u64>>,
    /// Headers-first mode: the request headers already went upstream (no header changes any more).
    headers_sent: bool,
}

impl Exchange {
    pub(super) fn new(id: u32, policy: Rc<Policy>, metrics: Rc<Metrics>, recent: Rc<RecentReads>) -> Self {
        if id % MEMORY_REPORT_EVERY == 0 {
            metrics.record_memory();
        }
        Self {
            id,
            policy,
            metrics,
            recent,
            api: ApiKind::Other,
            style: ErrorStyle::OpenAi,
            credential: None,
            decided: false,
            charge: None,
            meter: None,
            status: 0,
            tokenizer: Tokenizer::default(),
            path: String::new(),
            clock_ms: Cell::new(None),
            headers_sent: false,
        }
    }

    /// The request's time: the simulation clock header when the policy names one, else the host clock
    /// read once per exchange (the response is settled at the request's time: one clock call saved,
    /// and the same windows the request was charged in).
    fn now(&self) -> u64 {
        match self.clock_ms.get() {
            Some(t) => t,
            None => {
                let t = now_ms();
                self.clock_ms.set(Some(t));
                t
            }
        }
    }

    fn reply(&self, rejection: Rejection, verdict: Option<&Verdict>) {
        let reply = local_reply(self.style, rejection, verdict, self.now());
        let headers: Vec<(&str, &str)> = reply.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let _ = hostcalls::send_http_response(reply.status, headers, Some(reply.body.as_bytes()));
    }

    /// Sets (or with `None` removes) a request header, unless the headers already went upstream
    /// (the SDK traps on header calls after that).
    fn set_request_header(&self, name: &str, value: Option<&str>) {
        if self.headers_sent {
            return;
        }
        let _ = match value {
            Some(v) => hostcalls::set_map_value(MapType::HttpRequestHeaders, name, Some(v)),
            None => hostcalls::remove_map_value(MapType::HttpRequestHeaders, name),
        };
    }

    fn log_verdict(&self, verdict: &Verdict, credential: &Credential, phase: &str) {
        log::info!(
            "#{} distill-guard {{\"verdict\":\"{}\",\"enforced\":\"{}\",\"credential\":\"{}\",\"tenant\":{},\"api\":\"{}\",\"score\":{:.2},\"signals\":\"{}\",\"retry_after\":{},\"phase\":\"{}\"}}",
            self.id,
            verdict.action.name(),
            verdict.enforced.name(),
            credential.id,
            credential.tenant.as_deref().map(|t| format!("\"{t}\"")).unwrap_or_else(|| "null".into()),
            self.api.name(),
            verdict.score,
            verdict.signal_list(),
            verdict.retry_after.map(|r| r.to_string()).unwrap_or_else(|| "null".into()),
            phase,
        );
    }

    fn note_ledger(&self, stats: &LedgerStats) {
        let m = &self.metrics;
        m.add(Metrics::ledger_evictions, stats.evictions);
        m.add(Metrics::ledger_cas_retries, stats.cas_retries);
        m.add(Metrics::ledger_failures, stats.failures);
    }

    /// Decides with what is known and acts on it. `body` is the request body as it will be forwarded
    /// (for the degrade rewrite). Returns the host action for the current phase.
    fn decide_and_act(&mut self, mut facts: RequestFacts, body: Option<(&[u8], usize)>) -> HostAction {
        self.decided = true;
        self.tokenizer = facts.tokenizer;
        facts.path = std::mem::take(&mut self.path);
        let Some(credential) = self.credential.clone() else { return HostAction::Continue };
        let store = CachingStore::new(&EnvoySharedData, &self.recent);
        let ledger = Ledger::new(&self.policy.ledger, &store);
        let now = self.now();
        let decision = decide(&self.policy, &ledger, &credential, &facts, now);
        self.note_ledger(&decision.stats);
        if let Some(tracked) = decision.stats.tracked {
            self.metrics.set(Metrics::tracked_credentials, tracked);
        }
        let verdict = decision.verdict;
        let m = &self.metrics;
        m.add(Metrics::verdict(verdict.action), 1);
        if verdict.shadowed() {
            m.add(Metrics::requests_shadowed, 1);
        }
        match facts.body {
            BodyStatus::Oversize => m.add(Metrics::body_not_inspected, 1),
            BodyStatus::Unparsed => m.add(Metrics::body_unparsed, 1),
            _ => {}
        }
        if facts.usage_injected {
            m.add(Metrics::usage_injected, 1);
        }
        if verdict.action != Action::Allow {
            self.log_verdict(&verdict, &credential, "body");
        }
        self.charge = decision.charge;
        if let Some(rejection) = verdict.rejection() {
            self.reply(rejection, Some(&verdict));
            return HostAction::Pause;
        }
        if verdict.enforced == Action::Degrade {
            m.add(Metrics::requests_degraded, 1);
            let cfg = &self.policy.detection.degrade;
            if let Some((current, size)) = body {
                if let Some(new_body) = degrade(current, cfg) {
                    if hostcalls::set_buffer(BufferType::HttpRequestBody, 0, size, &new_body).is_ok() {
                        self.set_request_header("content-length", None);
                    }
                }
            }
            if let Some((name, value)) = &cfg.route_header {
                // Envoy re-selects the route after a wasm filter changes request headers.
                self.set_request_header(name, Some(value));
            }
        }
        let template = facts.shape.as_ref().map(|s| s.template).filter(|t| *t != 0);
        for (name, value) in upstream_headers(&credential, &verdict, template) {
            self.set_request_header(name, Some(&value));
        }
        HostAction::Continue
    }

    /// Headers-first mode: decide what can be decided without the body, send the headers upstream,
    /// and leave the body verdict (reject or rewrite) for the body phase.
    fn headers_first(&mut self) -> HostAction {
        let Some(credential) = self.credential.clone() else { return HostAction::Continue };
        let store = EnvoySharedData;
        let ledger = Ledger::new(&self.policy.ledger, &store);
        let verdict = precheck(&self.policy, &ledger, &credential, self.now());
        if let Some(rejection) = verdict.rejection() {
            self.decided = true;
            self.metrics.add(Metrics::verdict(verdict.action), 1);
            self.log_verdict(&verdict, &credential, "headers");
            self.reply(rejection, Some(&verdict));
            return HostAction::Pause;
        }
        for (name, value) in upstream_headers(&credential, &verdict, None) {
            self.set_request_header(name, Some(&value));
        }
        // Chunked from here on, so the body can still be rewritten (include_usage, degrade).
        self.set_request_header("content-length", None);
        self.headers_sent = true;
        HostAction::Continue
    }
}

/// A header's value from a map read in one call (names compared without case).
fn find_header<'a>(headers: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_slice())
}

impl Context for Exchange {}

impl HttpContext for Exchange {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> HostAction {
        let headers = hostcalls::get_map_bytes(MapType::HttpRequestHeaders).unwrap_or_default();
        // Remove every client-sent copy of the filter's own headers before anything else.
        let mut removed: Vec<&str> = Vec::new();
        for (name, _) in &headers {
            if is_owned_header(name) && !removed.contains(&name.as_str()) {
                let _ = hostcalls::remove_map_value(MapType::HttpRequestHeaders, name);
                removed.push(name);
            }
        }
        let header = |wanted: &str| -> Option<String> {
            find_header(&headers, wanted).and_then(|v| String::from_utf8(v.to_vec()).ok())
        };
        self.path = header(":path").unwrap_or_default();
        self.api = ApiKind::from_path(&self.path);
        if let Some(clock) = &self.policy.detection.clock_header {
            self.clock_ms.set(header(clock).and_then(|v| v.trim().parse().ok()));
        }
        self.style = ErrorStyle::for_request(self.api, header("anthropic-version").is_some());
        // The client address is only read when the policy tracks anonymous requests by it (a host call).
        let address = (self.policy.credential.missing == MissingCredential::TrackClientAddress)
            .then(|| hostcalls::get_property(vec!["source", "address"]).ok().flatten())
            .flatten()
            .and_then(|b| String::from_utf8(b).ok());
        match identify(&self.policy.credential, &header, address.as_deref()) {
            Ok(c) => self.credential = Some(c),
            Err(_) => {
                self.decided = true;
                self.metrics.add(Metrics::missing_credential, 1);
                self.metrics.add(Metrics::requests_block, 1);
                log::info!(
                    "#{} distill-guard {{\"verdict\":\"block\",\"reason\":\"missing_credential\",\"api\":\"{}\"}}",
                    self.id,
                    self.api.name()
                );
                self.reply(Rejection::MissingCredential, None);
                return HostAction::Pause;
            }
        }
        if end_of_stream {
            return self.decide_and_act(RequestFacts::uninspected(self.api, BodyStatus::Empty, 0), None);
        }
        if !self.policy.inspection.hold_headers {
            return self.headers_first();
        }
        // Hold the headers until the body is read (needs allow_on_headers_stop_iteration).
        HostAction::Pause
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> HostAction {
        if self.decided {
            return HostAction::Continue;
        }
        let cap = self.policy.inspection.max_body_bytes;
        if body_size as u64 > cap {
            if self.policy.inspection.oversize_body == OversizeBody::Block {
                self.decided = true;
                self.metrics.add(Metrics::body_not_inspected, 1);
                self.reply(Rejection::BodyTooLarge, None);
                return HostAction::Pause;
            }
            return self
                .decide_and_act(RequestFacts::uninspected(self.api, BodyStatus::Oversize, body_size as u64), None);
        }
        if !end_of_stream {
            return HostAction::Pause;
        }
        let body = hostcalls::get_buffer(BufferType::HttpRequestBody, 0, body_size).ok().flatten().unwrap_or_default();
        let detection = &self.policy.detection;
        let shape = detection.enabled.then_some(&detection.shape);
        let inspected = inspect(self.api, &body, self.policy.inspection.inject_include_usage, shape);
        let mut forwarded: (&[u8], usize) = (&body, body_size);
        if let Some(new_body) = &inspected.rewritten {
            if hostcalls::set_buffer(BufferType::HttpRequestBody, 0, body_size, new_body).is_ok() {
                self.set_request_header("content-length", None);
                forwarded = (new_body, new_body.len());
            }
        }
        self.decide_and_act(inspected.facts, Some(forwarded))
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> HostAction {
        if self.charge.is_none() {
            return HostAction::Continue;
        }
        // One read of the whole map (a handful of headers) instead of one call per header.
        let headers = hostcalls::get_map_bytes(MapType::HttpResponseHeaders).unwrap_or_default();
        let get = |name: &str| find_header(&headers, name);
        self.status =
            get(":status").and_then(|s| std::str::from_utf8(s).ok()).and_then(|s| s.parse().ok()).unwrap_or(0);
        let streaming =
            get("content-type").is_some_and(|c| c.windows(17).any(|w| w.eq_ignore_ascii_case(b"text/event-stream")));
        let cap = usize::try_from(self.policy.inspection.max_response_bytes).unwrap_or(usize::MAX);
        self.meter = Some(ResponseMeter::with_tokenizer(self.api, streaming, cap, self.tokenizer));
        HostAction::Continue
    }

    fn on_http_response_body(&mut self, body_size: usize, _end_of_stream: bool) -> HostAction {
        if let Some(meter) = self.meter.as_mut() {
            if body_size > 0 {
                if let Ok(Some(chunk)) = hostcalls::get_buffer(BufferType::HttpResponseBody, 0, body_size) {
                    meter.feed(&chunk);
                }
            }
        }
        HostAction::Continue
    }

    fn on_log(&mut self) {
        let Some(charge) = self.charge.take() else { return };
        let mut metered = match self.meter.as_mut() {
            Some(meter) => meter.finish(),
            None => Metered { input: None, output: 0, cached_input: 0, reasoning: 0, source: UsageSource::Estimated },
        };
        // An upstream error without usage is not billed: take the input estimate back.
        if self.status >= 400 && metered.input.is_none() && metered.output == 0 {
            metered.input = Some(0);
        }
        let store = EnvoySharedData;
        let ledger = Ledger::new(&self.policy.ledger, &store);
        let stats = settle(&ledger, &charge, &metered, self.now());
        self.note_ledger(&stats);
        let m = &self.metrics;
        m.add(Metrics::tokens_input, metered.input.unwrap_or(charge.estimated_input));
        m.add(Metrics::tokens_output, metered.output);
        m.add(Metrics::tokens_reasoning, metered.reasoning);
        m.add(Metrics::tokens_cached, metered.cached_input);
        if metered.source != UsageSource::Reported {
            m.add(Metrics::usage_estimated, 1);
        }
    }
}

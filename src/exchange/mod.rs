//! One HTTP exchange, phase by phase: the request's state machine in the core.
//!
//! The adapter calls one method per host callback. Each method reads the host facts it needs through
//! [`ExchangeHost`] (lazily: every read is a host call, so nothing is read that the phase does not
//! use) and answers with an [`Answer`]: whether the host should continue or hold the stream, and the
//! [`HostAction`]s to perform, in order. Every rule of the exchange lives here — which headers are
//! stripped and added, when a body is read, rewritten or refused, how a response is metered, what is
//! refunded, what is logged — so the whole flow runs natively against a fake host
//! ([`FakeHost`]).
//!
//! Phases: request headers → request body → (call-out answers) → response headers → response body →
//! log. A phase that returns [`Flow::Pause`] without a local reply waits for more body or for a
//! call-out's answer; an answer phase resumes the request with [`HostAction::ResumeRequest`].

mod fake;
pub mod root;

use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;

use crate::api::{ApiKind, ErrorStyle, Rejection};
use crate::campaign::CampaignView;
use crate::contract::{each_upstream_header, is_owned_header, local_reply, LocalReply};
use crate::credential::{identify, Credential};
use crate::decision::{
    campaign_system_prompt, campaign_template, decide_with_fleet, precheck, settle, Charge, FleetEvidence, LedgerStats,
    Verdict,
};
use crate::fleet::budgets::{request_needs, Need, SyncCheck, SyncOutcome};
use crate::fleet::export::{request_exports, settle_export};
use crate::fleet::replica::{Replica, TemplateCounts};
use crate::fleet::settings::FailMode;
use crate::fleet::wire;
use crate::host::SharedStore;
use crate::ledger::{Ledger, LocalLedger, Quantity};
use crate::metrics::Metrics;
use crate::policy::{Action, MissingCredential, OversizeBody, Policy};
use crate::request::{degrade, inspect, BodyStatus, RequestFacts};
use crate::response::{Metered, ResponseMeter, UsageChunkFilter, UsageSource};
use crate::tokens::Tokenizer;

pub use fake::FakeHost;

/// A header map as the host gives it: names (lower case) and raw values.
pub type HeaderMap = Vec<(String, Vec<u8>)>;

/// What the exchange may read from the host, on demand. Each read is one host call.
pub trait ExchangeHost {
    /// Milliseconds since the epoch (read at most once per exchange).
    fn now_ms(&self) -> u64;
    /// The downstream peer address (`source.address`), when known.
    fn client_address(&self) -> Option<String>;
    /// Every request header, in one read.
    fn request_headers(&self) -> HeaderMap;
    /// The buffered request body (`size` bytes).
    fn request_body(&self, size: usize) -> Vec<u8>;
    /// Every response header, in one read.
    fn response_headers(&self) -> HeaderMap;
    /// The response body chunk of `size` bytes just received.
    fn response_body(&self, size: usize) -> Option<Vec<u8>>;
    /// The process-wide shared data.
    fn store(&self) -> &dyn SharedStore;
}

/// Whether the host lets the stream go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Go on to the next filter.
    Continue,
    /// Hold the stream (the body is buffered, a local reply was sent, or a call-out is pending).
    Pause,
}

/// An asynchronous gRPC call the host makes on the exchange's behalf; its answer comes back through
/// [`Exchange::on_call_out_answer`] with the same `tag`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallOut {
    /// The exchange's own id for the call.
    pub tag: u32,
    /// Envoy cluster to call.
    pub cluster: String,
    /// gRPC service, e.g. `envoy.service.ratelimit.v3.RateLimitService`.
    pub service: String,
    /// gRPC method, e.g. `ShouldRateLimit`.
    pub method: String,
    /// The serialised request message.
    pub message: Vec<u8>,
    /// Give up after this long.
    pub timeout_ms: u64,
}

/// How a call-out ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOutcome {
    /// The serialised response message.
    Answered(Vec<u8>),
    /// gRPC status code of a failed call (a timeout or an unreachable cluster included), or the host
    /// refused to dispatch it.
    Failed(u32),
}

/// A header or property name: mostly one of the filter's own constants, kept without a copy.
pub type Name = Cow<'static, str>;

/// One thing the host does for the exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostAction {
    /// Sets a request header (replacing any value).
    SetRequestHeader(Name, String),
    /// Removes every value of a request header.
    RemoveRequestHeader(Name),
    /// Replaces the whole buffered request body, `current_len` bytes long, with new bytes.
    ReplaceRequestBody {
        /// Length of the body held by the host now.
        current_len: usize,
        /// The new body.
        body: Vec<u8>,
    },
    /// The request headers changed in a way that may select another route. (Envoy re-selects the
    /// route itself after a wasm filter changes request headers.)
    ClearRouteCache,
    /// Answers the request locally instead of forwarding it.
    SendLocalReply(LocalReply),
    /// Exports a value as filter state (`wasm.<name>`), readable by later Envoy filters.
    SetProperty(Name, Vec<u8>),
    /// An info-level log line.
    Log(String),
    /// Starts an asynchronous gRPC call (boxed: the rare action, and the largest, would otherwise set
    /// the size of every action).
    CallOut(Box<CallOut>),
    /// Lets a request held for a call-out go on.
    ResumeRequest,
    /// Removes every value of a response header.
    RemoveResponseHeader(Name),
    /// Sets a response header (replacing any value).
    SetResponseHeader(Name, String),
    /// Replaces the response body chunk just received, `current_len` bytes long, with new bytes.
    ReplaceResponseBody {
        /// Length of the chunk held by the host now.
        current_len: usize,
        /// The bytes to pass on instead.
        body: Vec<u8>,
    },
}

/// A phase's answer to the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Continue or hold the stream.
    pub flow: Flow,
    /// What to do, in order.
    pub actions: Vec<HostAction>,
}

impl Answer {
    fn go_on() -> Self {
        Answer { flow: Flow::Continue, actions: Vec::new() }
    }
}

/// A plugin configuration, read: the policy to install, or why it was refused (the running policy
/// keeps serving). Either way with the line to log, and the policy metrics counted.
#[derive(Debug)]
pub enum Configured {
    /// Install this policy; log the line at info level.
    Accepted(Box<Policy>, String),
    /// Keep the running policy; log the line at error level.
    Rejected(String),
}

/// Reads a plugin configuration (the policy JSON). `env` resolves `credential.hash_secret_env`.
pub fn configure(bytes: &[u8], env: &dyn Fn(&str) -> Option<String>, metrics: &Metrics) -> Configured {
    match Policy::parse(bytes, env) {
        Ok(policy) => {
            metrics.add(Metrics::policy_reloads, 1);
            metrics.set(Metrics::policy_revision, policy.revision_number);
            let line = format!("distill-guard: policy accepted {}", policy.summary());
            Configured::Accepted(Box::new(policy), line)
        }
        Err(e) => {
            metrics.add(Metrics::policy_rejections, 1);
            Configured::Rejected(format!("distill-guard: policy rejected, previous policy keeps serving: {e}"))
        }
    }
}

/// The content type that marks a streamed (SSE) response.
const EVENT_STREAM: &[u8] = b"text/event-stream";

/// One HTTP exchange's state between phases.
#[derive(Debug)]
pub struct Exchange {
    id: u32,
    policy: Rc<Policy>,
    metrics: Rc<Metrics>,
    api: ApiKind,
    style: ErrorStyle,
    credential: Option<Credential>,
    decided: bool,
    charge: Option<Charge>,
    meter: Option<ResponseMeter>,
    /// The filter added `include_usage` the client did not ask for.
    usage_injected: bool,
    /// Removes the injected usage-only chunk from the streamed response.
    usage_filter: Option<UsageChunkFilter>,
    status: u32,
    tokenizer: Tokenizer,
    path: String,
    clock_ms: Option<u64>,
    /// Headers-first mode: the request headers already went upstream (no header changes any more).
    headers_sent: bool,
    /// This VM's fleet counters, when the policy's `fleet` section is on.
    fleet: Option<Rc<RefCell<Replica>>>,
    /// The token estimate exported as filter state for Envoy's rate limit filter, once exported.
    exported_estimate: Option<u64>,
    /// Envoy's rate limit filter refused the request (`x-envoy-ratelimited` on the response).
    ratelimited: bool,
    /// A verdict line was logged (the verdict was not `allow`): the log phase logs the settled usage.
    flagged: bool,
    /// This VM's view of the ledger (decisions far from a limit stay off shared data).
    local_ledger: Option<Rc<RefCell<LocalLedger>>>,
    /// The request held for a synchronous fleet budget check (`fleet.budgets: "filter"`).
    waiting: Option<Waiting>,
    /// The fleet-wide budget limits the forwarded request was charged to (its token remainder is
    /// charged when it settles).
    fleet_needs: Vec<Need>,
    /// `fleet_needs` are not charged yet (no synchronous check did): charge them if forwarded.
    fleet_uncharged: bool,
}

/// A request held while its synchronous fleet budget check is answered.
#[derive(Debug)]
struct Waiting {
    credential: Credential,
    facts: RequestFacts,
    forwarded: Option<Forwarded>,
    check: SyncCheck,
    needs: Vec<Need>,
}

/// The tag of the synchronous fleet budget check (one per exchange at most).
const SYNC_CHECK_TAG: u32 = 1;

/// A header's value from a map read in one call (names compared without case).
fn find_header<'a>(headers: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_slice())
}

impl Exchange {
    /// A new exchange; `id` is the host's context id (it prefixes the log lines).
    pub fn new(id: u32, policy: Rc<Policy>, metrics: Rc<Metrics>) -> Self {
        Self {
            id,
            policy,
            metrics,
            api: ApiKind::Other,
            style: ErrorStyle::OpenAi,
            credential: None,
            decided: false,
            charge: None,
            meter: None,
            usage_injected: false,
            usage_filter: None,
            status: 0,
            tokenizer: Tokenizer::default(),
            path: String::new(),
            clock_ms: None,
            headers_sent: false,
            fleet: None,
            exported_estimate: None,
            ratelimited: false,
            flagged: false,
            local_ledger: None,
            waiting: None,
            fleet_needs: Vec::new(),
            fleet_uncharged: false,
        }
    }

    /// Shares this VM's view of the ledger with the exchange.
    pub fn with_local_ledger(mut self, local: Rc<RefCell<LocalLedger>>) -> Self {
        self.local_ledger = Some(local);
        self
    }

    /// The ledger over the host's shared data, through this VM's view when there is one.
    fn ledger<'a>(&'a self, host: &'a dyn ExchangeHost) -> Ledger<'a> {
        Ledger::new(&self.policy.ledger, host.store()).with_local(self.local_ledger.as_deref())
    }

    /// Shares this VM's fleet counters with the exchange (the policy's `fleet` section is on).
    pub fn with_fleet(mut self, replica: Rc<RefCell<Replica>>) -> Self {
        self.fleet = Some(replica);
        self
    }

    /// Exports the credential id, the tenant and the token estimate as filter state for Envoy's rate
    /// limit filter (fleet-wide budgets), once, before the request goes on.
    fn export_request(&mut self, credential: &Credential, estimate: u64, actions: &mut Vec<HostAction>) {
        if self.exported_estimate.is_some() {
            return;
        }
        self.exported_estimate = Some(estimate);
        for (name, value) in request_exports(&credential.id, credential.tenant.as_deref(), estimate) {
            actions.push(HostAction::SetProperty(Cow::Borrowed(name), value.into_bytes()));
        }
    }

    /// Records the request in the fleet counters and reads what the fleet saw of its template and
    /// credential. Nothing without a `fleet` section; `Err(())` when the policy fails closed and the
    /// service is down.
    fn fleet_view(&self, credential: &Credential, facts: &RequestFacts, now: u64) -> Result<FleetEvidence, ()> {
        let Some(cell) = &self.fleet else { return Ok(FleetEvidence::default()) };
        let Ok(mut replica) = cell.try_borrow_mut() else { return Ok(FleetEvidence::default()) };
        let template = campaign_template(&self.policy, facts);
        let prompt = template.and(facts.shape.as_ref().map(|s| s.content));
        let system = campaign_system_prompt(&self.policy, facts);
        let system_prompt = facts.shape.as_ref().map(|s| s.content);
        let kept = replica.record(&credential.id, template, prompt)
            & system.is_none_or(|s| replica.record_system_prompt(&credential.id, s, system_prompt));
        if !kept {
            self.metrics.add(Metrics::fleet_dropped, 1);
        }
        if replica.refuses() {
            return Err(());
        }
        let view = |c: TemplateCounts| CampaignView { credentials: c.credentials as f32, contents: c.prompts as f32 };
        Ok(FleetEvidence {
            template: template.and_then(|t| replica.template_counts(t, now)).map(view),
            system_prompt: system.and_then(|s| replica.system_prompt_counts(s, now)).map(view),
            requests_hour: replica.credential_requests(&credential.id, now),
        })
    }

    /// The request's time: the simulation clock header when the policy names one, else the host clock
    /// read once per exchange (the response is settled at the request's time: one clock call saved,
    /// and the same windows the request was charged in).
    fn now(&mut self, host: &dyn ExchangeHost) -> u64 {
        *self.clock_ms.get_or_insert_with(|| host.now_ms())
    }

    fn reply(&mut self, host: &dyn ExchangeHost, rejection: Rejection, verdict: Option<&Verdict>) -> HostAction {
        let reveal = self.policy.detection.reveal_reasons;
        HostAction::SendLocalReply(local_reply(self.style, rejection, verdict, reveal, self.now(host)))
    }

    /// Sets (or with `None` removes) a request header, unless the headers already went upstream
    /// (the host refuses header changes after that).
    fn request_header(&self, actions: &mut Vec<HostAction>, name: impl Into<Name>, value: Option<String>) {
        if self.headers_sent {
            return;
        }
        let name = name.into();
        actions.push(match value {
            Some(v) => HostAction::SetRequestHeader(name, v),
            None => HostAction::RemoveRequestHeader(name),
        });
    }

    fn verdict_line(&self, verdict: &Verdict, credential: &Credential, phase: &str) -> HostAction {
        HostAction::Log(format!(
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
        ))
    }

    /// The usage a flagged exchange settled with, for the operator report: input and output tokens
    /// (reported by the API when metered, else the estimate) and whether they are exact.
    fn settled_line(&self, credential: &Credential, input: u64, metered: &Metered) -> HostAction {
        HostAction::Log(format!(
            "#{} distill-guard {{\"settled\":\"{}\",\"credential\":\"{}\",\"tenant\":{},\"api\":\"{}\",\"input_tokens\":{},\"output_tokens\":{},\"exact\":{}}}",
            self.id,
            match metered.source {
                UsageSource::Reported => "reported",
                UsageSource::PartlyEstimated => "partly_estimated",
                UsageSource::Estimated => "estimated",
            },
            credential.id,
            credential.tenant.as_deref().map(|t| format!("\"{t}\"")).unwrap_or_else(|| "null".into()),
            self.api.name(),
            input,
            metered.output,
            metered.source == UsageSource::Reported,
        ))
    }

    fn note_ledger(&self, stats: &LedgerStats) {
        let m = &self.metrics;
        m.add(Metrics::ledger_evictions, stats.evictions);
        m.add(Metrics::ledger_cas_retries, stats.cas_retries);
        m.add(Metrics::ledger_failures, stats.failures);
    }

    /// Request headers: strips client-sent `x-distill-*` headers, identifies the credential (or answers
    /// 401), and holds the headers for the body — or, in headers-first mode, decides what it can now.
    pub fn on_request_headers(&mut self, host: &dyn ExchangeHost, end_of_stream: bool) -> Answer {
        let headers = host.request_headers();
        let mut actions = Vec::new();
        // Remove every client-sent copy of the filter's own headers before anything else.
        for (i, (name, _)) in headers.iter().enumerate() {
            if is_owned_header(name) && !headers.iter().take(i).any(|(earlier, _)| earlier == name) {
                actions.push(HostAction::RemoveRequestHeader(Cow::Owned(name.clone())));
            }
        }
        let header = |wanted: &str| -> Option<String> {
            find_header(&headers, wanted).and_then(|v| String::from_utf8(v.to_vec()).ok())
        };
        self.path = header(":path").unwrap_or_default();
        self.api = ApiKind::from_path(&self.path);
        if let Some(clock) = &self.policy.detection.clock_header {
            self.clock_ms = header(clock).and_then(|v| v.trim().parse().ok());
        }
        self.style = ErrorStyle::for_request(self.api, header("anthropic-version").is_some());
        // The client address is only read when the policy tracks anonymous requests by it (a host call).
        let address = (self.policy.credential.missing == MissingCredential::TrackClientAddress)
            .then(|| host.client_address())
            .flatten();
        match identify(&self.policy.credential, &header, address.as_deref()) {
            Ok(c) => self.credential = Some(c),
            Err(_) => {
                self.decided = true;
                self.metrics.add(Metrics::missing_credential, 1);
                self.metrics.add(Metrics::requests_block, 1);
                actions.push(HostAction::Log(format!(
                    "#{} distill-guard {{\"verdict\":\"block\",\"reason\":\"missing_credential\",\"api\":\"{}\"}}",
                    self.id,
                    self.api.name()
                )));
                actions.push(self.reply(host, Rejection::MissingCredential, None));
                return Answer { flow: Flow::Pause, actions };
            }
        }
        let flow = if end_of_stream {
            self.decide_and_act(host, RequestFacts::uninspected(self.api, BodyStatus::Empty, 0), None, &mut actions)
        } else if !self.policy.inspection.hold_headers {
            self.headers_first(host, &mut actions)
        } else {
            // Hold the headers until the body is read (needs allow_on_headers_stop_iteration).
            Flow::Pause
        };
        Answer { flow, actions }
    }

    /// Request body: buffers to the end of the stream (capped), inspects, decides and acts.
    pub fn on_request_body(&mut self, host: &dyn ExchangeHost, body_size: usize, end_of_stream: bool) -> Answer {
        if self.decided {
            return Answer::go_on();
        }
        let mut actions = Vec::new();
        let cap = self.policy.inspection.max_body_bytes;
        if body_size as u64 > cap {
            if self.policy.inspection.oversize_body == OversizeBody::Block {
                self.decided = true;
                self.metrics.add(Metrics::body_not_inspected, 1);
                actions.push(self.reply(host, Rejection::BodyTooLarge, None));
                return Answer { flow: Flow::Pause, actions };
            }
            let facts = RequestFacts::uninspected(self.api, BodyStatus::Oversize, body_size as u64);
            let flow = self.decide_and_act(host, facts, None, &mut actions);
            return Answer { flow, actions };
        }
        if !end_of_stream {
            return Answer { flow: Flow::Pause, actions };
        }
        let body = host.request_body(body_size);
        let detection = &self.policy.detection;
        let shape = detection.enabled.then_some(&detection.shape);
        let inspected = inspect(self.api, &body, self.policy.inspection.inject_include_usage, shape);
        let forwarded = match inspected.rewritten {
            Some(new_body) => Forwarded { original_len: body_size, body: new_body, rewritten: true },
            None => Forwarded { original_len: body_size, body, rewritten: false },
        };
        let flow = self.decide_and_act(host, inspected.facts, Some(forwarded), &mut actions);
        Answer { flow, actions }
    }

    /// The answer to a call-out started by this exchange: the synchronous fleet budget check. The
    /// request is decided on it (refused when the fleet count passes a budget; on no answer, as
    /// `fleet.fail` says) and resumed when it goes on.
    pub fn on_call_out_answer(&mut self, host: &dyn ExchangeHost, tag: u32, outcome: CallOutcome) -> Answer {
        let Some(w) = self.waiting.take().filter(|_| tag == SYNC_CHECK_TAG) else { return Answer::go_on() };
        let now = self.now(host);
        let mut actions = Vec::new();
        let decided = match self.fleet.as_ref().and_then(|f| f.try_borrow_mut().ok()) {
            Some(mut replica) => {
                let outcome = match &outcome {
                    CallOutcome::Answered(bytes) => Ok(bytes.as_slice()),
                    CallOutcome::Failed(status) => Err(format!("gRPC status {status}")),
                };
                let decided = replica.budget_answered(w.check, outcome, now, &self.metrics);
                (decided, replica.settings().fail == FailMode::Closed)
            }
            None => (SyncOutcome::Unavailable("no fleet counters".into()), false),
        };
        match decided {
            (SyncOutcome::Refuse(verdict), _) => self.refuse_fleet_budget(host, &w.credential, &verdict, &mut actions),
            (SyncOutcome::Unavailable(_), true) => self.refuse_fleet_unavailable(host, &w.credential, &mut actions),
            (admitted, _) => {
                // Admitted by the service (charged there), or failing open (charged with the next batch).
                self.fleet_uncharged = !matches!(admitted, SyncOutcome::Admit);
                self.fleet_needs = w.needs;
                if self.decide_now(host, &w.credential, w.facts, w.forwarded, now, &mut actions) == Flow::Continue {
                    actions.push(HostAction::ResumeRequest);
                }
            }
        }
        // The answer's own callback: the request is resumed (or answered) by the actions.
        Answer { flow: Flow::Continue, actions }
    }

    /// The fleet count passed a budget: `429` like the filter's own budget refusals.
    fn refuse_fleet_budget(
        &mut self,
        host: &dyn ExchangeHost,
        credential: &Credential,
        verdict: &Verdict,
        actions: &mut Vec<HostAction>,
    ) {
        self.metrics.add(Metrics::verdict(verdict.action), 1);
        self.flagged = true;
        actions.push(self.verdict_line(verdict, credential, "fleet"));
        actions.push(self.reply(host, Rejection::Throttled, Some(verdict)));
    }

    /// The service is unreachable and the policy fails closed: `429`, counted in `fleet.refused`.
    fn refuse_fleet_unavailable(
        &mut self,
        host: &dyn ExchangeHost,
        credential: &Credential,
        actions: &mut Vec<HostAction>,
    ) {
        self.metrics.add(Metrics::fleet_refused, 1);
        self.metrics.add(Metrics::requests_throttle, 1);
        actions.push(HostAction::Log(format!(
            "#{} distill-guard {{\"verdict\":\"throttle\",\"reason\":\"fleet_unavailable\",\"credential\":\"{}\"}}",
            self.id, credential.id
        )));
        actions.push(self.reply(host, Rejection::Throttled, None));
    }

    /// Response headers: the status (for the refund rule) and a meter for the body, JSON or SSE by the
    /// content type. Nothing is read when nothing was charged. A stream whose `include_usage` the
    /// filter injected also gets the usage-chunk filter (and loses any `content-length`, as its
    /// length changes).
    pub fn on_response_headers(&mut self, host: &dyn ExchangeHost) -> Answer {
        if self.charge.is_none() && self.exported_estimate.is_none() {
            return Answer::go_on();
        }
        // One read of the whole map (a handful of headers) instead of one call per header.
        let headers = host.response_headers();
        let get = |name: &str| find_header(&headers, name);
        self.ratelimited = get("x-envoy-ratelimited").is_some();
        let mut answer = Answer::go_on();
        if self.ratelimited {
            // Envoy's rate limit filter refused it (fleet-wide budgets; the body is the API's error,
            // from the fleet configs' local reply mappers): say so no more than the filter's own 429
            // does, and give the wait as `retry-after` like it.
            answer.actions.push(HostAction::RemoveResponseHeader(Cow::Borrowed("x-envoy-ratelimited")));
            let reset = get("x-ratelimit-reset").and_then(|v| std::str::from_utf8(v).ok()).map(str::trim);
            if let (None, Some(reset)) = (get("retry-after"), reset.filter(|r| r.parse::<u64>().is_ok())) {
                answer.actions.push(HostAction::SetResponseHeader(Cow::Borrowed("retry-after"), reset.to_string()));
            }
        }
        self.status =
            get(":status").and_then(|s| std::str::from_utf8(s).ok()).and_then(|s| s.parse().ok()).unwrap_or(0);
        let streaming = get("content-type")
            .is_some_and(|c| c.windows(EVENT_STREAM.len()).any(|w| w.eq_ignore_ascii_case(EVENT_STREAM)));
        let cap = usize::try_from(self.policy.inspection.max_response_bytes).unwrap_or(usize::MAX);
        self.meter = Some(ResponseMeter::with_tokenizer(self.api, streaming, cap, self.tokenizer));
        if self.usage_injected && streaming {
            self.usage_filter = Some(UsageChunkFilter::new(self.api));
            if get("content-length").is_some() {
                answer.actions.push(HostAction::RemoveResponseHeader(Cow::Borrowed("content-length")));
            }
        }
        answer
    }

    /// A response body chunk: metered as it passes. When the filter injected `include_usage`, the
    /// usage-only chunk is removed after metering, and an event split at the chunk's end is held
    /// back until it is whole (the chunk is replaced by what goes on).
    pub fn on_response_body(&mut self, host: &dyn ExchangeHost, body_size: usize, end_of_stream: bool) -> Answer {
        let mut answer = Answer::go_on();
        if self.meter.is_none() && self.usage_filter.is_none() {
            return answer;
        }
        let chunk = if body_size > 0 { host.response_body(body_size) } else { None };
        // With the filter, the meter's scan of the chunk frames its events for the filter too.
        match (self.usage_filter.as_mut(), self.meter.as_mut(), chunk) {
            (Some(filter), Some(meter), Some(chunk)) => {
                if let Some(body) = meter.feed_filtered(&chunk, end_of_stream, filter) {
                    answer.actions.push(HostAction::ReplaceResponseBody { current_len: body_size, body });
                }
            }
            (Some(filter), Some(meter), None) if body_size == 0 => {
                if let Some(body) = meter.feed_filtered(&[], end_of_stream, filter) {
                    answer.actions.push(HostAction::ReplaceResponseBody { current_len: 0, body });
                }
            }
            (Some(filter), None, Some(chunk)) => {
                if let Some(body) = filter.filter(&chunk, end_of_stream) {
                    answer.actions.push(HostAction::ReplaceResponseBody { current_len: body_size, body });
                }
            }
            (None, Some(meter), Some(chunk)) => meter.feed_chunk(&chunk, end_of_stream),
            (Some(_), _, _) => {
                // An unreadable chunk: stop filtering; what was held goes on in front of it.
                let held = self.usage_filter.take().map(UsageChunkFilter::release).unwrap_or_default();
                if !held.is_empty() {
                    answer.actions.push(HostAction::ReplaceResponseBody { current_len: 0, body: held });
                }
            }
            (None, _, _) => {}
        }
        answer
    }

    /// The exchange is over: settles the ledger with the metered usage. An upstream error that
    /// reported no usage is not billed (the input estimate is taken back).
    pub fn on_log(&mut self, host: &dyn ExchangeHost) -> Vec<HostAction> {
        let exported = self.exported_estimate.take();
        if self.charge.is_none() && exported.is_none() {
            return Vec::new();
        }
        let mut metered = match self.meter.as_mut() {
            Some(meter) => meter.finish(),
            None => Metered { input: None, output: 0, cached_input: 0, reasoning: 0, source: UsageSource::Estimated },
        };
        if self.status >= 400 && metered.input.is_none() && metered.output == 0 {
            metered.input = Some(0);
        }
        let mut actions = Vec::new();
        if let Some(estimate) = exported {
            // Settled tokens as the ledger counts them: input (reported, else estimated) plus output.
            let estimated_input = self.charge.as_ref().map_or(estimate, |c| c.estimated_input);
            let settled = metered.input.unwrap_or(estimated_input).saturating_add(metered.output);
            let (name, value) = settle_export(estimate, settled, !self.ratelimited);
            actions.push(HostAction::SetProperty(Cow::Borrowed(name), value.into_bytes()));
            self.settle_fleet_budgets(settled.saturating_sub(estimate), host);
        }
        let Some(charge) = self.charge.take() else { return actions };
        let now = self.now(host);
        let ledger = self.ledger(host);
        let stats = settle(&ledger, &charge, &metered, now);
        self.note_ledger(&stats);
        let input = metered.input.unwrap_or(charge.estimated_input);
        if self.flagged {
            if let Some(credential) = &self.credential {
                actions.push(self.settled_line(credential, input, &metered));
            }
        }
        let m = &self.metrics;
        m.add(Metrics::tokens_input, input);
        m.add(Metrics::tokens_output, metered.output);
        m.add(Metrics::tokens_reasoning, metered.reasoning);
        m.add(Metrics::tokens_cached, metered.cached_input);
        if metered.source != UsageSource::Reported {
            m.add(Metrics::usage_estimated, 1);
        }
        actions
    }

    /// Charges the fleet-wide token limits the usage beyond the estimate (sent with the next batch), as
    /// Envoy's path charges it at stream end: a request counts max(estimate, usage).
    fn settle_fleet_budgets(&mut self, remainder: u64, host: &dyn ExchangeHost) {
        let needs = std::mem::take(&mut self.fleet_needs);
        if remainder == 0 || self.ratelimited {
            return;
        }
        let extra: Vec<Need> = needs
            .into_iter()
            .filter(|n| n.quantity == Quantity::Tokens)
            .map(|n| Need { hits: remainder, ..n })
            .collect();
        if extra.is_empty() {
            return;
        }
        let now = self.now(host);
        if let Some(mut replica) = self.fleet.as_ref().and_then(|f| f.try_borrow_mut().ok()) {
            replica.charge_budgets(&extra, now, &self.metrics);
        }
    }

    /// Decides with what is known and acts on it. `forwarded` is the request body as it will be
    /// forwarded (for the degrade rewrite).
    fn decide_and_act(
        &mut self,
        host: &dyn ExchangeHost,
        mut facts: RequestFacts,
        forwarded: Option<Forwarded>,
        actions: &mut Vec<HostAction>,
    ) -> Flow {
        self.decided = true;
        self.tokenizer = facts.tokenizer;
        facts.path = std::mem::take(&mut self.path);
        // Taken for the decision (not cloned) and put back after it.
        let Some(credential) = self.credential.take() else { return Flow::Continue };
        let flow = self.decide_with(host, &credential, facts, forwarded, actions);
        self.credential = Some(credential);
        flow
    }

    /// [`Exchange::decide_and_act`] for the exchange's credential.
    fn decide_with(
        &mut self,
        host: &dyn ExchangeHost,
        credential: &Credential,
        facts: RequestFacts,
        forwarded: Option<Forwarded>,
        actions: &mut Vec<HostAction>,
    ) -> Flow {
        let now = self.now(host);
        // Fleet-wide budgets enforced by the filter: near a limit, wait on the service's answer.
        let needs = request_needs(&self.policy, credential, facts.estimated_input_tokens);
        if !needs.is_empty() {
            let check = self.fleet.as_ref().and_then(|f| f.try_borrow_mut().ok()).and_then(|mut replica| {
                let check = replica.budget_check(&needs, now, &self.metrics)?;
                let s = replica.settings();
                Some((check, s.cluster.clone(), s.timeout_ms))
            });
            if let Some((check, cluster, timeout_ms)) = check {
                actions.push(HostAction::CallOut(Box::new(CallOut {
                    tag: SYNC_CHECK_TAG,
                    cluster,
                    service: wire::SERVICE.to_string(),
                    method: wire::METHOD.to_string(),
                    message: check.message.clone(),
                    timeout_ms,
                })));
                self.waiting = Some(Waiting { credential: credential.clone(), facts, forwarded, check, needs });
                return Flow::Pause;
            }
        }
        self.fleet_needs = needs;
        self.fleet_uncharged = true;
        self.decide_now(host, credential, facts, forwarded, now, actions)
    }

    /// [`Exchange::decide_and_act`] once the fleet-wide budgets let the request on (below the sync
    /// threshold, or the service's answer).
    fn decide_now(
        &mut self,
        host: &dyn ExchangeHost,
        credential: &Credential,
        facts: RequestFacts,
        forwarded: Option<Forwarded>,
        now: u64,
        actions: &mut Vec<HostAction>,
    ) -> Flow {
        let Ok(fleet) = self.fleet_view(credential, &facts, now) else {
            self.fleet_needs.clear();
            self.refuse_fleet_unavailable(host, credential, actions);
            return Flow::Pause;
        };
        let ledger = self.ledger(host);
        let decision = decide_with_fleet(&self.policy, &ledger, credential, &facts, fleet, now);
        self.note_ledger(&decision.stats);
        let m = &self.metrics;
        if let Some(tracked) = decision.stats.tracked {
            m.set(Metrics::tracked_credentials, tracked);
        }
        let verdict = decision.verdict;
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
        self.usage_injected = facts.usage_injected;
        self.flagged = verdict.action != Action::Allow;
        if self.flagged {
            actions.push(self.verdict_line(&verdict, credential, "body"));
        }
        self.charge = decision.charge;
        if let Some(rejection) = verdict.rejection() {
            self.fleet_needs.clear();
            actions.push(self.reply(host, rejection, Some(&verdict)));
            return Flow::Pause;
        }
        if std::mem::take(&mut self.fleet_uncharged) {
            if let Some(mut replica) = self.fleet.as_ref().and_then(|f| f.try_borrow_mut().ok()) {
                replica.charge_budgets(&self.fleet_needs, now, &self.metrics);
            }
        }
        let mut forwarded = forwarded;
        let mut route_header = None;
        if verdict.enforced == Action::Degrade {
            m.add(Metrics::requests_degraded, 1);
            let cfg = &self.policy.detection.degrade;
            // Only a body that parsed is rewritten (by its top-level spans, not parsed again).
            if let Some(f) = forwarded.as_mut().filter(|_| facts.body == BodyStatus::Parsed) {
                if let Some(new_body) = degrade(self.api, &f.body, cfg) {
                    f.body = new_body;
                    f.rewritten = true;
                }
            }
            route_header = cfg.route_header.clone();
        }
        if let Some(f) = forwarded.filter(|f| f.rewritten) {
            actions.push(HostAction::ReplaceRequestBody { current_len: f.original_len, body: f.body });
            self.request_header(actions, "content-length", None);
        }
        if let Some((name, value)) = route_header {
            self.request_header(actions, name, Some(value));
            if !self.headers_sent {
                actions.push(HostAction::ClearRouteCache);
            }
        }
        let template = facts.shape.as_ref().map(|s| s.template).filter(|t| *t != 0);
        // Room for the headers and the exports below at once (one allocation, not several).
        actions.reserve(10);
        each_upstream_header(credential, &verdict, template, |name, value| {
            self.request_header(actions, name, Some(value))
        });
        self.export_request(credential, facts.estimated_input_tokens, actions);
        Flow::Continue
    }

    /// Headers-first mode: decide what can be decided without the body, send the headers upstream,
    /// and leave the body verdict (reject or rewrite) for the body phase.
    fn headers_first(&mut self, host: &dyn ExchangeHost, actions: &mut Vec<HostAction>) -> Flow {
        let Some(credential) = self.credential.clone() else { return Flow::Continue };
        let now = self.now(host);
        let ledger = self.ledger(host);
        let verdict = precheck(&self.policy, &ledger, &credential, now);
        if let Some(rejection) = verdict.rejection() {
            self.decided = true;
            self.metrics.add(Metrics::verdict(verdict.action), 1);
            actions.push(self.verdict_line(&verdict, &credential, "headers"));
            actions.push(self.reply(host, rejection, Some(&verdict)));
            return Flow::Pause;
        }
        each_upstream_header(&credential, &verdict, None, |name, value| {
            self.request_header(actions, name, Some(value))
        });
        // Chunked from here on, so the body can still be rewritten (include_usage, degrade).
        self.request_header(actions, "content-length", None);
        // Envoy's rate limit filter reads the filter state as the headers pass: no estimate yet, so
        // the whole usage is charged at stream end.
        self.export_request(&credential, 0, actions);
        self.headers_sent = true;
        Flow::Continue
    }
}

/// The request body the host holds and what will be forwarded in its place.
#[derive(Debug)]
struct Forwarded {
    /// Length of the body the host holds.
    original_len: usize,
    /// The body to forward.
    body: Vec<u8>,
    /// `body` differs from what the host holds.
    rewritten: bool,
}

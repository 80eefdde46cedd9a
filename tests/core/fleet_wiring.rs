//! The fleet wiring: the filter state an exchange exports for Envoy's rate limit filter, and one VM's
//! fleet counters ([`Replica`]) flushing to a rate limit service that counts like envoyproxy/ratelimit
//! (a fake here; tests/e2e/test_fleet_*.py run the real one).

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use distill_guard::credential::identify;
use distill_guard::detection::{strengths, CampaignEvidence, Detector};
use distill_guard::exchange::{CallOutcome, Exchange, FakeHost, Flow, HostAction};
use distill_guard::fleet::budgets::{BudgetKey, Need};
use distill_guard::fleet::counters::{COUNTER_LIMIT, DOMAIN};
use distill_guard::fleet::export::{CREDENTIAL, TENANT, TOKENS_ESTIMATE, TOKENS_REMAINDER};
use distill_guard::fleet::replica::{Replica, TemplateCounts};
use distill_guard::fleet::settings::FleetSettings;
use distill_guard::fleet::wire::decode_request;
use distill_guard::ledger::Quantity;
use distill_guard::ledger::Record;
use distill_guard::metrics::{Metrics, Pending};
use distill_guard::policy::Policy;
use distill_guard::profile::Profile;
use serde_json::{json, Value};

use crate::support::{headers, policy_with};

const T0: u64 = 1_800_000_000_000;
const KEY: &str = "sk-live-raw-key-0123456789";

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn bytes_field(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    varint(out, field << 3 | 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn varint_field(out: &mut Vec<u8>, field: u64, v: u64) {
    varint(out, field << 3);
    varint(out, v);
}

/// A rate limit service that counts like envoyproxy/ratelimit with the fleet domain's config: marks
/// (`template` + member) have a limit of 1, every other descriptor the counters' limit; every hit counts.
#[derive(Default)]
struct FakeService {
    counts: RefCell<BTreeMap<String, u64>>,
    down: RefCell<bool>,
}

impl FakeService {
    /// The answer to a `ShouldRateLimit` message, or the gRPC status of a failed call.
    fn call(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        if *self.down.borrow() {
            return Err("gRPC status 14".into());
        }
        let req = decode_request(message).map_err(|e| e.to_string())?;
        assert_eq!(req.domain, DOMAIN);
        let mut out = Vec::new();
        varint_field(&mut out, 1, 1);
        for d in req.descriptors {
            let key: Vec<String> = d.entries.iter().map(|e| format!("{}={}", e.key, e.value)).collect();
            let mark = d.entries.len() == 2 && d.entries[0].key == "template";
            let limit = if mark { 1 } else { u64::from(COUNTER_LIMIT) };
            let mut counts = self.counts.borrow_mut();
            let n = counts.entry(key.join(",")).or_insert(0);
            *n += d.hits_addend.unwrap_or(1);
            let over = *n > limit;
            let mut limit_msg = Vec::new();
            varint_field(&mut limit_msg, 1, limit);
            varint_field(&mut limit_msg, 2, 4);
            let mut status = Vec::new();
            varint_field(&mut status, 1, if over { 2 } else { 1 });
            bytes_field(&mut status, 2, &limit_msg);
            varint_field(&mut status, 3, limit.saturating_sub(*n));
            bytes_field(&mut out, 2, &status);
        }
        Ok(out)
    }
}

fn settings(extra: Value) -> FleetSettings {
    let mut section = json!({"enabled": true, "tick_ms": 100, "timeout_ms": 200});
    if let (Some(s), Some(e)) = (section.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            s.insert(k.clone(), v.clone());
        }
    }
    FleetSettings::parse(Some(&section), 60).unwrap()
}

/// One tick of a replica against the service: flush if due, answer. Returns the logged line, if any.
fn tick(replica: &mut Replica, service: &FakeService, now: u64, metrics: &Metrics) -> Option<String> {
    let (message, line) = replica.flush(now, metrics)?;
    assert!(line.is_none());
    let answer = service.call(&message);
    replica.answered(answer.as_deref().map_err(Clone::clone), now, metrics)
}

fn gauge(metrics: &Metrics, m: distill_guard::metrics::Metric) -> Option<u64> {
    match metrics.pending(m) {
        Pending::Set(v) => Some(v),
        _ => None,
    }
}

#[test]
fn a_farm_split_over_two_replicas_is_counted_whole_within_a_few_ticks() {
    let service = FakeService::default();
    let metrics = Metrics::new();
    let (mut a, mut b) = (Replica::new(settings(json!({}))), Replica::new(settings(json!({}))));
    let template = 0xfeed_u64;
    for round in 0..3u64 {
        for k in 0..8u64 {
            let replica = if k % 2 == 0 { &mut a } else { &mut b };
            assert!(replica.record(&format!("cred{k}"), Some(template), Some(round * 8 + k)));
        }
        let now = T0 + round * 100;
        tick(&mut a, &service, now, &metrics);
        tick(&mut b, &service, now, &metrics);
    }
    // behind by the last rounds: their first sightings still owe their increments
    assert!(a.template_counts(template, T0 + 200).unwrap().prompts < 24);
    for now in [T0 + 300, T0 + 400] {
        tick(&mut a, &service, now, &metrics);
        tick(&mut b, &service, now, &metrics);
    }
    // each replica saw 4 credentials and 12 prompts; the fleet, 8 and 24. B sent last and knows it;
    // A reads the template's counts again with its next request of it (its view refreshes what it sees).
    let whole = Some(TemplateCounts { credentials: 8, prompts: 24 });
    assert_eq!(b.template_counts(template, T0 + 400), whole);
    a.record("cred0", Some(template), Some(0));
    tick(&mut a, &service, T0 + 500, &metrics);
    assert_eq!(a.template_counts(template, T0 + 500), whole);
    assert_eq!(a.credential_requests("cred0", T0 + 500), Some(4), "three rounds and the last request");
    assert_eq!(a.template_counts(0xbeef, T0 + 500), None, "a template never seen is not known");
    assert_eq!(metrics.pending(Metrics::fleet_calls), Pending::Add(9), "nothing left to send at T0 + 400");
}

#[test]
fn a_flush_waits_for_the_tick_and_for_the_call_in_flight() {
    let metrics = Metrics::new();
    let mut r = Replica::new(settings(json!({"tick_ms": 1000, "timeout_ms": 1000})));
    assert!(r.flush(T0, &metrics).is_none(), "nothing to send");
    r.record("c", None, None);
    assert!(r.flush(T0, &metrics).is_some());
    r.record("c", None, None);
    assert!(r.flush(T0 + 2000, &metrics).is_none(), "a call is in flight");
    // no answer for well past the timeout: given up as failed, the requests go again
    let (message, line) = r.flush(T0 + 3000, &metrics).unwrap();
    assert!(line.unwrap().contains("unavailable"));
    let req = decode_request(&message).unwrap();
    assert_eq!(req.descriptors.len(), 1);
    assert_eq!(req.descriptors[0].hits_addend, Some(2), "both requests, the lost call's included");
    r.answered(Err("x".into()), T0 + 3000, &metrics);
    r.record("c", None, None);
    assert!(r.flush(T0 + 3500, &metrics).is_none(), "next flush a tick after the last");
}

#[test]
fn an_outage_logs_once_each_way_and_counts_converge_after_it() {
    let service = FakeService::default();
    let metrics = Metrics::new();
    let mut r = Replica::new(settings(json!({})));
    r.record("c", Some(7), Some(1));
    assert_eq!(tick(&mut r, &service, T0, &metrics), None);
    *service.down.borrow_mut() = true;
    let mut lines = Vec::new();
    for i in 1..=5u64 {
        r.record("c", Some(7), Some(1 + i));
        lines.extend(tick(&mut r, &service, T0 + i * 100, &metrics));
        assert!(r.is_down());
    }
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("unavailable") && lines[0].contains("gRPC status 14"), "{}", lines[0]);
    assert_eq!(gauge(&metrics, Metrics::fleet_unavailable), Some(1));
    assert_eq!(metrics.pending(Metrics::fleet_call_failures), Pending::Add(5));
    assert!(!r.refuses(), "fail open by default");
    *service.down.borrow_mut() = false;
    let back = tick(&mut r, &service, T0 + 600, &metrics).unwrap();
    assert!(back.contains("back after 5 failed calls"), "{back}");
    assert_eq!(gauge(&metrics, Metrics::fleet_unavailable), Some(0));
    tick(&mut r, &service, T0 + 700, &metrics);
    tick(&mut r, &service, T0 + 800, &metrics);
    // every request and every prompt of the outage reached the service once it was back
    assert_eq!(r.credential_requests("c", T0 + 800), Some(6));
    assert_eq!(r.template_counts(7, T0 + 800), Some(TemplateCounts { credentials: 1, prompts: 6 }));
}

#[test]
fn fail_closed_refuses_only_while_the_service_is_down() {
    let service = FakeService::default();
    let metrics = Metrics::new();
    let mut r = Replica::new(settings(json!({"fail": "closed"})));
    r.record("c", None, None);
    tick(&mut r, &service, T0, &metrics);
    assert!(!r.refuses());
    *service.down.borrow_mut() = true;
    r.record("c", None, None);
    let line = tick(&mut r, &service, T0 + 100, &metrics).unwrap();
    assert!(line.contains("refusing requests"), "{line}");
    assert!(r.refuses());
    *service.down.borrow_mut() = false;
    r.record("c", None, None);
    tick(&mut r, &service, T0 + 200, &metrics);
    assert!(!r.refuses());
}

/// An exchange of `key` with a tenant, usage reported as 20 in and 30 out, with the fleet counters.
fn exchange(
    policy: &Rc<Policy>,
    host: &FakeHost,
    fleet: Option<Rc<RefCell<Replica>>>,
    status: &str,
    ratelimited: bool,
) {
    let mut ex = Exchange::new(3, policy.clone(), Rc::new(Metrics::new()));
    if let Some(f) = fleet {
        ex = ex.with_fleet(f);
    }
    let body =
        serde_json::to_vec(&json!({"model": "m", "messages": [{"role": "user", "content": "Tell me about tides."}]}))
            .unwrap();
    let auth = format!("Bearer {KEY}");
    let request = [
        (":method", "POST"),
        (":path", "/v1/chat/completions"),
        ("authorization", auth.as_str()),
        ("x-tenant", "team-a"),
    ];
    host.send_request(&mut ex, &request, &body, 8);
    let mut response = vec![(":status", status), ("content-type", "application/json")];
    if ratelimited {
        response.push(("x-envoy-ratelimited", "true"));
    }
    let usage: &[u8] = if status == "200" {
        br#"{"usage":{"prompt_tokens":20,"completion_tokens":30,"total_tokens":50}}"#
    } else {
        b""
    };
    host.send_response(&mut ex, &response, &[usage]);
    host.finish(&mut ex);
}

fn tenant_policy(extra: Value) -> Rc<Policy> {
    let mut p = json!({"tenant": [{"kind": "header", "name": "x-tenant"}]});
    if let (Some(b), Some(e)) = (p.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    Rc::new(policy_with(p))
}

fn property(host: &FakeHost, name: &str) -> Option<String> {
    let props = host.properties.borrow();
    props.iter().rev().find(|(k, _)| k == name).map(|(_, v)| String::from_utf8(v.clone()).unwrap())
}

#[test]
fn a_forwarded_request_exports_its_ids_and_estimate_then_the_remainder_never_the_key() {
    let policy = tenant_policy(json!({}));
    let host = FakeHost::new(T0);
    exchange(&policy, &host, None, "200", false);
    let id = identify(&policy.credential, &headers(&[("authorization", &format!("Bearer {KEY}"))]), None).unwrap().id;
    assert_eq!(property(&host, CREDENTIAL), Some(id));
    assert_eq!(property(&host, TENANT).as_deref(), Some("team-a"));
    let estimate: u64 = property(&host, TOKENS_ESTIMATE).unwrap().parse().unwrap();
    assert!(estimate > 0 && estimate < 50, "{estimate}");
    // settled 20 + 30 tokens: the rest beyond the estimate is charged at stream end
    assert_eq!(property(&host, TOKENS_REMAINDER), Some((50 - estimate).to_string()));
    let props = host.properties.borrow();
    assert_eq!(props.len(), 4, "{props:?}");
    for (name, value) in props.iter() {
        let text = String::from_utf8_lossy(value);
        assert!(!text.contains(KEY) && !text.contains("raw-key"), "{name} carries the key: {text}");
        assert!(text.is_ascii() && !text.is_empty());
    }
}

#[test]
fn a_request_refused_by_envoys_rate_limit_filter_settles_a_zero_remainder() {
    let policy = tenant_policy(json!({}));
    let host = FakeHost::new(T0);
    exchange(&policy, &host, None, "429", true);
    assert!(property(&host, TOKENS_ESTIMATE).is_some());
    assert_eq!(property(&host, TOKENS_REMAINDER).as_deref(), Some("0"));
}

#[test]
fn a_request_answered_by_the_filter_exports_nothing() {
    let policy = tenant_policy(json!({"lists": {"block_tenants": ["team-a"]}}));
    let host = FakeHost::new(T0);
    exchange(&policy, &host, None, "200", false);
    assert_eq!(host.reply().map(|r| r.status), Some(403));
    assert!(host.properties.borrow().is_empty(), "{:?}", host.properties.borrow());
}

#[test]
fn headers_first_exports_before_the_headers_go_and_charges_the_whole_usage_at_the_end() {
    let policy = tenant_policy(json!({"inspection": {"hold_headers": false}}));
    let host = FakeHost::new(T0);
    exchange(&policy, &host, None, "200", false);
    assert_eq!(property(&host, TOKENS_ESTIMATE).as_deref(), Some("0"));
    let estimates = host.properties.borrow().iter().filter(|(k, _)| k == TOKENS_ESTIMATE).count();
    assert_eq!(estimates, 1, "exported once");
    // the estimate the ledger used is replaced by the reported 20 in; 30 out
    assert_eq!(property(&host, TOKENS_REMAINDER).as_deref(), Some("50"));
}

#[test]
fn requests_are_recorded_for_the_fleet_and_refused_only_when_failing_closed_with_the_service_down() {
    let service = FakeService::default();
    let metrics = Metrics::new();
    for (fail, refused) in [("open", false), ("closed", true)] {
        let policy = tenant_policy(json!({"fleet": {"enabled": true, "fail": fail}}));
        let replica = Rc::new(RefCell::new(Replica::new(policy.fleet.clone())));
        let host = FakeHost::new(T0);
        exchange(&policy, &host, Some(replica.clone()), "200", false);
        assert_eq!(host.reply(), None);
        assert_eq!(replica.borrow().pending(), 1, "the request is waiting for the flush");
        *service.down.borrow_mut() = true;
        assert!(tick(&mut replica.borrow_mut(), &service, T0, &metrics).is_some());
        *service.down.borrow_mut() = false;
        host.reset();
        exchange(&policy, &host, Some(replica.clone()), "200", false);
        assert_eq!(host.reply().map(|r| r.status), refused.then_some(429), "fail {fail}");
        assert_eq!(replica.borrow().pending(), 1, "recorded either way");
    }
}

#[test]
fn the_fleet_wide_hourly_volume_raises_the_volume_detector_never_lowers_it() {
    let cfg = policy_with(json!({})).detection;
    let (profile, record) = (Profile::default(), Record::default());
    let volume = |fleet: Option<u64>| {
        let evidence = CampaignEvidence { fleet_requests_hour: fleet, ..CampaignEvidence::default() };
        strengths(&cfg, &profile, &record, &evidence, T0)[Detector::Volume as usize]
    };
    let half = (cfg.volume_high_per_hour / 2.0) as u64;
    assert_eq!(volume(None), 0.0);
    assert!((volume(Some(half)) - 0.5).abs() < 0.01, "{}", volume(Some(half)));
    assert_eq!(volume(Some(half * 4)), 1.0);
    assert_eq!(volume(Some(0)), 0.0);
}

#[test]
fn an_exchange_scores_its_credential_on_the_fleet_wide_volume() {
    let service = FakeService::default();
    let metrics = Metrics::new();
    let policy = tenant_policy(json!({"fleet": {"enabled": true}}));
    let id = identify(&policy.credential, &headers(&[("authorization", &format!("Bearer {KEY}"))]), None).unwrap().id;
    let score = |fleet_requests: u64| {
        let replica = Rc::new(RefCell::new(Replica::new(policy.fleet.clone())));
        let mut other = Replica::new(policy.fleet.clone());
        for _ in 0..fleet_requests {
            other.record(&id, None, None);
        }
        tick(&mut other, &service, T0, &metrics);
        let host = FakeHost::new(T0);
        exchange(&policy, &host, Some(replica.clone()), "200", false);
        tick(&mut replica.borrow_mut(), &service, T0, &metrics);
        host.reset();
        exchange(&policy, &host, Some(replica.clone()), "200", false);
        host.upstream_header("x-distill-score").unwrap().parse::<f64>().unwrap()
    };
    let quiet = score(0);
    // other replicas sent this credential's hourly volume far over `volume_high_per_hour`
    let busy = score(100_000);
    assert!(busy > quiet, "{busy} > {quiet}");
}

#[test]
fn system_prompts_are_counted_fleet_wide_apart_from_templates() {
    let service = FakeService::default();
    let metrics = Metrics::new();
    let (mut a, mut b) = (Replica::new(settings(json!({}))), Replica::new(settings(json!({}))));
    let fp = 0xabc_u64;
    for k in 0..6u64 {
        let replica = if k % 2 == 0 { &mut a } else { &mut b };
        assert!(replica.record(&format!("cred{k}"), None, None));
        assert!(replica.record_system_prompt(&format!("cred{k}"), fp, Some(k)));
    }
    for now in [T0, T0 + 100, T0 + 200] {
        tick(&mut a, &service, now, &metrics);
        tick(&mut b, &service, now, &metrics);
    }
    b.record_system_prompt("cred1", fp, Some(1));
    tick(&mut b, &service, T0 + 300, &metrics);
    assert_eq!(b.system_prompt_counts(fp, T0 + 300), Some(TemplateCounts { credentials: 6, prompts: 6 }));
    assert_eq!(b.template_counts(fp, T0 + 300), None, "a template with the same fingerprint is another key");
    assert_eq!(b.credential_requests("cred1", T0 + 300), Some(1), "a system prompt is not another request");
}

// ---- fleet-wide budgets enforced by the filter (`fleet.budgets: "filter"`) ------------------------------

impl FakeService {
    /// The count the service holds for one descriptor (entries as `key=value` joined by commas).
    fn count(&self, key: &str) -> u64 {
        self.counts.borrow().get(key).copied().unwrap_or(0)
    }
}

/// A policy with a budget of 10 requests an hour per credential (and a tenant token budget of 1,000 an
/// hour) enforced fleet-wide by the filter, checked synchronously from `sync` percent.
fn budget_policy(sync: u64, fail: &str) -> Rc<Policy> {
    tenant_policy(json!({
        "budgets": [
            {"name": "req", "scope": "credential", "window": "hour", "max_requests": 10},
            {"name": "tok", "scope": "tenant", "window": "hour", "max_tokens": 1000},
        ],
        "fleet": {"enabled": true, "budgets": "filter", "sync_check_percent": sync, "fail": fail, "tick_ms": 60000},
    }))
}

/// What became of one request sent through a replica.
#[derive(Debug, PartialEq)]
enum Sent {
    /// Forwarded without waiting.
    Forwarded,
    /// Forwarded after a synchronous check.
    Checked,
    /// Answered locally with this status (after a check if `checked`).
    Refused { status: u32, checked: bool },
}

/// One exchange of `key` (tenant `team-a`, usage 20 in and 30 out) through `replica`, the synchronous
/// check (if any) answered by `service` (or failed with `fail_with`).
fn budget_exchange(
    policy: &Rc<Policy>,
    replica: &Rc<RefCell<Replica>>,
    service: &FakeService,
    key: &str,
    now: u64,
    fail_with: Option<u32>,
) -> (Sent, FakeHost) {
    let host = FakeHost::new(now);
    let mut ex = Exchange::new(3, policy.clone(), Rc::new(Metrics::new())).with_fleet(replica.clone());
    let body =
        serde_json::to_vec(&json!({"model": "m", "messages": [{"role": "user", "content": "Tell me about tides."}]}))
            .unwrap();
    let auth = format!("Bearer {key}");
    let request = [
        (":method", "POST"),
        (":path", "/v1/chat/completions"),
        ("authorization", auth.as_str()),
        ("x-tenant", "team-a"),
    ];
    let flow = host.send_request(&mut ex, &request, &body, body.len());
    let calls = host.call_outs.borrow().clone();
    let checked = !calls.is_empty();
    if checked {
        assert_eq!(flow, Flow::Pause, "the request waits on its check");
        assert!(host.reply().is_none() && host.upstream_body.borrow().is_none());
        let [call] = calls.as_slice() else { panic!("one check per request: {calls:?}") };
        assert_eq!((call.cluster.as_str(), call.method.as_str()), ("distill_guard_ratelimit", "ShouldRateLimit"));
        assert_eq!(call.timeout_ms, policy.fleet.timeout_ms);
        let outcome = match fail_with {
            Some(status) => CallOutcome::Failed(status),
            None => CallOutcome::Answered(service.call(&call.message).unwrap()),
        };
        let answer = ex.on_call_out_answer(&host, call.tag, outcome);
        host.apply(&answer.actions);
    }
    if let Some(reply) = host.reply() {
        return (Sent::Refused { status: reply.status, checked }, host);
    }
    assert_eq!(host.resumes.get(), u32::from(checked), "resumed once after a check, never without");
    host.send_response(
        &mut ex,
        &[(":status", "200"), ("content-type", "application/json")],
        &[br#"{"usage":{"prompt_tokens":20,"completion_tokens":30,"total_tokens":50}}"#],
    );
    host.finish(&mut ex);
    (if checked { Sent::Checked } else { Sent::Forwarded }, host)
}

fn credential_of(policy: &Policy, key: &str) -> String {
    identify(&policy.credential, &headers(&[("authorization", &format!("Bearer {key}"))]), None).unwrap().id
}

#[test]
fn below_the_threshold_nothing_waits_and_the_charges_go_with_the_next_batch() {
    let service = FakeService::default();
    let metrics = Metrics::new();
    let policy = budget_policy(50, "open");
    let replica = Rc::new(RefCell::new(Replica::new(policy.fleet.clone())));
    for _ in 0..3 {
        assert_eq!(budget_exchange(&policy, &replica, &service, KEY, T0, None).0, Sent::Forwarded);
    }
    let id = credential_of(&policy, KEY);
    assert_eq!(service.count(&format!("budget_hour=req.requests,credential={id}")), 0, "nothing sent yet");
    tick(&mut replica.borrow_mut(), &service, T0 + 100, &metrics);
    assert_eq!(service.count(&format!("budget_hour=req.requests,credential={id}")), 3);
    // tokens: max(estimate, usage) per request, the estimate at admission and the rest when settled
    assert_eq!(service.count("budget_hour=tok.tokens,tenant=team-a"), 150);
}

#[test]
fn near_the_limit_requests_wait_on_a_check_that_charges_them_so_two_replicas_hold_the_budget() {
    // Two replicas alternate one credential's requests; the tick never comes (60 s): without the check
    // (100%: only once a replica's own view says the budget is spent) each replica admits most of the
    // budget on its own; from 50%, every request is decided by the service's count.
    let run = |sync: u64| {
        let service = FakeService::default();
        let policy = budget_policy(sync, "open");
        let replicas = [0, 1].map(|_| Rc::new(RefCell::new(Replica::new(policy.fleet.clone()))));
        let mut outcomes = Vec::new();
        for i in 0..20 {
            outcomes.push(budget_exchange(&policy, &replicas[i % 2], &service, KEY, T0 + i as u64, None).0);
        }
        outcomes
    };
    let admitted = |o: &[Sent]| o.iter().filter(|s| matches!(s, Sent::Forwarded | Sent::Checked)).count();
    let with = run(50);
    assert_eq!(admitted(&with), 10, "{with:?}");
    // below 50% by each replica's view (4 each) nothing waited; from there every request was checked
    assert_eq!(with.iter().filter(|s| **s == Sent::Forwarded).count(), 8, "{with:?}");
    assert!(with[8..].iter().all(|s| matches!(s, Sent::Checked | Sent::Refused { status: 429, checked: true })));
    let without = run(100);
    assert!(admitted(&without) >= 15, "the overshoot the check removes: {without:?}");
}

#[test]
fn a_fleet_refusal_is_the_filters_own_429_with_the_budget_signal_and_rate_limit_headers() {
    let service = FakeService::default();
    let policy = budget_policy(0, "open");
    let replica = Rc::new(RefCell::new(Replica::new(policy.fleet.clone())));
    let id = credential_of(&policy, KEY);
    // the other replicas spent the budget
    *service.counts.borrow_mut() = BTreeMap::from([(format!("budget_hour=req.requests,credential={id}"), 10)]);
    let now = T0 + 1234; // T0 is on the hour: 3,599 s (rounded up) until the service's window turns
    let (sent, host) = budget_exchange(&policy, &replica, &service, KEY, now, None);
    assert_eq!(sent, Sent::Refused { status: 429, checked: true });
    let reply = host.reply().unwrap();
    let header = |n: &str| reply.headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    assert_eq!(header("retry-after").as_deref(), Some("3599"));
    assert_eq!(header("x-ratelimit-limit-requests").as_deref(), Some("10"));
    assert_eq!(header("x-ratelimit-remaining-requests").as_deref(), Some("0"));
    let body: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert!(!reply.body.contains("req") || !reply.body.contains("budget"), "no reason named: {}", reply.body);
    assert!(host
        .logs
        .borrow()
        .iter()
        .any(|l| l.contains("\"signals\":\"budget:req\"") && l.contains("\"phase\":\"fleet\"")));
    assert!(host.properties.borrow().is_empty(), "nothing exported for Envoy's filter: {:?}", host.properties.borrow());
}

#[test]
fn the_check_carries_the_token_estimate_and_this_replicas_unsent_charges() {
    let service = FakeService::default();
    let policy = budget_policy(100, "open");
    let replica = Rc::new(RefCell::new(Replica::new(policy.fleet.clone())));
    // 9 requests below the threshold (100%: 10 of 10 requests, or 1,000 tokens): none sent yet
    for _ in 0..9 {
        assert_eq!(budget_exchange(&policy, &replica, &service, KEY, T0, None).0, Sent::Forwarded);
    }
    assert_eq!(service.count("budget_hour=tok.tokens,tenant=team-a"), 0);
    let (sent, host) = budget_exchange(&policy, &replica, &service, KEY, T0, None);
    assert_eq!(sent, Sent::Checked);
    let message = host.call_outs.borrow()[0].message.clone();
    let req = decode_request(&message).unwrap();
    let estimate: u64 = property(&host, TOKENS_ESTIMATE).unwrap().parse().unwrap();
    let hits: Vec<(String, u64)> = req
        .descriptors
        .iter()
        .map(|d| {
            (
                d.entries.iter().map(|e| format!("{}={}", e.key, e.value)).collect::<Vec<_>>().join(","),
                d.hits_addend.unwrap(),
            )
        })
        .collect();
    let id = credential_of(&policy, KEY);
    // the 9 earlier requests (each 50 tokens settled) plus this one (1 request, its estimate)
    assert_eq!(
        hits,
        vec![
            (format!("budget_hour=req.requests,credential={id}"), 10),
            ("budget_hour=tok.tokens,tenant=team-a".into(), 450 + estimate)
        ]
    );
    // the next one is over the request budget: the service says so
    assert_eq!(
        budget_exchange(&policy, &replica, &service, KEY, T0, None).0,
        Sent::Refused { status: 429, checked: true }
    );
}

#[test]
fn no_answer_to_the_check_fails_open_or_closed_and_a_known_outage_skips_the_wait() {
    let metrics = Metrics::new();
    for (fail, status) in [("open", None), ("closed", Some(429))] {
        let service = FakeService::default();
        let policy = budget_policy(0, fail);
        let replica = Rc::new(RefCell::new(Replica::new(policy.fleet.clone())));
        let (sent, host) = budget_exchange(&policy, &replica, &service, KEY, T0, Some(14));
        match status {
            None => assert_eq!(sent, Sent::Checked, "fail open: forwarded"),
            Some(s) => {
                assert_eq!(sent, Sent::Refused { status: s, checked: true });
                assert!(host.logs.borrow().iter().any(|l| l.contains("fleet_unavailable")));
            }
        }
        // fail open: the request's charge is sent with the next batch
        let id = credential_of(&policy, KEY);
        *service.down.borrow_mut() = true;
        replica.borrow_mut().record("another-credential", None, None);
        assert!(tick(&mut replica.borrow_mut(), &service, T0 + 100, &metrics).is_some(), "went down");
        *service.down.borrow_mut() = false;
        // while the ticks say the service is down, nothing waits (fail open) or all is refused (closed)
        let (sent, _) = budget_exchange(&policy, &replica, &service, KEY, T0 + 150, None);
        match status {
            None => assert_eq!(sent, Sent::Forwarded),
            Some(s) => assert_eq!(sent, Sent::Refused { status: s, checked: false }),
        }
        tick(&mut replica.borrow_mut(), &service, T0 + 60_200, &metrics);
        let want = if status.is_none() { 2 } else { 0 };
        assert_eq!(service.count(&format!("budget_hour=req.requests,credential={id}")), want, "fail {fail}");
    }
}

#[test]
fn with_envoys_path_the_filter_never_waits() {
    let service = FakeService::default();
    let mut policy = (*budget_policy(0, "open")).clone();
    policy.fleet.budgets = distill_guard::fleet::settings::BudgetPath::Envoy;
    let policy = Rc::new(policy);
    let replica = Rc::new(RefCell::new(Replica::new(policy.fleet.clone())));
    for _ in 0..12 {
        let (sent, _) = budget_exchange(&policy, &replica, &service, KEY, T0, None);
        assert!(matches!(sent, Sent::Forwarded | Sent::Refused { checked: false, .. }), "{sent:?}");
    }
}

#[test]
fn budgets_filter_needs_the_fleet_section_on() {
    let err = FleetSettings::parse(Some(&json!({"budgets": "filter"})), 60).unwrap_err().to_string();
    assert!(err.contains("fleet.budgets"), "{err}");
    let err = FleetSettings::parse(Some(&json!({"enabled": true, "budgets": "redis"})), 60).unwrap_err().to_string();
    assert!(err.contains("fleet") && err.contains("redis"), "{err}");
}

#[test]
fn envoys_429_loses_its_envoy_header_and_gains_retry_after() {
    let policy = tenant_policy(json!({}));
    let host = FakeHost::new(T0);
    let mut ex = Exchange::new(3, policy.clone(), Rc::new(Metrics::new()));
    let body =
        serde_json::to_vec(&json!({"model": "m", "messages": [{"role": "user", "content": "Hi there."}]})).unwrap();
    let auth = format!("Bearer {KEY}");
    host.send_request(
        &mut ex,
        &[(":method", "POST"), (":path", "/v1/chat/completions"), ("authorization", &auth)],
        &body,
        64,
    );
    let error = br#"{"error":{"message":"Rate limit reached. Please try again in 12s.","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;
    host.send_response(
        &mut ex,
        &[
            (":status", "429"),
            ("content-type", "application/json"),
            ("x-envoy-ratelimited", "true"),
            ("x-ratelimit-reset", "12"),
        ],
        &[error],
    );
    let headers = host.response_headers.borrow().clone();
    let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| String::from_utf8(v.clone()).unwrap());
    assert_eq!(get("x-envoy-ratelimited"), None);
    assert_eq!(get("retry-after").as_deref(), Some("12"));
    assert_eq!(get("x-ratelimit-reset").as_deref(), Some("12"));
    assert_eq!(host.downstream_body.borrow().as_slice(), error.as_slice(), "the body is the mapper's, untouched");
    host.finish(&mut ex);
    assert_eq!(property(&host, TOKENS_REMAINDER).as_deref(), Some("0"));
    let _ = HostAction::ResumeRequest;
}

fn request_need(id: &str) -> Need {
    let key = BudgetKey { window_s: 3600, name: "req.requests".into(), scope: "credential", id: id.into() };
    Need { key, budget: "req".into(), quantity: Quantity::Requests, hits: 1, max: 10 }
}

#[test]
fn past_max_pending_subjects_far_from_their_limits_make_room_and_near_ones_are_kept() {
    let service = FakeService::default();
    let metrics = Metrics::new();
    let mut r = Replica::new(settings(json!({"max_pending": 8, "sync_check_percent": 90})));
    let hot = [request_need("hot")];
    for _ in 0..8 {
        assert!(r.budget_check(&hot, T0, &metrics).is_none());
        r.charge_budgets(&hot, T0, &metrics);
    }
    tick(&mut r, &service, T0, &metrics);
    assert_eq!(r.budget_view(&hot[0].key, T0), 8);
    // 40 other subjects, one request each, flushed as they go: the counters hold 8 entries at most, yet
    // none of them has to wait, and nothing is dropped
    for i in 0..40u64 {
        let now = T0 + 100 * (i + 1);
        let need = [request_need(&format!("cold{i}"))];
        assert!(r.budget_check(&need, now, &metrics).is_none(), "subject {i} waited");
        r.charge_budgets(&need, now, &metrics);
        tick(&mut r, &service, now, &metrics);
    }
    assert_eq!(metrics.pending(Metrics::fleet_dropped), Pending::None);
    // the subject nearest its limit kept its view: its next request is checked
    let now = T0 + 5000;
    assert_eq!(r.budget_view(&hot[0].key, now), 8);
    assert!(r.budget_check(&hot, now, &metrics).is_some());
}

#[test]
fn budget_charges_get_half_of_a_full_call_and_every_subject_its_turn() {
    let service = FakeService::default();
    let metrics = Metrics::new();
    let mut r = Replica::new(settings(json!({"max_descriptors": 4})));
    for i in 0..10 {
        r.record(&format!("volume{i}"), None, None);
        r.charge_budgets(&[request_need(&format!("b{i}"))], T0, &metrics);
    }
    let mut budget_ids = Vec::new();
    for t in 0..5u64 {
        let (message, _) = r.flush(T0 + 100 * t, &metrics).unwrap();
        let req = decode_request(&message).unwrap();
        let budgets: Vec<String> = req
            .descriptors
            .iter()
            .filter(|d| d.entries[0].key == "budget_hour")
            .map(|d| d.entries[1].value.clone())
            .collect();
        assert_eq!((req.descriptors.len(), budgets.len()), (4, 2), "tick {t}: {req:?}");
        budget_ids.extend(budgets);
        r.answered(service.call(&message).as_deref().map_err(Clone::clone), T0 + 100 * t, &metrics);
    }
    budget_ids.sort();
    let mut want: Vec<String> = (0..10).map(|i| format!("b{i}")).collect();
    want.sort();
    assert_eq!(budget_ids, want, "each subject sent once, in turn");
}

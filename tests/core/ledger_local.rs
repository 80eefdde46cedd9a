//! A worker's view of the ledger (`ledger::local`): decisions far from a limit stay off shared data,
//! their changes merge into it on the tick, near a limit the shared record decides; simulated workers
//! are [`LocalLedger`]s over one [`MemoryStore`].

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use std::cell::RefCell;
use std::rc::Rc;

use distill_guard::api::ApiKind;
use distill_guard::credential::{identify, Credential};
use distill_guard::decision::{decide, settle};
use distill_guard::exchange::root::RootExchange;
use distill_guard::exchange::FakeHost;
use distill_guard::host::MemoryStore;
use distill_guard::ledger::{Delta, Ledger, LocalLedger, LocalSettings, Quantity, Record, Subject, Update};
use distill_guard::metrics::Metrics;
use distill_guard::policy::{Action, LedgerConfig, Policy, Window};
use distill_guard::profile::Profile;
use distill_guard::request::{BodyStatus, RequestFacts};
use distill_guard::response::{Metered, UsageSource};
use distill_guard::shape::{RequestShape, ShapeSignal};
use serde_json::json;

use crate::support::{headers, no_env, policy_with};

const T0: u64 = 1_800_000_000_000; // a minute boundary, in ms

fn settings(interval: u64, capacity: usize) -> LocalSettings {
    LocalSettings {
        merge_interval_ms: interval,
        capacity,
        half_life_ms: 30 * 60_000,
        decisions_per_read: 1000,
        simulated: false,
    }
}

fn worker(interval: u64, capacity: usize) -> RefCell<LocalLedger> {
    RefCell::new(LocalLedger::new(settings(interval, capacity)))
}

fn charge(ledger: &Ledger<'_>, who: &Subject, now: u64, input: i64) {
    ledger.update(who, now, None, &mut |_| Update::Apply(Delta { requests: 1, input, ..Delta::default() })).unwrap();
}

fn shared(cfg: &LedgerConfig, store: &MemoryStore, who: &Subject, now: u64) -> Record {
    Ledger::new(cfg, store).read_shared(who, now)
}

#[test]
fn two_workers_sharing_one_store_lose_no_count_once_merged() {
    let cfg = LedgerConfig::with_slots(100, "t");
    let store = MemoryStore::new();
    let (a, b) = (worker(1_000, 100), worker(1_000, 100));
    let who = Subject::credential("00112233aabbccdd");
    for i in 0..40u64 {
        let w = if i % 2 == 0 { &a } else { &b };
        let ledger = Ledger::new(&cfg, &store).with_local(Some(w));
        charge(&ledger, &who, T0 + i * 10, 10);
        // The settlement corrects the estimate (10 -> 7) and adds 5 output tokens.
        ledger
            .change(&who, T0 + i * 10, None, &mut |_| Update::Apply(Delta { input: -3, output: 5, ..Delta::default() }))
            .unwrap();
    }
    // Each worker wrote the first charge of the subject through; the rest waits in its view.
    let before_merge = shared(&cfg, &store, &who, T0 + 500);
    assert!(before_merge.window(Window::Minute).current.requests <= 2);
    let calls = store.calls();
    for w in [&a, &b] {
        let ledger = Ledger::new(&cfg, &store);
        assert_eq!(w.borrow_mut().flush_due(&ledger, T0 + 900), 0, "nothing is due before the interval");
        assert!(w.borrow_mut().flush_due(&ledger, T0 + 2_000) >= 1);
    }
    assert!(store.calls() - calls <= 2 * 3, "one merge a worker: a read or two and a write");
    let merged = shared(&cfg, &store, &who, T0 + 2_000);
    let minute = merged.window(Window::Minute).current;
    assert_eq!((minute.requests, minute.input, minute.output), (40, 40 * 7, 40 * 5));
    assert_eq!(merged.budget_count(Window::Minute, Quantity::Requests), 40);
    assert_eq!(merged.budget_count(Window::Hour, Quantity::Tokens), 40 * 12);
    assert_eq!((a.borrow().pending(), b.borrow().pending()), (0, 0));
}

#[test]
fn decisions_far_from_a_limit_make_no_shared_data_call() {
    let cfg = LedgerConfig::with_slots(100, "t");
    let store = MemoryStore::new();
    let w = worker(1_000, 100);
    let ledger = Ledger::new(&cfg, &store).with_local(Some(&w));
    let who = Subject::credential("aa");
    charge(&ledger, &who, T0, 1);
    let calls = store.calls();
    for i in 1..50 {
        charge(&ledger, &who, T0 + i, 1);
    }
    assert_eq!(store.calls(), calls);
    assert_eq!(ledger.read(&who, T0 + 50).window(Window::Minute).current.requests, 50, "the view counts them");
    // A view older than the interval is read again: one read, no write (the change stays pending)...
    charge(&ledger, &who, T0 + 1_000, 1);
    assert_eq!(store.calls(), calls + 1);
    assert_eq!(ledger.read(&who, T0 + 1_000).window(Window::Minute).current.requests, 51);
    assert_eq!(shared(&cfg, &store, &who, T0 + 1_000).window(Window::Minute).current.requests, 1);
    // ...and the due merge writes everything with that read's token: one write.
    let calls = store.calls();
    assert_eq!(w.borrow_mut().flush_due(&ledger, T0 + 1_001), 1);
    assert_eq!(store.calls(), calls + 1);
    assert_eq!(shared(&cfg, &store, &who, T0 + 1_001).window(Window::Minute).current.requests, 51);
}

#[test]
fn a_change_merged_after_a_window_edge_counts_in_the_bucket_and_slice_it_was_made_in() {
    let mut r = Record::default();
    r.roll(T0 + 61_000);
    r.apply_at(&Delta { requests: 2, input: 30, ..Delta::default() }, T0 + 59_000);
    let minute = r.window(Window::Minute);
    assert_eq!((minute.current.requests, minute.previous.requests), (0, 2));
    assert_eq!(r.window(Window::Hour).current.requests, 2);
    // The budget slices keep it until the slice of T0 + 59 s leaves the minute window.
    assert_eq!(r.budget_count(Window::Minute, Quantity::Requests), 2);
    r.roll(T0 + 59_000 + 65_000);
    assert_eq!(r.budget_count(Window::Minute, Quantity::Requests), 0);
    assert_eq!(r.last_seen_ms, T0 + 59_000);
}

fn facts(tokens: u64) -> RequestFacts {
    let mut f = RequestFacts::uninspected(ApiKind::OpenAiChat, BodyStatus::Parsed, 0);
    f.estimated_input_tokens = tokens;
    f
}

fn cred(p: &Policy, key: &str) -> Credential {
    identify(&p.credential, &headers(&[("x-api-key", key)]), None).unwrap()
}

fn budget_policy(max_requests: u64) -> Policy {
    policy_with(json!({
        "budgets": [{"name": "rpm", "scope": "credential", "window": "minute", "max_requests": max_requests}]
    }))
}

#[test]
fn near_a_limit_every_decision_takes_the_shared_record_and_the_limit_holds_exactly() {
    // 100 a minute: the margin is max(20 % of 100, 32 requests) = 32, so decisions are made on the
    // view while a request leaves at least 32 requests of room (the first 68), exact from then on.
    let p = budget_policy(100);
    let store = MemoryStore::new();
    let w = RefCell::new(LocalLedger::new(LocalSettings::for_policy(&p)));
    let ledger = Ledger::new(&p.ledger, &store).with_local(Some(&w));
    let c = cred(&p, "sk-near");
    let mut calls_at = Vec::new();
    let mut allowed = 0;
    for i in 0..120 {
        let before = store.calls();
        let d = decide(&p, &ledger, &c, &facts(10), T0 + i);
        if d.verdict.enforced == Action::Allow {
            allowed += 1;
        }
        calls_at.push(store.calls() - before);
    }
    assert_eq!(allowed, 100);
    // Far from the limit, one decision in nine reads the shared record again (8 a read by default).
    let reads = calls_at[1..68].iter().filter(|n| **n > 0).count();
    assert!((6..=8).contains(&reads), "{calls_at:?}");
    assert!(calls_at[68..100].iter().all(|n| *n >= 2), "read and write from the 69th on: {calls_at:?}");
    assert!(calls_at[100..].iter().all(|n| *n >= 1), "a refusal is read from the shared record: {calls_at:?}");
    let record = shared(&p.ledger, &store, &Subject::credential(&c.id), T0 + 200);
    assert_eq!(record.budget_count(Window::Minute, Quantity::Requests), 100);
}

#[test]
fn a_second_worker_can_overshoot_only_by_what_the_first_has_not_merged() {
    // The documented bound: a decision on a view misses what other workers have not merged, at most
    // `decisions_per_read` (8) decisions each. Worker A takes 40 requests and holds its last ones; B
    // then runs to the limit on the shared record without them.
    let p = budget_policy(100);
    let store = MemoryStore::new();
    let (a, b) = (
        RefCell::new(LocalLedger::new(LocalSettings::for_policy(&p))),
        RefCell::new(LocalLedger::new(LocalSettings::for_policy(&p))),
    );
    let per_read = u64::from(LocalSettings::for_policy(&p).decisions_per_read);
    assert_eq!(per_read, 8);
    let c = cred(&p, "sk-bound");
    let subject = Subject::credential(&c.id);
    let run = |w: &RefCell<LocalLedger>, n: u64, at: u64| {
        let ledger = Ledger::new(&p.ledger, &store).with_local(Some(w));
        (0..n).filter(|i| decide(&p, &ledger, &c, &facts(10), at + i).verdict.enforced == Action::Allow).count() as u64
    };
    let held_by_a = run(&a, 40, T0);
    assert_eq!(held_by_a, 40);
    let seen_by_b = shared(&p.ledger, &store, &subject, T0 + 50).budget_count(Window::Minute, Quantity::Requests);
    let unmerged = held_by_a - seen_by_b;
    assert!(unmerged > 0 && unmerged <= per_read, "{unmerged}");
    let by_b = run(&b, 150, T0 + 100);
    assert_eq!(by_b, 100 - seen_by_b);
    a.borrow_mut().flush_due(&Ledger::new(&p.ledger, &store), T0 + 5_100);
    let total = shared(&p.ledger, &store, &subject, T0 + 5_100).budget_count(Window::Minute, Quantity::Requests);
    assert_eq!(total, held_by_a + by_b);
    assert_eq!(total - 100, unmerged, "the overshoot is A's unmerged decisions, at most {per_read}");
    // Once merged, no worker allows more.
    assert_eq!(run(&a, 5, T0 + 5_200) + run(&b, 5, T0 + 5_200), 0);
}

#[test]
fn a_settlement_near_a_token_budget_is_made_on_the_shared_record() {
    let p = policy_with(json!({
        "budgets": [{"name": "tph", "scope": "credential", "window": "hour", "max_tokens": 10_000}]
    }));
    let store = MemoryStore::new();
    let w = RefCell::new(LocalLedger::new(LocalSettings::for_policy(&p)));
    let ledger = Ledger::new(&p.ledger, &store).with_local(Some(&w));
    let c = cred(&p, "sk-tokens");
    let metered =
        |output| Metered { input: Some(10), output, cached_input: 0, reasoning: 0, source: UsageSource::Reported };
    let first = decide(&p, &ledger, &c, &facts(10), T0).charge.unwrap();
    let calls = store.calls();
    settle(&ledger, &first, &metered(100), T0 + 1);
    assert_eq!(store.calls(), calls, "far from the budget: settled in the view");
    let second = decide(&p, &ledger, &c, &facts(10), T0 + 2).charge.unwrap();
    settle(&ledger, &second, &metered(9_000), T0 + 3);
    assert!(store.calls() > calls, "within 20 % of the budget: written through");
    let record = shared(&p.ledger, &store, &Subject::credential(&c.id), T0 + 4);
    assert_eq!(record.budget_count(Window::Hour, Quantity::Tokens), 10 + 100 + 10 + 9_000);
}

#[test]
fn the_view_is_capped_and_a_dropped_subject_is_merged_first() {
    let cfg = LedgerConfig::with_slots(1_000, "t");
    let store = MemoryStore::new();
    let w = worker(60_000, 4);
    let ledger = Ledger::new(&cfg, &store).with_local(Some(&w));
    let subjects: Vec<Subject> = (0..50).map(|i| Subject::credential(&format!("key{i}"))).collect();
    for round in 0..3u64 {
        for s in &subjects {
            charge(&ledger, s, T0 + round, 1);
            ledger
                .change(s, T0 + round, None, &mut |_| Update::Apply(Delta { output: 2, ..Delta::default() }))
                .unwrap();
            assert!(w.borrow().len() <= 4);
        }
    }
    w.borrow_mut().flush_all(&Ledger::new(&cfg, &store), T0 + 10);
    for s in &subjects {
        let r = shared(&cfg, &store, s, T0 + 10).window(Window::Minute).current;
        assert_eq!((r.requests, r.output), (3, 6));
    }
}

#[test]
fn a_zero_merge_interval_writes_every_update_through() {
    let cfg = LedgerConfig::with_slots(100, "t");
    let store = MemoryStore::new();
    let w = worker(0, 100);
    let ledger = Ledger::new(&cfg, &store).with_local(Some(&w));
    let who = Subject::credential("bb");
    for i in 0..5 {
        charge(&ledger, &who, T0 + i, 1);
    }
    assert!(w.borrow().is_empty());
    assert_eq!(shared(&cfg, &store, &who, T0 + 5).window(Window::Minute).current.requests, 5);
}

fn shape(template: u64, content: u64) -> RequestShape {
    let mut s = RequestShape { template, template_words: 40, content, ..RequestShape::default() };
    s.signals.insert(ShapeSignal::WatchedModel);
    s
}

#[test]
fn profiles_observed_by_two_workers_merge_into_the_sum_of_their_observations() {
    let half_life = 30 * 60_000;
    let mut shared = Profile::default();
    shared.observe(&shape(7, 1), T0, 0, half_life, 10);
    let (mut a, mut b) = (shared, shared);
    for i in 0..6u64 {
        a.observe(&shape(7, 100 + i), T0 + 1_000 * i, T0, half_life, 10);
        b.observe(&shape(9, 200 + i), T0 + 1_000 * i + 500, T0, half_life, 10);
    }
    let mut merged = shared;
    merged.merge(&shared, &a, half_life);
    assert_eq!(merged.recent, [105, 104, 103, 102]);
    merged.merge(&shared, &b, half_life);
    // One observation before and twelve by the workers (decayed a little over ~6 s).
    assert!((merged.requests - 13.0).abs() < 0.05, "{}", merged.requests);
    assert!((merged.share(ShapeSignal::WatchedModel) - 1.0).abs() < 1e-3);
    let templates: Vec<u32> = merged.templates.iter().filter(|t| t.1 > 0.5).map(|t| t.0).collect();
    assert!(templates.contains(&7) && templates.contains(&9), "{templates:?}");
    assert_eq!(merged.top_template().0, 7);
    // The ring of recent prompts (4) holds the newest merged.
    assert_eq!(merged.recent, [205, 204, 203, 202]);
}

#[test]
fn merging_a_view_with_new_templates_counts_what_was_observed_not_what_was_inherited() {
    // A credential whose every request has a new template (a RAG app's varied contexts): the table of
    // top templates (space-saving) hands each newcomer the count of the entry it replaces. Merged one
    // request at a time from a worker's view, the shared profile must end where writing every request
    // through would (it once added the inherited count again at every merge: template concentration
    // grew without bound and a benign app was tagged).
    let half_life = 30 * 60_000;
    let mut through = Profile::default();
    for i in 0..3u64 {
        through.observe(&shape(10 + i, 1), T0 + i * 1_000, 0, half_life, 10);
    }
    let mut merged = through;
    for i in 0..60u64 {
        let at = T0 + 10_000 + i * 60_000;
        let s = shape(100 + i, 1_000 + i);
        through.observe(&s, at, 0, half_life, 10);
        let base = merged;
        let mut view = merged;
        view.observe(&s, at, 0, half_life, 10);
        merged.merge(&base, &view, half_life);
    }
    let (t, m) = (through.top_template(), merged.top_template());
    assert!((t.1 - m.1).abs() < 1e-3, "write-through {t:?}, merged {m:?}");
    assert!((through.requests - merged.requests).abs() < 1e-2);
    for (a, b) in through.templates.iter().zip(merged.templates.iter()) {
        assert!((a.1 - b.1).abs() < 1e-2, "{:?} vs {:?}", through.templates, merged.templates);
    }
    // And a template the worker observed several times still adds every observation.
    let base = merged;
    let mut view = merged;
    for i in 0..5u64 {
        view.observe(&shape(500, 2_000 + i), T0 + 4_000_000 + i, 0, half_life, 10);
    }
    merged.merge(&base, &view, half_life);
    let top = merged.templates.iter().find(|t| t.0 == 500).map(|t| t.1).unwrap_or(0.0);
    let want = view.templates.iter().find(|t| t.0 == 500).map(|t| t.1).unwrap_or(-1.0);
    assert!((top - want).abs() < 1e-2, "{:?} vs {:?}", merged.templates, view.templates);
}

fn root_policy(interval: u64) -> Vec<u8> {
    json!({
        "version": 1,
        "credential": {"sources": [{"kind": "bearer"}], "hash_secret": "0123456789abcdef-test-secret"},
        "ledger": {"merge_interval_ms": interval}
    })
    .to_string()
    .into_bytes()
}

fn serve(root: &RootExchange, host: &FakeHost, id: u32, key: &str) {
    serve_with(root, host, id, key, &[]);
}

fn serve_with(root: &RootExchange, host: &FakeHost, id: u32, key: &str, extra: &[(&str, &str)]) {
    host.reset();
    let (ex, _) = root.on_new_exchange(id);
    let mut ex = ex.unwrap();
    let bearer = format!("Bearer {key}");
    let body = br#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;
    let mut request = vec![(":path", "/v1/chat/completions"), ("authorization", bearer.as_str())];
    request.extend_from_slice(extra);
    host.send_request(&mut ex, &request, body, 1 << 20);
    let usage: &[u8] = br#"{"usage":{"prompt_tokens":3,"completion_tokens":4}}"#;
    host.send_response(&mut ex, &[(":status", "200"), ("content-type", "application/json")], &[usage]);
    host.finish(&mut ex);
}

#[test]
fn a_policy_reload_merges_every_pending_change_first() {
    let mut root = RootExchange::new(Rc::new(Metrics::new()));
    let host = FakeHost::new(T0);
    assert!(root.on_configure_with_store(&root_policy(60_000), &no_env, &host.store, T0).0);
    for i in 0..6 {
        serve(&root, &host, 2 + i, "sk-reload");
    }
    let p = policy_with(json!({}));
    let subject = Subject::credential(&cred(&p, "sk-reload").id);
    let cfg = LedgerConfig::with_slots(10_000, "distill_guard");
    let before = shared(&cfg, &host.store, &subject, T0).window(Window::Minute).current;
    assert!(before.requests < 6, "pending in the view: {before:?}");
    assert!(root.local_ledger().borrow().pending() > 0);
    // A config-only change (same table): the view is kept, the counts reach shared data.
    assert!(root.on_configure_with_store(&root_policy(30_000), &no_env, &host.store, T0 + 5).0);
    let after = shared(&cfg, &host.store, &subject, T0 + 5).window(Window::Minute).current;
    assert_eq!((after.requests, after.input, after.output), (6, 18, 24));
    assert_eq!(root.local_ledger().borrow().pending(), 0);
    assert_eq!(root.local_ledger().borrow().len(), 1);
    assert_eq!(root.local_ledger().borrow().settings().merge_interval_ms, 30_000);
}

#[test]
fn the_tick_merges_what_is_due_and_counts_it() {
    let mut root = RootExchange::new(Rc::new(Metrics::new()));
    let host = FakeHost::new(T0);
    assert!(root.on_configure_with_store(&root_policy(1_000), &no_env, &host.store, T0).0);
    for i in 0..5 {
        serve(&root, &host, 2 + i, "sk-tick");
    }
    assert!(root.flush_ledger(&host.store, T0 + 10, false).is_empty());
    assert!(root.local_ledger().borrow().pending() > 0, "not due yet");
    root.flush_ledger(&host.store, T0 + 1_000, false);
    assert_eq!(root.local_ledger().borrow().pending(), 0);
    let merges = root.metrics().drain().into_iter().any(|(i, u)| {
        Metrics::TABLE.get(i).is_some_and(|(_, n)| *n == "distill_guard.ledger.merges")
            && u != distill_guard::metrics::Pending::None
    });
    assert!(merges);
}

fn sim_policy(interval: u64) -> Vec<u8> {
    json!({
        "version": 1,
        "credential": {"sources": [{"kind": "bearer"}], "hash_secret": "0123456789abcdef-test-secret"},
        "ledger": {"merge_interval_ms": interval},
        "detection": {"clock_header": "x-sim-clock"}
    })
    .to_string()
    .into_bytes()
}

fn serve_at(root: &RootExchange, host: &FakeHost, id: u32, key: &str, at_ms: u64) {
    serve_with(root, host, id, key, &[("x-sim-clock", at_ms.to_string().as_str())]);
}

#[test]
fn under_a_simulation_clock_the_view_is_used_and_merges_follow_the_request_clock() {
    // (The detection simulators set `detection.clock_header`: they must measure the ledger path that ships.)
    let mut root = RootExchange::new(Rc::new(Metrics::new()));
    // The host clock is far from simulated time (hours behind): nothing may be compared with it.
    let host = FakeHost::new(T0 - 3_600_000);
    assert!(root.on_configure_with_store(&sim_policy(5_000), &no_env, &host.store, T0).0);
    assert!(root.local_ledger().borrow().settings().simulated);
    let p = policy_with(json!({}));
    let subject = Subject::credential(&cred(&p, "sk-sim").id);
    let cfg = LedgerConfig::with_slots(10_000, "distill_guard");
    // Six requests within 3 s of simulated time: the first goes to shared data, the rest stay in the view.
    for i in 0..6u64 {
        serve_at(&root, &host, 2 + i as u32, "sk-sim", T0 + i * 500);
    }
    let stats = root.local_ledger().borrow_mut().take_stats();
    assert!(stats.local >= 5, "decided on the view: {stats:?}");
    assert!(root.local_ledger().borrow().pending() > 0);
    let before = shared(&cfg, &host.store, &subject, T0 + 3_000).window(Window::Minute).current;
    assert!(before.requests < 6, "pending in the view: {before:?}");
    // The host's tick, however late by the host clock, merges by simulated time: not due yet.
    root.flush_ledger(&host.store, T0 + 86_400_000, false);
    assert!(root.local_ledger().borrow().pending() > 0, "due by the request clock only");
    // A request 4.9 s after the first pending change (the first request's settlement, at T0): not due.
    serve_at(&root, &host, 20, "sk-other", T0 + 4_900);
    let still = shared(&cfg, &host.store, &subject, T0 + 4_900).window(Window::Minute).current;
    assert_eq!(still.requests, before.requests, "not merged before the interval");
    // Another credential's request at the merge interval: the pending changes merge before it is decided,
    // with no tick at all.
    serve_at(&root, &host, 21, "sk-other", T0 + 5_000);
    let merged = shared(&cfg, &host.store, &subject, T0 + 5_000).window(Window::Minute).current;
    assert_eq!((merged.requests, merged.input, merged.output), (6, 18, 24));
    assert!(root.local_ledger().borrow_mut().take_stats().merges >= 1);
    // The other credential's changes (pending since its first settlement, T0 + 4.9 s) merge 5 s of
    // simulated time later, whatever the host's tick says.
    let other = Subject::credential(&cred(&p, "sk-other").id);
    let other_requests = || shared(&cfg, &host.store, &other, T0 + 9_900).window(Window::Minute).current.requests;
    serve_at(&root, &host, 22, "sk-sim", T0 + 9_800);
    root.flush_ledger(&host.store, T0 + 86_400_000, false);
    assert_eq!(other_requests(), 1);
    // A worker with no request between two ticks cannot see simulated time pass: it merges all it holds.
    assert!(root.local_ledger().borrow().pending() > 0);
    root.flush_ledger(&host.store, 0, false);
    assert_eq!(other_requests(), 2);
    assert_eq!(root.local_ledger().borrow().pending(), 0);
    serve_at(&root, &host, 23, "sk-sim", T0 + 9_900);
    // A reload merges everything (host time again irrelevant).
    assert!(root.on_configure_with_store(&sim_policy(5_000), &no_env, &host.store, 0).0);
    assert_eq!(root.local_ledger().borrow().pending(), 0);
    let last = shared(&cfg, &host.store, &subject, T0 + 11_000).window(Window::Minute).current;
    assert_eq!(last.requests, 8);
}

#[test]
fn the_campaign_sketch_weights_registers_exactly_as_powi() {
    for r in 0..=255u8 {
        let want = 2f32.powi(-i32::from(r));
        assert_eq!(distill_guard::campaign::inverse_power_of_two(r).to_bits(), want.to_bits(), "register {r}");
    }
}

/// Serves `keys` credentials in turn, each every `period_ms` (k = merge interval / period requests a
/// merge interval on this one worker), over `cycles` periods, the root's tick every 100 ms as the
/// adapter runs it; returns the shared-data calls of each cycle.
fn serve_in_turn(root: &mut RootExchange, host: &FakeHost, keys: u64, period_ms: u64, cycles: u64) -> Vec<u64> {
    let spacing = period_ms / keys;
    let mut per_cycle = Vec::new();
    let mut ticked = T0;
    for cycle in 0..cycles {
        let calls = host.store.calls();
        for k in 0..keys {
            let now = T0 + cycle * period_ms + k * spacing;
            while ticked + 100 <= now {
                ticked += 100;
                root.flush_ledger(&host.store, ticked, false);
            }
            host.now_ms.set(now);
            serve(root, host, (cycle * keys + k + 2) as u32, &format!("sk-turn-{k}"));
        }
        per_cycle.push(host.store.calls() - calls);
    }
    per_cycle
}

#[test]
fn a_credential_back_at_most_once_a_merge_interval_costs_a_read_and_a_write_a_request() {
    // Issue 16's low-repetition shape (k <= 1): each credential comes back to the worker once a merge
    // interval (5 s) or once every two. Its view is stale by then: it is read again (one read, no
    // write) and decided on; the tick's merge writes the changes with that read's CAS token (one
    // write). Before, the stale view took the exact path (a read and a write) and the merge of the
    // settlement read again: ~2.75 calls a request.
    for period in [5_000, 10_000] {
        let mut root = RootExchange::new(Rc::new(Metrics::new()));
        let host = FakeHost::new(T0);
        assert!(root.on_configure_with_store(&root_policy(5_000), &no_env, &host.store, T0).0);
        let keys = 100;
        let cycles = 6;
        let calls = serve_in_turn(&mut root, &host, keys, period, cycles);
        // Cycle 0: first sights (slot placement, the count of filled slots); from cycle 2 on: steady.
        let steady: u64 = calls[2..].iter().sum();
        let per_request = steady as f64 / ((cycles - 2) * keys) as f64;
        assert!(per_request <= 2.0, "period {period} ms: {per_request} shared-data calls a request ({calls:?})");
        // Nothing was lost: once everything is merged each credential counts every request.
        root.on_done(&host.store, T0 + cycles * period);
        let p = policy_with(json!({}));
        let cfg = LedgerConfig::with_slots(10_000, "distill_guard");
        for k in [0, keys / 2, keys - 1] {
            let subject = Subject::credential(&cred(&p, &format!("sk-turn-{k}")).id);
            let r = shared(&cfg, &host.store, &subject, T0 + cycles * period);
            assert_eq!(r.budget_count(Window::Hour, Quantity::Requests), cycles, "key {k}, period {period}");
            assert_eq!(r.budget_count(Window::Hour, Quantity::Tokens), cycles * 7, "key {k}, period {period}");
        }
    }
}

#[test]
fn a_merge_whose_token_went_stale_reads_again_and_loses_no_count() {
    let cfg = LedgerConfig::with_slots(100, "t");
    let store = MemoryStore::new();
    let (a, b) = (worker(1_000, 100), worker(1_000, 100));
    let who = Subject::credential("0011223344556677");
    charge(&Ledger::new(&cfg, &store).with_local(Some(&a)), &who, T0, 10);
    // A's view is stale a merge interval later: read again (one read, no write), decided on it.
    let calls = store.calls();
    charge(&Ledger::new(&cfg, &store).with_local(Some(&a)), &who, T0 + 1_000, 10);
    assert_eq!(store.calls() - calls, 1, "a read, no write");
    // B writes the record between A's read and A's merge (its first sight: written through).
    charge(&Ledger::new(&cfg, &store).with_local(Some(&b)), &who, T0 + 1_100, 10);
    a.borrow_mut().take_stats();
    let calls = store.calls();
    assert_eq!(a.borrow_mut().flush_due(&Ledger::new(&cfg, &store), T0 + 2_000), 1);
    let stats = a.borrow_mut().take_stats();
    assert_eq!((stats.merges, stats.cas_retries, stats.merge_failures), (1, 1, 0));
    assert_eq!(store.calls() - calls, 3, "the write with the stale token, a read, the write");
    let r = shared(&cfg, &store, &who, T0 + 2_000);
    assert_eq!(r.budget_count(Window::Minute, Quantity::Requests), 3, "A's two and B's one");
    assert_eq!(r.budget_count(Window::Minute, Quantity::Tokens), 30);
    // Without a writer in between, the merge is one write with the token of A's last read.
    charge(&Ledger::new(&cfg, &store).with_local(Some(&a)), &who, T0 + 3_100, 10);
    let calls = store.calls();
    a.borrow_mut().flush_due(&Ledger::new(&cfg, &store), T0 + 4_200);
    assert_eq!(store.calls() - calls, 1, "one write");
    assert_eq!(shared(&cfg, &store, &who, T0 + 4_200).budget_count(Window::Minute, Quantity::Requests), 4);
}

#[test]
fn an_exact_decision_on_a_record_read_again_retries_when_another_worker_wrote_in_between() {
    let cfg = LedgerConfig::with_slots(100, "t");
    let store = MemoryStore::new();
    let (a, b) = (worker(1_000, 100), worker(1_000, 100));
    let who = Subject::credential("8899aabbccddeeff");
    charge(&Ledger::new(&cfg, &store).with_local(Some(&a)), &who, T0, 10);
    // A's view is stale; the decision wants the shared record (as near a limit): it is decided on
    // the record just read and written with its token. B writes in between: A's write fails, A
    // reads again, decides again and writes.
    let la = Ledger::new(&cfg, &store).with_local(Some(&a));
    let mut seen = Vec::new();
    let mut b_wrote = false;
    let u = la
        .update(&who, T0 + 1_000, None, &mut |record| {
            if la.is_probing() {
                return Update::Exact;
            }
            seen.push(record.budget_count(Window::Minute, Quantity::Requests));
            if !b_wrote {
                b_wrote = true;
                charge(&Ledger::new(&cfg, &store).with_local(Some(&b)), &who, T0 + 1_000, 10);
            }
            Update::Apply(Delta { requests: 1, input: 10, ..Delta::default() })
        })
        .unwrap();
    assert_eq!(u.retries, 1);
    assert_eq!(seen, [1, 2], "decided on A's read, then again on the record B wrote");
    let r = shared(&cfg, &store, &who, T0 + 1_000);
    assert_eq!(r.budget_count(Window::Minute, Quantity::Requests), 3);
    assert_eq!(r.budget_count(Window::Minute, Quantity::Tokens), 30);
}

/// xorshift64: a deterministic sequence for the randomised comparisons.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn budget_counts_summed_over_the_ring_equal_the_slice_by_slice_walk() {
    use distill_guard::ledger::BudgetSlices;
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    for round in 0..300 {
        let mut b = BudgetSlices::default();
        // Some rounds start near the epoch, where the ring is not full of past slices yet.
        let mut now = if round % 5 == 0 { xorshift(&mut rng) % 50 } else { T0 / 1000 + xorshift(&mut rng) % 100_000 };
        for _ in 0..200 {
            match xorshift(&mut rng) % 5 {
                0 => now += xorshift(&mut rng) % [10, 400, 5_000, 100_000][(xorshift(&mut rng) % 4) as usize],
                1 => b.roll(now),
                _ => {
                    let at = now
                        .saturating_sub(xorshift(&mut rng) % [30, 2_000, 200_000][(xorshift(&mut rng) % 3) as usize]);
                    let sign = if xorshift(&mut rng) % 4 == 0 { -1 } else { 1 };
                    let d = Delta {
                        requests: sign * (xorshift(&mut rng) % 3) as i64,
                        input: sign * (xorshift(&mut rng) % 500) as i64,
                        output: (xorshift(&mut rng) % 300) as i64,
                        ..Delta::default()
                    };
                    b.add(&d, at);
                }
            }
            for w in Window::ALL {
                for q in [Quantity::Requests, Quantity::Tokens] {
                    assert_eq!(b.count(w, q), b.count_by_slice(w, q), "round {round}, {w:?} {q:?} at {now}");
                }
            }
        }
    }
}

#[test]
fn one_workers_merged_counts_equal_write_through_on_random_sequences() {
    // The view path (decisions on the view, views read again, merges with the token of the last read
    // or after a fresh read, evictions of a small view) against every update written through, on the
    // same random sequences: the shared counters end the same.
    let cfg = LedgerConfig::with_slots(1_000, "t");
    let mut rng = 0x0123_4567_89ab_cdefu64;
    for seed in 0..12 {
        let (viewed, through) = (MemoryStore::new(), MemoryStore::new());
        let w = RefCell::new(LocalLedger::new(LocalSettings {
            merge_interval_ms: 1_000,
            capacity: 6,
            half_life_ms: 30 * 60_000,
            decisions_per_read: 3,
            simulated: false,
        }));
        let subjects: Vec<Subject> = (0..10).map(|i| Subject::credential(&format!("{seed:08x}{i:08x}"))).collect();
        let mut now = T0 + xorshift(&mut rng) % 60_000;
        for _ in 0..600 {
            now += xorshift(&mut rng) % [5, 300, 1_500, 70_000][(xorshift(&mut rng) % 4) as usize];
            let who = &subjects[(xorshift(&mut rng) % 10) as usize];
            let d = Delta {
                requests: (xorshift(&mut rng) % 2) as i64,
                input: (xorshift(&mut rng) % 100) as i64,
                output: (xorshift(&mut rng) % 50) as i64,
                ..Delta::default()
            };
            let correction = xorshift(&mut rng) % 3 == 0;
            for (store, local) in [(&viewed, Some(&w)), (&through, None)] {
                let ledger = Ledger::new(&cfg, store).with_local(local);
                let r = if correction {
                    ledger.change(who, now, None, &mut |_| Update::Apply(d))
                } else {
                    ledger.update(who, now, None, &mut |_| Update::Apply(d))
                };
                r.unwrap();
            }
            if xorshift(&mut rng) % 8 == 0 {
                w.borrow_mut().flush_due(&Ledger::new(&cfg, &viewed), now);
            }
        }
        assert_eq!(w.borrow_mut().flush_all(&Ledger::new(&cfg, &viewed), now), 0);
        for who in &subjects {
            let (a, b) = (shared(&cfg, &viewed, who, now), shared(&cfg, &through, who, now));
            assert_eq!(a.windows, b.windows, "seed {seed}, {}", who.key);
            assert_eq!(a.budget, b.budget, "seed {seed}, {}", who.key);
        }
    }
}

#[test]
fn campaign_sketch_estimates_are_those_of_the_formula_empty_or_not() {
    use distill_guard::campaign::{inverse_power_of_two, Sketch, REGISTERS};
    let formula = |s: &Sketch| {
        let m = REGISTERS as f32;
        let zeros = s.0.iter().filter(|r| **r == 0).count() as f32;
        let sum: f32 = s.0.iter().map(|r| inverse_power_of_two(*r)).sum();
        let raw = 0.697 * m * m / sum;
        if raw <= 2.5 * m && zeros > 0.0 {
            m * (m / zeros).ln()
        } else {
            raw
        }
    };
    let mut rng = 0x5555_aaaa_1234_4321u64;
    let mut s = Sketch::default();
    assert_eq!(s.estimate().to_bits(), formula(&s).to_bits(), "empty");
    for i in 0..5_000u64 {
        s.insert(xorshift(&mut rng));
        assert_eq!(s.estimate().to_bits(), formula(&s).to_bits(), "after {i}");
        if i % 700 == 0 {
            s = Sketch::default();
        }
    }
}

//! The root context in the core ([`RootExchange`]): which policy serves, the fleet counters' lifetime,
//! the tick period, the fleet flush and its answer, and when memory is recorded; checked on the
//! actions it answers with.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use std::cell::Cell;
use std::rc::Rc;

use distill_guard::exchange::root::{Level, RootAction, RootExchange};
use distill_guard::exchange::CallOut;
use distill_guard::fleet::wire;
use distill_guard::metrics::{Metrics, Pending};
use serde_json::{json, Value};

use crate::support::no_env;

const T0: u64 = 1_800_000_000_000;

fn policy(extra: Value) -> Vec<u8> {
    let mut p = json!({
        "version": 1,
        "credential": {"sources": [{"kind": "bearer"}], "hash_secret": "0123456789abcdef-test-secret"}
    });
    if let (Some(b), Some(e)) = (p.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    p.to_string().into_bytes()
}

fn root_with(extra: Value) -> RootExchange {
    let mut root = RootExchange::new(Rc::new(Metrics::new()));
    let (accepted, _) = root.on_configure(&policy(extra), &no_env);
    assert!(accepted);
    root
}

/// A root with the fleet on, one request recorded and its flush dispatched: the call it asked for.
fn flushing(root: &mut RootExchange, now: u64) -> CallOut {
    root.fleet().unwrap().borrow_mut().record("credential-a", None, None);
    let actions = root.on_tick(now);
    assert_eq!(actions.last(), Some(&RootAction::PublishMetrics), "metrics are published after the flush");
    match actions.first() {
        Some(RootAction::GrpcCall(call)) => call.clone(),
        other => panic!("expected a gRPC call first, got {other:?}"),
    }
}

fn warnings(actions: &[RootAction]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            RootAction::Log(Level::Warn, line) => Some(line.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn an_accepted_policy_logs_records_memory_publishes_and_sets_the_tick_in_that_order() {
    let mut root = RootExchange::new(Rc::new(Metrics::new()));
    let (accepted, actions) = root.on_configure(&policy(json!({})), &no_env);
    assert!(accepted);
    assert_eq!(actions.len(), 4, "{actions:?}");
    assert!(matches!(&actions[0], RootAction::Log(Level::Info, l) if l.starts_with("distill-guard: policy accepted")));
    assert_eq!(actions[1..], [RootAction::RecordMemory, RootAction::PublishMetrics, RootAction::SetTickPeriod(100)]);
    assert_eq!(root.metrics().pending(Metrics::policy_reloads), Pending::Add(1));
}

#[test]
fn a_rejected_policy_logs_the_error_and_keeps_the_old_one() {
    let mut root = root_with(json!({}));
    let before = root.policy().cloned().unwrap();
    let (accepted, actions) = root.on_configure(b"{\"version\": 1, \"credential\": 5}", &no_env);
    assert!(!accepted);
    let RootAction::Log(Level::Error, line) = &actions[0] else { panic!("expected an error line, got {actions:?}") };
    assert!(line.starts_with("distill-guard: policy rejected, previous policy keeps serving: "), "{line}");
    assert!(line.contains("credential"), "the line names the field: {line}");
    assert_eq!(actions[1..], [RootAction::PublishMetrics, RootAction::SetTickPeriod(100)]);
    assert!(Rc::ptr_eq(root.policy().unwrap(), &before), "the previous policy keeps serving");
    assert_eq!(root.metrics().pending(Metrics::policy_rejections), Pending::Add(1));
    let (exchange, _) = root.on_new_exchange(1);
    assert!(exchange.is_some(), "exchanges still run on the previous policy");
}

#[test]
fn without_a_policy_no_exchange_is_created() {
    let mut root = RootExchange::new(Rc::new(Metrics::new()));
    let (accepted, _) = root.on_configure(b"not json", &no_env);
    assert!(!accepted);
    assert!(root.policy().is_none());
    let (exchange, actions) = root.on_new_exchange(Metrics::MEMORY_REPORT_EVERY);
    assert!(exchange.is_none());
    assert_eq!(actions, []);
}

#[test]
fn the_fleet_replica_is_kept_on_reconfigure_and_dropped_when_fleet_turns_off() {
    let mut root = RootExchange::new(Rc::new(Metrics::new()));
    assert!(root.fleet().is_none());
    root.on_configure(&policy(json!({"fleet": {"enabled": true}})), &no_env);
    let replica = root.fleet().cloned().unwrap();
    replica.borrow_mut().record("credential-a", None, None);
    root.on_configure(&policy(json!({"fleet": {"enabled": true, "timeout_ms": 900}})), &no_env);
    let kept = root.fleet().cloned().unwrap();
    assert!(Rc::ptr_eq(&kept, &replica), "the same replica");
    assert_eq!(kept.borrow().pending(), 1, "its deltas are kept");
    assert_eq!(kept.borrow().settings().timeout_ms, 900, "with the new settings");
    root.on_configure(&policy(json!({"fleet": {"enabled": false}})), &no_env);
    assert!(root.fleet().is_none());
    assert_eq!(root.on_tick(T0), [RootAction::PublishMetrics], "no flush without the fleet");
    root.on_configure(&policy(json!({"fleet": {"enabled": true}})), &no_env);
    let fresh = root.fleet().cloned().unwrap();
    assert!(!Rc::ptr_eq(&fresh, &replica), "turned on again: a new replica");
    assert_eq!(fresh.borrow().pending(), 0);
}

#[test]
fn the_tick_period_is_the_fleet_tick_capped_by_the_metrics_period() {
    let period = |extra: Value| {
        let mut root = RootExchange::new(Rc::new(Metrics::new()));
        let (_, actions) = root.on_configure(&policy(extra), &no_env);
        actions.iter().find_map(|a| if let RootAction::SetTickPeriod(ms) = a { Some(*ms) } else { None })
    };
    assert_eq!(period(json!({})), Some(Metrics::FLUSH_PERIOD_MS));
    assert_eq!(period(json!({"fleet": {"enabled": false, "tick_ms": 100}})), Some(Metrics::FLUSH_PERIOD_MS));
    // The fleet's tick is at least 100 ms, the metrics period: the replica paces its own flushes.
    assert_eq!(period(json!({"fleet": {"enabled": true, "tick_ms": 100}})), Some(100));
    assert_eq!(period(json!({"fleet": {"enabled": true, "tick_ms": 60000}})), Some(Metrics::FLUSH_PERIOD_MS));
}

#[test]
fn a_due_flush_asks_for_the_rate_limit_call_on_the_policy_cluster() {
    let mut root = root_with(json!({"fleet": {"enabled": true, "cluster": "counters", "timeout_ms": 250}}));
    let call = flushing(&mut root, T0);
    assert_eq!((call.cluster.as_str(), call.timeout_ms), ("counters", 250));
    assert_eq!((call.service.as_str(), call.method.as_str()), (wire::SERVICE, wire::METHOD));
    assert!(wire::decode_request(&call.message).is_ok());
    root.on_call_sent(3);
    root.fleet().unwrap().borrow_mut().record("credential-b", None, None);
    assert_eq!(root.on_tick(T0 + 1200), [RootAction::PublishMetrics], "one call in flight at a time");
}

#[test]
fn a_failed_dispatch_is_reported_to_the_replica_with_one_log_line_per_outage() {
    let mut root = root_with(json!({"fleet": {"enabled": true, "cluster": "counters"}}));
    flushing(&mut root, T0);
    let lines = warnings(&root.on_call_not_sent("NotFound", T0));
    assert_eq!(
        lines,
        ["distill-guard: fleet counters unavailable (cannot call cluster `counters`: NotFound), deciding on this \
          replica's counts until the service answers"]
    );
    assert!(root.fleet().unwrap().borrow().is_down());
    assert_eq!(root.metrics().pending(Metrics::fleet_call_failures), Pending::Add(1));
    let call = flushing(&mut root, T0 + 2000);
    assert!(!call.message.is_empty(), "the batch is sent again");
    assert_eq!(root.on_call_not_sent("NotFound", T0 + 2000), [], "still down: no second line");
    assert_eq!(root.metrics().pending(Metrics::fleet_call_failures), Pending::Add(2));
}

#[test]
fn a_grpc_non_zero_status_is_a_failure_and_its_body_is_not_read() {
    let mut root = root_with(json!({"fleet": {"enabled": true}}));
    flushing(&mut root, T0);
    root.on_call_sent(7);
    let read = Cell::new(false);
    let body = || {
        read.set(true);
        None
    };
    assert_eq!(root.on_call_answer(8, 0, body, T0 + 10), [], "another call's answer is ignored");
    let lines = warnings(&root.on_call_answer(7, 14, body, T0 + 10));
    assert!(!read.get(), "a failed call's buffer is not read");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("(gRPC status 14)"), "{}", lines[0]);
    assert!(root.fleet().unwrap().borrow().is_down());
    assert_eq!(root.on_call_answer(7, 14, body, T0 + 20), [], "answered once only");
}

#[test]
fn a_grpc_status_zero_is_an_answer_whose_body_is_read() {
    let mut root = root_with(json!({"fleet": {"enabled": true}}));
    flushing(&mut root, T0);
    root.on_call_sent(7);
    let read = Cell::new(false);
    let lines = warnings(&root.on_call_answer(
        7,
        0,
        || {
            read.set(true);
            Some(b"\xff".to_vec())
        },
        T0 + 10,
    ));
    assert!(read.get(), "the answer's bytes are read");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(!lines[0].contains("gRPC status"), "judged on its bytes, not as a failed call: {}", lines[0]);
}

#[test]
fn memory_is_recorded_every_n_contexts() {
    let root = root_with(json!({"fleet": {"enabled": true}}));
    let n = Metrics::MEMORY_REPORT_EVERY;
    for (id, expected) in [
        (n / 2, vec![]),
        (n, vec![RootAction::RecordMemory]),
        (n + 1, vec![]),
        (2 * n - 1, vec![]),
        (2 * n, vec![RootAction::RecordMemory]),
    ] {
        let (exchange, actions) = root.on_new_exchange(id);
        assert!(exchange.is_some());
        assert_eq!(actions, expected, "context {id}");
    }
}

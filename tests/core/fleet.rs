#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use distill_guard::fleet::counters::{
    needs_sync_check, overshoot_bound, read_answer, Batch, CampaignWindow, Deltas, FleetCounters, FleetError, Lease,
    LeaseStep, Member, Slot, COUNTER_LIMIT, DOMAIN,
};
use distill_guard::fleet::export::{
    request_exports, settle_export, CREDENTIAL, GRPC_CLUSTER, TENANT, TOKENS_ESTIMATE, TOKENS_REMAINDER,
};
use distill_guard::fleet::settings::{FailMode, FleetHealth, FleetSettings, HealthChange};
use distill_guard::fleet::wire::{
    decode_request, decode_response, encode_request, Code, Descriptor, DescriptorStatus, RateLimitRequest,
    RateLimitResponse, Unit, WireError,
};

// Two exchanges with the real envoyproxy/ratelimit service: requests encoded by the protobuf runtime,
// answers recorded from the service (tests/e2e/test_fleet_protocol.py replays and re-records them).
const REQUEST1: &[u8] = include_bytes!("../data/fleet/request1.bin");
const RESPONSE1: &[u8] = include_bytes!("../data/fleet/response1.bin");
const REQUEST2: &[u8] = include_bytes!("../data/fleet/request2.bin");
const RESPONSE2: &[u8] = include_bytes!("../data/fleet/response2.bin");

const MAX: usize = 1000;
/// A time in campaign window 7 of 360 minutes (the window the recorded exchanges use).
const NOW: u64 = 7 * 360 * 60_000 + 5_000;

fn counters() -> FleetCounters {
    FleetCounters::new(CampaignWindow::new(360).unwrap(), 64, MAX)
}

/// The deltas of the first recorded exchange: credA twice (once with prompt p1), credB once, one template.
fn first_deltas() -> Deltas {
    let mut d = Deltas::default();
    assert!(d.record("credA", Some("tpl1"), Some("p1"), MAX));
    assert!(d.record("credB", Some("tpl1"), None, MAX));
    assert!(d.record("credA", Some("tpl1"), None, MAX));
    d
}

#[test]
fn batch_from_deltas_encodes_to_the_bytes_of_the_protobuf_runtime() {
    let mut fc = counters();
    let mut deltas = first_deltas();
    let batch = fc.build_batch(&mut deltas, NOW).unwrap();
    assert!(deltas.is_empty());
    assert_eq!(batch.window, 7);
    assert_eq!(batch.encode(), REQUEST1);
    assert_eq!(batch.request().domain, DOMAIN);
}

#[test]
fn encoded_request_reads_back_the_same() {
    let batch = counters().build_batch(&mut first_deltas(), NOW).unwrap();
    assert_eq!(decode_request(REQUEST1).unwrap(), batch.request());
    let check_only = RateLimitRequest { domain: "d".into(), descriptors: vec![Descriptor::new(&[("k", "v")], 0)] };
    let bytes = encode_request(&check_only);
    // a hits_addend of 0 is an empty UInt64Value: present, so the service checks without charging
    assert!(bytes.ends_with(&[0x1a, 0x00]));
    assert_eq!(decode_request(&bytes).unwrap(), check_only);
    let default_hits = RateLimitRequest {
        domain: String::new(),
        descriptors: vec![Descriptor { entries: Descriptor::new(&[("k", "")], 0).entries, hits_addend: None }],
    };
    assert_eq!(decode_request(&encode_request(&default_hits)).unwrap(), default_hits);
    // lengths past one varint byte, at every level, and large hit counts
    let long = "v".repeat(300);
    let big = RateLimitRequest {
        domain: "d".repeat(130),
        descriptors: (0..40)
            .map(|i| Descriptor::new(&[("k".repeat(i * 7).as_str(), long.as_str()), ("x", "y")], u64::MAX >> i))
            .collect(),
    };
    let bytes = encode_request(&big);
    assert!(bytes.len() > 16_384);
    assert_eq!(decode_request(&bytes).unwrap(), big);
}

#[test]
fn recorded_answer_of_the_real_service_decodes() {
    let resp = decode_response(RESPONSE1).unwrap();
    assert_eq!(resp.overall_code, Code::Ok);
    assert_eq!(resp.statuses.len(), 7);
    let limits: Vec<(Code, u32, u32)> = resp
        .statuses
        .iter()
        .map(|s| (s.code, s.current_limit.as_ref().unwrap().requests_per_unit, s.limit_remaining))
        .collect();
    let l = COUNTER_LIMIT;
    assert_eq!(
        limits,
        vec![
            (Code::Ok, l, l),
            (Code::Ok, 1, 0),
            (Code::Ok, 1, 0),
            (Code::Ok, l, l),
            (Code::Ok, 1, 0),
            (Code::Ok, l, l - 2),
            (Code::Ok, l, l - 1)
        ]
    );
    assert_eq!(resp.statuses[0].current_limit.as_ref().unwrap().unit, Unit::Day);
    assert_eq!(resp.statuses[5].current_limit.as_ref().unwrap().unit, Unit::Hour);
    assert!(resp.statuses.iter().all(|s| s.seconds_until_reset > 0 && s.seconds_until_reset <= 86_400));
    let second = decode_response(RESPONSE2).unwrap();
    assert_eq!(second.overall_code, Code::OverLimit);
    assert_eq!(second.statuses[2].code, Code::OverLimit);
}

#[test]
fn first_sightings_become_owed_increments_and_the_next_batch_carries_them() {
    let mut fc = counters();
    let batch1 = fc.build_batch(&mut first_deltas(), NOW).unwrap();
    let reading = fc.apply_answer(&batch1, RESPONSE1, NOW).unwrap();
    assert_eq!(
        reading.first,
        vec![(Member::Credential, "tpl1".into()), (Member::Credential, "tpl1".into()), (Member::Prompt, "tpl1".into())]
    );
    assert_eq!(fc.owed(), 3);
    assert_eq!(fc.view().credential_requests("credA", NOW), Some(2));
    assert_eq!(fc.view().credential_requests("credB", NOW), Some(1));
    let w = CampaignWindow::new(360).unwrap();
    assert_eq!(fc.view().template_members(Member::Credential, "tpl1", w, NOW), Some(0));

    // credA again: its mark goes again (answered OVER_LIMIT: already counted), with the owed increments.
    let mut deltas = Deltas::default();
    deltas.record("credA", Some("tpl1"), None, MAX);
    let batch2 = fc.build_batch(&mut deltas, NOW + 1000).unwrap();
    assert_eq!(fc.owed(), 0);
    assert_eq!(batch2.encode(), REQUEST2);
    let reading = fc.apply_answer(&batch2, RESPONSE2, NOW + 1000).unwrap();
    assert!(reading.first.is_empty());
    assert_eq!(fc.owed(), 0);
    // the fleet view: 2 distinct credentials and 1 prompt on the template, credA's 3 requests this hour
    assert_eq!(fc.view().template_members(Member::Credential, "tpl1", w, NOW + 1000), Some(2));
    assert_eq!(fc.view().template_members(Member::Prompt, "tpl1", w, NOW + 1000), Some(1));
    assert_eq!(fc.view().credential_requests("credA", NOW + 1000), Some(3));
    // stale once the window (or the hour) turns
    let next_window = 8 * 360 * 60_000;
    assert_eq!(fc.view().template_members(Member::Credential, "tpl1", w, next_window), None);
    assert_eq!(fc.view().credential_requests("credA", NOW + 3_600_000), None);
}

#[test]
fn failed_call_puts_counts_and_owed_increments_back() {
    let mut fc = counters();
    let batch1 = fc.build_batch(&mut first_deltas(), NOW).unwrap();
    fc.apply_answer(&batch1, RESPONSE1, NOW).unwrap();
    let mut deltas = Deltas::default();
    deltas.record("credA", Some("tpl1"), None, MAX);
    let batch2 = fc.build_batch(&mut deltas, NOW).unwrap();
    assert!(deltas.is_empty());
    fc.requeue(batch2.clone(), &mut deltas, NOW);
    assert_eq!(fc.owed(), 3);
    assert_eq!(deltas.requests.get("credA"), Some(&1));
    assert!(deltas.members.contains(&(Member::Credential, "tpl1".into(), "credA".into())));
    // the retry is the same batch
    assert_eq!(fc.build_batch(&mut deltas, NOW).unwrap(), batch2);
}

#[test]
fn owed_increments_of_a_past_window_are_dropped() {
    let mut fc = counters();
    let batch1 = fc.build_batch(&mut first_deltas(), NOW).unwrap();
    fc.apply_answer(&batch1, RESPONSE1, NOW).unwrap();
    assert_eq!(fc.owed(), 3);
    let mut empty = Deltas::default();
    assert_eq!(fc.build_batch(&mut empty, 8 * 360 * 60_000), None);
    assert_eq!(fc.owed(), 0);
    // an answer to a batch of the past window owes nothing either
    let mut fc = counters();
    let batch1 = fc.build_batch(&mut first_deltas(), NOW).unwrap();
    fc.apply_answer(&batch1, RESPONSE1, 8 * 360 * 60_000).unwrap();
    assert_eq!(fc.owed(), 0);
}

#[test]
fn batch_is_capped_and_the_rest_waits_for_the_next_tick() {
    let mut fc = FleetCounters::new(CampaignWindow::new(60).unwrap(), 3, MAX);
    let mut deltas = Deltas::default();
    for i in 0..5 {
        deltas.record(&format!("c{i}"), Some("t"), None, MAX);
    }
    let mut sent = 0;
    let mut batches = 0;
    while let Some(b) = fc.build_batch(&mut deltas, NOW) {
        assert!(b.slots.len() <= 3);
        sent += b.slots.iter().filter(|s| !matches!(s, Slot::Count { .. })).count();
        batches += 1;
        assert!(batches < 20);
    }
    assert_eq!(sent, 10); // 5 marks + 5 volumes, each exactly once
    assert!(deltas.is_empty());
}

#[test]
fn deltas_are_bounded() {
    let mut d = Deltas::default();
    assert!(d.record("a", Some("t"), Some("p"), 3));
    assert_eq!(d.len(), 3);
    assert!(d.record("a", Some("t"), Some("p"), 3)); // known entries still count
    assert_eq!(d.requests["a"], 2);
    assert!(!d.record("b", None, None, 3));
    assert_eq!(d.len(), 3);
    let mut other = Deltas::default();
    other.record("a", None, None, 10);
    other.record("c", None, None, 10);
    d.merge(other);
    assert_eq!(d.requests["a"], 3);
    assert_eq!(d.requests["c"], 1);
}

#[test]
fn campaign_window_must_divide_a_day() {
    assert_eq!(CampaignWindow::new(360).unwrap().index(NOW), 7);
    assert!(CampaignWindow::new(1440).is_ok());
    for bad in [0, 7, 1441, 2880] {
        let err = CampaignWindow::new(bad).unwrap_err();
        assert_eq!(err, FleetError::Window { minutes: bad });
        assert!(err.to_string().contains("divides a day"), "{err}");
    }
}

#[test]
fn answers_that_do_not_fit_the_batch_are_refused() {
    let batch = Batch { window: 1, slots: vec![Slot::Volume { credential: "c".into(), hits: 1 }] };
    let none = RateLimitResponse { overall_code: Code::Ok, statuses: vec![] };
    assert_eq!(read_answer(&batch, &none), Err(FleetError::StatusCount { sent: 1, got: 0 }));
    let unknown = RateLimitResponse {
        overall_code: Code::Unknown,
        statuses: vec![DescriptorStatus {
            code: Code::Unknown,
            current_limit: None,
            limit_remaining: 0,
            seconds_until_reset: 0,
        }],
    };
    assert_eq!(read_answer(&batch, &unknown), Err(FleetError::Status { index: 0 }));
    // a service without the fleet domain's config answers OK without a limit: refused, not "first"
    let unconfigured = RateLimitResponse {
        overall_code: Code::Ok,
        statuses: vec![DescriptorStatus { code: Code::Ok, ..unknown.statuses[0].clone() }],
    };
    let err = read_answer(&batch, &unconfigured).unwrap_err();
    assert_eq!(err, FleetError::NotConfigured { index: 0 });
    assert!(err.to_string().contains("distill_guard_fleet"), "{err}");
    // a mark answered under another limit than 1 cannot tell who was first
    let mark = Batch {
        window: 1,
        slots: vec![Slot::Mark { member: Member::Credential, template: "t".into(), id: "c".into() }],
    };
    let wrong_limit = decode_response(RESPONSE1).unwrap().statuses[0].clone(); // a counter's status
    let resp = RateLimitResponse { overall_code: Code::Ok, statuses: vec![wrong_limit] };
    assert_eq!(read_answer(&mark, &resp), Err(FleetError::NotConfigured { index: 0 }));
    let mut fc = counters();
    let batch1 = fc.build_batch(&mut first_deltas(), NOW).unwrap();
    assert!(matches!(fc.apply_answer(&batch1, RESPONSE2, NOW), Err(FleetError::StatusCount { sent: 7, got: 4 })));
}

#[test]
fn truncated_or_malformed_answers_are_errors_never_panics() {
    for cut in 0..RESPONSE1.len() {
        let r = decode_response(&RESPONSE1[..cut]);
        // a cut on a field boundary is a shorter valid message; anywhere else an error
        if let Err(e) = r {
            assert!(matches!(e, WireError::Truncated { .. }), "{e}");
        }
    }
    assert_eq!(decode_response(&[0x12, 0x05, 0x08]), Err(WireError::Truncated { message: "RateLimitResponse" }));
    // statuses (field 2) sent as a varint
    assert_eq!(
        decode_response(&[0x10, 0x01]),
        Err(WireError::WireType { message: "RateLimitResponse", field: 2, wire_type: 0 })
    );
    let long_varint = [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    assert_eq!(decode_response(&long_varint).unwrap_err(), WireError::VarintTooLong { message: "RateLimitResponse" });
    assert!(decode_response(&[0x0f]).is_err()); // wire type 7 does not exist
                                                // unknown fields are skipped
    let mut with_extra = RESPONSE1.to_vec();
    with_extra.extend_from_slice(&[0x3a, 0x02, 0x08, 0x01, 0x40, 0x05]);
    assert_eq!(decode_response(&with_extra).unwrap(), decode_response(RESPONSE1).unwrap());
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..2000 {
        let mut bytes = RESPONSE1.to_vec();
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let at = (rng % bytes.len() as u64) as usize;
        bytes[at] = (rng >> 32) as u8;
        let _ = decode_response(&bytes);
        let _ = decode_request(&bytes);
    }
}

#[test]
fn overshoot_is_replicas_times_tick_times_rate_plus_in_flight() {
    // 3 replicas, a 1 s tick, 600 requests a minute at each: 10 each before the view catches up
    assert_eq!(overshoot_bound(3, 1000, 600, 4), 34);
    assert_eq!(overshoot_bound(2, 100, 1, 0), 2); // any traffic in a tick can be one request over
    assert_eq!(overshoot_bound(5, 1000, 0, 3), 3);
    assert_eq!(overshoot_bound(u64::MAX, u64::MAX, u64::MAX, u64::MAX), u64::MAX);
}

#[test]
fn sync_check_starts_at_the_threshold() {
    assert!(!needs_sync_check(89, 100, 90));
    assert!(needs_sync_check(90, 100, 90));
    assert!(needs_sync_check(0, 100, 0));
    assert!(!needs_sync_check(u64::MAX - 1, u64::MAX, 100));
    assert!(needs_sync_check(u64::MAX, u64::MAX, 200)); // clamped to 100%
}

#[test]
fn exported_filter_state_is_what_the_generated_envoy_config_reads() {
    assert_eq!(
        request_exports("b313bc285ece41ea", Some("acme"), 42),
        vec![
            (CREDENTIAL, "b313bc285ece41ea".to_string()),
            (TOKENS_ESTIMATE, "42".to_string()),
            (TENANT, "acme".to_string())
        ]
    );
    assert_eq!(request_exports("c", None, 0).len(), 2);
    assert_eq!(settle_export(100, 350, true), (TOKENS_REMAINDER, "250".to_string()));
    assert_eq!(settle_export(100, 60, true), (TOKENS_REMAINDER, "0".to_string()));
    assert_eq!(settle_export(100, 350, false), (TOKENS_REMAINDER, "0".to_string()));
    // the names Envoy's rate limit actions read (wasm.<name>) and the cluster are the generator's
    let generator = include_str!("../../envoy/fleet/ratelimit_config.py");
    for name in [CREDENTIAL, TENANT, TOKENS_ESTIMATE, TOKENS_REMAINDER] {
        assert!(generator.contains(&format!("\"wasm.{name}\"")), "{name} not in ratelimit_config.py");
    }
    let render = include_str!("../../envoy/fleet/render_fleet.py");
    assert!(render.contains(&format!("CLUSTER = \"{GRPC_CLUSTER}\"")));
    assert!(generator.contains(&format!("FLEET_DOMAIN = \"{DOMAIN}\"")));
    assert!(generator.contains(&format!("COUNTER_LIMIT = {}", "1_000_000_000")) && COUNTER_LIMIT == 1_000_000_000);
}

#[test]
fn deltas_travel_between_vms_as_bytes() {
    let d = first_deltas();
    let back = Deltas::from_bytes(&d.to_bytes()).unwrap();
    assert_eq!(back, d);
    assert_eq!(Deltas::from_bytes(&Deltas::default().to_bytes()).unwrap(), Deltas::default());
    // a batch request is not a deltas record
    assert!(matches!(Deltas::from_bytes(REQUEST1), Err(FleetError::Deltas { .. })));
    assert!(Deltas::from_bytes(&[0x0a, 0x05, b'x']).is_err());
    let odd = encode_request(&RateLimitRequest {
        domain: "distill_guard.deltas.v1".into(),
        descriptors: vec![Descriptor::new(&[("template", "t"), ("tenant", "x")], 1)],
    });
    assert_eq!(Deltas::from_bytes(&odd), Err(FleetError::Deltas { reason: "unknown member kind" }));
}

#[test]
fn one_vm_holds_the_flusher_lease_until_it_stops_renewing() {
    let ttl = 3000;
    // nobody holds it: take it
    let LeaseStep::Write(mine) = Lease::step(None, 1, 10_000, ttl) else { panic!("should take the lease") };
    assert_eq!(mine, Lease { holder: 1, expires_ms: 13_000 });
    let stored = Lease::from_bytes(&mine.to_bytes());
    assert_eq!(stored, Some(mine));
    // the holder flushes while more than half is left, then renews
    assert_eq!(Lease::step(stored, 1, 11_000, ttl), LeaseStep::Flush);
    assert_eq!(Lease::step(stored, 1, 12_000, ttl), LeaseStep::Write(Lease { holder: 1, expires_ms: 15_000 }));
    // another VM waits while it is valid and takes over once it expired
    assert_eq!(Lease::step(stored, 2, 12_999, ttl), LeaseStep::Wait);
    assert_eq!(Lease::step(stored, 2, 13_000, ttl), LeaseStep::Write(Lease { holder: 2, expires_ms: 16_000 }));
    // garbage in shared data counts as no lease
    assert_eq!(Lease::from_bytes(&[1, 2, 3]), None);
    assert_eq!(Lease::from_bytes(&[0; 17]), None);
    assert!(matches!(Lease::step(Lease::from_bytes(b"junk"), 2, 0, ttl), LeaseStep::Write(_)));
}

#[test]
fn fleet_section_defaults_to_off_with_short_timeouts() {
    let s = FleetSettings::parse(None, 360).unwrap();
    assert!(!s.enabled);
    assert_eq!((s.tick_ms, s.timeout_ms, s.sync_check_percent, s.fail), (1000, 200, 90, FailMode::Open));
    assert_eq!(s.cluster, GRPC_CLUSTER);
    assert_eq!(s.window.minutes(), 360);
    let v = serde_json::json!({"enabled": true, "tick_ms": 250, "timeout_ms": 50, "sync_check_percent": 80,
                               "fail": "closed", "cluster": "rls", "max_descriptors": 16, "max_pending": 100});
    let s = FleetSettings::parse(Some(&v), 60).unwrap();
    assert!(s.enabled && s.fail == FailMode::Closed && s.cluster == "rls");
    assert_eq!(
        (s.tick_ms, s.timeout_ms, s.sync_check_percent, s.max_descriptors, s.max_pending),
        (250, 50, 80, 16, 100)
    );
}

#[test]
fn fleet_section_errors_name_the_field() {
    let path = |v: serde_json::Value, window: u64| FleetSettings::parse(Some(&v), window).unwrap_err().path;
    assert_eq!(path(serde_json::json!({"tick_ms": 5}), 360), "fleet.tick_ms");
    assert_eq!(path(serde_json::json!({"timeout_ms": 0}), 360), "fleet.timeout_ms");
    assert_eq!(path(serde_json::json!({"sync_check_percent": 101}), 360), "fleet.sync_check_percent");
    assert_eq!(path(serde_json::json!({"cluster": "a b"}), 360), "fleet.cluster");
    let unknown = FleetSettings::parse(Some(&serde_json::json!({"tick": 1})), 360).unwrap_err();
    assert_eq!(unknown.path, "fleet");
    assert!(unknown.reason.contains("tick"), "{}", unknown.reason);
    let bad_mode = FleetSettings::parse(Some(&serde_json::json!({"fail": "sideways"})), 360).unwrap_err();
    assert!(bad_mode.reason.contains("sideways"), "{}", bad_mode.reason);
    // a window that does not divide a day only matters when the fleet section is on
    assert_eq!(path(serde_json::json!({"enabled": true}), 7), "detection.campaign.window_minutes");
    assert!(FleetSettings::parse(Some(&serde_json::json!({"enabled": false})), 7).is_ok());
}

#[test]
fn health_changes_once_per_outage() {
    let mut h = FleetHealth::default();
    assert_eq!(h.record(true), None);
    assert_eq!(h.record(false), Some(HealthChange::WentDown));
    assert!(h.is_down());
    assert_eq!(h.record(false), None);
    assert_eq!(h.record(false), None);
    assert_eq!(h.record(true), Some(HealthChange::CameBack { failed_calls: 3 }));
    assert!(!h.is_down());
    assert_eq!(h.record(true), None);
}

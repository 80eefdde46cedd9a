//! Test-only filter for the fleet path check. From request headers it exports, as filter state:
//! `x-probe-credential` -> `wasm.distill_guard.credential`, `x-probe-tenant` -> `wasm.distill_guard.tenant`,
//! `x-probe-estimate` -> `wasm.distill_guard.tokens_estimate` (at request headers, or with `x-probe-hold`
//! at the end of the request body after holding the headers, as distill-guard does), and
//! `x-probe-remainder` -> `wasm.distill_guard.tokens_remainder` in the phase named by `x-probe-phase`
//! (`request`, `response` = end of the response body, or `log`), to show which phase Envoy's
//! `apply_on_stream_done` rate limit entries still see.
//!
//! With `x-probe-fleet: <credential>:<template>` it instead runs distill-guard's own fleet counter code
//! (src/fleet, compiled in by path) through Envoy's gRPC client: one `ShouldRateLimit` call with the
//! request's deltas, then a second with the increment owed if this was the template's first sighting of
//! the credential, and answers `{"first":..,"credentials":..,"volume":..}` from the fleet view.

#[path = "../../../../src/fleet/wire.rs"]
#[allow(dead_code)]
mod wire;

#[path = "../../../../src/fleet/counters.rs"]
#[allow(dead_code)]
mod counters;

use std::time::{Duration, UNIX_EPOCH};

use counters::{Batch, CampaignWindow, Deltas, FleetCounters, Member, Slot};

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(Root { id: 0, template: None, ticks: 0, call: None, counters: None })
    });
}}

/// With a plugin configuration `root-tick:<template>`, the root context flushes fleet counters on its
/// own tick, the way the filter is to: three batches with one new credential each, then one with the
/// increments still owed; answers logged as `probe-root-fleet vm=<id> first=<bool> credentials=<n>`.
struct Root {
    /// A tag telling this VM's credentials apart from the other VMs' (root context ids repeat per VM).
    id: u64,
    template: Option<String>,
    ticks: u32,
    call: Option<Batch>,
    counters: Option<FleetCounters>,
}

impl Context for Root {
    fn on_grpc_call_response(&mut self, _token_id: u32, status_code: u32, response_size: usize) {
        let Some(batch) = self.call.take() else { return };
        if status_code != 0 {
            log::warn!("probe-root-fleet vm={} grpc status {status_code}", self.id);
            return;
        }
        let body = self.get_grpc_call_response_body(0, response_size).unwrap_or_default();
        let now = self.get_current_time().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        let template = self.template.clone().unwrap_or_default();
        let Some(counters) = self.counters.as_mut() else { return };
        match counters.apply_answer(&batch, &body, now) {
            Ok(reading) => {
                let credentials = CampaignWindow::new(60)
                    .ok()
                    .and_then(|w| counters.view().template_members(Member::Credential, &template, w, now));
                log::warn!(
                    "probe-root-fleet vm={} first={} credentials={}",
                    self.id,
                    !reading.first.is_empty(),
                    credentials.map_or(-1, |n| n as i64)
                );
            }
            Err(e) => log::warn!("probe-root-fleet vm={} bad answer: {e}", self.id),
        }
    }
}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let config = self.get_plugin_configuration().unwrap_or_default();
        if let Some(t) = String::from_utf8_lossy(&config).trim().trim_matches('"').strip_prefix("root-tick:") {
            self.template = Some(t.to_string());
            self.id = self.get_current_time().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
            self.counters = CampaignWindow::new(60).ok().map(|w| FleetCounters::new(w, 64, 1000));
            self.set_tick_period(Duration::from_millis(200));
        }
        true
    }

    fn on_tick(&mut self) {
        let Some(template) = self.template.clone() else { return };
        if self.ticks >= 4 || self.call.is_some() {
            return;
        }
        self.ticks += 1;
        let now = self.get_current_time().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        let mut deltas = Deltas::default();
        if self.ticks <= 3 {
            deltas.record(&format!("root-{}-{}", self.id, self.ticks), Some(&template), None, 1000);
        }
        let Some(batch) = self.counters.as_mut().and_then(|c| c.build_batch(&mut deltas, now)) else { return };
        let bytes = batch.encode();
        match self.dispatch_grpc_call(
            CLUSTER,
            wire::SERVICE,
            wire::METHOD,
            vec![],
            Some(&bytes),
            Duration::from_secs(2),
        ) {
            Ok(_) => self.call = Some(batch),
            Err(e) => log::warn!("probe-root-fleet vm={} dispatch failed: {e:?}", self.id),
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Probe { remainder: None, phase: String::new(), fleet: None, held: Vec::new() }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Probe {
    remainder: Option<String>,
    phase: String,
    fleet: Option<FleetCall>,
    /// With `x-probe-hold`: exports waiting for the end of the request body.
    held: Vec<(&'static str, String)>,
}

/// A fleet counter exchange in progress: the counters, the batch sent, which call this is, whether the
/// first call found the credential new to the template.
struct FleetCall {
    counters: FleetCounters,
    credential: String,
    template: String,
    batch: Batch,
    second: bool,
    first: bool,
}

const CLUSTER: &str = "distill_guard_ratelimit";

impl Probe {
    fn export(&self, name: &str, value: &str) {
        self.set_property(vec![&format!("distill_guard.{name}")], Some(value.as_bytes()));
    }

    fn export_remainder(&mut self, phase: &str) {
        if self.phase == phase {
            if let Some(v) = self.remainder.take() {
                self.export("tokens_remainder", &v);
            }
        }
    }
}

impl Probe {
    fn now_ms(&self) -> u64 {
        self.get_current_time().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
    }

    fn dispatch(&mut self, call: FleetCall) -> Action {
        let bytes = call.batch.encode();
        match self.dispatch_grpc_call(
            CLUSTER,
            wire::SERVICE,
            wire::METHOD,
            vec![],
            Some(&bytes),
            Duration::from_secs(2),
        ) {
            Ok(_) => {
                self.fleet = Some(call);
                Action::Pause
            }
            Err(e) => {
                self.send_http_response(502, vec![], Some(format!("dispatch failed: {e:?}").as_bytes()));
                Action::Pause
            }
        }
    }

    fn start_fleet(&mut self, spec: &str) -> Action {
        let (credential, template) = spec.split_once(':').unwrap_or((spec, "t"));
        let Ok(window) = CampaignWindow::new(60) else { return Action::Continue };
        let mut counters = FleetCounters::new(window, 64, 1000);
        let mut deltas = Deltas::default();
        deltas.record(credential, Some(template), None, 1000);
        let Some(batch) = counters.build_batch(&mut deltas, self.now_ms()) else { return Action::Continue };
        let call = FleetCall {
            counters,
            credential: credential.into(),
            template: template.into(),
            batch,
            second: false,
            first: false,
        };
        self.dispatch(call)
    }
}

impl Context for Probe {
    fn on_grpc_call_response(&mut self, _token_id: u32, status_code: u32, response_size: usize) {
        let Some(mut call) = self.fleet.take() else { return };
        if status_code != 0 {
            self.send_http_response(502, vec![], Some(format!("grpc status {status_code}").as_bytes()));
            return;
        }
        let body = self.get_grpc_call_response_body(0, response_size).unwrap_or_default();
        let now = self.now_ms();
        let reading = match call.counters.apply_answer(&call.batch, &body, now) {
            Ok(r) => r,
            Err(e) => {
                self.send_http_response(502, vec![], Some(e.to_string().as_bytes()));
                return;
            }
        };
        if !call.second {
            call.first = !reading.first.is_empty();
            call.second = true;
            // the owed increment (if any) and a read of the template's count
            let mut none = Deltas::default();
            call.batch = call.counters.build_batch(&mut none, now).unwrap_or(Batch {
                window: call.batch.window,
                slots: vec![Slot::Count { member: Member::Credential, template: call.template.clone(), hits: 0 }],
            });
            self.dispatch(call);
            return;
        }
        let view = call.counters.view();
        let window = CampaignWindow::new(60).ok();
        let credentials = window.and_then(|w| view.template_members(Member::Credential, &call.template, w, now));
        let volume = view.credential_requests(&call.credential, now);
        let json = format!(
            "{{\"first\":{},\"credentials\":{},\"volume\":{}}}",
            call.first,
            credentials.map_or(-1, |n| n as i64),
            volume.map_or(-1, |n| n as i64)
        );
        self.send_http_response(200, vec![("content-type", "application/json")], Some(json.as_bytes()));
    }
}

impl HttpContext for Probe {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        if let Some(spec) = self.get_http_request_header("x-probe-fleet") {
            return self.start_fleet(&spec);
        }
        let mut exports = Vec::new();
        for (header, name) in [
            ("x-probe-credential", "credential"),
            ("x-probe-tenant", "tenant"),
            ("x-probe-estimate", "tokens_estimate"),
        ] {
            if let Some(v) = self.get_http_request_header(header) {
                exports.push((name, v));
            }
        }
        self.remainder = self.get_http_request_header("x-probe-remainder");
        self.phase = self.get_http_request_header("x-probe-phase").unwrap_or_else(|| "log".into());
        if self.get_http_request_header("x-probe-hold").is_some() && !end_of_stream {
            // as distill-guard does: hold the headers, export once the whole body is read
            self.held = exports;
            return Action::Pause;
        }
        for (name, v) in exports {
            self.export(name, &v);
        }
        self.export_remainder("request");
        Action::Continue
    }

    fn on_http_request_body(&mut self, _body_size: usize, end_of_stream: bool) -> Action {
        // the body waits too while a fleet call is out (Envoy would otherwise forward headers and body)
        if self.fleet.is_some() {
            return Action::Pause;
        }
        if !self.held.is_empty() {
            if !end_of_stream {
                return Action::Pause;
            }
            for (name, v) in std::mem::take(&mut self.held) {
                self.export(name, &v);
            }
            self.export_remainder("request");
        }
        Action::Continue
    }

    fn on_http_response_body(&mut self, _body_size: usize, end_of_stream: bool) -> Action {
        if end_of_stream {
            self.export_remainder("response");
        }
        Action::Continue
    }

    fn on_log(&mut self) {
        self.export_remainder("log");
    }
}

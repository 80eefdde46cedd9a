//! The host-call floor for benchmarks: distill-guard's host calls per exchange, none of its work.
//!
//! The plugin configuration sets the calls that distill-guard makes a variable number of times, as
//! averages per exchange (fractions are spread evenly over exchanges), e.g.
//! `shared_get=3.6 shared_set=2.6 header_set=4 clock=1 property_set=3` (`property_set`: filter-state
//! exports, all but one before the request goes on and the last in the log phase, like the fleet
//! exports of the credential, the estimate and the settled remainder). With none of them it is the
//! reads-only floor. Always, like distill-guard: one read of the
//! request header map, one read of the whole request body, one read of the response header map, and one
//! read of every response body chunk. Shared-data records are ledger-sized (`RECORD_BYTES` below, the
//! size of distill-guard's ledger record; `tests/core/ledger.rs` fails when the two differ) under 10,000
//! keys; writes use the CAS of the last read, as the ledger's do.

use std::cell::Cell;
use std::rc::Rc;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, BufferType, ContextType, LogLevel, MapType};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root::default()) });
}}

const KEYS: u64 = 10_000;
/// distill-guard's `ledger::RECORD_BYTES` (this crate cannot link the filter; a core test keeps them equal).
const RECORD_BYTES: usize = 854;
const HEADERS: [&str; 4] = ["x-distill-credential", "x-distill-verdict", "x-distill-score", "x-distill-template"];

/// Average calls per exchange.
#[derive(Default, Clone, Copy)]
struct Spec {
    shared_get: f64,
    shared_set: f64,
    header_set: f64,
    clock: f64,
    property_set: f64,
}

impl Spec {
    fn parse(text: &str) -> Option<Spec> {
        let mut spec = Spec::default();
        for item in text.split_whitespace() {
            let (name, value) = item.split_once('=')?;
            let value: f64 = value.parse().ok()?;
            match name {
                "shared_get" => spec.shared_get = value,
                "shared_set" => spec.shared_set = value,
                "header_set" => spec.header_set = value,
                "clock" => spec.clock = value,
                "property_set" => spec.property_set = value,
                _ => return None,
            }
        }
        Some(spec)
    }
}

/// How many of `per_exchange` calls exchange number `n` makes (the fractions add up over exchanges).
fn calls(per_exchange: f64, n: u64) -> u64 {
    ((n + 1) as f64 * per_exchange).floor() as u64 - (n as f64 * per_exchange).floor() as u64
}

#[derive(Default)]
struct Root {
    spec: Spec,
    exchanges: Rc<Cell<u64>>,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let text = self.get_plugin_configuration().map(|b| String::from_utf8_lossy(&b).into_owned());
        match Spec::parse(text.as_deref().unwrap_or("")) {
            Some(spec) => {
                self.spec = spec;
                true
            }
            None => false,
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        let n = self.exchanges.get();
        self.exchanges.set(n + 1);
        Some(Box::new(Calls { spec: self.spec, n, settle: false, properties_at_log: 0 }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Calls {
    spec: Spec,
    n: u64,
    settle: bool,
    /// Filter-state exports left for the log phase.
    properties_at_log: u64,
}

impl Calls {
    fn key(&self) -> String {
        format!("hostcalls.slot.{}", self.n % KEYS)
    }
}

/// `gets` reads and `sets` CAS writes of one ledger-sized record, each write after a read.
fn shared_calls(key: &str, gets: u64, sets: u64, n: u64) {
    let record = [n as u8; RECORD_BYTES];
    let mut cas = None;
    for i in 0..gets.max(sets) {
        if i < gets {
            cas = hostcalls::get_shared_data(key).ok().and_then(|(_, c)| c);
        }
        if i < sets {
            let _ = hostcalls::set_shared_data(key, Some(&record), cas);
        }
    }
}

impl Context for Calls {}

impl HttpContext for Calls {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let _ = hostcalls::get_map_bytes(MapType::HttpRequestHeaders);
        if end_of_stream {
            Action::Continue
        } else {
            Action::Pause
        }
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if !end_of_stream {
            return Action::Pause;
        }
        let _ = hostcalls::get_buffer(BufferType::HttpRequestBody, 0, body_size);
        for _ in 0..calls(self.spec.clock, self.n) {
            let _ = hostcalls::get_current_time();
        }
        // Like the ledger: each write goes under the CAS of the read before it. One read and one write
        // are left for the log phase (distill-guard settles the reported usage there).
        let gets = calls(self.spec.shared_get, self.n);
        let sets = calls(self.spec.shared_set, self.n);
        self.settle = gets > 0 && sets > 0;
        let settle = u64::from(self.settle);
        shared_calls(&self.key(), gets - settle, sets - settle, self.n);
        for i in 0..calls(self.spec.header_set, self.n) {
            let name = HEADERS[i as usize % HEADERS.len()];
            let _ = hostcalls::set_map_value(MapType::HttpRequestHeaders, name, Some("0123456789abcdef"));
        }
        let properties = calls(self.spec.property_set, self.n);
        self.properties_at_log = properties.min(1);
        for _ in 0..properties - self.properties_at_log {
            let _ = hostcalls::set_property(vec!["hostcalls_export"], Some(b"0123456789abcdef"));
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let _ = hostcalls::get_map_bytes(MapType::HttpResponseHeaders);
        Action::Continue
    }

    fn on_http_response_body(&mut self, body_size: usize, _end_of_stream: bool) -> Action {
        if body_size > 0 {
            let _ = hostcalls::get_buffer(BufferType::HttpResponseBody, 0, body_size);
        }
        Action::Continue
    }

    fn on_log(&mut self) {
        if self.settle {
            shared_calls(&self.key(), 1, 1, self.n);
        }
        for _ in 0..self.properties_at_log {
            let _ = hostcalls::set_property(vec!["hostcalls_export"], Some(b"0123456789abcdef"));
        }
    }
}

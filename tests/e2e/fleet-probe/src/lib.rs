//! Test-only filter for the fleet path check. From request headers it exports, as filter state:
//! `x-probe-credential` -> `wasm.distill_guard.credential`, `x-probe-tenant` -> `wasm.distill_guard.tenant`,
//! `x-probe-estimate` -> `wasm.distill_guard.tokens_estimate` (all at request headers), and
//! `x-probe-remainder` -> `wasm.distill_guard.tokens_remainder` in the phase named by `x-probe-phase`
//! (`request`, `response` = end of the response body, or `log`), to show which phase Envoy's
//! `apply_on_stream_done` rate limit entries still see.

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root) });
}}

struct Root;

impl Context for Root {}

impl RootContext for Root {
    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Probe { remainder: None, phase: String::new() }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Probe {
    remainder: Option<String>,
    phase: String,
}

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

impl Context for Probe {}

impl HttpContext for Probe {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        for (header, name) in [
            ("x-probe-credential", "credential"),
            ("x-probe-tenant", "tenant"),
            ("x-probe-estimate", "tokens_estimate"),
        ] {
            if let Some(v) = self.get_http_request_header(header) {
                self.export(name, &v);
            }
        }
        self.remainder = self.get_http_request_header("x-probe-remainder");
        self.phase = self.get_http_request_header("x-probe-phase").unwrap_or_else(|| "log".into());
        self.export_remainder("request");
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

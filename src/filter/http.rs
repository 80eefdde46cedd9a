//! One HTTP exchange: host callbacks → [`Exchange`] phases → host calls. Every rule lives in the core;
//! this file only reads what the core asks for and performs the actions it answers with.

use std::rc::Rc;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, BufferType, MapType};

use super::host::{dispatch, grpc_answer, Envoy, EnvoySharedData};
use crate::exchange::{Answer, CallOutcome, Exchange, Flow, HostAction};
use crate::host::{CachingStore, RecentReads};

pub(super) struct Http {
    exchange: Exchange,
    recent: Rc<RecentReads>,
    /// Call-outs in flight: the host's token and the exchange's tag.
    calls: Vec<(u32, u32)>,
}

impl Http {
    pub(super) fn new(exchange: Exchange, recent: Rc<RecentReads>) -> Self {
        Self { exchange, recent, calls: Vec::new() }
    }

    /// Runs one phase of the exchange against the host and performs its answer.
    fn phase(&mut self, run: impl FnOnce(&mut Exchange, &Envoy<'_>) -> Answer) -> Action {
        let recent = self.recent.clone();
        let host = Envoy { store: CachingStore::new(&EnvoySharedData, &recent) };
        let answer = run(&mut self.exchange, &host);
        self.perform(&host, answer)
    }

    fn perform(&mut self, host: &Envoy<'_>, answer: Answer) -> Action {
        let mut refused = Vec::new();
        for action in answer.actions {
            let _ = match action {
                HostAction::SetRequestHeader(name, value) => {
                    hostcalls::set_map_value(MapType::HttpRequestHeaders, &name, Some(&value))
                }
                HostAction::RemoveRequestHeader(name) => {
                    hostcalls::remove_map_value(MapType::HttpRequestHeaders, &name)
                }
                HostAction::ReplaceRequestBody { current_len, body } => {
                    hostcalls::set_buffer(BufferType::HttpRequestBody, 0, current_len, &body)
                }
                // Envoy re-selects the route itself after a wasm filter changes request headers.
                HostAction::ClearRouteCache => Ok(()),
                HostAction::SendLocalReply(r) => {
                    let headers = r.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                    hostcalls::send_http_response(r.status, headers, Some(r.body.as_bytes()))
                }
                HostAction::SetProperty(name, value) => hostcalls::set_property(vec![&name], Some(&value)),
                HostAction::Log(line) => {
                    log::info!("{line}");
                    Ok(())
                }
                HostAction::CallOut(c) => {
                    match dispatch(&c) {
                        Ok(token) => self.calls.push((token, c.tag)),
                        Err(status) => refused.push((c.tag, status as u32)),
                    }
                    Ok(())
                }
                HostAction::ResumeRequest => hostcalls::resume_http_request(),
                HostAction::RemoveResponseHeader(name) => {
                    hostcalls::remove_map_value(MapType::HttpResponseHeaders, &name)
                }
                HostAction::SetResponseHeader(name, value) => {
                    hostcalls::set_map_value(MapType::HttpResponseHeaders, &name, Some(&value))
                }
                // Envoy drains `current_len` bytes of the chunk and puts `body` in their place.
                HostAction::ReplaceResponseBody { current_len, body } => {
                    hostcalls::set_buffer(BufferType::HttpResponseBody, 0, current_len, &body)
                }
            };
        }
        for (tag, status) in refused {
            let answer = self.exchange.on_call_out_answer(host, tag, CallOutcome::Failed(status));
            self.perform(host, answer);
        }
        match answer.flow {
            Flow::Continue => Action::Continue,
            Flow::Pause => Action::Pause,
        }
    }
}

impl Context for Http {
    fn on_grpc_call_response(&mut self, token_id: u32, status_code: u32, response_size: usize) {
        let Some(at) = self.calls.iter().position(|(token, _)| *token == token_id) else { return };
        let (_, tag) = self.calls.swap_remove(at);
        let outcome = CallOutcome::from_grpc(status_code, || grpc_answer(response_size));
        self.phase(|ex, host| ex.on_call_out_answer(host, tag, outcome));
    }
}

impl HttpContext for Http {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        self.phase(|ex, host| ex.on_request_headers(host, end_of_stream))
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        self.phase(|ex, host| ex.on_request_body(host, body_size, end_of_stream))
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        self.phase(|ex, host| ex.on_response_headers(host))
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        self.phase(|ex, host| ex.on_response_body(host, body_size, end_of_stream))
    }

    fn on_log(&mut self) {
        self.phase(|ex, host| Answer { flow: Flow::Continue, actions: ex.on_log(host) });
    }
}

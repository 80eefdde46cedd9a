//! A recording fake of the proxy for [`Exchange`]: it serves one request and one response the way
//! Envoy does (headers, then the body buffered chunk by chunk, then the response chunk by chunk, then
//! the log phase), applies the exchange's actions to its copy of the request, and records every host
//! read, reply, log line, property and call-out, so tests can follow the flow phase by phase.
//!
//! It also records what Envoy would refuse: a header change after the headers went upstream (the SDK
//! traps), a body replacement of the wrong length, a second local reply.

use std::cell::{Cell, RefCell};

use super::{Answer, CallOut, Exchange, ExchangeHost, Flow, HeaderMap, HostAction};
use crate::contract::LocalReply;
use crate::host::{MemoryStore, SharedStore};

/// The fake proxy. Everything it records is public to read.
#[derive(Debug, Default)]
pub struct FakeHost {
    /// The clock (ms since the epoch).
    pub now_ms: Cell<u64>,
    /// `source.address`.
    pub client_address: RefCell<Option<String>>,
    /// Shared data.
    pub store: MemoryStore,
    /// The request headers as the filter sees (and changes) them.
    pub request_headers: RefCell<HeaderMap>,
    /// The request body held by the proxy (changed by body replacements).
    pub request_body: RefCell<Vec<u8>>,
    /// The response headers.
    pub response_headers: RefCell<HeaderMap>,
    /// The response chunk currently offered to the filter (changed by body replacements).
    pub response_chunk: RefCell<Vec<u8>>,
    /// The response body as the client received it: each chunk as the filter left it.
    pub downstream_body: RefCell<Vec<u8>>,
    /// Host reads by name (`now`, `client_address`, `request_headers`, `request_body`,
    /// `response_headers`, `response_body`), in order.
    pub reads: RefCell<Vec<&'static str>>,
    /// The request headers as they went upstream, once they did.
    pub upstream_headers: RefCell<Option<HeaderMap>>,
    /// The request body as it went upstream, once it did.
    pub upstream_body: RefCell<Option<Vec<u8>>>,
    /// Local replies sent.
    pub replies: RefCell<Vec<LocalReply>>,
    /// Log lines.
    pub logs: RefCell<Vec<String>>,
    /// Filter state set (`wasm.<name>`).
    pub properties: RefCell<Vec<(String, Vec<u8>)>>,
    /// Call-outs started.
    pub call_outs: RefCell<Vec<CallOut>>,
    /// Route cache clears.
    pub route_clears: Cell<u32>,
    /// Requests resumed after a call-out.
    pub resumes: Cell<u32>,
    /// What Envoy would have refused or trapped on.
    pub violations: RefCell<Vec<String>>,
}

fn owned(pairs: &[(&str, &str)]) -> HeaderMap {
    pairs.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.as_bytes().to_vec())).collect()
}

impl FakeHost {
    /// A proxy whose clock reads `now_ms`.
    pub fn new(now_ms: u64) -> Self {
        let host = FakeHost::default();
        host.now_ms.set(now_ms);
        host
    }

    /// Clears what one exchange left (request, response, records), keeping the store and the clock.
    pub fn reset(&self) {
        let store_and_clock = (self.now_ms.get(), self.client_address.borrow().clone());
        self.request_headers.borrow_mut().clear();
        self.request_body.borrow_mut().clear();
        self.response_headers.borrow_mut().clear();
        self.response_chunk.borrow_mut().clear();
        self.downstream_body.borrow_mut().clear();
        self.reads.borrow_mut().clear();
        *self.upstream_headers.borrow_mut() = None;
        *self.upstream_body.borrow_mut() = None;
        self.replies.borrow_mut().clear();
        self.logs.borrow_mut().clear();
        self.properties.borrow_mut().clear();
        self.call_outs.borrow_mut().clear();
        self.route_clears.set(0);
        self.resumes.set(0);
        self.violations.borrow_mut().clear();
        self.now_ms.set(store_and_clock.0);
        *self.client_address.borrow_mut() = store_and_clock.1;
    }

    /// The value of a request header as it went upstream.
    pub fn upstream_header(&self, name: &str) -> Option<String> {
        let headers = self.upstream_headers.borrow();
        let (_, v) = headers.as_ref()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(name))?;
        String::from_utf8(v.clone()).ok()
    }

    /// The last local reply, if one was sent.
    pub fn reply(&self) -> Option<LocalReply> {
        self.replies.borrow().last().cloned()
    }

    /// Applies a phase's actions the way Envoy would.
    pub fn apply(&self, actions: &[HostAction]) {
        for action in actions {
            match action {
                HostAction::SetRequestHeader(name, value) => {
                    if self.headers_sent(name) {
                        continue;
                    }
                    let mut headers = self.request_headers.borrow_mut();
                    headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
                    headers.push((name.to_string(), value.as_bytes().to_vec()));
                }
                HostAction::RemoveRequestHeader(name) => {
                    if !self.headers_sent(name) {
                        self.request_headers.borrow_mut().retain(|(k, _)| !k.eq_ignore_ascii_case(name));
                    }
                }
                HostAction::ReplaceRequestBody { current_len, body } => {
                    let held = self.request_body.borrow().len();
                    if held != *current_len {
                        self.violation(format!("body replaced as {current_len} bytes, {held} held"));
                    }
                    *self.request_body.borrow_mut() = body.clone();
                }
                HostAction::ClearRouteCache => self.route_clears.set(self.route_clears.get() + 1),
                HostAction::SendLocalReply(reply) => {
                    if !self.replies.borrow().is_empty() {
                        self.violation("a second local reply".to_string());
                    }
                    self.replies.borrow_mut().push(reply.clone());
                }
                HostAction::SetProperty(name, value) => {
                    self.properties.borrow_mut().push((name.to_string(), value.clone()))
                }
                HostAction::Log(line) => self.logs.borrow_mut().push(line.clone()),
                HostAction::CallOut(call) => self.call_outs.borrow_mut().push(call.as_ref().clone()),
                HostAction::ResumeRequest => self.resumes.set(self.resumes.get() + 1),
                HostAction::RemoveResponseHeader(name) => {
                    self.response_headers.borrow_mut().retain(|(k, _)| !k.eq_ignore_ascii_case(name))
                }
                HostAction::SetResponseHeader(name, value) => {
                    let mut headers = self.response_headers.borrow_mut();
                    headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
                    headers.push((name.to_string(), value.as_bytes().to_vec()));
                }
                HostAction::ReplaceResponseBody { current_len, body } => {
                    let mut chunk = self.response_chunk.borrow_mut();
                    if *current_len > chunk.len() {
                        self.violation(format!("response chunk replaced as {current_len} bytes, {} held", chunk.len()));
                    }
                    // As Envoy: the first `current_len` bytes go, the new bytes come in front.
                    let cut = (*current_len).min(chunk.len());
                    let rest = chunk.split_off(cut);
                    *chunk = body.clone();
                    chunk.extend_from_slice(&rest);
                }
            }
        }
    }

    fn headers_sent(&self, name: &str) -> bool {
        let sent = self.upstream_headers.borrow().is_some();
        if sent {
            self.violation(format!("request header `{name}` changed after the headers went upstream"));
        }
        sent
    }

    fn violation(&self, what: String) {
        self.violations.borrow_mut().push(what);
    }

    /// Sends a request through the exchange's request phases like Envoy: headers (end of stream when
    /// `body` is empty), then the body in chunks of `chunk` bytes, buffered while the exchange holds
    /// it. Returns the last phase's flow; the request went upstream when no local reply was sent.
    pub fn send_request(&self, ex: &mut Exchange, headers: &[(&str, &str)], body: &[u8], chunk: usize) -> Flow {
        *self.request_headers.borrow_mut() = owned(headers);
        self.request_body.borrow_mut().clear();
        let answer = ex.on_request_headers(self, body.is_empty());
        let mut flow = self.after_request_phase(&answer, body.is_empty());
        if !self.replies.borrow().is_empty() || body.is_empty() {
            return flow;
        }
        let chunk = chunk.max(1);
        let mut offset = 0;
        while offset < body.len() {
            let end = (offset + chunk).min(body.len());
            self.request_body.borrow_mut().extend_from_slice(body.get(offset..end).unwrap_or_default());
            offset = end;
            let eos = offset == body.len();
            let held = self.request_body.borrow().len();
            let answer = ex.on_request_body(self, held, eos);
            flow = self.after_request_phase(&answer, eos);
            if !self.replies.borrow().is_empty() {
                break;
            }
        }
        flow
    }

    /// Applies a request phase's answer; a `Continue` sends the headers upstream (once), and at the
    /// end of the stream the body too.
    fn after_request_phase(&self, answer: &Answer, end_of_stream: bool) -> Flow {
        self.apply(&answer.actions);
        if answer.flow == Flow::Continue && self.replies.borrow().is_empty() {
            if self.upstream_headers.borrow().is_none() {
                *self.upstream_headers.borrow_mut() = Some(self.request_headers.borrow().clone());
            }
            if end_of_stream {
                *self.upstream_body.borrow_mut() = Some(self.request_body.borrow().clone());
            }
        }
        answer.flow
    }

    /// Runs the response phases: headers, then each chunk (the response Envoy got upstream, or the
    /// local reply when one was sent, as Envoy passes local replies through the filter too); the
    /// last chunk ends the stream (pass an empty last chunk for a bare end of stream). What the
    /// client receives collects in `downstream_body`.
    pub fn send_response(&self, ex: &mut Exchange, headers: &[(&str, &str)], chunks: &[&[u8]]) {
        let local = self.reply();
        let (headers, chunks): (HeaderMap, Vec<Vec<u8>>) = match &local {
            Some(reply) => {
                let mut h: HeaderMap = vec![(":status".to_string(), reply.status.to_string().into_bytes())];
                h.extend(reply.headers.iter().map(|(k, v)| (k.clone(), v.as_bytes().to_vec())));
                (h, vec![reply.body.as_bytes().to_vec()])
            }
            None => (owned(headers), chunks.iter().map(|c| c.to_vec()).collect()),
        };
        *self.response_headers.borrow_mut() = headers;
        let answer = ex.on_response_headers(self);
        self.apply(&answer.actions);
        let last = chunks.len().saturating_sub(1);
        for (i, c) in chunks.into_iter().enumerate() {
            let size = c.len();
            *self.response_chunk.borrow_mut() = c;
            let answer = ex.on_response_body(self, size, i == last);
            self.apply(&answer.actions);
            self.downstream_body.borrow_mut().extend_from_slice(&self.response_chunk.borrow());
        }
    }

    /// The log phase.
    pub fn finish(&self, ex: &mut Exchange) {
        let actions = ex.on_log(self);
        self.apply(&actions);
    }

    fn read(&self, what: &'static str) {
        self.reads.borrow_mut().push(what);
    }

    /// How many times a host fact was read.
    pub fn read_count(&self, what: &str) -> usize {
        self.reads.borrow().iter().filter(|r| **r == what).count()
    }
}

impl ExchangeHost for FakeHost {
    fn now_ms(&self) -> u64 {
        self.read("now");
        self.now_ms.get()
    }

    fn client_address(&self) -> Option<String> {
        self.read("client_address");
        self.client_address.borrow().clone()
    }

    fn request_headers(&self) -> HeaderMap {
        self.read("request_headers");
        self.request_headers.borrow().clone()
    }

    fn request_body(&self, size: usize) -> Vec<u8> {
        self.read("request_body");
        let body = self.request_body.borrow();
        body.get(..size.min(body.len())).unwrap_or_default().to_vec()
    }

    fn response_headers(&self) -> HeaderMap {
        self.read("response_headers");
        self.response_headers.borrow().clone()
    }

    fn response_body(&self, size: usize) -> Option<Vec<u8>> {
        self.read("response_body");
        let chunk = self.response_chunk.borrow();
        Some(chunk.get(..size.min(chunk.len())).unwrap_or_default().to_vec())
    }

    fn store(&self) -> &dyn SharedStore {
        &self.store
    }
}

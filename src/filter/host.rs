//! What the core reads from Envoy: request and response facts for an [`crate::exchange::Exchange`],
//! and shared data (process-wide, across worker VMs with one `vm_id`) as a [`SharedStore`].

use std::time::{Duration, UNIX_EPOCH};

use proxy_wasm::hostcalls;
use proxy_wasm::types::{BufferType, MapType, Status};

use crate::exchange::{CallOut, ExchangeHost, HeaderMap};
use crate::host::{CachingStore, SharedStore, StoreError};

/// Envoy's shared data.
pub struct EnvoySharedData;
impl SharedStore for EnvoySharedData {
    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        match hostcalls::get_shared_data(key) {
            Ok((Some(value), cas)) => Some((value, cas.unwrap_or(0))),
            _ => None,
        }
    }

    fn set(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), StoreError> {
        match hostcalls::set_shared_data(key, Some(value), cas) {
            Ok(()) => Ok(()),
            Err(Status::CasMismatch) => Err(StoreError::CasMismatch),
            Err(_) => Err(StoreError::Unavailable),
        }
    }
}

/// The host clock in milliseconds since the epoch (0 if the host cannot tell).
pub(super) fn now_ms() -> u64 {
    let since_epoch = hostcalls::get_current_time().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok());
    since_epoch.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)).unwrap_or(0)
}

/// Starts a gRPC call: the host's token, or why it refused.
pub(super) fn dispatch(c: &CallOut) -> Result<u32, Status> {
    let timeout = Duration::from_millis(c.timeout_ms);
    hostcalls::dispatch_grpc_call(&c.cluster, &c.service, &c.method, vec![], Some(&c.message), timeout)
}

/// The answer of a gRPC call, `size` bytes.
pub(super) fn grpc_answer(size: usize) -> Option<Vec<u8>> {
    hostcalls::get_buffer(BufferType::GrpcReceiveBuffer, 0, size).ok().flatten()
}

/// The proxy as the core sees it during one callback.
pub struct Envoy<'a> {
    /// Shared data, with this VM's recent copies.
    pub store: CachingStore<'a>,
}

impl ExchangeHost for Envoy<'_> {
    fn now_ms(&self) -> u64 {
        now_ms()
    }

    fn client_address(&self) -> Option<String> {
        hostcalls::get_property(vec!["source", "address"]).ok().flatten().and_then(|b| String::from_utf8(b).ok())
    }

    fn request_headers(&self) -> HeaderMap {
        hostcalls::get_map_bytes(MapType::HttpRequestHeaders).unwrap_or_default()
    }

    fn request_body(&self, size: usize) -> Vec<u8> {
        hostcalls::get_buffer(BufferType::HttpRequestBody, 0, size).ok().flatten().unwrap_or_default()
    }

    fn response_headers(&self) -> HeaderMap {
        hostcalls::get_map_bytes(MapType::HttpResponseHeaders).unwrap_or_default()
    }

    fn response_body(&self, size: usize) -> Option<Vec<u8>> {
        hostcalls::get_buffer(BufferType::HttpResponseBody, 0, size).ok().flatten()
    }

    fn store(&self) -> &dyn SharedStore {
        &self.store
    }
}

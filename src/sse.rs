//! Incremental Server-Sent Events parser. Fed the response body chunk by chunk as Envoy passes it
//! on; never holds more than one event (capped), whatever the stream's length or how it is split.

use crate::bytes::find_either;

/// Largest single event kept; a longer one is skipped (counted in [`SseParser::dropped`]).
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// Parser state between chunks.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    event: String,
    data: Vec<u8>,
    has_data: bool,
    overflow: bool,
    last_was_cr: bool,
    dropped: u64,
    max_event_bytes: usize,
}

impl SseParser {
    /// A parser with the default event cap.
    pub fn new() -> Self {
        Self::with_cap(MAX_EVENT_BYTES)
    }

    /// A parser with a custom event cap.
    pub fn with_cap(max_event_bytes: usize) -> Self {
        Self { max_event_bytes, ..Self::default() }
    }

    /// Events skipped because they exceeded the cap.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Feeds a chunk; calls `on_event(event_name, data)` for each complete event.
    pub fn feed(&mut self, mut chunk: &[u8], on_event: &mut dyn FnMut(&str, &[u8])) {
        // Line by line: the bytes up to the next CR or LF are appended in one go.
        while let Some(&first) = chunk.first() {
            if self.last_was_cr {
                self.last_was_cr = false;
                if first == b'\n' {
                    chunk = chunk.get(1..).unwrap_or(&[]);
                    continue;
                }
            }
            match find_either(chunk, b'\n', b'\r') {
                Some(end) => {
                    self.push_line(chunk.get(..end).unwrap_or(&[]));
                    self.last_was_cr = chunk.get(end) == Some(&b'\r');
                    self.end_line(on_event);
                    chunk = chunk.get(end + 1..).unwrap_or(&[]);
                }
                None => {
                    self.push_line(chunk);
                    break;
                }
            }
        }
    }

    /// Appends to the current line what fits under the event cap; the rest marks the event overflowed.
    fn push_line(&mut self, bytes: &[u8]) {
        let room = self.max_event_bytes.saturating_sub(self.line.len() + self.data.len());
        if bytes.len() <= room {
            self.line.extend_from_slice(bytes);
        } else {
            self.line.extend_from_slice(bytes.get(..room).unwrap_or(&[]));
            self.overflow = true;
        }
    }

    /// Ends the stream: an event still pending (no blank line after it) is delivered too, so a cut
    /// stream loses nothing that arrived whole.
    pub fn finish(&mut self, on_event: &mut dyn FnMut(&str, &[u8])) {
        if !self.line.is_empty() {
            self.end_line(on_event);
        }
        self.dispatch(on_event);
    }

    fn end_line(&mut self, on_event: &mut dyn FnMut(&str, &[u8])) {
        if self.line.is_empty() {
            self.dispatch(on_event);
            return;
        }
        let line = std::mem::take(&mut self.line);
        let (field, value) = match line.iter().position(|&c| c == b':') {
            Some(0) => {
                self.line = line;
                self.line.clear();
                return; // comment
            }
            Some(i) => {
                let (f, rest) = line.split_at(i);
                let rest = rest.get(1..).unwrap_or(&[]);
                (f, rest.strip_prefix(b" ").unwrap_or(rest))
            }
            None => (line.as_slice(), &[][..]),
        };
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
            b"event" => self.event = String::from_utf8_lossy(value).into_owned(),
            _ => {}
        }
        // Reuse the allocation.
        self.line = line;
        self.line.clear();
    }

    fn dispatch(&mut self, on_event: &mut dyn FnMut(&str, &[u8])) {
        if self.overflow {
            self.dropped += 1;
        } else if self.has_data {
            let name = if self.event.is_empty() { "message" } else { self.event.as_str() };
            on_event(name, &self.data);
        }
        self.event.clear();
        self.data.clear();
        self.has_data = false;
        self.overflow = false;
    }
}

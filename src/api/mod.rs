//! Which LLM API a request speaks, and everything that differs between them, behind one trait
//! ([`Dialect`]): one file per dialect (`openai.rs`: chat and completions, `responses.rs`,
//! `anthropic.rs`) says which request fields are input, how the conversation and the sampling and
//! logprob requests read, how a `degrade` rewrites the body, whether a stream reports usage (and how
//! to ask for it), how usage reads in JSON and in SSE events (event names, text keys, the usage-only
//! chunk), how errors and rate-limit headers are spelled. Blocks and throttles answer in the
//! caller's own format so official SDKs raise their usual exceptions. The request-side defaults read
//! the OpenAI way ([`openai`]'s functions), which every dialect here shares; a dialect with other
//! field names overrides them.
//!
//! Adding a dialect: a file with a [`Dialect`] implementation, an [`ApiKind`] variant and its path in
//! [`ApiKind::from_path`] and [`ApiKind::dialect`], its stream keys in `TEXT_KEY_LISTS` and
//! `USAGE_EVENT_LISTS`.

mod anthropic;
mod openai;
mod responses;

pub use anthropic::{anthropic_usage, rfc3339};
pub use openai::{is_usage_only_event, openai_usage};
pub use responses::responses_usage;

use crate::json::{Json, Members};
use crate::policy::DegradeConfig;
use crate::tokens::{Tokenizer, Usage};

/// What differs between LLM APIs, for one API.
pub trait Dialect: Sync {
    /// The API.
    fn kind(&self) -> ApiKind;
    /// Request fields whose text is input (estimated before forwarding).
    fn input_fields(&self) -> &'static [&'static str];
    /// The field holding a bare prompt when the API has no conversation (completions' `prompt`).
    fn prompt_field(&self) -> Option<&'static str> {
        None
    }
    /// True when a streamed response will report usage for this request (some APIs always do, some
    /// only when asked).
    fn stream_reports_usage(&self, root: &Json<'_>) -> bool;
    /// True when the filter may ask for usage in the stream by adding `stream_options.include_usage`.
    fn injects_include_usage(&self) -> bool {
        false
    }
    /// The body rewritten to ask for usage in the stream (`None` when this API cannot be asked, or the
    /// body cannot be rewritten).
    fn with_stream_usage(&self, _body: &[u8], _root: &Json<'_>) -> Option<Vec<u8>> {
        None
    }
    /// True for a stream event the filter's own usage request added (to remove before the client).
    fn is_injected_usage_event(&self, _raw: &[u8]) -> bool {
        false
    }
    /// The model the request names.
    fn model<'a>(&self, root: &'a Json<'_>) -> Option<&'a str> {
        root.get("model").and_then(Json::as_str)
    }
    /// True when the request asks for a streamed answer.
    fn stream(&self, root: &Json<'_>) -> bool {
        root.get("stream").and_then(Json::as_bool).unwrap_or(false)
    }
    /// Usage of a whole JSON response (its `usage` object).
    fn response_usage(&self, body: &Json<'_>) -> Option<Usage> {
        body.get("usage").and_then(|u| self.usage(u))
    }
    /// The system prompt, the last user message and the turns of a request.
    fn conversation<'a>(&self, root: &'a Json<'_>) -> Conversation<'a> {
        openai::conversation(root, self.prompt_field())
    }
    /// The number of messages (or input items).
    fn message_count(&self, root: &Json<'_>) -> u64 {
        openai::message_count(root)
    }
    /// The sampling and logprob requests of a body.
    fn sampling(&self, root: &Json<'_>) -> Sampling {
        openai::sampling(root)
    }
    /// The output-length limit the request asks for.
    fn max_output_tokens(&self, root: &Json<'_>) -> Option<u64> {
        openai::max_output_tokens(root)
    }
    /// The field that limits output length, to impose a cap on a request that named none.
    fn max_tokens_field(&self, root: &Members<'_>) -> &'static str {
        openai::max_tokens_field_by_keys(root)
    }
    /// Rewrites a body's top-level members for the `degrade` action; true when something changed.
    fn degrade(&self, root: &mut Members<'_>, cfg: &DegradeConfig) -> bool {
        let field = self.max_tokens_field(root);
        openai::degrade(root, cfg, field)
    }
    /// Usage from a JSON response's `usage` object.
    fn usage(&self, u: &Json<'_>) -> Option<Usage>;
    /// Reads one SSE event (its name and parsed data) into the stream's tally.
    fn stream_event(&self, name: &str, v: &Json<'_>, tally: &mut Tally, tokenizer: Tokenizer);
    /// How this API spells its errors and rate-limit headers.
    fn error_style(&self) -> ErrorStyle {
        ErrorStyle::OpenAi
    }
}

/// The parts of a request's conversation the shape looks at, borrowed from the parsed body.
#[derive(Debug, Default)]
pub struct Conversation<'a> {
    /// Text parts of the system prompt (and system or developer messages).
    pub system: Vec<&'a str>,
    /// Text parts of the last user message (or the bare prompt).
    pub last_user: Vec<&'a str>,
    /// Text parts of an assistant *prefill*: a last message from the assistant, which the model is
    /// to continue (Anthropic's prefill, a chat prefix). It is the beginning of the answer the client
    /// wrote for the model, so it says what the client wants as much as the user text does ("Let me
    /// reason through this one step at a time. Step 1:"). Empty when the last message is not the
    /// assistant's.
    pub prefill: Vec<&'a str>,
    /// Text parts of the conversation's first exchange (its first user message and the assistant's
    /// answer to it) when the request carries exactly one earlier exchange: a fixed worked example
    /// sent before every new question (a few-shot prompt) is part of the prompt's fixed framing, as a
    /// system prompt is. Empty otherwise (no history, or a conversation further on).
    pub opening: Vec<&'a str>,
    /// User turns.
    pub user_turns: u32,
    /// Assistant turns (a prefill is not one: it is not history).
    pub assistant_turns: u32,
}

/// What a request asks of sampling that ordinary use does not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sampling {
    /// Token log-probabilities.
    pub logprobs: bool,
    /// A non-empty logit bias.
    pub logit_bias: bool,
    /// More than one sample.
    pub multiple_samples: bool,
    /// The prompt echoed back.
    pub echo: bool,
    /// Temperature 0.
    pub temperature_zero: bool,
}

/// Each dialect's stream text keys and usage event types: one line per dialect.
const TEXT_KEY_LISTS: &[&[&str]] = &[openai::TEXT_KEYS, responses::TEXT_KEYS, anthropic::TEXT_KEYS];
const USAGE_EVENT_LISTS: &[&[&str]] = &[openai::USAGE_EVENTS, responses::USAGE_EVENTS, anthropic::USAGE_EVENTS];
/// Keys of an SSE event's JSON whose string values are streamed text, of every dialect: a stream is
/// scanned with all of them (a Responses-shaped stream can come back on another path).
pub const STREAM_TEXT_KEYS: [&[u8]; union_len(TEXT_KEY_LISTS)] = union(TEXT_KEY_LISTS);
/// Event types (or SSE event names) that report usage, of every dialect.
pub const USAGE_EVENTS: [&[u8]; union_len(USAGE_EVENT_LISTS)] = union(USAGE_EVENT_LISTS);

/// True when `lists[i][j]` occurs earlier in the lists.
// Evaluated at compile time only (the two constants above): an index out of range fails the build.
#[allow(clippy::indexing_slicing)]
const fn seen_before(lists: &[&[&str]], i: usize, j: usize) -> bool {
    let key = lists[i][j].as_bytes();
    let (mut a, mut b) = (0, 0);
    while a < i || (a == i && b < j) {
        if b >= lists[a].len() {
            a += 1;
            b = 0;
            continue;
        }
        let other = lists[a][b].as_bytes();
        if other.len() == key.len() {
            let mut k = 0;
            while k < key.len() && other[k] == key[k] {
                k += 1;
            }
            if k == key.len() {
                return true;
            }
        }
        b += 1;
    }
    false
}

/// The number of distinct keys in the lists.
#[allow(clippy::indexing_slicing)]
const fn union_len(lists: &[&[&str]]) -> usize {
    let (mut n, mut i) = (0, 0);
    while i < lists.len() {
        let mut j = 0;
        while j < lists[i].len() {
            if !seen_before(lists, i, j) {
                n += 1;
            }
            j += 1;
        }
        i += 1;
    }
    n
}

/// The distinct keys of the lists, in order.
#[allow(clippy::indexing_slicing)]
const fn union<const N: usize>(lists: &[&[&'static str]]) -> [&'static [u8]; N] {
    let mut out: [&'static [u8]; N] = [&[]; N];
    let (mut n, mut i) = (0, 0);
    while i < lists.len() {
        let mut j = 0;
        while j < lists[i].len() {
            if !seen_before(lists, i, j) {
                out[n] = lists[i][j].as_bytes();
                n += 1;
            }
            j += 1;
        }
        i += 1;
    }
    out
}

/// What a response stream has reported so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Reported input tokens and cached input tokens.
    pub input: Option<(u64, u64)>,
    /// Reported output tokens.
    pub output: Option<u64>,
    /// Reported reasoning tokens.
    pub reasoning: u64,
    /// Output estimated from the streamed text.
    pub streamed_output: u64,
}

impl Tally {
    /// Takes a complete usage report.
    pub fn set(&mut self, u: Usage) {
        self.input = Some((u.input, u.cached_input));
        self.output = Some(u.output);
        self.reasoning = u.reasoning;
    }
}

/// A number at a path of keys.
fn num(v: &Json<'_>, path: &[&str]) -> Option<u64> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_u64()
}

/// The API family of a request, from its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiKind {
    /// OpenAI `POST /v1/chat/completions`.
    OpenAiChat,
    /// OpenAI legacy `POST /v1/completions`.
    OpenAiCompletions,
    /// OpenAI Responses API `POST /v1/responses`.
    OpenAiResponses,
    /// Anthropic `POST /v1/messages`.
    AnthropicMessages,
    /// Anything else: counted as a request, body not metered.
    Other,
}

impl ApiKind {
    /// Every API family.
    pub const ALL: [ApiKind; 5] = [
        ApiKind::OpenAiChat,
        ApiKind::OpenAiCompletions,
        ApiKind::OpenAiResponses,
        ApiKind::AnthropicMessages,
        ApiKind::Other,
    ];

    /// Classifies a request path (query string ignored).
    pub fn from_path(path: &str) -> ApiKind {
        let path = path.split(['?', '#']).next().unwrap_or("").trim_end_matches('/');
        if path.ends_with("/chat/completions") {
            ApiKind::OpenAiChat
        } else if path.ends_with("/completions") {
            ApiKind::OpenAiCompletions
        } else if path.ends_with("/responses") {
            ApiKind::OpenAiResponses
        } else if path.ends_with("/messages") {
            ApiKind::AnthropicMessages
        } else {
            ApiKind::Other
        }
    }

    /// What differs about this API.
    pub fn dialect(self) -> &'static dyn Dialect {
        match self {
            ApiKind::OpenAiChat => &openai::CHAT,
            ApiKind::OpenAiCompletions => &openai::COMPLETIONS,
            ApiKind::OpenAiResponses => &responses::Responses,
            ApiKind::AnthropicMessages => &anthropic::Messages,
            ApiKind::Other => &openai::UNKNOWN,
        }
    }

    /// Short name for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            ApiKind::OpenAiChat => "openai_chat",
            ApiKind::OpenAiCompletions => "openai_completions",
            ApiKind::OpenAiResponses => "openai_responses",
            ApiKind::AnthropicMessages => "anthropic_messages",
            ApiKind::Other => "other",
        }
    }
}

/// Error body dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorStyle {
    /// `{"error":{"message","type","param","code"}}`.
    OpenAi,
    /// `{"type":"error","error":{"type","message"}}`.
    Anthropic,
}

impl ErrorStyle {
    /// Anthropic for `/v1/messages` or any request carrying `anthropic-version`; OpenAI otherwise.
    pub fn for_request(api: ApiKind, has_anthropic_version: bool) -> ErrorStyle {
        if has_anthropic_version {
            ErrorStyle::Anthropic
        } else {
            api.dialect().error_style()
        }
    }
}

/// Why the filter answered locally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// 401: no credential and the policy blocks anonymous requests.
    MissingCredential,
    /// 403: a block verdict.
    Blocked,
    /// 429: a throttle verdict.
    Throttled,
    /// 413: the body is over the inspection cap and the policy blocks such bodies.
    BodyTooLarge,
}

impl Rejection {
    /// HTTP status.
    pub fn status(self) -> u32 {
        match self {
            Rejection::MissingCredential => 401,
            Rejection::Blocked => 403,
            Rejection::Throttled => 429,
            Rejection::BodyTooLarge => 413,
        }
    }
}

/// The JSON body of a local reply in the caller's API style. `message` must not contain secrets.
pub fn error_body(style: ErrorStyle, rejection: Rejection, message: &str) -> String {
    let value = match style {
        ErrorStyle::OpenAi => openai::error_body(rejection, message),
        ErrorStyle::Anthropic => anthropic::error_body(rejection, message),
    };
    value.to_string()
}

impl ErrorStyle {
    /// The rate-limit headers of one limit (`kind` is `requests` or `tokens`): its maximum, what
    /// remains, and the seconds until it resets.
    pub fn rate_limit_headers(self, kind: &str, figures: (u64, u64, u64), now_s: u64) -> [(String, String); 3] {
        match self {
            ErrorStyle::OpenAi => openai::rate_limit_headers(kind, figures),
            ErrorStyle::Anthropic => anthropic::rate_limit_headers(kind, figures, now_s),
        }
    }
}

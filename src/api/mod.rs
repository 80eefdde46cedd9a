//! Which LLM API a request speaks, and everything that differs between them, behind one trait
//! ([`Dialect`]): one file per dialect (`openai.rs`: chat and completions, `responses.rs`,
//! `anthropic.rs`) says which request fields are input, whether a stream reports usage, how usage
//! reads in JSON and in SSE events, how errors and rate-limit headers are spelled. Blocks and
//! throttles answer in the caller's own format so official SDKs raise their usual exceptions.
//!
//! Adding a dialect: a file with a [`Dialect`] implementation, an [`ApiKind`] variant and its path in
//! [`ApiKind::from_path`] and [`ApiKind::dialect`].

mod anthropic;
mod openai;
mod responses;

pub use anthropic::{anthropic_usage, rfc3339};
pub use openai::openai_usage;
pub use responses::responses_usage;

use crate::json::Json;
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
    /// Usage from a JSON response's `usage` object.
    fn usage(&self, u: &Json<'_>) -> Option<Usage>;
    /// Reads one SSE event (its name and parsed data) into the stream's tally.
    fn stream_event(&self, name: &str, v: &Json<'_>, tally: &mut Tally, tokenizer: Tokenizer);
    /// How this API spells its errors and rate-limit headers.
    fn error_style(&self) -> ErrorStyle {
        ErrorStyle::OpenAi
    }
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

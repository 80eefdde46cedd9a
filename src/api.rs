//! Which LLM API a request speaks, and how that API spells its errors. Blocks and throttles answer in
//! the caller's own format so official SDKs raise their usual exceptions.

use serde_json::json;

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
        if api == ApiKind::AnthropicMessages || has_anthropic_version {
            ErrorStyle::Anthropic
        } else {
            ErrorStyle::OpenAi
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
        ErrorStyle::OpenAi => {
            let (kind, code) = match rejection {
                Rejection::MissingCredential => ("invalid_request_error", "missing_api_key"),
                Rejection::Blocked => ("permission_error", "permission_denied"),
                Rejection::Throttled => ("requests", "rate_limit_exceeded"),
                Rejection::BodyTooLarge => ("invalid_request_error", "request_too_large"),
            };
            json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
        }
        ErrorStyle::Anthropic => {
            let kind = match rejection {
                Rejection::MissingCredential => "authentication_error",
                Rejection::Blocked => "permission_error",
                Rejection::Throttled => "rate_limit_error",
                Rejection::BodyTooLarge => "request_too_large",
            };
            json!({"type": "error", "error": {"type": kind, "message": message}})
        }
    };
    value.to_string()
}

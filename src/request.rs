//! Request inspection: parses the body once, estimates input tokens, reads the fields later rules
//! need, and (for streaming requests of an API that reports usage only when asked) asks for usage so
//! it cannot be dodged. What each field is called is the API's [`crate::api::Dialect`].

use crate::json::{Json, Members};

use crate::api::ApiKind;
use crate::policy::DegradeConfig;
use crate::policy::ShapeConfig;
use crate::shape::{analyse_estimating, Estimated, RequestShape};
use crate::tokens::{estimate_from_bytes, text_tokens_known, Tokenizer};

/// Fixed overhead the APIs add per message (role markers and separators).
const TOKENS_PER_MESSAGE: u64 = 4;
/// Fixed overhead per request (reply priming).
const TOKENS_PER_REQUEST: u64 = 3;

/// How far the body could be inspected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyStatus {
    /// Parsed as a JSON object.
    Parsed,
    /// No body.
    Empty,
    /// Not a JSON object (malformed JSON, invalid UTF-8, too deeply nested, or another type).
    Unparsed,
    /// Larger than `inspection.max_body_bytes`: not read.
    Oversize,
}

/// What the filter knows about a request before forwarding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFacts {
    /// API family.
    pub api: ApiKind,
    /// How far the body was inspected.
    pub body: BodyStatus,
    /// `model`, if present.
    pub model: Option<String>,
    /// `stream: true`.
    pub stream: bool,
    /// The request asked for usage in its stream (or the filter added that).
    pub include_usage: bool,
    /// The filter rewrote the body to add `stream_options.include_usage`.
    pub usage_injected: bool,
    /// `max_tokens` / `max_completion_tokens` / `max_output_tokens`.
    pub max_output_tokens: Option<u64>,
    /// Estimated input tokens.
    pub estimated_input_tokens: u64,
    /// Number of messages (or input items).
    pub messages: u64,
    /// Tokenizer family of the model (for estimates).
    pub tokenizer: Tokenizer,
    /// The request's shape, when the body was parsed and detection is on.
    pub shape: Option<RequestShape>,
    /// The request path (set by the adapter; used by detection scopes).
    pub path: String,
}

impl RequestFacts {
    /// Facts for a body that was not read (empty, or over the cap).
    pub fn uninspected(api: ApiKind, body: BodyStatus, body_len: u64) -> RequestFacts {
        RequestFacts {
            api,
            body,
            model: None,
            stream: false,
            include_usage: false,
            usage_injected: false,
            max_output_tokens: None,
            estimated_input_tokens: if body_len == 0 { 0 } else { estimate_from_bytes(body_len) },
            messages: 0,
            tokenizer: Tokenizer::default(),
            shape: None,
            path: String::new(),
        }
    }
}

/// The outcome of inspecting a request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspected {
    /// What was learnt.
    pub facts: RequestFacts,
    /// A replacement body when the filter rewrote it.
    pub rewritten: Option<Vec<u8>>,
}

/// Inspects a complete request body (already known to be within the cap). `shape` enables the
/// request-shape analysis for detection.
pub fn inspect(api: ApiKind, body: &[u8], inject_include_usage: bool, shape: Option<&ShapeConfig>) -> Inspected {
    if body.is_empty() {
        return Inspected { facts: RequestFacts::uninspected(api, BodyStatus::Empty, 0), rewritten: None };
    }
    inspect_parsed(api, body, Json::parse(body), inject_include_usage, shape)
}

/// [`inspect`] of a non-empty body whose parse is given (`None` when it is not JSON): what the rest of
/// the request path reads is the tree, so tests can hand it serde_json's tree to compare parsers.
pub fn inspect_parsed(
    api: ApiKind,
    body: &[u8],
    root: Option<Json<'_>>,
    inject_include_usage: bool,
    shape: Option<&ShapeConfig>,
) -> Inspected {
    // The parser rejects nesting deeper than serde_json's limit (127 open containers), so the walks
    // below are bounded.
    let root = match root {
        Some(root @ Json::Object(_)) => root,
        _ => {
            return Inspected {
                facts: RequestFacts::uninspected(api, BodyStatus::Unparsed, body.len() as u64),
                rewritten: None,
            }
        }
    };

    let dialect = api.dialect();
    let model: Option<String> = dialect.model(&root).map(|m| m.chars().take(128).collect());
    let tokenizer = model.as_deref().map(Tokenizer::for_model).unwrap_or_default();
    let stream = dialect.stream(&root);
    let max_output_tokens = dialect.max_output_tokens(&root);

    // The shape reads the last user message and the system prompt in one pass each, token estimate
    // included: the input estimate takes those and reads only the other strings.
    let (shape, known) = match shape {
        Some(cfg) => {
            let (shape, known) = analyse_estimating(api, &root, cfg);
            (Some(shape), known)
        }
        None => (None, [None, None]),
    };
    let (estimated_input_tokens, messages) = estimate_input(api, &root, tokenizer, &known);

    let mut include_usage = dialect.stream_reports_usage(&root);
    let mut rewritten = None;
    let mut usage_injected = false;
    if stream && !include_usage && inject_include_usage && dialect.injects_include_usage() {
        if let Some(body) = dialect.with_stream_usage(body, &root) {
            rewritten = Some(body);
            include_usage = true;
            usage_injected = true;
        }
    }

    Inspected {
        facts: RequestFacts {
            api,
            body: BodyStatus::Parsed,
            model,
            stream,
            include_usage,
            usage_injected,
            max_output_tokens,
            estimated_input_tokens,
            messages,
            tokenizer,
            shape,
            path: String::new(),
        },
        rewritten,
    }
}

fn estimate_input(api: ApiKind, root: &Json<'_>, tokenizer: Tokenizer, known: &[Estimated<'_>]) -> (u64, u64) {
    let fields = api.dialect().input_fields();
    let mut tokens = TOKENS_PER_REQUEST;
    for f in fields {
        if let Some(v) = root.get(f) {
            tokens += text_tokens_known(v, tokenizer, known);
        }
    }
    let messages = api.dialect().message_count(root);
    (tokens + messages * TOKENS_PER_MESSAGE, messages)
}

/// Rewrites a request body for the `degrade` action, the way its API spells the fields: strips
/// logprob and logit-bias requests, clamps the number of samples and caps the output length. Only the
/// top-level members that change are rewritten (found by their spans; no parse into a tree, no
/// re-serialisation of the rest). `None` when the body is not a JSON object or nothing needed to
/// change. The body is expected to be one [`inspect`] parsed (its strings and numbers are not checked
/// again here).
pub fn degrade(api: ApiKind, body: &[u8], cfg: &DegradeConfig) -> Option<Vec<u8>> {
    let mut root = Members::of(body)?;
    if !api.dialect().degrade(&mut root, cfg) {
        return None;
    }
    Some(root.to_vec())
}

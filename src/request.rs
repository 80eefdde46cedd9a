//! Request inspection: parses the body once, estimates input tokens, reads the fields later rules
//! need, and (for streaming OpenAI requests) adds `stream_options.include_usage` so usage cannot be
//! dodged.

use serde_json::{Map, Value};

use crate::json::Json;

use crate::api::ApiKind;
use crate::policy::DegradeConfig;
use crate::policy::ShapeConfig;
use crate::shape::{analyse, RequestShape};
use crate::tokens::{estimate_from_bytes, text_tokens, Tokenizer};

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
    // serde_json rejects nesting deeper than 128 levels with an error, so the walks below are bounded.
    let root = match Json::parse(body) {
        Some(root @ Json::Object(_)) => root,
        _ => {
            return Inspected {
                facts: RequestFacts::uninspected(api, BodyStatus::Unparsed, body.len() as u64),
                rewritten: None,
            }
        }
    };

    let model: Option<String> = root.get("model").and_then(Json::as_str).map(|m| m.chars().take(128).collect());
    let tokenizer = model.as_deref().map(Tokenizer::for_model).unwrap_or_default();
    let stream = root.get("stream").and_then(Json::as_bool).unwrap_or(false);
    let max_output_tokens = ["max_tokens", "max_completion_tokens", "max_output_tokens"]
        .iter()
        .find_map(|k| root.get(k).and_then(Json::as_u64));

    let (estimated_input_tokens, messages) = estimate_input(api, &root, tokenizer);
    let shape = shape.map(|cfg| analyse(api, &root, cfg));

    let dialect = api.dialect();
    let mut include_usage = dialect.stream_reports_usage(&root);
    let mut rewritten = None;
    let mut usage_injected = false;
    if stream && !include_usage && inject_include_usage && dialect.injects_include_usage() {
        if let Some(body) = add_include_usage(body, &root) {
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

/// The body with `stream_options.include_usage: true` added (`None` if it cannot be rewritten).
fn add_include_usage(body: &[u8], root: &Json<'_>) -> Option<Vec<u8>> {
    if root.get("stream_options").is_none() {
        // The common case: no `stream_options` at all. Insert the field after the opening brace and
        // leave the client's bytes as they were (the object has at least `stream`, so a comma follows).
        let open = body.iter().position(|&b| b == b'{')?;
        let field = br#""stream_options":{"include_usage":true},"#;
        let mut out = Vec::with_capacity(body.len() + field.len());
        out.extend_from_slice(body.get(..=open)?);
        out.extend_from_slice(field);
        out.extend_from_slice(body.get(open + 1..)?);
        return Some(out);
    }
    // `stream_options` is there without `include_usage: true`: rewrite the document.
    let Ok(Value::Object(mut root)) = serde_json::from_slice::<Value>(body) else { return None };
    let options = root.entry("stream_options").or_insert_with(|| Value::Object(Map::new()));
    if !options.is_object() {
        *options = Value::Object(Map::new());
    }
    options.as_object_mut()?.insert("include_usage".to_string(), Value::Bool(true));
    serde_json::to_vec(&root).ok()
}

fn estimate_input(api: ApiKind, root: &Json<'_>, tokenizer: Tokenizer) -> (u64, u64) {
    let fields = api.dialect().input_fields();
    let mut tokens = TOKENS_PER_REQUEST;
    for f in fields {
        if let Some(v) = root.get(f) {
            tokens += text_tokens(v, tokenizer);
        }
    }
    let messages = ["messages", "input"]
        .iter()
        .find_map(|k| root.get(k))
        .map(|v| match v {
            Json::Array(items) => items.len() as u64,
            Json::Null => 0,
            _ => 1,
        })
        .unwrap_or(0);
    (tokens + messages * TOKENS_PER_MESSAGE, messages)
}

/// Rewrites a request body for the `degrade` action: strips logprob and logit-bias requests, clamps
/// the number of samples and caps the output length. `None` when the body is not a JSON object or
/// nothing needed to change.
pub fn degrade(body: &[u8], cfg: &DegradeConfig) -> Option<Vec<u8>> {
    let Ok(Value::Object(mut root)) = serde_json::from_slice::<Value>(body) else { return None };
    let mut changed = false;
    if cfg.strip_logprobs {
        for k in ["logprobs", "top_logprobs"] {
            changed |= root.remove(k).is_some();
        }
        if let Some(Value::Array(include)) = root.get_mut("include") {
            let before = include.len();
            include.retain(|v| !v.as_str().is_some_and(|s| s.contains("logprobs")));
            changed |= include.len() != before;
        }
        if root.get("echo").and_then(Value::as_bool) == Some(true) {
            root.insert("echo".into(), Value::Bool(false));
            changed = true;
        }
    }
    if cfg.strip_logit_bias {
        changed |= root.remove("logit_bias").is_some();
    }
    if let Some(max_n) = cfg.max_n {
        for k in ["n", "best_of"] {
            if root.get(k).and_then(Value::as_u64).is_some_and(|n| n > max_n) {
                root.insert(k.into(), Value::from(max_n));
                changed = true;
            }
        }
    }
    if let Some(cap) = cfg.max_tokens {
        let keys = ["max_tokens", "max_completion_tokens", "max_output_tokens"];
        let mut present = false;
        for k in keys {
            if let Some(v) = root.get(k).and_then(Value::as_u64) {
                present = true;
                if v > cap {
                    root.insert(k.into(), Value::from(cap));
                    changed = true;
                }
            }
        }
        if !present {
            // No limit asked for: impose the cap with the field each API reads.
            let key = if root.contains_key("input") && !root.contains_key("messages") {
                "max_output_tokens"
            } else {
                "max_tokens"
            };
            root.insert(key.into(), Value::from(cap));
            changed = true;
        }
    }
    if !changed {
        return None;
    }
    serde_json::to_vec(&root).ok()
}

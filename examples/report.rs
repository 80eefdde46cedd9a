//! `report`: who is flagged and why, from Envoy's log.
//!
//! ```text
//! report [LOG|-] [--since T] [--until T] [--top N] [--json] [--html OUT.html]
//! report credential-id [--policy envoy/policy.json] [--kind key|claim|addr]   (the value from $KEY or stdin)
//! ```
//!
//! The filter logs one line per non-`allow` verdict (Envoy's `wasm` component at `info`):
//!
//! ```text
//! [2026-12-01 22:04:30.493][9620][info][wasm] [...context.cc:1151] wasm log distill_guard distill_guard: #2 distill-guard {"verdict":"tag","enforced":"tag","credential":"f4e60890a3717e86","tenant":null,"api":"openai_chat","score":0.01,"signals":"budget:soft","retry_after":null,"phase":"body"}
//! ```
//!
//! then, when such a request went upstream, one line at its end with the usage it settled with
//! (`settled` is `reported`, or `estimated`/`partly_estimated` when the response did not report it all;
//! `exact` says which):
//!
//! ```text
//! ... wasm log distill_guard distill_guard: #2 distill-guard {"settled":"reported","credential":"f4e60890a3717e86","tenant":null,"api":"openai_chat","input_tokens":20,"output_tokens":30,"exact":true}
//! ```
//!
//! and one `{"verdict":"block","reason":"missing_credential",...}` line per request refused for having
//! no credential, and `policy accepted version=.. revision=.. mode=..` when a policy loads. The report
//! reads those lines (anything else is skipped), keeps the ones inside `--since`/`--until` (Envoy's
//! own timestamps; `T` is `YYYY-MM-DD[ HH:MM[:SS[.mmm]]]` or a duration `30m`, `2h`, `1d` before the
//! last line of the log) and ranks the credentials and tenants by their highest score, then their worst
//! verdict. Allowed requests are not logged by the filter, so the counts are of *flagged* requests,
//! and the token totals (input and output, per credential and tenant) are those of the flagged requests
//! that went upstream (a refused request used none); a settled line counts for a credential flagged in
//! the range.
//!
//! `credential-id` prints the id the policy's lists and the log use for a key, computed by the
//! filter's own code (`distill_guard::credential::identify` with the policy's secret, which
//! `hash_secret_env` reads from this process's environment). The key is read from `$KEY` or the first
//! line of stdin and never printed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{BufRead, Read};
use std::process::ExitCode;

use serde_json::{json, Value};

use distill_guard::credential::{hashed_id, identify, CredentialKind};
use distill_guard::policy::Policy;

const VERDICTS: [&str; 5] = ["allow", "tag", "degrade", "throttle", "block"];
const MARKER: &str = "distill-guard {";
const POLICY_MARKER: &str = "distill-guard: policy accepted ";

fn severity(verdict: &str) -> usize {
    VERDICTS.iter().position(|v| *v == verdict).unwrap_or(0)
}

// ---- time ------------------------------------------------------------------------------------------

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count (inverse of [`days_from_civil`]).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, m, d)
}

/// `YYYY-MM-DD[ |T]HH:MM[:SS[.fff]]` (or a bare date) as milliseconds since the epoch, read as the
/// same civil time Envoy wrote (no time zone is applied either way).
fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim();
    let (date, time) = match text.split_once([' ', 'T']) {
        Some((d, t)) => (d, Some(t)),
        None => (text, None),
    };
    let mut parts = date.split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let mut ms = days_from_civil(y, m, d) * 86_400_000;
    if let Some(time) = time {
        let time = time.trim_end_matches('Z');
        let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
        let mut fields = hms.split(':');
        let h: i64 = fields.next()?.parse().ok()?;
        let mi: i64 = fields.next()?.parse().ok()?;
        let s: i64 = fields.next().map(str::parse).transpose().ok()?.unwrap_or(0);
        if fields.next().is_some() || h > 23 || mi > 59 || s > 60 {
            return None;
        }
        let frac_ms: i64 = if frac.is_empty() {
            0
        } else {
            let digits: String = frac.chars().chain("000".chars()).take(3).collect();
            digits.parse().ok()?
        };
        ms += ((h * 60 + mi) * 60 + s) * 1000 + frac_ms;
    }
    Some(ms)
}

/// `30s`, `15m`, `2h`, `1d` in milliseconds.
fn parse_duration(text: &str) -> Option<i64> {
    let text = text.trim();
    let unit = text.chars().last()?;
    let n: i64 = text.get(..text.len() - unit.len_utf8())?.parse().ok()?;
    let scale = match unit {
        's' => 1000,
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        _ => return None,
    };
    (n >= 0).then(|| n * scale)
}

fn format_time(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(86_400_000));
    let rest = ms.rem_euclid(86_400_000);
    let (h, mi, s, f) = (rest / 3_600_000, rest / 60_000 % 60, rest / 1000 % 60, rest % 1000);
    format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}.{f:03}")
}

// ---- log lines -------------------------------------------------------------------------------------

/// One line of the log the filter wrote.
#[derive(Debug, Clone, PartialEq)]
enum Line {
    /// A verdict other than `allow` for an identified credential.
    Verdict(Verdict),
    /// A request refused for having no credential.
    MissingCredential { time: Option<i64>, api: String },
    /// A policy accepted by a VM: `mode=Enforce|Shadow`, `revision=..`.
    Policy { time: Option<i64>, mode: String, revision: String },
    /// The usage a flagged exchange settled with (logged at its end, after its verdict line).
    Settled(Settled),
}

#[derive(Debug, Clone, PartialEq)]
struct Settled {
    time: Option<i64>,
    credential: String,
    tenant: Option<String>,
    input: u64,
    output: u64,
    /// Reported by the API; otherwise (partly) the filter's estimate.
    exact: bool,
}

#[derive(Debug, Clone, PartialEq)]
struct Verdict {
    time: Option<i64>,
    verdict: String,
    enforced: String,
    credential: String,
    tenant: Option<String>,
    api: String,
    score: f64,
    signals: Vec<String>,
}

impl Line {
    fn time(&self) -> Option<i64> {
        match self {
            Line::Verdict(v) => v.time,
            Line::Settled(s) => s.time,
            Line::MissingCredential { time, .. } | Line::Policy { time, .. } => *time,
        }
    }
}

/// The line's time: Envoy's default prefix `[YYYY-MM-DD HH:MM:SS.mmm]...`, or an ISO time as the first
/// field (`2026-12-01T22:04:30.493123Z<tab>info...`, as Istio's proxies log).
fn line_time(line: &str) -> Option<i64> {
    match line.strip_prefix('[') {
        Some(rest) => parse_time(rest.split_once(']')?.0),
        None => parse_time(line.split_whitespace().next()?),
    }
}

fn text(v: &Value, field: &str) -> Option<String> {
    v.get(field).and_then(Value::as_str).map(str::to_string)
}

/// Reads one log line; `None` for lines that are not the filter's verdict or policy lines.
fn parse_line(line: &str) -> Option<Line> {
    let time = line_time(line);
    if let Some(at) = line.find(POLICY_MARKER) {
        let rest = line.get(at + POLICY_MARKER.len()..)?;
        let field =
            |name: &str| rest.split_whitespace().find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')));
        return Some(Line::Policy {
            time,
            mode: field("mode")?.to_string(),
            revision: field("revision").unwrap_or("-").to_string(),
        });
    }
    let at = line.find(MARKER)?;
    // The object, and whatever a log format appends after it (Istio's `\tthread=N`).
    let json: Value =
        serde_json::Deserializer::from_str(line.get(at + MARKER.len() - 1..)?).into_iter::<Value>().next()?.ok()?;
    if json.get("settled").is_some() {
        let tokens = |field: &str| json.get(field).and_then(Value::as_u64);
        return Some(Line::Settled(Settled {
            time,
            credential: text(&json, "credential")?,
            tenant: text(&json, "tenant"),
            input: tokens("input_tokens")?,
            output: tokens("output_tokens")?,
            exact: json.get("exact").and_then(Value::as_bool).unwrap_or(false),
        }));
    }
    let verdict = text(&json, "verdict")?;
    let api = text(&json, "api").unwrap_or_default();
    if text(&json, "reason").as_deref() == Some("missing_credential") {
        return Some(Line::MissingCredential { time, api });
    }
    Some(Line::Verdict(Verdict {
        time,
        enforced: text(&json, "enforced").unwrap_or_else(|| verdict.clone()),
        verdict,
        credential: text(&json, "credential")?,
        tenant: text(&json, "tenant"),
        api,
        score: json.get("score").and_then(Value::as_f64).unwrap_or(0.0),
        signals: text(&json, "signals")
            .map(|s| s.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect())
            .unwrap_or_default(),
    }))
}

// ---- aggregation -----------------------------------------------------------------------------------

/// Everything flagged for one credential or tenant.
#[derive(Debug, Default)]
struct Subject {
    id: String,
    tenants: BTreeSet<String>,
    credentials: BTreeSet<String>,
    apis: BTreeSet<String>,
    flagged: u64,
    verdicts: [u64; 5],
    enforced: [u64; 5],
    shadowed: u64,
    max_score: f64,
    last_score: f64,
    signals: BTreeMap<String, u64>,
    first: Option<i64>,
    last: Option<i64>,
    /// (time, score, verdict severity) of each flagged request, for the timeline.
    points: Vec<(i64, f64, usize)>,
    /// Tokens the flagged requests that went upstream settled with.
    input_tokens: u64,
    output_tokens: u64,
    /// Settled requests, and how many of them with estimated (not reported) usage.
    settled: u64,
    estimated: u64,
}

impl Subject {
    fn add(&mut self, v: &Verdict) {
        self.flagged += 1;
        let (s, e) = (severity(&v.verdict), severity(&v.enforced));
        if let Some(n) = self.verdicts.get_mut(s) {
            *n += 1;
        }
        if let Some(n) = self.enforced.get_mut(e) {
            *n += 1;
        }
        // Not carried out because of shadow mode. A `throttle` forwarded as `degrade` is the throttle
        // tier's per-minute allowance (`detection.throttle_requests_per_minute`), which is enforcement.
        let allowance = VERDICTS.get(s) == Some(&"throttle") && VERDICTS.get(e) == Some(&"degrade");
        if e < s && !allowance {
            self.shadowed += 1;
        }
        self.max_score = self.max_score.max(v.score);
        self.last_score = v.score;
        for sig in &v.signals {
            *self.signals.entry(sig.clone()).or_default() += 1;
        }
        if let Some(t) = &v.tenant {
            self.tenants.insert(t.clone());
        }
        self.credentials.insert(v.credential.clone());
        self.apis.insert(v.api.clone());
        if let Some(t) = v.time {
            self.first = Some(self.first.map_or(t, |f| f.min(t)));
            self.last = Some(self.last.map_or(t, |l| l.max(t)));
            self.points.push((t, v.score, s));
        }
    }

    fn settle(&mut self, s: &Settled) {
        self.input_tokens += s.input;
        self.output_tokens += s.output;
        self.settled += 1;
        if !s.exact {
            self.estimated += 1;
        }
    }

    /// `IN/OUT` tokens, `~` marking totals that include estimates.
    fn tokens_text(&self) -> String {
        let mark = if self.estimated > 0 { "~" } else { "" };
        format!("{mark}{}/{}", self.input_tokens, self.output_tokens)
    }

    /// The worst verdict computed for it.
    fn tier(&self) -> &'static str {
        let worst = self.verdicts.iter().rposition(|n| *n > 0).unwrap_or(0);
        VERDICTS.get(worst).copied().unwrap_or("allow")
    }

    /// `enforce`, `shadow` or `mixed`: whether its verdicts were carried out.
    fn enforcement(&self) -> &'static str {
        match (self.shadowed, self.flagged - self.shadowed) {
            (0, _) => "enforce",
            (_, 0) => "shadow",
            _ => "mixed",
        }
    }

    fn top_signals(&self, n: usize) -> Vec<(&str, u64)> {
        let mut all: Vec<(&str, u64)> = self.signals.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        all.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        all.truncate(n);
        all
    }

    fn rank_key(&self) -> (i64, usize, u64) {
        ((self.max_score * 100.0).round() as i64, severity(self.tier()), self.flagged)
    }

    fn to_json(&self, kind: &str) -> Value {
        let counts = |a: &[u64; 5]| -> Value {
            VERDICTS.iter().zip(a).filter(|(_, n)| **n > 0).map(|(v, n)| ((*v).to_string(), json!(n))).collect()
        };
        let mut o = json!({
            kind: self.id,
            "tier": self.tier(),
            "max_score": (self.max_score * 100.0).round() / 100.0,
            "last_score": (self.last_score * 100.0).round() / 100.0,
            "flagged_requests": self.flagged,
            "verdicts": counts(&self.verdicts),
            "enforced": counts(&self.enforced),
            "shadowed": self.shadowed,
            "enforcement": self.enforcement(),
            "top_signals": self.top_signals(5).iter().map(|(s, n)| json!({"signal": s, "count": n})).collect::<Vec<_>>(),
            "first_seen": self.first.map(format_time),
            "last_seen": self.last.map(format_time),
            "apis": self.apis,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "settled_requests": self.settled,
            "estimated_requests": self.estimated,
        });
        if let Some(map) = o.as_object_mut() {
            if kind == "credential" {
                map.insert("tenants".into(), json!(self.tenants));
            } else {
                map.insert("credentials".into(), json!(self.credentials.len()));
            }
        }
        o
    }
}

#[derive(Debug, Default)]
struct Report {
    from: Option<i64>,
    to: Option<i64>,
    lines: u64,
    missing_credential: u64,
    input_tokens: u64,
    output_tokens: u64,
    policy: Option<(String, String)>,
    credentials: Vec<Subject>,
    tenants: Vec<Subject>,
}

fn rank(map: BTreeMap<String, Subject>) -> Vec<Subject> {
    let mut v: Vec<Subject> = map.into_values().collect();
    v.sort_by(|a, b| b.rank_key().cmp(&a.rank_key()).then(a.id.cmp(&b.id)));
    v
}

/// Keeps the lines inside `[since, until]` and aggregates them. A line without a timestamp is kept
/// only when no range is given.
fn build(lines: &[Line], since: Option<i64>, until: Option<i64>) -> Report {
    let mut r = Report::default();
    let mut creds: BTreeMap<String, Subject> = BTreeMap::new();
    let mut tenants: BTreeMap<String, Subject> = BTreeMap::new();
    for line in lines {
        let inside = match line.time() {
            Some(t) => since.is_none_or(|s| t >= s) && until.is_none_or(|u| t <= u),
            None => since.is_none() && until.is_none(),
        };
        if let Line::Policy { mode, revision, time } = line {
            // The policy in force at the end of the range (the last accepted before `until`).
            if until.is_none_or(|u| time.is_none_or(|t| t <= u)) {
                r.policy = Some((mode.clone(), revision.clone()));
            }
            continue;
        }
        if !inside {
            continue;
        }
        if let Line::Settled(s) = line {
            // Tokens only, for a credential flagged in the range (its verdict line comes first, from
            // the same worker): the request was counted by its verdict line.
            if let Some(c) = creds.get_mut(&s.credential) {
                c.settle(s);
                r.input_tokens += s.input;
                r.output_tokens += s.output;
                if let Some(t) = s.tenant.as_ref().and_then(|t| tenants.get_mut(t)) {
                    t.settle(s);
                }
            }
            continue;
        }
        r.lines += 1;
        if let Some(t) = line.time() {
            r.from = Some(r.from.map_or(t, |f| f.min(t)));
            r.to = Some(r.to.map_or(t, |l| l.max(t)));
        }
        match line {
            Line::Verdict(v) => {
                let c = creds.entry(v.credential.clone()).or_default();
                c.id.clone_from(&v.credential);
                c.add(v);
                if let Some(t) = &v.tenant {
                    let s = tenants.entry(t.clone()).or_default();
                    s.id.clone_from(t);
                    s.add(v);
                }
            }
            Line::MissingCredential { .. } => r.missing_credential += 1,
            Line::Policy { .. } | Line::Settled(_) => {}
        }
    }
    r.credentials = rank(creds);
    r.tenants = rank(tenants);
    r
}

// ---- output ----------------------------------------------------------------------------------------

fn signals_text(s: &Subject) -> String {
    let top: Vec<String> = s.top_signals(3).iter().map(|(sig, n)| format!("{sig}×{n}")).collect();
    if top.is_empty() {
        "-".into()
    } else {
        top.join(",")
    }
}

fn verdicts_text(counts: &[u64; 5]) -> String {
    let parts: Vec<String> =
        VERDICTS.iter().zip(counts).filter(|(_, n)| **n > 0).map(|(v, n)| format!("{v} {n}")).collect();
    parts.join(", ")
}

fn range_text(r: &Report) -> String {
    match (r.from, r.to) {
        (Some(f), Some(t)) => format!("{} .. {}", format_time(f), format_time(t)),
        _ => "no timestamped lines".into(),
    }
}

/// The report's headline: counts, and the policy last accepted in the log.
fn summary(r: &Report) -> String {
    let mut out = format!(
        "{} flagged requests from {} credentials ({} tenants); {} requests refused without a credential.",
        r.lines - r.missing_credential,
        r.credentials.len(),
        r.tenants.len(),
        r.missing_credential
    );
    let _ = write!(
        out,
        " Tokens settled by the flagged requests that went upstream: {} in, {} out.",
        r.input_tokens, r.output_tokens
    );
    if let Some((mode, revision)) = &r.policy {
        let _ = write!(out, " Policy: mode={mode} revision={revision} (last accepted in the log).");
    }
    out
}

fn text_report(r: &Report, top: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "distill-guard report: {}\n{}", range_text(r), summary(r));
    let table = |out: &mut String, title: &str, list: &[Subject], credential: bool| {
        if list.is_empty() {
            return;
        }
        let _ = writeln!(out, "\n{title} (by highest score, then worst verdict):");
        let _ = writeln!(
            out,
            "{:<4} {:<18} {:<9} {:>5} {:>7} {:>17} {:<8} {:<23} {:<23} {:<34} {}",
            "#",
            if credential { "credential" } else { "tenant" },
            "tier",
            "score",
            "flagged",
            "tokens in/out",
            "enforce",
            "first seen",
            "last seen",
            "verdicts",
            if credential { "top signals [tenant]" } else { "top signals [credentials]" }
        );
        for (i, s) in list.iter().take(top).enumerate() {
            let extra = if credential {
                if s.tenants.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", s.tenants.iter().cloned().collect::<Vec<_>>().join(","))
                }
            } else {
                format!(" [{}]", s.credentials.len())
            };
            let _ = writeln!(
                out,
                "{:<4} {:<18} {:<9} {:>5.2} {:>7} {:>17} {:<8} {:<23} {:<23} {:<34} {}{}",
                i + 1,
                s.id,
                s.tier(),
                s.max_score,
                s.flagged,
                s.tokens_text(),
                s.enforcement(),
                s.first.map(format_time).unwrap_or_else(|| "-".into()),
                s.last.map(format_time).unwrap_or_else(|| "-".into()),
                verdicts_text(&s.verdicts),
                signals_text(s),
                extra
            );
        }
        if list.len() > top {
            let _ = writeln!(out, "... and {} more (--top N)", list.len() - top);
        }
        if list.iter().take(top).any(|s| s.estimated > 0) {
            let _ = writeln!(out, "~ tokens include the filter's estimate where the response reported no usage");
        }
    };
    table(&mut out, "Credentials", &r.credentials, true);
    table(&mut out, "Tenants", &r.tenants, false);
    out
}

fn json_report(r: &Report, top: usize) -> Value {
    json!({
        "from": r.from.map(format_time),
        "to": r.to.map(format_time),
        "flagged_requests": r.lines - r.missing_credential,
        "missing_credential": r.missing_credential,
        "input_tokens": r.input_tokens,
        "output_tokens": r.output_tokens,
        "policy": r.policy.as_ref().map(|(mode, revision)| json!({"mode": mode, "revision": revision})),
        "credentials": r.credentials.iter().take(top).map(|s| s.to_json("credential")).collect::<Vec<_>>(),
        "tenants": r.tenants.iter().take(top).map(|s| s.to_json("tenant")).collect::<Vec<_>>(),
    })
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

const COLOURS: [&str; 5] = ["#999", "#e0b000", "#e07000", "#d03000", "#900"];

/// A small timeline: one dot per flagged request, x = time in the report's range, y = score, colour =
/// verdict.
fn timeline_svg(s: &Subject, from: i64, to: i64) -> String {
    let (w, h) = (240.0, 36.0);
    let span = (to - from).max(1) as f64;
    let mut svg = format!(
        "<svg width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\"><line x1=\"0\" y1=\"{y}\" x2=\"{w}\" y2=\"{y}\" stroke=\"#ccc\"/>",
        y = h - 2.0
    );
    for (t, score, sev) in &s.points {
        let x = 2.0 + (w - 4.0) * ((t - from) as f64 / span);
        let y = (h - 3.0) - (h - 6.0) * score.clamp(0.0, 1.0);
        let colour = COLOURS.get(*sev).copied().unwrap_or("#999");
        let _ = write!(svg, "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"2\" fill=\"{colour}\"/>");
    }
    svg.push_str("</svg>");
    svg
}

fn html_report(r: &Report, top: usize) -> String {
    let (from, to) = (r.from.unwrap_or(0), r.to.unwrap_or(0));
    let mut out = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>distill-guard report</title><style>\
         body{font:14px sans-serif;margin:2em}table{border-collapse:collapse}td,th{padding:3px 8px;\
         border-bottom:1px solid #ddd;text-align:left;vertical-align:middle}code{font-size:13px}</style></head><body>",
    );
    let _ = write!(out, "<h1>distill-guard report</h1><p>{}</p>", escape(&range_text(r)));
    let _ = write!(
        out,
        "<p>{}</p><p>Timeline: one dot per flagged request, height = score, colour = verdict (",
        escape(&summary(r))
    );
    for (v, c) in VERDICTS.iter().zip(COLOURS).skip(1) {
        let _ = write!(out, "<span style=\"color:{c}\">● {v}</span> ");
    }
    out.push_str(")</p>");
    for (title, list, credential) in [("Credentials", &r.credentials, true), ("Tenants", &r.tenants, false)] {
        if list.is_empty() {
            continue;
        }
        let _ = write!(
            out,
            "<h2>{title}</h2><table><tr><th>#</th><th>{}</th><th>tier</th><th>max score</th><th>flagged</th>\
             <th>tokens in/out</th><th>enforcement</th><th>first seen</th><th>last seen</th><th>verdicts</th><th>top signals</th><th>timeline</th></tr>",
            if credential { "credential" } else { "tenant" }
        );
        for (i, s) in list.iter().take(top).enumerate() {
            let _ = write!(
                out,
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{:.2}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                i + 1,
                escape(&s.id),
                s.tier(),
                s.max_score,
                s.flagged,
                escape(&s.tokens_text()),
                s.enforcement(),
                s.first.map(format_time).unwrap_or_default(),
                s.last.map(format_time).unwrap_or_default(),
                escape(&verdicts_text(&s.verdicts)),
                escape(&signals_text(s)),
                timeline_svg(s, from, to)
            );
        }
        out.push_str("</table>");
    }
    out.push_str("</body></html>\n");
    out
}

// ---- credential id -----------------------------------------------------------------------------------

fn read_value() -> Result<String, String> {
    if let Ok(key) = std::env::var("KEY") {
        if !key.is_empty() {
            return Ok(key);
        }
    }
    let mut first = String::new();
    std::io::stdin().lock().read_line(&mut first).map_err(|e| format!("reading stdin: {e}"))?;
    let value = first.trim_end_matches(['\r', '\n']).to_string();
    if value.trim().is_empty() {
        return Err("no key: set KEY or give it on stdin".into());
    }
    Ok(value)
}

/// The id for `value` under `policy`: a key goes through `identify` as an `authorization: Bearer`
/// header and as every header source, exactly as the filter reads it; a claim or address is hashed
/// with the filter's `hashed_id`.
fn credential_id(policy: &Policy, kind: &str, value: &str) -> Result<(String, Option<String>), String> {
    let cfg = &policy.credential;
    match kind {
        "key" => {
            let bearer = format!("Bearer {value}");
            let header = |name: &str| -> Option<String> {
                Some(if name.eq_ignore_ascii_case("authorization") { bearer.clone() } else { value.to_string() })
            };
            let c = identify(cfg, &header, None).map_err(|e| e.to_string())?;
            if c.kind != CredentialKind::Key {
                return Err(format!("the policy's first matching source ({}) does not read API keys", c.source));
            }
            Ok((c.id, c.tenant))
        }
        "claim" => Ok((hashed_id(&cfg.key, CredentialKind::Claim, value), None)),
        "addr" => Ok((hashed_id(&cfg.key, CredentialKind::Address, value), None)),
        other => Err(format!("--kind: unknown kind `{other}`, expected key, claim or addr")),
    }
}

fn credential_id_main(args: &[String]) -> ExitCode {
    let mut policy_path = "envoy/policy.json".to_string();
    let mut kind = "key".to_string();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--policy" => policy_path = it.next().cloned().unwrap_or_default(),
            "--kind" => kind = it.next().cloned().unwrap_or_default(),
            other => {
                eprintln!("credential-id: unexpected argument `{other}` (the key comes from $KEY or stdin)");
                return ExitCode::from(2);
            }
        }
    }
    let bytes = match std::fs::read(&policy_path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{policy_path}: {e}");
            return ExitCode::from(2);
        }
    };
    let env = |name: &str| std::env::var(name).ok();
    let policy = match Policy::parse(&bytes, &env) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{policy_path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let value = match read_value() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("credential-id: {e}");
            return ExitCode::from(2);
        }
    };
    match credential_id(&policy, &kind, &value) {
        Ok((id, tenant)) => {
            match tenant {
                Some(t) => println!("{id} tenant={t}"),
                None => println!("{id}"),
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("credential-id: {e}");
            ExitCode::FAILURE
        }
    }
}

// ---- main --------------------------------------------------------------------------------------------

struct Options {
    log: String,
    since: Option<String>,
    until: Option<String>,
    top: usize,
    json: bool,
    html: Option<String>,
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut o = Options { log: "-".into(), since: None, until: None, top: 50, json: false, html: None };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().cloned().ok_or_else(|| format!("{name}: missing value"));
        match a.as_str() {
            "--since" => o.since = Some(value("--since")?),
            "--until" => o.until = Some(value("--until")?),
            "--top" => o.top = value("--top")?.parse().map_err(|_| "--top: expected a number".to_string())?,
            "--json" => o.json = true,
            "--html" => o.html = Some(value("--html")?),
            "-h" | "--help" => return Err(String::new()),
            s if s.starts_with("--") => return Err(format!("unknown option `{s}`")),
            s => o.log = s.to_string(),
        }
    }
    Ok(o)
}

/// `--since`/`--until`: a time, or a duration before the last line of the log. Empty means unset.
fn resolve(arg: &Option<String>, name: &str, last: Option<i64>) -> Result<Option<i64>, String> {
    let Some(text) = arg.as_deref().filter(|s| !s.trim().is_empty()) else {
        return Ok(None);
    };
    if let Some(t) = parse_time(text) {
        return Ok(Some(t));
    }
    match (parse_duration(text), last) {
        (Some(d), Some(last)) => Ok(Some(last - d)),
        (Some(_), None) => Err(format!("{name}: `{text}` is relative to the last line, but the log has no timestamps")),
        _ => Err(format!("{name}: `{text}` is neither `YYYY-MM-DD[ HH:MM[:SS]]` nor a duration like 30m, 2h, 1d")),
    }
}

fn read_lines(path: &str) -> Result<Vec<Line>, String> {
    let mut data = Vec::new();
    if path == "-" {
        std::io::stdin().lock().read_to_end(&mut data).map_err(|e| format!("stdin: {e}"))?;
    } else {
        data = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    }
    // Lines are read as bytes: a corrupt line is skipped, never fatal.
    Ok(data.split(|b| *b == b'\n').filter_map(|l| std::str::from_utf8(l).ok()).filter_map(parse_line).collect())
}

const USAGE: &str = "usage: report [LOG|-] [--since T] [--until T] [--top N] [--json] [--html OUT.html]\n       \
                     report credential-id [--policy FILE] [--kind key|claim|addr]   (value from $KEY or stdin)\n\
                     T: YYYY-MM-DD[ HH:MM[:SS[.mmm]]] (Envoy's log time) or 30m / 2h / 1d before the log's last line";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("credential-id") {
        return credential_id_main(args.get(1..).unwrap_or(&[]));
    }
    let o = match parse_args(&args) {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("report: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let lines = match read_lines(&o.log) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("report: {e}");
            return ExitCode::from(2);
        }
    };
    let last = lines.iter().filter_map(Line::time).max();
    let (since, until) = match (resolve(&o.since, "--since", last), resolve(&o.until, "--until", last)) {
        (Ok(s), Ok(u)) => (s, u),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("report: {e}");
            return ExitCode::from(2);
        }
    };
    let report = build(&lines, since, until);
    if let Some(path) = &o.html {
        if let Err(e) = std::fs::write(path, html_report(&report, o.top)) {
            eprintln!("report: {path}: {e}");
            return ExitCode::from(2);
        }
    }
    let out = if o.json {
        serde_json::to_string_pretty(&json_report(&report, o.top)).unwrap_or_default() + "\n"
    } else {
        text_report(&report, o.top)
    };
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), out.as_bytes());
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    // Captured from the real Envoy 1.40 running the filter (tests/e2e harness, two workers).
    const TAG: &str = r#"[2026-12-01 22:04:30.493][9620][info][wasm] [source/extensions/common/wasm/context.cc:1151] wasm log distill_guard distill_guard distill_guard: #2 distill-guard {"verdict":"tag","enforced":"tag","credential":"f4e60890a3717e86","tenant":null,"api":"openai_chat","score":0.01,"signals":"budget:soft","retry_after":null,"phase":"body"}"#;
    const MISSING: &str = r#"[2026-12-01 22:04:30.572][9620][info][wasm] [source/extensions/common/wasm/context.cc:1151] wasm log distill_guard distill_guard distill_guard: #4 distill-guard {"verdict":"block","reason":"missing_credential","api":"openai_chat"}"#;
    const POLICY: &str = "[2026-12-01 22:04:30.091][9555][info][wasm] [source/extensions/common/wasm/context.cc:1151] wasm log distill_guard distill_guard: distill-guard: policy accepted version=1 revision=1 mode=Enforce budgets=4 max_credentials=10000";
    const OTHER: &str =
        "[2026-12-01 22:04:30.091][9555][info][main] [source/server/server.cc:1000] starting main dispatch loop";

    fn verdict_line(
        time: &str,
        verdict: &str,
        enforced: &str,
        cred: &str,
        tenant: Option<&str>,
        score: f64,
        signals: &str,
    ) -> String {
        let tenant = tenant.map(|t| format!("\"{t}\"")).unwrap_or_else(|| "null".into());
        TAG.replacen("2026-12-01 22:04:30.493", time, 1).replacen(
            r#"{"verdict":"tag","enforced":"tag","credential":"f4e60890a3717e86","tenant":null,"api":"openai_chat","score":0.01,"signals":"budget:soft""#,
            &format!(r#"{{"verdict":"{verdict}","enforced":"{enforced}","credential":"{cred}","tenant":{tenant},"api":"openai_chat","score":{score:.2},"signals":"{signals}""#),
            1,
        )
    }

    #[test]
    fn reads_the_captured_lines() {
        let Some(Line::Verdict(v)) = parse_line(TAG) else { panic!("not read: {TAG}") };
        assert_eq!(v.verdict, "tag");
        assert_eq!(v.enforced, "tag");
        assert_eq!(v.credential, "f4e60890a3717e86");
        assert_eq!(v.tenant, None);
        assert_eq!(v.api, "openai_chat");
        assert!((v.score - 0.01).abs() < 1e-9);
        assert_eq!(v.signals, vec!["budget:soft"]);
        assert_eq!(v.time, parse_time("2026-12-01 22:04:30.493"));
        assert_eq!(
            parse_line(MISSING),
            Some(Line::MissingCredential { time: parse_time("2026-12-01 22:04:30.572"), api: "openai_chat".into() })
        );
        assert_eq!(
            parse_line(POLICY),
            Some(Line::Policy {
                time: parse_time("2026-12-01 22:04:30.091"),
                mode: "Enforce".into(),
                revision: "1".into()
            })
        );
        assert_eq!(parse_line(OTHER), None);
        // The same message in Istio's proxy log format: an ISO time first, `thread=N` after the message.
        let message = TAG.split_once("] wasm log ").map(|(_, m)| m).unwrap_or("");
        let istio =
            format!("2026-12-01T22:04:30.493123Z\tinfo\tenvoy wasm context.cc:1151\twasm log {message}\tthread=31");
        let Some(Line::Verdict(i)) = parse_line(&istio) else { panic!("not read: {istio}") };
        assert_eq!((i.time, i.credential.as_str()), (v.time, "f4e60890a3717e86"));
        assert_eq!(
            parse_line(&TAG.replace("\"credential\"", "\"cred\"")),
            None,
            "a verdict line without a credential is not counted"
        );
        assert_eq!(parse_line(&TAG[..TAG.len() - 5]), None, "a truncated line is skipped");
    }

    fn settled_line(time: &str, cred: &str, tenant: Option<&str>, input: u64, output: u64, how: &str) -> String {
        let tenant = tenant.map(|t| format!("\"{t}\"")).unwrap_or_else(|| "null".into());
        let exact = how == "reported";
        let prefix = TAG.split_once("distill-guard {").map(|(p, _)| p).unwrap_or("");
        format!(
            "{}distill-guard {{\"settled\":\"{how}\",\"credential\":\"{cred}\",\"tenant\":{tenant},\"api\":\"openai_chat\",\"input_tokens\":{input},\"output_tokens\":{output},\"exact\":{exact}}}",
            prefix.replacen("2026-12-01 22:04:30.493", time, 1)
        )
    }

    #[test]
    fn sums_settled_tokens_per_credential_and_tenant() {
        let raw = [
            verdict_line("2026-12-01 10:00:00.000", "tag", "tag", "aaaa", Some("acme"), 0.40, "budget:soft"),
            settled_line("2026-12-01 10:00:01.000", "aaaa", Some("acme"), 20, 30, "reported"),
            verdict_line("2026-12-01 10:01:00.000", "degrade", "degrade", "aaaa", Some("acme"), 0.60, "sticky"),
            settled_line("2026-12-01 10:01:01.000", "aaaa", Some("acme"), 5, 7, "reported"),
            verdict_line("2026-12-01 10:02:00.000", "tag", "tag", "bbbb", Some("acme"), 0.30, "budget:soft"),
            settled_line("2026-12-01 10:02:01.000", "bbbb", Some("acme"), 100, 0, "estimated"),
            // A refused request settles nothing; a settled line of a credential not flagged in the range
            // (its verdict line is outside it) adds nothing.
            verdict_line("2026-12-01 10:03:00.000", "block", "block", "cccc", None, 0.90, "blocklist:credential"),
            settled_line("2026-12-01 10:04:00.000", "dddd", None, 1000, 1000, "reported"),
        ];
        let lines: Vec<Line> = raw.iter().filter_map(|l| parse_line(l)).collect();
        assert_eq!(lines.len(), raw.len(), "every line is read");
        assert_eq!(
            parse_line(&raw[1]),
            Some(Line::Settled(Settled {
                time: parse_time("2026-12-01 10:00:01.000"),
                credential: "aaaa".into(),
                tenant: Some("acme".into()),
                input: 20,
                output: 30,
                exact: true,
            }))
        );
        assert_eq!(parse_line(&raw[1].replace("\"input_tokens\":20", "\"input_tokens\":-1")), None, "bad counts");
        let r = build(&lines, None, None);
        let by = |id: &str| r.credentials.iter().find(|s| s.id == id).expect(id);
        let a = by("aaaa");
        assert_eq!((a.flagged, a.input_tokens, a.output_tokens, a.settled, a.estimated), (2, 25, 37, 2, 0));
        assert_eq!(a.tokens_text(), "25/37");
        let b = by("bbbb");
        assert_eq!((b.input_tokens, b.output_tokens, b.estimated), (100, 0, 1));
        assert_eq!(b.tokens_text(), "~100/0");
        assert_eq!((by("cccc").input_tokens, by("cccc").settled), (0, 0));
        assert!(r.credentials.iter().all(|s| s.id != "dddd"));
        let acme = &r.tenants[0];
        assert_eq!((acme.id.as_str(), acme.input_tokens, acme.output_tokens, acme.estimated), ("acme", 125, 37, 1));
        // Settled lines are not flagged requests.
        assert_eq!(r.lines - r.missing_credential, 4);

        let j = json_report(&r, 10);
        assert_eq!((j["input_tokens"].as_u64(), j["output_tokens"].as_u64()), (Some(125), Some(37)));
        let aj = j["credentials"].as_array().and_then(|c| c.iter().find(|c| c["credential"] == "aaaa")).cloned();
        let aj = aj.expect("aaaa in json");
        assert_eq!((aj["input_tokens"].as_u64(), aj["output_tokens"].as_u64()), (Some(25), Some(37)));
        assert_eq!((aj["settled_requests"].as_u64(), aj["estimated_requests"].as_u64()), (Some(2), Some(0)));
        assert_eq!(j["tenants"][0]["input_tokens"], 125);
        let text = text_report(&r, 10);
        assert!(text.contains("tokens in/out") && text.contains("25/37") && text.contains("~100/0"), "{text}");
        assert!(text.contains("125 in, 37 out"), "{text}");
        let html = html_report(&r, 10);
        assert!(html.contains("<td>25/37</td>") && html.contains("<td>~125/37</td>"), "{html}");
    }

    #[test]
    fn time_round_trips_and_orders() {
        for t in
            ["1970-01-01 00:00:00.000", "2000-02-29 12:34:56.789", "2026-12-31 23:59:59.999", "2100-03-01 00:00:00.001"]
        {
            assert_eq!(parse_time(t).map(format_time).as_deref(), Some(t));
        }
        assert_eq!(parse_time("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_time("2026-12-01T22:04"), parse_time("2026-12-01 22:04:00.000"));
        assert_eq!(parse_time("2026-13-01"), None);
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_duration("90m"), Some(5_400_000));
        assert_eq!(parse_duration("2x"), None);
    }

    #[test]
    fn ranks_by_score_then_tier_and_counts_shadow() {
        let raw = [
            verdict_line(
                "2026-12-01 10:00:00.000",
                "tag",
                "tag",
                "aaaa",
                Some("acme"),
                0.40,
                "chain_of_thought,single_turn",
            ),
            verdict_line(
                "2026-12-01 10:05:00.000",
                "block",
                "allow",
                "bbbb",
                None,
                0.95,
                "chain_of_thought,output_heavy",
            ),
            verdict_line("2026-12-01 10:06:00.000", "throttle", "allow", "bbbb", None, 0.75, "output_heavy,sticky"),
            verdict_line(
                "2026-12-01 10:07:00.000",
                "degrade",
                "degrade",
                "aaaa",
                Some("acme"),
                0.60,
                "chain_of_thought",
            ),
            verdict_line("2026-12-01 10:08:00.000", "tag", "tag", "cccc", Some("acme"), 0.40, "budget:soft"),
            verdict_line("2026-12-01 10:09:00.000", "throttle", "degrade", "cccc", Some("acme"), 0.40, "sticky"),
            MISSING.to_string(),
            OTHER.to_string(),
        ];
        let lines: Vec<Line> = raw.iter().filter_map(|l| parse_line(l)).collect();
        assert_eq!(lines.len(), 7);
        let r = build(&lines, None, None);
        let ids: Vec<&str> = r.credentials.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["bbbb", "aaaa", "cccc"]);
        let b = &r.credentials[0];
        assert_eq!((b.tier(), b.flagged, b.shadowed, b.enforcement()), ("block", 2, 2, "shadow"));
        assert_eq!(b.top_signals(1), vec![("output_heavy", 2)]);
        let a = &r.credentials[1];
        assert_eq!((a.tier(), a.enforcement(), a.max_score), ("degrade", "enforce", 0.60));
        assert_eq!(a.first.map(format_time).as_deref(), Some("2026-12-01 10:00:00.000"));
        assert_eq!(a.last.map(format_time).as_deref(), Some("2026-12-01 10:07:00.000"));
        let c = &r.credentials[2];
        assert_eq!(
            (c.tier(), c.shadowed, c.enforcement()),
            ("throttle", 0, "enforce"),
            "the throttle allowance is enforcement"
        );
        assert_eq!(r.missing_credential, 1);
        assert_eq!(r.tenants.len(), 1);
        assert_eq!((r.tenants[0].id.as_str(), r.tenants[0].flagged, r.tenants[0].credentials.len()), ("acme", 4, 2));

        // A time range keeps only the lines inside it.
        let r = build(&lines, parse_time("2026-12-01 10:05"), parse_time("2026-12-01 10:06"));
        assert_eq!(r.credentials.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["bbbb"]);
        assert_eq!(r.credentials[0].flagged, 2);
        assert_eq!(r.missing_credential, 0);

        let j = json_report(&build(&lines, None, None), 2);
        assert_eq!(j["credentials"].as_array().map(Vec::len), Some(2));
        assert_eq!(j["credentials"][0]["credential"], "bbbb");
        assert_eq!(j["credentials"][0]["enforcement"], "shadow");
        assert_eq!(j["credentials"][0]["verdicts"]["block"], 1);
        assert_eq!(j["credentials"][0]["enforced"]["allow"], 2);
        assert_eq!(j["missing_credential"], 1);
    }

    #[test]
    fn html_is_static_and_escapes_what_it_shows() {
        let lines: Vec<Line> = [verdict_line("2026-12-01 10:00:00.000", "tag", "tag", "aaaa", Some("<t>"), 0.5, "x")]
            .iter()
            .filter_map(|l| parse_line(l))
            .collect();
        let html = html_report(&build(&lines, None, None), 10);
        assert!(html.contains("&lt;t&gt;") && !html.contains("<t>"));
        assert!(html.contains("<svg") && html.contains("<circle"));
        assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("<script"));
    }

    #[test]
    fn relative_range_is_before_the_last_line() {
        let last = parse_time("2026-12-01 10:00:00");
        assert_eq!(resolve(&Some("1h".into()), "--since", last), Ok(parse_time("2026-12-01 09:00:00")));
        assert!(resolve(&Some("1h".into()), "--since", None).is_err());
        assert!(resolve(&Some("soon".into()), "--since", last).unwrap_err().contains("--since"));
        assert_eq!(resolve(&Some(String::new()), "--until", last), Ok(None));
    }

    #[test]
    fn credential_id_is_the_filters() {
        let policy = br#"{"version":1,"credential":{"sources":[{"kind":"bearer"},{"kind":"header","name":"x-api-key"}],"hash_secret":"0123456789abcdef-test"}}"#;
        let p = Policy::parse(policy, &|_: &str| None).expect("policy");
        let (id, tenant) = credential_id(&p, "key", "sk-demo").expect("id");
        assert_eq!(id, hashed_id(&p.credential.key, CredentialKind::Key, "sk-demo"));
        assert_eq!(tenant, None);
        assert_eq!(id.len(), 16);
        assert_ne!(credential_id(&p, "claim", "sk-demo").expect("claim").0, id, "the kind is part of the hash");
        assert!(credential_id(&p, "nope", "x").is_err());
    }
}

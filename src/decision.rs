//! The verdict for a request: lists, budgets (checked and charged atomically in the ledger), shadow
//! mode, and the settlement that replaces the input estimate with the usage the API reported.
//!
//! Data flows one way: credential + request facts → signals → verdict → (the adapter's) actions.

use std::fmt;

use crate::api::Rejection;
pub use crate::budget::LimitInfo;
use crate::budget::{fired, near_limit, over_allowance, within_margin, Fired};
use crate::campaign::{CampaignTable, CampaignView, Cohort, FingerprintKind};
use crate::credential::Credential;
use crate::detection::{assess, share_lower_bound, Assessment, CampaignEvidence, Tier};
use crate::hash::fnv1a64;
use crate::ledger::{Delta, Ledger, LedgerError, Quantity, Record, Subject, Update, Updated};
use crate::policy::{Action, Budget, Lists, Mode, Policy, Scope, Window};
use crate::request::{BodyStatus, RequestFacts};
use crate::response::Metered;
use crate::signals::{Detector, ShapeSignal};

/// Why a signal was raised. Its [`fmt::Display`] is the stable name shown in `x-distill-signals`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// `blocklist:credential`: the credential is in `lists.block_credentials`.
    BlockedCredential,
    /// `blocklist:tenant`: the tenant is in `lists.block_tenants`.
    BlockedTenant,
    /// `budget:<name>`: a budget the request would cross.
    Budget(String),
    /// `body_not_inspected`: the body was over the inspection cap.
    BodyNotInspected,
    /// `body_unparsed`: the body was not a JSON object.
    BodyUnparsed,
    /// A detection signal, by its name (e.g. `logprobs`, `template_concentration`).
    Detector(&'static str),
    /// `sticky`: the credential's tier from an earlier request, still in its cool-down.
    Sticky,
    /// `score`: the score crossed a tier with no single signal above the reporting floor.
    Score,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::BlockedCredential => f.write_str("blocklist:credential"),
            Reason::BlockedTenant => f.write_str("blocklist:tenant"),
            Reason::Budget(name) => write!(f, "budget:{name}"),
            Reason::BodyNotInspected => f.write_str("body_not_inspected"),
            Reason::BodyUnparsed => f.write_str("body_unparsed"),
            Reason::Detector(name) => f.write_str(name),
            Reason::Sticky => f.write_str("sticky"),
            Reason::Score => f.write_str("score"),
        }
    }
}

/// A reason that contributed to the verdict, shown in `x-distill-signals`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signal {
    /// Why.
    pub reason: Reason,
    /// What this signal asks for.
    pub action: Action,
    /// Reported but not enforced (the rule's own `shadow`).
    pub shadow: bool,
}

/// The decision for one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The verdict computed from every rule, shadow ones included.
    pub action: Action,
    /// What is actually done (Allow or Tag when in shadow).
    pub enforced: Action,
    /// Detection score in [0, 1] (0 when detection did not run).
    pub score: f64,
    /// Reasons, most severe first.
    pub signals: Vec<Signal>,
    /// Seconds for `Retry-After` when throttled.
    pub retry_after: Option<u64>,
    /// Figures for the rate-limit headers when a budget fired.
    pub limit: Option<LimitInfo>,
    /// Part of the computed verdict was not enforced because of shadow mode.
    pub shadow: bool,
}

impl Verdict {
    fn allow() -> Self {
        Verdict {
            action: Action::Allow,
            enforced: Action::Allow,
            score: 0.0,
            signals: Vec::new(),
            retry_after: None,
            limit: None,
            shadow: false,
        }
    }

    /// The local reply to send, if the enforced verdict is a rejection.
    pub fn rejection(&self) -> Option<Rejection> {
        match self.enforced {
            Action::Throttle => Some(Rejection::Throttled),
            Action::Block => Some(Rejection::Blocked),
            Action::Allow | Action::Tag | Action::Degrade => None,
        }
    }

    /// True when a computed verdict was not enforced because of shadow mode.
    pub fn shadowed(&self) -> bool {
        self.shadow
    }

    /// Orders the signals (most severe first) and derives the computed and the enforced action.
    fn settle_actions(&mut self, global_shadow: bool) {
        self.signals.sort_by_key(|s| std::cmp::Reverse(s.action));
        self.action = self.signals.iter().map(|s| s.action).max().unwrap_or(Action::Allow);
        self.enforced = if global_shadow {
            Action::Allow
        } else {
            self.signals.iter().filter(|s| !s.shadow).map(|s| s.action).max().unwrap_or(Action::Allow)
        };
        self.shadow = self.enforced != self.action;
    }

    /// Rate-limit figures only travel with a throttle.
    fn drop_limits_unless_throttled(&mut self) {
        if self.enforced != Action::Throttle && self.action != Action::Throttle {
            self.retry_after = None;
            self.limit = None;
        }
    }

    /// Comma list of signal names for `x-distill-signals`.
    pub fn signal_list(&self) -> String {
        let mut list = String::new();
        for (i, s) in self.signals.iter().enumerate() {
            if i > 0 {
                list.push(',');
            }
            // Writing into a String cannot fail.
            let _ = fmt::Write::write_fmt(&mut list, format_args!("{}", s.reason));
        }
        list
    }

    /// Adds a signal.
    fn raise(&mut self, reason: Reason, action: Action, shadow: bool) {
        self.signals.push(Signal { reason, action, shadow });
    }

    /// Adds a fired budget's signal; a throttling one brings its rate-limit figures (an enforced one
    /// wins over a shadow one).
    fn raise_budget(&mut self, f: &Fired<'_>) {
        let b = f.budget;
        self.raise(Reason::Budget(b.name.clone()), b.action, b.shadow);
        if b.action == Action::Throttle && (!b.shadow || self.limit.is_none()) {
            self.throttle_with(f.limit, f.retry);
        }
    }

    /// Carries a throttle's figures: the longest wait, the latest limit.
    fn throttle_with(&mut self, limit: LimitInfo, retry: u64) {
        self.retry_after = Some(self.retry_after.unwrap_or(0).max(retry));
        self.limit = Some(limit);
    }
}

/// What was charged to the ledger, kept until the response settles it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Charge {
    /// Credential subject and its slot.
    pub credential: Option<(Subject, u64)>,
    /// Tenant subject and its slot.
    pub tenant: Option<(Subject, u64)>,
    /// Input tokens pre-charged.
    pub estimated_input: u64,
    /// The token budgets that apply (scope, window, `max_tokens`): a settlement that comes near one
    /// is made on the shared record, not on this worker's view.
    pub token_limits: Vec<(Scope, Window, u64)>,
}

/// Counters of what the ledger did, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LedgerStats {
    /// Subjects evicted.
    pub evictions: u64,
    /// CAS retries.
    pub cas_retries: u64,
    /// Updates abandoned after [`crate::ledger::MAX_CAS_ATTEMPTS`] or a store error.
    pub failures: u64,
    /// The count of filled slots, when an update filled one.
    pub tracked: Option<u64>,
}

impl LedgerStats {
    fn note(&mut self, r: &Result<Updated, LedgerError>) {
        match r {
            Ok(u) => {
                self.tracked = u.tracked.or(self.tracked);
                self.evictions += u64::from(u.evicted);
                self.cas_retries += u64::from(u.retries);
            }
            Err(_) => self.failures += 1,
        }
    }
}

/// The decision and what it charged.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The verdict.
    pub verdict: Verdict,
    /// The pre-charge, to settle after the response (`None` when nothing was charged).
    pub charge: Option<Charge>,
    /// Ledger activity.
    pub stats: LedgerStats,
    /// The detection outcome, when detection ran.
    pub assessment: Option<Assessment>,
}

/// What the lists say about a credential.
struct ListCheck {
    /// The block list's reason, when the credential or its tenant is on it.
    blocked: Option<Reason>,
    /// On an allow list: exempt from budgets and detection.
    allowlisted: bool,
}

/// Checks the allow and block lists, once, for `decide` and `precheck` alike.
fn check_lists(lists: &Lists, credential: &Credential) -> ListCheck {
    let tenant = credential.tenant.as_deref();
    let blocked = if lists.block_credentials.contains(&credential.id) {
        Some(Reason::BlockedCredential)
    } else if tenant.is_some_and(|t| lists.block_tenants.contains(t)) {
        Some(Reason::BlockedTenant)
    } else {
        None
    };
    let allowlisted =
        lists.allow_credentials.contains(&credential.id) || tenant.is_some_and(|t| lists.allow_tenants.contains(t));
    ListCheck { blocked, allowlisted }
}

/// What the credential's ledger update decided.
struct CredentialOutcome<'p> {
    fired: Vec<Fired<'p>>,
    slot: Option<u64>,
    assessment: Option<Assessment>,
    /// Over the detection throttle allowance: (limit info, retry seconds).
    detection_throttle: Option<(LimitInfo, u64)>,
    /// The request's template dominates the credential's traffic (the campaign counts against it).
    dominant_template: bool,
    /// The same for the request's closing words.
    dominant_closing: bool,
}

/// The budgets of one scope that apply to a request (none on an allow list), read where the policy
/// keeps them: no list is built per request.
#[derive(Clone, Copy)]
struct ScopeBudgets<'p> {
    all: &'p [Budget],
    scope: Scope,
}

impl<'p> ScopeBudgets<'p> {
    fn new(policy: &'p Policy, scope: Scope, allowlisted: bool) -> Self {
        ScopeBudgets { all: if allowlisted { &[] } else { &policy.budgets }, scope }
    }

    fn iter(self) -> impl Iterator<Item = &'p Budget> {
        self.all.iter().filter(move |b| b.scope == self.scope)
    }
}

/// Budget check, detection and pre-charge for the credential, atomically in its ledger slot.
#[allow(clippy::too_many_arguments)]
fn check_credential<'p>(
    policy: &'p Policy,
    ledger: &Ledger<'_>,
    subject: &Subject,
    budgets: ScopeBudgets<'p>,
    facts: &RequestFacts,
    campaign: &CampaignEvidence,
    closing: &dyn Fn() -> Option<Cohort>,
    detect: bool,
    now_ms: u64,
    stats: &mut LedgerStats,
) -> CredentialOutcome<'p> {
    let global_shadow = policy.mode == Mode::Shadow;
    let det = &policy.detection;
    let need = facts.estimated_input_tokens;
    let mut out = CredentialOutcome {
        fired: Vec::new(),
        slot: None,
        assessment: None,
        detection_throttle: None,
        dominant_template: false,
        dominant_closing: false,
    };
    let result = ledger.update(subject, now_ms, None, &mut |record| {
        out.assessment = None;
        out.detection_throttle = None;
        if let (true, Some(shape)) = (detect, facts.shape.as_ref()) {
            let last_seen = record.last_seen_ms;
            record.profile.observe(shape, now_ms, last_seen, det.half_life_ms, det.campaign.min_template_words);
            let mut evidence = *campaign;
            // A shared template only counts against credentials whose own traffic it dominates.
            let (top, share) = record.profile.top_template();
            out.dominant_template = top == shape.template as u32 && share >= 0.5;
            if !out.dominant_template {
                evidence.template = None;
            }
            // The closing words' campaign is read only when they dominate (`observe_closing`).
            out.dominant_closing = shape.closing != 0 && top == shape.closing as u32 && share >= 0.5;
            if out.dominant_closing {
                let local = closing();
                evidence.closing = local.map(|c| c.view);
                evidence.closing_intent = cohort_share(local);
                evidence.closing_tagged = local.map_or(0.0, |c| c.tagged);
            }
            let snapshot = *record;
            let a = assess(det, &mut record.profile, &snapshot, &evidence, now_ms);
            if a.effective == Tier::Throttle {
                out.detection_throttle = over_allowance(record, det.throttle_requests_per_minute, now_ms);
            }
            out.assessment = Some(a);
        }
        out.fired = fired(budgets.iter(), record, now_ms, need);
        // On this worker's view: near a limit, or at an enforced tier that counts or refuses requests,
        // decide on the shared record instead (see `ledger::local`).
        let enforced_tier = !global_shadow && !det.shadow;
        if ledger.is_probing()
            && (!out.fired.is_empty()
                || (enforced_tier && out.assessment.as_ref().is_some_and(|a| a.effective >= Tier::Throttle))
                || near_limit(budgets.iter(), record, need, ledger.config()))
        {
            return Update::Exact;
        }
        let budget_rejects = out.fired.iter().any(|f| f.rejects(global_shadow));
        let detection_rejects = !global_shadow
            && !det.shadow
            && (out.detection_throttle.is_some()
                || out.assessment.as_ref().is_some_and(|a| a.effective == Tier::Block));
        if budget_rejects || detection_rejects {
            // Not charged, but the behaviour (and the sticky verdict) is kept.
            if detect {
                Update::Write
            } else {
                Update::Skip
            }
        } else {
            record.apply(&Delta { requests: 1, input: need as i64, ..Delta::default() }, now_ms);
            out.slot = Some(0);
            Update::Write
        }
    });
    stats.note(&result);
    out.slot = match result {
        Ok(u) if u.applied && out.slot.is_some() => Some(u.slot),
        _ => None,
    };
    out
}

/// Budget check and pre-charge for a tenant, atomically in the ledger.
fn check_tenant<'p>(
    ledger: &Ledger<'_>,
    subject: &Subject,
    budgets: ScopeBudgets<'p>,
    global_shadow: bool,
    facts: &RequestFacts,
    now_ms: u64,
    stats: &mut LedgerStats,
) -> (Vec<Fired<'p>>, Option<u64>) {
    let mut crossed = Vec::new();
    let need = facts.estimated_input_tokens;
    let result = ledger.update(subject, now_ms, None, &mut |record| {
        crossed = fired(budgets.iter(), record, now_ms, need);
        if ledger.is_probing() && (!crossed.is_empty() || near_limit(budgets.iter(), record, need, ledger.config())) {
            return Update::Exact;
        }
        if crossed.iter().any(|f| f.rejects(global_shadow)) {
            Update::Skip
        } else {
            Update::Apply(Delta { requests: 1, input: need as i64, ..Delta::default() })
        }
    });
    stats.note(&result);
    let slot = match result {
        Ok(u) if u.applied => Some(u.slot),
        _ => None,
    };
    (crossed, slot)
}

/// `fp` if the campaign detector tracks it: detection and campaigns on, a fingerprint of at least
/// `min_words` words, not allow-listed.
fn tracked(policy: &Policy, fp: u64, words: u32, min_words: u32) -> Option<u64> {
    let c = &policy.detection.campaign;
    let on = policy.detection.enabled && c.enabled;
    (on && fp != 0 && words >= min_words && !c.allow_fingerprints.contains(&fp)).then_some(fp)
}

/// The request's template fingerprint when the campaign detector tracks it, whether or not detection
/// runs for this request.
pub fn campaign_template(policy: &Policy, facts: &RequestFacts) -> Option<u64> {
    let s = facts.shape.as_ref()?;
    tracked(policy, s.template, s.template_words, policy.detection.campaign.min_template_words)
}

/// The request's closing-words fingerprint when the campaign detector tracks it: as the template, and
/// not when the template (its opening) is allow-listed.
pub fn campaign_closing(policy: &Policy, facts: &RequestFacts) -> Option<u64> {
    let s = facts.shape.as_ref()?;
    let min = policy.detection.campaign.min_template_words;
    if s.template != 0 && policy.detection.campaign.allow_fingerprints.contains(&s.template) {
        return None;
    }
    tracked(policy, s.closing, s.closing_words, min)
}

/// The request's system-prompt fingerprint when the campaign detector tracks it.
pub fn campaign_system_prompt(policy: &Policy, facts: &RequestFacts) -> Option<u64> {
    let s = facts.shape.as_ref()?;
    tracked(policy, s.system, s.system_words, policy.detection.campaign.min_system_prompt_words)
}

/// The larger of a local and a fleet count, field by field.
fn larger(local: Option<CampaignView>, fleet: Option<CampaignView>) -> Option<CampaignView> {
    match (local, fleet) {
        (Some(l), Some(f)) => {
            Some(CampaignView { credentials: l.credentials.max(f.credentials), contents: l.contents.max(f.contents) })
        }
        (local, fleet) => local.or(fleet),
    }
}

/// The cohort's intent share of a local campaign observation: distinct prompts with text intent over
/// distinct prompts, as the lower end of its 95% confidence interval (the first flagged prompt of a new
/// template is one of one, not a share of 1).
fn cohort_share(local: Option<Cohort>) -> f32 {
    local.map_or(0.0, |c| share_lower_bound(c.flagged, c.view.contents))
}

/// What the other replicas saw, from the fleet counters (the policy's `fleet` section).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FleetEvidence {
    /// Distinct credentials and prompts of the request's template fleet-wide, if known.
    pub template: Option<CampaignView>,
    /// The same for its system prompt.
    pub system_prompt: Option<CampaignView>,
    /// The credential's requests fleet-wide in the current clock hour, if known.
    pub requests_hour: Option<u64>,
}

/// The request carries text intent (a listed phrase or the intent model).
fn text_intent(shape: &crate::shape::RequestShape) -> bool {
    [ShapeSignal::ChainOfThought, ShapeSignal::Rubric, ShapeSignal::SyntheticData, ShapeSignal::Probe]
        .iter()
        .any(|s| shape.signals.contains(*s))
}

/// Observes the request's closing words in the campaign table: called from the credential's ledger
/// update only when they dominate its traffic (after this request is noted in its profile), so a
/// closing's campaign counts the credentials it dominates and their prompts, and costs nothing for
/// the others. A farm's fixed closing instruction dominates every key that sends it; a public
/// dataset's item format (a benchmark's answer instruction at the end of every item), pasted now and
/// then by many people, dominates the traffic of few of them. Repeating it (a retried update) counts
/// nothing twice.
fn observe_closing(
    policy: &Policy,
    ledger: &Ledger<'_>,
    facts: &RequestFacts,
    who: u64,
    now_ms: u64,
) -> Option<Cohort> {
    let (det, shape) = (&policy.detection, facts.shape.as_ref()?);
    campaign_closing(policy, facts)?;
    let table =
        CampaignTable::new(ledger.store(), &policy.ledger.key_prefix, det.campaign.slots, det.campaign.window_s);
    table.observe_full(FingerprintKind::Closing, shape.closing, who, shape.content, text_intent(shape), now_ms)
}

/// Observes the request's fingerprints in the cross-credential campaign table. With `fleet`, the
/// evidence takes the larger of the local and the fleet count (template and credential volume).
fn campaign_evidence(
    policy: &Policy,
    ledger: &Ledger<'_>,
    credential: &Credential,
    facts: &RequestFacts,
    fleet: FleetEvidence,
    now_ms: u64,
) -> CampaignEvidence {
    let det = &policy.detection;
    let mut evidence = CampaignEvidence { fleet_requests_hour: fleet.requests_hour, ..CampaignEvidence::default() };
    let Some(shape) = facts.shape.as_ref() else { return evidence };
    if !det.campaign.enabled {
        return evidence;
    }
    let table =
        CampaignTable::new(ledger.store(), &policy.ledger.key_prefix, det.campaign.slots, det.campaign.window_s);
    let who = fnv1a64(credential.id.as_bytes());
    // The prompt counts among its fingerprints' prompts with text intent (the cohort's share).
    let flagged = text_intent(shape);
    if campaign_template(policy, facts).is_some() {
        let local = table.observe_full(FingerprintKind::Template, shape.template, who, shape.content, flagged, now_ms);
        evidence.template_intent = cohort_share(local);
        evidence.template_tagged = local.map_or(0.0, |c| c.tagged);
        evidence.template = larger(local.map(|c| c.view), fleet.template);
    }
    if campaign_system_prompt(policy, facts).is_some() {
        let local =
            table.observe_full(FingerprintKind::SystemPrompt, shape.system, who, shape.content, flagged, now_ms);
        evidence.system_prompt_intent = cohort_share(local);
        evidence.system_prompt_tagged = local.map_or(0.0, |c| c.tagged);
        evidence.system_prompt = larger(local.map(|c| c.view), fleet.system_prompt);
    }
    evidence
}

/// A credential tagged on this request joins the tagged credentials of its campaigns: the template
/// (its opening or its closing words) when it dominates the credential's traffic, the system prompt when it was counted (see
/// [`crate::detection::confirmed_campaign`]). Only tagged requests get here, and a slot is written
/// only the first time a credential is counted.
fn note_tagged(
    policy: &Policy,
    ledger: &Ledger<'_>,
    credential: &Credential,
    facts: &RequestFacts,
    campaign: &CampaignEvidence,
    (dominant_template, dominant_closing): (bool, bool),
    now_ms: u64,
) {
    let (det, Some(shape)) = (&policy.detection, facts.shape.as_ref()) else { return };
    let table =
        CampaignTable::new(ledger.store(), &policy.ledger.key_prefix, det.campaign.slots, det.campaign.window_s);
    let who = fnv1a64(credential.id.as_bytes());
    if dominant_template && campaign.template.is_some() {
        table.note_tagged(FingerprintKind::Template, shape.template, who, now_ms);
    }
    if dominant_closing && campaign_closing(policy, facts).is_some() {
        table.note_tagged(FingerprintKind::Closing, shape.closing, who, now_ms);
    }
    if campaign.system_prompt.is_some() {
        table.note_tagged(FingerprintKind::SystemPrompt, shape.system, who, now_ms);
    }
}

fn tier_action(tier: Tier) -> Action {
    match tier {
        Tier::None => Action::Allow,
        Tier::Tag => Action::Tag,
        Tier::Degrade => Action::Degrade,
        Tier::Throttle => Action::Throttle,
        Tier::Block => Action::Block,
    }
}

/// Decides a request: lists first, then detection and budgets (credential, then tenant), all under
/// shadow rules.
pub fn decide(
    policy: &Policy,
    ledger: &Ledger<'_>,
    credential: &Credential,
    facts: &RequestFacts,
    now_ms: u64,
) -> Decision {
    decide_with_fleet(policy, ledger, credential, facts, FleetEvidence::default(), now_ms)
}

/// [`decide`] with what the other replicas saw (the policy's `fleet` section).
pub fn decide_with_fleet(
    policy: &Policy,
    ledger: &Ledger<'_>,
    credential: &Credential,
    facts: &RequestFacts,
    fleet: FleetEvidence,
    now_ms: u64,
) -> Decision {
    let global_shadow = policy.mode == Mode::Shadow;
    let mut verdict = Verdict::allow();
    let mut stats = LedgerStats::default();
    let tenant = credential.tenant.as_deref();
    let det = &policy.detection;

    let ListCheck { blocked, allowlisted } = check_lists(&policy.lists, credential);
    let enforced_block = blocked.is_some() && !global_shadow;
    if let Some(reason) = blocked {
        verdict.raise(reason, Action::Block, false);
    }
    match facts.body {
        BodyStatus::Oversize => verdict.raise(Reason::BodyNotInspected, Action::Allow, false),
        BodyStatus::Unparsed => verdict.raise(Reason::BodyUnparsed, Action::Allow, false),
        BodyStatus::Parsed | BodyStatus::Empty => {}
    }

    let mut charge = None;
    let mut assessment = None;
    // A credential in the throttle tier but within its allowance: the verdict is `throttle`, the
    // request is forwarded degraded.
    let mut within_allowance = false;
    if !enforced_block {
        let budgets_for = |scope: Scope| ScopeBudgets::new(policy, scope, allowlisted);
        let detect = det.enabled
            && !allowlisted
            && facts.shape.is_some()
            && det.scope.covers(&facts.path, facts.model.as_deref(), tenant);
        let campaign = if detect {
            campaign_evidence(policy, ledger, credential, facts, fleet, now_ms)
        } else {
            CampaignEvidence::default()
        };
        let cred_subject = Subject::credential(&credential.id);
        let closing = || observe_closing(policy, ledger, facts, fnv1a64(credential.id.as_bytes()), now_ms);
        let outcome = check_credential(
            policy,
            ledger,
            &cred_subject,
            budgets_for(Scope::Credential),
            facts,
            &campaign,
            &closing,
            detect,
            now_ms,
            &mut stats,
        );
        // Tagged credentials are counted only while confirmed campaigns can matter (off by default).
        if det.weight(Detector::CampaignConfirmed) > 0.0
            && outcome.assessment.as_ref().is_some_and(|a| a.tier >= Tier::Tag)
        {
            let dominant = (outcome.dominant_template, outcome.dominant_closing);
            note_tagged(policy, ledger, credential, facts, &campaign, dominant, now_ms);
        }
        let mut fired = outcome.fired;
        let cred_slot = outcome.slot;
        let mut tenant_slot = None;
        let tenant_subject = tenant.map(Subject::tenant);
        if let (Some(subject), Some(_)) = (&tenant_subject, cred_slot) {
            let (tenant_fired, slot) =
                check_tenant(ledger, subject, budgets_for(Scope::Tenant), global_shadow, facts, now_ms, &mut stats);
            tenant_slot = slot;
            fired.extend(tenant_fired);
            if slot.is_none() {
                // The tenant refused: take back the credential's pre-charge.
                let refund = Delta { requests: -1, input: -(facts.estimated_input_tokens as i64), ..Delta::default() };
                let r = ledger.change(&cred_subject, now_ms, cred_slot, &mut |_| Update::Apply(refund));
                stats.note(&r);
            }
        }
        let charged = cred_slot.is_some() && (tenant_subject.is_none() || tenant_slot.is_some());
        if charged {
            charge = Some(Charge {
                credential: cred_slot.map(|s| (cred_subject, s)),
                tenant: tenant_subject.zip(tenant_slot),
                estimated_input: facts.estimated_input_tokens,
                token_limits: policy
                    .budgets
                    .iter()
                    .filter(|_| !allowlisted)
                    .filter_map(|b| Some((b.scope, b.window, b.max_tokens?)))
                    .collect(),
            });
        }
        for f in &fired {
            verdict.raise_budget(f);
        }
        if let Some(a) = &outcome.assessment {
            verdict.score = f64::from(a.score);
            let action = tier_action(a.effective);
            match outcome.detection_throttle {
                Some((limit, retry)) => {
                    if verdict.limit.is_none() || !det.shadow {
                        verdict.throttle_with(limit, retry);
                    }
                }
                None => within_allowance = action == Action::Throttle,
            }
            if action != Action::Allow {
                for (name, _) in a.reasons.iter().take(4) {
                    verdict.raise(Reason::Detector(name), action, det.shadow);
                }
                if a.effective > a.tier {
                    verdict.raise(Reason::Sticky, action, det.shadow);
                }
                if a.reasons.is_empty() && a.effective <= a.tier {
                    verdict.raise(Reason::Score, action, det.shadow);
                }
            }
        }
        assessment = outcome.assessment;
    }

    verdict.settle_actions(global_shadow);
    let budget_throttles = verdict
        .signals
        .iter()
        .any(|s| !s.shadow && s.action == Action::Throttle && matches!(s.reason, Reason::Budget(_)));
    if within_allowance && verdict.enforced == Action::Throttle && !budget_throttles {
        verdict.enforced = Action::Degrade;
    }
    verdict.drop_limits_unless_throttled();
    Decision { verdict, charge, stats, assessment }
}

/// The verdict known before the body is read, without charging anything (headers-first mode): block
/// lists, request-count budgets, and the credential's sticky detection tier.
pub fn precheck(policy: &Policy, ledger: &Ledger<'_>, credential: &Credential, now_ms: u64) -> Verdict {
    let global_shadow = policy.mode == Mode::Shadow;
    let det = &policy.detection;
    let mut verdict = Verdict::allow();
    let ListCheck { blocked, allowlisted } = check_lists(&policy.lists, credential);
    if let Some(reason) = blocked {
        verdict.raise(reason, Action::Block, false);
    }
    if !allowlisted {
        let record = ledger.read(&Subject::credential(&credential.id), now_ms);
        let budgets = policy.budgets.iter().filter(|b| b.scope == Scope::Credential && b.max_requests.is_some());
        for f in fired(budgets, &record, now_ms, 0) {
            if f.over_requests(&record) {
                let b = f.budget;
                verdict.raise(Reason::Budget(b.name.clone()), b.action, b.shadow);
                if b.action == Action::Throttle {
                    verdict.throttle_with(LimitInfo { tokens: None, ..f.limit }, f.retry);
                }
            }
        }
        if det.enabled && record.profile.sticky_until_ms > now_ms {
            let tier = Tier::from_u8(record.profile.sticky_tier);
            // A sticky throttle is decided with the body (the allowance); here it is reported.
            let action = if tier == Tier::Throttle { Action::Degrade } else { tier_action(tier) };
            if action != Action::Allow {
                verdict.raise(Reason::Sticky, action, det.shadow);
            }
            verdict.score = f64::from(record.profile.last_score);
        }
    }
    verdict.settle_actions(global_shadow);
    verdict.drop_limits_unless_throttled();
    verdict
}

/// Replaces the pre-charged input estimate with the reported figure and adds output, reasoning and
/// cached tokens, for the credential and its tenant.
pub fn settle(ledger: &Ledger<'_>, charge: &Charge, metered: &Metered, now_ms: u64) -> LedgerStats {
    let mut stats = LedgerStats::default();
    let input_change = metered.input.map(|i| i as i64 - charge.estimated_input as i64).unwrap_or(0);
    let delta = Delta {
        requests: 0,
        input: input_change,
        output: metered.output as i64,
        reasoning: metered.reasoning as i64,
        cached: metered.cached_input as i64,
    };
    if delta.is_zero() {
        return stats;
    }
    let tokens = u64::try_from(delta.input.saturating_add(delta.output).max(0)).unwrap_or(0);
    let subjects = charge.credential.iter().map(|c| (Scope::Credential, c));
    for (scope, (subject, slot)) in subjects.chain(charge.tenant.iter().map(|t| (Scope::Tenant, t))) {
        let r = ledger.change(subject, now_ms, Some(*slot), &mut |record: &mut Record| {
            let near = |(s, w, max): &(Scope, Window, u64)| {
                *s == scope && within_margin(record.budget_count(*w, Quantity::Tokens), tokens, *max, ledger.config())
            };
            // Evicted since the request: the history is gone, so nothing to correct.
            if record.last_seen_ms == 0 {
                Update::Skip
            } else if ledger.is_probing() && charge.token_limits.iter().any(near) {
                Update::Exact
            } else {
                Update::Apply(delta)
            }
        });
        stats.note(&r);
    }
    stats
}

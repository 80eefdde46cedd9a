//! The signal table: every per-request shape signal and every scored detector, declared once. The
//! macros below generate the enums, their names (in the policy and in `x-distill-signals`), scoring
//! groups, default weights, which shape signal a detector is the share of, and the counts that size
//! the profile record and the weight and strength arrays.
//!
//! Adding a signal: one line here (and its detection in `shape.rs` or its strength in
//! `detection.rs`), a README/DETECTION.md row. The profile record grows by 4 bytes per shape signal;
//! its size is derived (`profile::PROFILE_BYTES`, `ledger::RECORD_BYTES`), and bumping the record
//! version is needed when it changes.

macro_rules! shape_signals {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, )*) => {
        /// Per-request boolean signals, in a fixed order (their index is their slot in the profile).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum ShapeSignal {
            $( $(#[$doc])* $variant, )*
        }

        impl ShapeSignal {
            /// How many there are.
            pub const COUNT: usize = [$( ShapeSignal::$variant ),*].len();

            /// Every signal, in slot order.
            pub const ALL: [ShapeSignal; ShapeSignal::COUNT] = [$( ShapeSignal::$variant ),*];

            /// Name used in signals and the policy.
            pub fn name(self) -> &'static str {
                match self {
                    $( ShapeSignal::$variant => $name, )*
                }
            }
        }
    };
}

macro_rules! detectors {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, $group:ident, $weight:literal $(, share of $shape:ident)?; )*) => {
        /// Every scored signal.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
        pub enum Detector {
            $( $(#[$doc])* $variant, )*
        }

        impl Detector {
            /// How many there are.
            pub const COUNT: usize = [$( Detector::$variant ),*].len();

            /// Every detector.
            pub const ALL: [Detector; Detector::COUNT] = [$( Detector::$variant ),*];

            /// Name in the policy and in `x-distill-signals`.
            pub fn name(self) -> &'static str {
                match self {
                    $( Detector::$variant => $name, )*
                }
            }

            /// The scoring group of the signal.
            pub fn group(self) -> Group {
                match self {
                    $( Detector::$variant => Group::$group, )*
                }
            }

            /// Default weight.
            pub fn default_weight(self) -> f32 {
                match self {
                    $( Detector::$variant => $weight, )*
                }
            }

            /// The detectors that are the (decayed) share of a shape signal, with that signal.
            pub const SHARES: &'static [(Detector, ShapeSignal)] =
                &[$( $( (Detector::$variant, ShapeSignal::$shape), )? )*];

            /// The shape signal this detector is the (decayed) share of, when it is one.
            pub fn share_of(self) -> Option<ShapeSignal> {
                match self {
                    $( Detector::$variant => detectors!(@share $($shape)?), )*
                }
            }
        }
    };
    (@share $shape:ident) => { Some(ShapeSignal::$shape) };
    (@share) => { None };
}

shape_signals! {
    /// `logprobs` / `top_logprobs` requested.
    Logprobs = "logprobs",
    /// A non-empty `logit_bias`.
    LogitBias = "logit_bias",
    /// `n` > 1 (several samples per prompt).
    MultipleSamples = "multiple_samples",
    /// `echo` (completions): the prompt's own logprobs.
    Echo = "echo",
    /// Chain-of-thought / reasoning-trace coercion in the prompt.
    ChainOfThought = "chain_of_thought",
    /// Grading, rubric or judge prompts.
    Rubric = "rubric",
    /// Synthetic-data framing.
    SyntheticData = "synthetic_data",
    /// Identity or system-prompt probes.
    Probe = "probe",
    /// `max_tokens` at or above `detection.max_tokens_high`.
    MaxTokensHigh = "max_tokens_high",
    /// One user turn, no conversation history.
    SingleTurn = "single_turn",
    /// The model is one of `detection.watched_models` (newly launched models distillers race to).
    WatchedModel = "watched_model",
}

detectors! {
    /// Share of requests asking for logprobs.
    Logprobs = "logprobs", StrongIntent, 0.6, share of Logprobs;
    /// Share with logit_bias.
    LogitBias = "logit_bias", StrongIntent, 0.9, share of LogitBias;
    /// Share with n > 1.
    MultipleSamples = "multiple_samples", StrongIntent, 0.3, share of MultipleSamples;
    /// Share with echo.
    Echo = "echo", StrongIntent, 0.5, share of Echo;
    /// Share coercing chain-of-thought.
    ChainOfThought = "chain_of_thought", TextIntent, 0.8, share of ChainOfThought;
    /// Share of grading / judge prompts.
    Rubric = "rubric", TextIntent, 0.8, share of Rubric;
    /// Share framed as synthetic-data generation.
    SyntheticData = "synthetic_data", TextIntent, 0.8, share of SyntheticData;
    /// Share probing identity or the system prompt.
    Probe = "probe", TextIntent, 0.6, share of Probe;
    /// Share asking for near-maximum output.
    MaxTokensHigh = "max_tokens_high", WeakIntent, 0.15, share of MaxTokensHigh;
    /// Output tokens far above input tokens.
    OutputHeavy = "output_heavy", WeakIntent, 0.5;
    /// The credential's template is sent by many credentials.
    CampaignTemplate = "campaign_template", Automation, 0.5;
    /// The credential's (long) system prompt is sent by many credentials.
    CampaignSystemPrompt = "campaign_system_prompt", Automation, 0.5;
    /// The credential's campaign is confirmed: most of its many keys have each been tagged. Off by
    /// default (weight 0): in the evaluation it spread to people sending a public dataset's item
    /// format that harvesters sent too (DETECTION.md, third round).
    CampaignConfirmed = "campaign_confirmed", StrongIntent, 0.0;
    /// One template dominates, with distinct fillings.
    TemplateConcentration = "template_concentration", Automation, 0.5;
    /// Share of single-turn requests.
    SingleTurn = "single_turn", Automation, 0.1, share of SingleTurn;
    /// Regular inter-arrival times.
    CadenceRegular = "cadence_regular", Automation, 0.35;
    /// Active most hours of the day.
    RoundTheClock = "round_the_clock", Automation, 0.25;
    /// Requests per hour.
    Volume = "volume", Automation, 0.3;
    /// An established credential moving its traffic to a newly launched (watched) model.
    ModelPivot = "model_pivot", WeakIntent, 0.3;
}

impl ShapeSignal {
    /// Slot index.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl Detector {
    /// Position in weight and strength arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The detector of a policy name.
    pub fn from_name(name: &str) -> Option<Detector> {
        Detector::ALL.into_iter().find(|d| d.name() == name)
    }
}

/// How a signal enters the score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// After the model's knowledge, unambiguously (request parameters no ordinary use sends).
    StrongIntent,
    /// What the prompt asks for (a listed phrase or the intent model): intent evidence, but a person
    /// can ask it too, so automation multiplies it.
    TextIntent,
    /// Suspicious, but common in honest use.
    WeakIntent,
    /// A script or a farm of keys is sending it.
    Automation,
}

//! `[alerts]`: who gets alerts, how often, what a lead scores, and the threshold rules.

use rust_decimal::Decimal;
use serde::Deserialize;

use super::Bad;

/// What raises an alert and how often one may be sent.
#[derive(Clone, Debug)]
pub struct Alerts {
    pub from: String,
    pub to: Vec<String>,
    pub dedup_hours: u32,
    pub cooldown_hours: u32,
    pub resolved_notices: bool,
    pub max_emails_per_hour: u32,
    /// A visit older than this when a scan first sees it (a backfill) never alerts.
    pub lead_max_age_hours: u32,
    pub score: ScoreWeights,
    pub rules: Rules,
}

/// Points of a lead score: per tier reached (once each) and per visit after the first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScoreWeights {
    pub very_hot: u32,
    pub hot: u32,
    pub warm: u32,
    pub repeat_visit: u32,
}

impl Default for ScoreWeights {
    fn default() -> Self {
        ScoreWeights {
            very_hot: 50,
            hot: 30,
            warm: 10,
            repeat_visit: 5,
        }
    }
}

/// The threshold rules; a rule with `enabled = false` is never evaluated.
#[derive(Clone, Debug, PartialEq)]
pub struct Rules {
    pub error_rate: Option<ErrorRateRule>,
    pub conversion_rate: Option<ConversionRateRule>,
    pub api_cost: Option<ApiCostRule>,
    pub silence: Option<SilenceRule>,
    pub user_cost: Option<UserCostRule>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ErrorRateRule {
    enabled: bool,
    pub percent: f64,
    pub window_minutes: u32,
    pub min_commands: u64,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConversionRateRule {
    enabled: bool,
    pub percent: f64,
    pub days: u32,
    pub min_registrations: u64,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiCostRule {
    enabled: bool,
    /// Dollars (or the configured currency) spent on API calls in the current local day.
    pub per_day: Decimal,
}

/// A user whose API cost over the window is above a share of what they pay (a free user:
/// above an amount a day). Off by default: each scan then reads every user's record.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UserCostRule {
    enabled: bool,
    /// A paying user: cost over the window above this share of their MRR for the window
    /// (`mrr × window_days ÷ 30`).
    pub percent_of_mrr: f64,
    /// A free user: cost over the window above this amount a day.
    pub free_user_per_day: Decimal,
    pub window_days: u32,
}

impl UserCostRule {
    fn check(&self, bad: &Bad<'_>) -> anyhow::Result<()> {
        if !(0.0..=10_000.0).contains(&self.percent_of_mrr)
            || self.free_user_per_day.is_sign_negative()
            || !(1..=MAX_RULE_DAYS).contains(&self.window_days)
        {
            return Err(bad.at(
                "alerts.rules.user_cost",
                format!(
                    "percent_of_mrr must be 0 to 10000, free_user_per_day not negative, \
                     window_days 1 to {MAX_RULE_DAYS}"
                ),
            ));
        }
        Ok(())
    }
}

impl Default for UserCostRule {
    fn default() -> Self {
        UserCostRule {
            enabled: false,
            percent_of_mrr: 50.0,
            free_user_per_day: Decimal::new(100, 2),
            window_days: 7,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SilenceRule {
    enabled: bool,
    pub hours: u32,
}

impl Default for ErrorRateRule {
    fn default() -> Self {
        ErrorRateRule {
            enabled: true,
            percent: 5.0,
            window_minutes: 60,
            min_commands: 20,
        }
    }
}

impl Default for ConversionRateRule {
    fn default() -> Self {
        ConversionRateRule {
            enabled: true,
            percent: 5.0,
            days: 7,
            min_registrations: 20,
        }
    }
}

impl Default for ApiCostRule {
    fn default() -> Self {
        ApiCostRule {
            enabled: true,
            per_day: Decimal::new(5, 0),
        }
    }
}

impl Default for SilenceRule {
    fn default() -> Self {
        SilenceRule {
            enabled: true,
            hours: 2,
        }
    }
}

/// The longest window a rule may look back, in days: rules read rollups day by day.
const MAX_RULE_DAYS: u32 = 366;
/// The longest duration in hours a setting may name (ten years): times are computed with it.
const MAX_HOURS: u32 = 87_600;

pub(super) fn validate(a: RawAlerts, bad: &Bad<'_>) -> anyhow::Result<Alerts> {
    let mailbox = |key: String, text: &str| -> anyhow::Result<()> {
        text.parse::<lettre::message::Mailbox>()
            .map(|_| ())
            .map_err(|err| bad.at(&key, format!("{text:?} is not a mail address ({err})")))
    };
    mailbox("alerts.from".into(), &a.from)?;
    for (i, to) in a.to.iter().enumerate() {
        mailbox(format!("alerts.to[{i}]"), to)?;
    }
    if a.max_emails_per_hour == 0 {
        return Err(bad.at(
            "alerts.max_emails_per_hour",
            "must be at least 1 (alerts are never dropped, so 0 would keep them pending forever)",
        ));
    }
    let r = a.rules;
    for (key, percent) in [
        ("alerts.rules.error_rate.percent", r.error_rate.percent),
        (
            "alerts.rules.conversion_rate.percent",
            r.conversion_rate.percent,
        ),
    ] {
        if !(0.0..=100.0).contains(&percent) {
            return Err(bad.at(key, format!("{percent} is not a percentage (0 to 100)")));
        }
    }
    if r.error_rate.window_minutes == 0 || r.conversion_rate.days == 0 || r.silence.hours == 0 {
        return Err(bad.at(
            "alerts.rules",
            "window_minutes, days and hours must be at least 1",
        ));
    }
    if r.conversion_rate.days > MAX_RULE_DAYS || r.error_rate.window_minutes > MAX_RULE_DAYS * 1440
    {
        return Err(bad.at(
            "alerts.rules",
            format!("a rule looks back at most {MAX_RULE_DAYS} days"),
        ));
    }
    for (key, hours) in [
        ("alerts.dedup_hours", a.dedup_hours),
        ("alerts.cooldown_hours", a.cooldown_hours),
        ("alerts.lead_max_age_hours", a.lead_max_age_hours),
        ("alerts.rules.silence.hours", r.silence.hours),
    ] {
        if hours > MAX_HOURS {
            return Err(bad.at(
                key,
                format!("{hours} is more than {MAX_HOURS} hours (ten years)"),
            ));
        }
    }
    r.user_cost.check(bad)?;
    if r.api_cost.per_day.is_sign_negative() {
        return Err(bad.at("alerts.rules.api_cost.per_day", "must not be negative"));
    }
    Ok(Alerts {
        from: a.from,
        to: a.to,
        dedup_hours: a.dedup_hours,
        cooldown_hours: a.cooldown_hours,
        resolved_notices: a.resolved_notices,
        max_emails_per_hour: a.max_emails_per_hour,
        lead_max_age_hours: a.lead_max_age_hours,
        score: a.score,
        rules: Rules {
            error_rate: r.error_rate.enabled.then_some(r.error_rate),
            conversion_rate: r.conversion_rate.enabled.then_some(r.conversion_rate),
            api_cost: r.api_cost.enabled.then_some(r.api_cost),
            silence: r.silence.enabled.then_some(r.silence),
            user_cost: r.user_cost.enabled.then_some(r.user_cost),
        },
    })
}

/// The section as TOML gives it, with its defaults.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAlerts {
    pub from: String,
    pub to: Vec<String>,
    pub dedup_hours: u32,
    pub cooldown_hours: u32,
    pub resolved_notices: bool,
    pub max_emails_per_hour: u32,
    pub lead_max_age_hours: u32,
    pub score: ScoreWeights,
    pub rules: RawRules,
}

impl Default for RawAlerts {
    fn default() -> Self {
        RawAlerts {
            from: "arkwatch@localhost".into(),
            to: Vec::new(),
            dedup_hours: 24,
            cooldown_hours: 6,
            resolved_notices: true,
            max_emails_per_hour: 1,
            lead_max_age_hours: 24,
            score: ScoreWeights::default(),
            rules: RawRules::default(),
        }
    }
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRules {
    pub error_rate: ErrorRateRule,
    pub conversion_rate: ConversionRateRule,
    pub api_cost: ApiCostRule,
    pub silence: SilenceRule,
    pub user_cost: UserCostRule,
}

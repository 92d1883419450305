//! Types shared by both resources: durations, Secret references, selectors, relabelings.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// Prometheus duration syntax (`30s`, `5m`, `90d`, `2y`, `1h30m`), as prometheus-operator accepts it.
pub const PROMETHEUS_DURATION_PATTERN: &str =
    r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$";
/// Durations a CEL `duration()` can parse too (no `d`, `w`, `y`), used where rules compare them.
pub const GO_DURATION_PATTERN: &str = r"^(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?$";
/// A Prometheus label name.
pub const LABEL_NAME_PATTERN: &str = r"^[a-zA-Z_][a-zA-Z0-9_]*$";
/// A Kubernetes object name (DNS-1123 subdomain).
pub const OBJECT_NAME_PATTERN: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/// A key inside a Secret or ConfigMap.
pub const DATA_KEY_PATTERN: &str = r"^[-._a-zA-Z0-9]+$";
/// A container image reference (registry/repository[:tag][@digest]).
pub const IMAGE_PATTERN: &str = r"^[a-z0-9]([a-z0-9._/-]*[a-z0-9])?(:[0-9]+)?([a-z0-9._/-]*[a-z0-9])?(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$";
/// A Kubernetes quantity for storage sizes (`50Gi`, `500M`).
pub const STORAGE_SIZE_PATTERN: &str = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$";

macro_rules! pattern_string {
    ($(#[$doc:meta])* $name:ident, $pattern:expr, $description:expr) => {
        $(#[$doc])*
        #[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// The value as written.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }

            fn inline_schema() -> bool {
                true
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({
                    "type": "string",
                    "minLength": 1,
                    "pattern": $pattern,
                    "description": $description,
                })
            }
        }
    };
}

pattern_string!(
    /// A Prometheus duration: `30s`, `5m`, `90d`, `2y`.
    Duration,
    PROMETHEUS_DURATION_PATTERN,
    "A duration in Prometheus syntax, e.g. 30s, 5m, 90d, 2y."
);
pattern_string!(
    /// A duration without days, weeks or years, so CEL rules can compare it (`15s`, `1m30s`).
    ScrapeDuration,
    GO_DURATION_PATTERN,
    "A duration of hours, minutes, seconds and milliseconds, e.g. 15s, 1m30s."
);
pattern_string!(
    /// A container image reference.
    Image,
    IMAGE_PATTERN,
    "A container image reference, e.g. grafana/loki:3.5.7."
);
pattern_string!(
    /// A storage size quantity.
    StorageSize,
    STORAGE_SIZE_PATTERN,
    "A storage size, e.g. 50Gi."
);

impl Duration {
    /// The duration in milliseconds, or `None` when it is not valid Prometheus syntax.
    pub fn to_millis(&self) -> Option<u64> {
        parse_duration_millis(&self.0)
    }
}

impl ScrapeDuration {
    /// The duration in milliseconds, or `None` when it is not valid.
    pub fn to_millis(&self) -> Option<u64> {
        parse_duration_millis(&self.0)
    }
}

/// Parses Prometheus duration syntax into milliseconds; `None` for anything else.
pub fn parse_duration_millis(text: &str) -> Option<u64> {
    if text == "0" {
        return Some(0);
    }
    if text.is_empty() {
        return None;
    }
    // Units must appear in this order, each at most once, exactly like Prometheus.
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 24 * 3_600_000),
        ("w", 7 * 24 * 3_600_000),
        ("d", 24 * 3_600_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    let mut rest = text;
    let mut total: u64 = 0;
    let mut next_unit = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let number: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        // `ms` must be tried before `m`.
        let unit_index = UNITS
            .iter()
            .enumerate()
            .skip(next_unit)
            .filter(|(_, (unit, _))| rest.starts_with(unit))
            .max_by_key(|(_, (unit, _))| unit.len())
            .map(|(index, _)| index)?;
        let (unit, factor) = UNITS[unit_index];
        rest = &rest[unit.len()..];
        total = total.checked_add(number.checked_mul(factor)?)?;
        next_unit = unit_index + 1;
    }
    Some(total)
}

/// A key of a Secret in the same namespace as the object that references it.
///
/// Credentials are only ever referenced, never inlined: stackscope mounts the key as a file or
/// passes it as an environment variable, and no rendered ConfigMap holds its value.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// Name of the Secret, in the referencing object's namespace.
    #[schemars(length(min = 1, max = 253), pattern(OBJECT_NAME_PATTERN))]
    pub name: String,
    /// Key inside the Secret.
    #[schemars(length(min = 1, max = 253), pattern(DATA_KEY_PATTERN))]
    pub key: String,
}

impl SecretKeyRef {
    /// A reference to `key` in the Secret `name`.
    pub fn new(name: &str, key: &str) -> Self {
        Self { name: name.to_owned(), key: key.to_owned() }
    }
}

/// A key of a ConfigMap in the same namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapKeyRef {
    /// Name of the ConfigMap.
    #[schemars(length(min = 1, max = 253), pattern(OBJECT_NAME_PATTERN))]
    pub name: String,
    /// Key inside the ConfigMap.
    #[schemars(length(min = 1, max = 253), pattern(DATA_KEY_PATTERN))]
    pub key: String,
}

/// Data from either a Secret or a ConfigMap key (exactly one).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "has(self.secret) != has(self.configMap)", "message": "set exactly one of secret or configMap"}]))]
pub struct SecretOrConfigMap {
    /// A Secret key holding the data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretKeyRef>,
    /// A ConfigMap key holding the data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<ConfigMapKeyRef>,
}

/// Which namespaces to look in (prometheus-operator's `namespaceSelector`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "!(has(self.any) && self.any && has(self.matchNames) && size(self.matchNames) > 0)", "message": "any: true and matchNames are mutually exclusive"}]))]
pub struct NamespaceSelector {
    /// Select every namespace.
    #[serde(default)]
    pub any: bool,
    /// Select exactly these namespaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 1000))]
    pub match_names: Vec<String>,
}

/// A relabeling step, with prometheus-operator's field names and Prometheus' semantics.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{"rule": "!(self.action in ['replace', 'Replace', 'hashmod', 'HashMod', 'lowercase', 'Lowercase', 'uppercase', 'Uppercase', 'keepequal', 'KeepEqual', 'dropequal', 'DropEqual']) || has(self.targetLabel)", "message": "targetLabel is required for this action"}, {"rule": "!(self.action in ['hashmod', 'HashMod']) || (has(self.modulus) && self.modulus > 0)", "message": "modulus is required and must be positive for action hashmod"}]))]
pub struct RelabelConfig {
    /// Labels whose values are joined with `separator` and matched against `regex`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(pattern(LABEL_NAME_PATTERN)))]
    pub source_labels: Vec<String>,
    /// Separator between concatenated source label values (Prometheus default `;`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub separator: Option<String>,
    /// Label the result is written to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub target_label: Option<String>,
    /// RE2 regular expression matched against the joined source values (Prometheus default `(.*)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub regex: Option<String>,
    /// Modulus for `hashmod`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub modulus: Option<u64>,
    /// Replacement for `replace` (Prometheus default `$1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub replacement: Option<String>,
    /// What to do (Prometheus default `replace`).
    #[serde(default)]
    pub action: RelabelAction,
}

/// Relabeling actions. Both Prometheus' lowercase names and prometheus-operator's capitalised ones
/// are accepted so existing manifests port unchanged.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
#[serde(rename_all = "lowercase")]
pub enum RelabelAction {
    #[default]
    #[serde(alias = "Replace")]
    Replace,
    #[serde(alias = "Keep")]
    Keep,
    #[serde(alias = "Drop")]
    Drop,
    #[serde(alias = "HashMod")]
    Hashmod,
    #[serde(alias = "LabelMap")]
    Labelmap,
    #[serde(alias = "LabelDrop")]
    Labeldrop,
    #[serde(alias = "LabelKeep")]
    Labelkeep,
    #[serde(alias = "Lowercase")]
    Lowercase,
    #[serde(alias = "Uppercase")]
    Uppercase,
    #[serde(alias = "KeepEqual")]
    Keepequal,
    #[serde(alias = "DropEqual")]
    Dropequal,
}

impl RelabelAction {
    /// Every action with its Prometheus and prometheus-operator spellings.
    pub const SPELLINGS: [(RelabelAction, &'static str, &'static str); 11] = [
        (Self::Replace, "replace", "Replace"),
        (Self::Keep, "keep", "Keep"),
        (Self::Drop, "drop", "Drop"),
        (Self::Hashmod, "hashmod", "HashMod"),
        (Self::Labelmap, "labelmap", "LabelMap"),
        (Self::Labeldrop, "labeldrop", "LabelDrop"),
        (Self::Labelkeep, "labelkeep", "LabelKeep"),
        (Self::Lowercase, "lowercase", "Lowercase"),
        (Self::Uppercase, "uppercase", "Uppercase"),
        (Self::Keepequal, "keepequal", "KeepEqual"),
        (Self::Dropequal, "dropequal", "DropEqual"),
    ];

    /// The name Prometheus uses in its configuration.
    pub fn prometheus_name(self) -> &'static str {
        Self::SPELLINGS.iter().find(|(action, _, _)| *action == self).map_or("replace", |(_, name, _)| name)
    }
}

impl JsonSchema for RelabelAction {
    fn schema_name() -> Cow<'static, str> {
        "RelabelAction".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let names: Vec<&str> = Self::SPELLINGS.iter().flat_map(|(_, lower, capital)| [*lower, *capital]).collect();
        json_schema!({
            "type": "string",
            "enum": names,
            "description": "Relabeling action (Prometheus or prometheus-operator spelling).",
        })
    }
}

/// Alert severities, in the order the seed escalates them.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    /// Every severity, least severe first.
    pub const ALL: [Self; 3] = [Self::Info, Self::Warning, Self::Critical];

    /// The label value written on alerts.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

/// Incident levels of the seed's incident management table.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema)]
pub enum IncidentLevel {
    /// Complete outage, data loss: immediate, CTO and the entire team.
    P0,
    /// Major feature down: under 15 minutes, on-call and backend lead.
    P1,
    /// Degraded performance: under 1 hour, on-call engineer.
    P2,
    /// Minor issue with a workaround: under 24 hours, next business day.
    P3,
}

impl IncidentLevel {
    /// Every level, most urgent first.
    pub const ALL: [Self; 4] = [Self::P0, Self::P1, Self::P2, Self::P3];

    /// The label value written on alerts.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::P0 => "P0",
            Self::P1 => "P1",
            Self::P2 => "P2",
            Self::P3 => "P3",
        }
    }
}

/// The notification channels of the document's alert routing.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Email,
    Slack,
    Pagerduty,
}

impl Channel {
    /// Every channel, in the document's order.
    pub const ALL: [Self; 3] = [Self::Email, Self::Slack, Self::Pagerduty];

    /// The name written in the spec, in the `channels` label of alerts and as the receiver's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Slack => "slack",
            Self::Pagerduty => "pagerduty",
        }
    }
}

/// Compute resources of a rendered container (a subset of Kubernetes' `ResourceRequirements`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Resources {
    /// Requests, e.g. `{cpu: 100m, memory: 256Mi}`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub requests: std::collections::BTreeMap<String, String>,
    /// Limits, e.g. `{memory: 1Gi}`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub limits: std::collections::BTreeMap<String, String>,
}

/// A memory quantity in whole mebibytes, rounded down (`1Gi` → 1024, `512M` → 488, `1e9` → 953);
/// `None` for anything else.
pub fn mebibytes(quantity: &str) -> Option<u64> {
    const SUFFIXES: [(&str, f64); 12] = [
        ("Ki", 1024.0),
        ("Mi", 1_048_576.0),
        ("Gi", 1_073_741_824.0),
        ("Ti", 1_099_511_627_776.0),
        ("Pi", 1_125_899_906_842_624.0),
        ("Ei", 1_152_921_504_606_846_976.0),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    let (number, factor) = SUFFIXES
        .iter()
        .find_map(|(suffix, factor)| quantity.strip_suffix(suffix).map(|number| (number, *factor)))
        .unwrap_or((quantity, 1.0));
    let bytes = number.parse::<f64>().ok().filter(|value| value.is_finite() && *value >= 0.0)? * factor;
    // Whole mebibytes of a finite, non-negative byte count: the cast truncates as intended.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Some((bytes / 1_048_576.0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_prometheus() {
        assert_eq!(parse_duration_millis("15s"), Some(15_000));
        assert_eq!(parse_duration_millis("1h30m"), Some(5_400_000));
        assert_eq!(parse_duration_millis("90d"), Some(90 * 86_400_000));
        assert_eq!(parse_duration_millis("2y"), Some(2 * 365 * 86_400_000));
        assert_eq!(parse_duration_millis("250ms"), Some(250));
        assert_eq!(parse_duration_millis("1m500ms"), Some(60_500));
        assert_eq!(parse_duration_millis("0"), Some(0));
        for bad in ["", "5", "m5", "5x", "1s1m", "1m1m", "-5s", "99999999999999999999y"] {
            assert_eq!(parse_duration_millis(bad), None, "{bad:?} must be rejected");
        }
    }

    #[test]
    fn relabel_actions_accept_both_spellings() {
        for (action, lower, capital) in RelabelAction::SPELLINGS {
            let from_lower: RelabelAction = serde_json::from_value(lower.into()).unwrap();
            let from_capital: RelabelAction = serde_json::from_value(capital.into()).unwrap();
            assert_eq!(from_lower, action);
            assert_eq!(from_capital, action);
            assert_eq!(action.prometheus_name(), lower);
        }
    }
}

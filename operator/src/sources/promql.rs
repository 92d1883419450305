//! The series a PromQL expression selects: metric names with their label matchers, grouped by
//! the top-level `or` alternatives (any one of which lets an alert fire). A lexer over the
//! expression, not a full parser: it tells selectors from function names, keywords, label lists
//! (`by (...)`, `on (...)`), strings, numbers and durations, which is all the check needs.

/// A label matcher's operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MatchOp {
    Equal,
    NotEqual,
    Matches,
    NotMatches,
}

impl MatchOp {
    fn as_str(self) -> &'static str {
        match self {
            Self::Equal => "=",
            Self::NotEqual => "!=",
            Self::Matches => "=~",
            Self::NotMatches => "!~",
        }
    }
}

/// One label matcher of a selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Matcher {
    pub label: String,
    pub op: MatchOp,
    pub value: String,
}

impl Matcher {
    /// Whether a label value (empty for an absent label) satisfies the matcher; a regex that
    /// does not compile matches nothing.
    pub(crate) fn accepts(&self, value: &str) -> bool {
        let matches =
            |pattern: &str| regex::Regex::new(&format!("^(?:{pattern})$")).is_ok_and(|regex| regex.is_match(value));
        match self.op {
            MatchOp::Equal => value == self.value,
            MatchOp::NotEqual => value != self.value,
            MatchOp::Matches => matches(&self.value),
            MatchOp::NotMatches => !matches(&self.value),
        }
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}{:?}", self.label, self.op.as_str(), self.value)
    }
}

/// A series selector: a metric name and its matchers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Selector {
    pub metric: String,
    pub matchers: Vec<Matcher>,
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.metric)?;
        if !self.matchers.is_empty() {
            let matchers: Vec<String> = self.matchers.iter().map(ToString::to_string).collect();
            write!(f, "{{{}}}", matchers.join(", "))?;
        }
        Ok(())
    }
}

/// Keywords that are never metric names.
const KEYWORDS: [&str; 14] = [
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "inf",
    "nan",
    "atan2",
];
/// Aggregation operators, which may take their `by (...)` before their parentheses.
const AGGREGATIONS: [&str; 14] = [
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];
/// Keywords followed by a parenthesised list of label names.
const LABEL_LISTS: [&str; 6] = ["by", "without", "on", "ignoring", "group_left", "group_right"];

/// Why an expression could not be read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot read PromQL at byte {at}: {what}")]
pub struct PromqlError {
    at: usize,
    what: &'static str,
}

/// The selectors of each top-level `or` alternative of an expression, in order.
pub(crate) fn alternatives(expression: &str) -> Result<Vec<Vec<Selector>>, PromqlError> {
    let text = expression.as_bytes();
    let mut alternatives = vec![Vec::new()];
    let mut depth = 0usize;
    let mut at = 0;
    let error = |at, what| PromqlError { at, what };
    while at < text.len() {
        let byte = text[at];
        match byte {
            b' ' | b'\t' | b'\n' | b'\r' => at += 1,
            b'#' => at = text[at..].iter().position(|b| *b == b'\n').map_or(text.len(), |end| at + end),
            b'"' | b'\'' | b'`' => at = skip_string(text, at).ok_or_else(|| error(at, "unterminated string"))?,
            b'[' => {
                at = text[at..]
                    .iter()
                    .position(|b| *b == b']')
                    .map(|end| at + end + 1)
                    .ok_or_else(|| error(at, "unclosed ["))?
            }
            b'(' => {
                depth += 1;
                at += 1;
            }
            b')' => {
                depth = depth.checked_sub(1).ok_or_else(|| error(at, "unbalanced )"))?;
                at += 1;
            }
            b'{' => {
                // A selector without a name before its braces: `{__name__="x"}`.
                let (matchers, end) = matchers(text, at)?;
                let metric = matchers.iter().find(|m| m.label == "__name__" && m.op == MatchOp::Equal);
                let metric =
                    metric.map(|m| m.value.clone()).ok_or_else(|| error(at, "selector without a metric name"))?;
                push(&mut alternatives, Selector { metric, matchers: without_name(matchers) });
                at = end;
            }
            b'0'..=b'9' | b'.' => {
                at += text[at..].iter().take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_')).count();
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' | b':' => {
                let length =
                    text[at..].iter().take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b':')).count();
                let word = &expression[at..at + length];
                at += length;
                let next = next_significant(text, at);
                let lower = word.to_ascii_lowercase();
                if LABEL_LISTS.contains(&lower.as_str()) {
                    if let Some((position, b'(')) = next {
                        at = text[position..]
                            .iter()
                            .position(|b| *b == b')')
                            .map(|end| position + end + 1)
                            .ok_or_else(|| error(position, "unclosed label list"))?;
                    }
                } else if lower == "or" && depth == 0 {
                    alternatives.push(Vec::new());
                } else if KEYWORDS.contains(&lower.as_str())
                    || AGGREGATIONS.contains(&lower.as_str())
                    || next.is_some_and(|(_, byte)| byte == b'(')
                {
                    // A keyword or a function name.
                } else {
                    let mut selector = Selector { metric: word.to_owned(), matchers: Vec::new() };
                    if let Some((position, b'{')) = next {
                        let (matchers, end) = matchers(text, position)?;
                        selector.matchers = matchers;
                        at = end;
                    }
                    push(&mut alternatives, selector);
                }
            }
            _ => at += 1,
        }
    }
    if depth != 0 {
        return Err(error(text.len(), "unbalanced ("));
    }
    Ok(alternatives)
}

fn push(alternatives: &mut [Vec<Selector>], selector: Selector) {
    if let Some(last) = alternatives.last_mut() {
        last.push(selector);
    }
}

fn without_name(matchers: Vec<Matcher>) -> Vec<Matcher> {
    matchers.into_iter().filter(|matcher| matcher.label != "__name__").collect()
}

/// The next byte that is not whitespace, with its position.
fn next_significant(text: &[u8], from: usize) -> Option<(usize, u8)> {
    text[from..].iter().position(|b| !b.is_ascii_whitespace()).map(|offset| (from + offset, text[from + offset]))
}

/// The position after the string starting at `at`.
fn skip_string(text: &[u8], at: usize) -> Option<usize> {
    let quote = text[at];
    let mut position = at + 1;
    while position < text.len() {
        match text[position] {
            b'\\' if quote != b'`' => position += 2,
            byte if byte == quote => return Some(position + 1),
            _ => position += 1,
        }
    }
    None
}

/// The matchers of the braces opening at `at`, and the position after them.
fn matchers(text: &[u8], at: usize) -> Result<(Vec<Matcher>, usize), PromqlError> {
    let error = |at, what| PromqlError { at, what };
    let mut matchers = Vec::new();
    let mut position = at + 1;
    loop {
        let (start, byte) = next_significant(text, position).ok_or_else(|| error(at, "unclosed {"))?;
        if byte == b'}' {
            return Ok((matchers, start + 1));
        }
        if byte == b',' {
            position = start + 1;
            continue;
        }
        let length = text[start..].iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'_').count();
        if length == 0 {
            return Err(error(start, "expected a label name"));
        }
        let label = String::from_utf8_lossy(&text[start..start + length]).into_owned();
        let (op_start, _) =
            next_significant(text, start + length).ok_or_else(|| error(start, "expected an operator"))?;
        let (op, op_length) = match &text[op_start..(op_start + 2).min(text.len())] {
            [b'=', b'~'] => (MatchOp::Matches, 2),
            [b'!', b'~'] => (MatchOp::NotMatches, 2),
            [b'!', b'='] => (MatchOp::NotEqual, 2),
            [b'=', ..] => (MatchOp::Equal, 1),
            _ => return Err(error(op_start, "expected =, !=, =~ or !~")),
        };
        let (value_start, quote) =
            next_significant(text, op_start + op_length).ok_or_else(|| error(op_start, "expected a string"))?;
        if !matches!(quote, b'"' | b'\'' | b'`') {
            return Err(error(value_start, "expected a string"));
        }
        let end = skip_string(text, value_start).ok_or_else(|| error(value_start, "unterminated string"))?;
        let raw = String::from_utf8_lossy(&text[value_start + 1..end - 1]).into_owned();
        let value = if quote == b'`' { raw } else { unescape(&raw) };
        matchers.push(Matcher { label, op, value });
        position = end;
    }
}

/// A PromQL string's value: backslash escapes resolved.
fn unescape(raw: &str) -> String {
    let mut value = String::with_capacity(raw.len());
    let mut characters = raw.chars();
    while let Some(character) = characters.next() {
        if character != '\\' {
            value.push(character);
            continue;
        }
        match characters.next() {
            Some('n') => value.push('\n'),
            Some('t') => value.push('\t'),
            Some(other) => value.push(other),
            None => value.push('\\'),
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(expression: &str) -> Vec<Vec<String>> {
        alternatives(expression)
            .unwrap()
            .into_iter()
            .map(|selectors| selectors.into_iter().map(|selector| selector.to_string()).collect())
            .collect()
    }

    #[test]
    fn selectors_are_told_from_functions_keywords_label_lists_and_literals() {
        assert_eq!(
            names(r#"floor(sum by (namespace, pod) (increase(kube_pod_container_status_restarts_total[10m]))) > 3"#),
            [["kube_pod_container_status_restarts_total"]]
        );
        assert_eq!(
            names(
                "100 * sum by (namespace, pod, container) (rate(container_cpu_usage_seconds_total{container!=\"\"}[5m])) \
                 / sum by (namespace) (container_spec_cpu_quota{container!=\"\"} / container_spec_cpu_period) > 80"
            ),
            [[
                "container_cpu_usage_seconds_total{container!=\"\"}",
                "container_spec_cpu_quota{container!=\"\"}",
                "container_spec_cpu_period"
            ]]
        );
        assert_eq!(
            names(r#"histogram_quantile(0.95, sum(rate(x_bucket{le="0.2", service=~"a|b"}[5m] offset 1h))) > 1e3"#),
            [["x_bucket{le=\"0.2\", service=~\"a|b\"}"]]
        );
        assert_eq!(names(r#"{__name__="up", job="x"} == 0"#), [["up{job=\"x\"}"]]);
        assert_eq!(names("vector(1)"), [Vec::<String>::new()]);
        assert_eq!(names(r#"a on (x) group_left (y) b unless ignoring (z) c"#), [["a", "b", "c"]]);
        assert_eq!(names(r#"label_replace(a, "dst", "$1", "src", "(.*)")"#), [["a"]]);
    }

    #[test]
    fn top_level_or_splits_alternatives_and_nested_or_does_not() {
        assert_eq!(
            names(r#"up{database!=""} == 0 or mongodb_up{database=~"mongodb"} == 0"#),
            [vec!["up{database!=\"\"}"], vec!["mongodb_up{database=~\"mongodb\"}"]]
        );
        assert_eq!(names("(a > 1 and b > 1) or (c > 1 and d > 1)"), [["a", "b"], ["c", "d"]]);
        assert_eq!(names("sum(a or b)"), [["a", "b"]]);
    }

    #[test]
    fn matchers_accept_values_as_prometheus_does_and_garbage_is_an_error() {
        let selector = &alternatives(r#"x{a="1", b!="", c=~"p|q", d!~"z.*", e='it\'s'}"#).unwrap()[0][0];
        let [a, b, c, d, e] = &selector.matchers[..] else { panic!("{selector:?}") };
        assert!(a.accepts("1") && !a.accepts("10"));
        assert!(b.accepts("x") && !b.accepts(""));
        assert!(c.accepts("q") && !c.accepts("pq"), "anchored");
        assert!(d.accepts("a") && !d.accepts("zz"));
        assert_eq!(e.value, "it's");
        for bad in ["x{a=1}", "x{a=\"1\"", "sum(x", "x)", "x{=\"1\"}", "x[5m"] {
            assert!(alternatives(bad).is_err(), "{bad}");
        }
    }
}

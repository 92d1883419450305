//! Just enough of PromQL's structure to read a rule's numbers as values rather than as text: the
//! comparison an alert's expression ends in and the range windows it takes its rates over.

/// Characters of the expression outside string literals, with their nesting depth in `()`, `{}`
/// and `[]` (the brackets themselves carry the outer depth).
fn unquoted(expr: &str) -> Vec<(usize, char, usize)> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (index, character) in expr.char_indices() {
        if let Some(open) = quote {
            if escaped {
                escaped = false;
            } else if character == '\\' {
                escaped = true;
            } else if character == open {
                quote = None;
            }
            continue;
        }
        match character {
            '"' | '\'' | '`' => quote = Some(character),
            '(' | '{' | '[' => {
                out.push((index, character, depth));
                depth += 1;
            }
            ')' | '}' | ']' => {
                depth = depth.saturating_sub(1);
                out.push((index, character, depth));
            }
            _ => out.push((index, character, depth)),
        }
    }
    out
}

/// The last comparison at the top level of an alert's expression, as `(operator, number)`:
/// `... > 80` is `(">", 80.0)`, `up == 0` is `("==", 0.0)`. `None` when the expression does not
/// end in a comparison with a number.
pub fn comparison(expr: &str) -> Option<(String, f64)> {
    let characters = unquoted(expr);
    let mut last = None;
    let mut position = 0;
    while position < characters.len() {
        let (index, character, depth) = characters[position];
        let next = characters.get(position + 1).map(|(_, next, _)| *next);
        if depth == 0 {
            let operator = match (character, next) {
                ('=', Some('=')) | ('!', Some('=')) | ('>', Some('=')) | ('<', Some('=')) => {
                    Some(format!("{character}="))
                }
                ('>', _) | ('<', _) => Some(character.to_string()),
                _ => None,
            };
            if let Some(operator) = operator {
                let skip = operator.len();
                last = Some((operator, index + skip));
                position += skip;
                continue;
            }
        }
        position += 1;
    }
    let (operator, after) = last?;
    let value = expr[after..].trim().trim_start_matches("bool").trim().parse().ok()?;
    Some((operator, value))
}

/// Every range window of the expression (`rate(x[5m])` gives `5m`), in order.
pub fn windows(expr: &str) -> Vec<String> {
    let characters = unquoted(expr);
    let mut found = Vec::new();
    for (position, (index, character, _)) in characters.iter().enumerate() {
        if *character != '[' {
            continue;
        }
        if let Some((end, _, _)) = characters[position..].iter().find(|(_, close, _)| *close == ']') {
            found.push(expr[index + 1..*end].trim().to_owned());
        }
    }
    found
}

/// The metric names the expression selects: every name right before a `{` or `[`.
pub fn selected_metrics(expr: &str) -> Vec<String> {
    let characters = unquoted(expr);
    let mut found = Vec::new();
    for (position, (_, character, _)) in characters.iter().enumerate() {
        if *character != '{' && *character != '[' {
            continue;
        }
        let name: String = characters[..position]
            .iter()
            .rev()
            .map(|(_, character, _)| *character)
            .take_while(|character| character.is_ascii_alphanumeric() || *character == '_' || *character == ':')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        if !name.is_empty() && !found.contains(&name) {
            found.push(name);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_and_windows_are_read_at_the_top_level() {
        let cpu = "100 * sum by (pod) (rate(x{a=\"> 3\"}[5m])) / sum by (pod) (y > 0) > 80";
        assert_eq!(comparison(cpu), Some((">".to_owned(), 80.0)));
        assert_eq!(comparison("up{job=~\"db\"} == 0"), Some(("==".to_owned(), 0.0)));
        assert_eq!(
            comparison("histogram_quantile(0.95, sum by (le) (rate(h[5m]))) > 0.2"),
            Some((">".to_owned(), 0.2))
        );
        assert_eq!(comparison("x <= 10"), Some(("<=".to_owned(), 10.0)));
        assert_eq!(comparison("vector(1)"), None);
        assert_eq!(windows("floor(sum(increase(r[10m]))) > 3 and rate(y[1h:5m])"), ["10m", "1h:5m"]);
        assert_eq!(selected_metrics("sum(rate(a_total{x=\"{y}\"}[5m])) / sum(rate(b[5m])) > up"), ["a_total", "b"]);
    }
}

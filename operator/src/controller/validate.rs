//! Validate: the stack's own spec, checked with the CRD's schema (and its CEL rules) and then with
//! the semantic checks the schema cannot express, exactly as `stackscope validate` checks a file.
//! The API server runs the same schema on admission; this stage catches what it cannot (and
//! stacks written before a stricter schema was installed).

use crate::api::ObservabilityStack;
use crate::schema::SchemaValidator;
use crate::validate::FieldError;

/// Why a stack cannot render: every problem, each naming its field.
#[derive(Debug, thiserror::Error)]
pub enum InvalidStack {
    #[error("invalid stack: cannot serialize the stack: {0}")]
    Serialize(#[from] serde_json::Error),
    #[error("invalid stack: {}", join(.problems))]
    Fields { problems: Vec<FieldError> },
}

fn join(problems: &[FieldError]) -> String {
    problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// Schema first (its messages are the API server's), then the semantic checks.
pub fn stack(validator: &SchemaValidator, stack: &ObservabilityStack) -> Result<(), InvalidStack> {
    let value = serde_json::to_value(stack)?;
    let mut problems = validator.validate("ObservabilityStack", &value);
    if problems.is_empty() {
        problems = crate::validate::stack(&stack.spec);
    }
    if problems.is_empty() { Ok(()) } else { Err(InvalidStack::Fields { problems }) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ObservabilityStackSpec;

    fn stack_with(spec: serde_json::Value) -> ObservabilityStack {
        let mut stack: ObservabilityStack = serde_json::from_value(serde_json::json!({
            "apiVersion": "stackscope.dev/v1alpha1", "kind": "ObservabilityStack",
            "metadata": {"name": "shop", "namespace": "apps"}, "spec": spec
        }))
        .expect("a well-typed stack");
        stack.metadata.generation = Some(1);
        stack
    }

    #[test]
    fn a_valid_stack_passes() {
        let validator = SchemaValidator::new();
        let mut valid = ObservabilityStack::new("shop", ObservabilityStackSpec::default());
        valid.metadata.namespace = Some("apps".to_owned());
        assert!(stack(&validator, &valid).is_ok());
    }

    #[test]
    fn schema_problems_come_first_and_name_their_field() {
        let validator = SchemaValidator::new();
        let invalid = stack_with(
            serde_json::json!({"alerting": {"routing": {"email": {"from": "nobody"}, "groupBy": ["a", "a"]}}}),
        );
        let Err(InvalidStack::Fields { problems }) = stack(&validator, &invalid) else {
            panic!("the stack must be refused")
        };
        assert_eq!(problems.iter().map(|p| p.path.as_str()).collect::<Vec<_>>(), ["spec.alerting.routing.email.from"]);
    }

    #[test]
    fn semantic_problems_name_their_field() {
        let validator = SchemaValidator::new();
        let invalid = stack_with(serde_json::json!({"alerting": {"routing": {"groupBy": ["a", "a"]}}}));
        let error = stack(&validator, &invalid).expect_err("a label listed twice is refused");
        assert_eq!(error.to_string(), r#"invalid stack: spec.alerting.routing.groupBy[1]: "a" is listed twice"#);
    }
}

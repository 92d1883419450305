//! The probes component (to be written).

use kube::api::DynamicObject;

use super::RenderError;
use crate::resolve::ResolvedStack;

/// Renders the probes objects of the stack.
pub fn render(_stack: &ResolvedStack) -> Result<Vec<DynamicObject>, RenderError> {
    Ok(Vec::new())
}

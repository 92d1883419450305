//! Dashboards: Grafana and the seed's three dashboards.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::is_default;
use crate::api::common::*;
use crate::api::defaults as seed;

/// Grafana and the seed's three dashboards.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct DashboardsSpec {
    /// Render Grafana with its datasources and dashboards.
    pub enabled: bool,
    /// Grafana's container image (default: the release stackscope is tested with).
    pub image: Image,
    /// Secret with the admin user (`admin-user`) and password (`admin-password`).
    #[schemars(length(min = 1, max = 253), pattern(OBJECT_NAME_PATTERN))]
    pub admin_secret: String,
    /// Folder the dashboards are provisioned into.
    #[schemars(length(min = 1, max = 128))]
    pub folder: String,
    /// The Infrastructure dashboard.
    pub infrastructure: bool,
    /// The Application dashboard.
    pub application: bool,
    /// The Business dashboard.
    pub business: bool,
    /// CPU and memory requests and limits of the Grafana container.
    #[serde(skip_serializing_if = "is_default")]
    pub resources: Resources,
}

impl Default for DashboardsSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            image: Image::from(seed::images::GRAFANA),
            admin_secret: seed::GRAFANA_ADMIN_SECRET.to_owned(),
            folder: "Observability".to_owned(),
            infrastructure: true,
            application: true,
            business: true,
            resources: Resources::default(),
        }
    }
}

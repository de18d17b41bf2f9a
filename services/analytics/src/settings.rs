//! The analytics service's own settings (`[service]`).

use serde::Deserialize;
use tenant_core::config::ServiceSettings;

/// None yet: the section exists so a setting added later is typed and
/// validated at startup like every other service's.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AnalyticsSettings {}

impl ServiceSettings for AnalyticsSettings {}

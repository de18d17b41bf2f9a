//! The integration gateway's own settings (`[service]`).

use serde::Deserialize;
use tenant_core::config::ServiceSettings;

/// None yet: the section exists so a setting added later is validated like
/// every other service's, and an unknown key is refused at startup.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationSettings {}

impl ServiceSettings for IntegrationSettings {}

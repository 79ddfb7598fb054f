import type { EndpointDefinition } from "./http/endpoint.js";
import { healthGet, openApiGet } from "./platform/endpoints.js";
import { tenantsGet, tenantsPut } from "./tenants/endpoints.js";
import { autoClaimSettingsGet, autoClaimSettingsPut, automationSettingsGet, automationSettingsPut } from "./settings/endpoints.js";

/** Every HTTP endpoint of the app, for the OpenAPI document and the registration contract test. */
export const API_ENDPOINTS: readonly EndpointDefinition[] = [
  healthGet,
  openApiGet,
  tenantsPut,
  tenantsGet,
  autoClaimSettingsGet,
  autoClaimSettingsPut,
  automationSettingsGet,
  automationSettingsPut,
];

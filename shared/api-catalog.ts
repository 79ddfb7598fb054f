import type { EndpointDefinition } from "./http/endpoint.js";
import { healthGet, openApiGet } from "./platform/endpoints.js";
import { tenantsGet, tenantsPut } from "./tenants/endpoints.js";
import { LICENSE_ENDPOINTS } from "./licenses/endpoints.js";
import { AUTO_CLAIM_ENDPOINTS } from "./autoclaim/endpoints.js";
import { SIGN_IN_EVENT_ENDPOINTS } from "./events/endpoints.js";
import { ENVIRONMENT_ENDPOINTS } from "./environments/endpoints.js";
import { ALERT_ENDPOINTS } from "./alerts/endpoints.js";
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
  ...ALERT_ENDPOINTS,
  ...LICENSE_ENDPOINTS,
  ...AUTO_CLAIM_ENDPOINTS,
  ...SIGN_IN_EVENT_ENDPOINTS,
  ...ENVIRONMENT_ENDPOINTS,
];

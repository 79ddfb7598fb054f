import path from "node:path";
import { describe, expect, it } from "vitest";
import { captureRegistrations } from "../../../local/host/registrations.js";
import { compareFunctionNames, matchRoute, parseRouteTemplate, splitPath } from "../../../local/host/routes.js";
import { repoRoot } from "../../../local/paths.js";
import { DEFAULT_PORTS, localAppSettings } from "../../../local/stack.js";
import { API_ENDPOINTS } from "../../../shared/api-catalog.js";

/**
 * The registration contract: the full function table the app registers through `app.*`, as the
 * Functions host (ours or Core Tools) sees it. A change here is a change of the deployed surface.
 */
describe("function registrations", () => {
  it("when the app's entry is loaded, then it registers exactly this function table", async () => {
    Object.assign(process.env, localAppSettings(DEFAULT_PORTS));
    const app = await captureRegistrations(path.join(repoRoot, "functions/index.ts"));
    const table = app.table
      .map(({ name, trigger, route, methods, authLevel, schedule, queueName, connection }) => ({
        name, trigger, route, methods, authLevel, schedule, queueName, connection,
      }))
      .sort((a, b) => a.name.localeCompare(b.name));

    const http = (name: string, method: string, route: string) => ({
      name, trigger: "http", route, methods: [method], authLevel: "anonymous", schedule: undefined, queueName: undefined, connection: undefined,
    });
    expect(table).toEqual(
      [
        { name: "events-process", trigger: "queue", route: undefined, methods: undefined, authLevel: undefined, schedule: undefined, queueName: "events", connection: "EventQueueStorage" },
        http("health-get", "GET", "health"),
        http("openapi-get", "GET", "openapi.json"),
        // The catch-all: problem+json 400/404/405 for what no endpoint takes (its name sorts last: the host tries it last).
        { name: "zz-route-not-found", trigger: "http", route: "{*path}", methods: ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"], authLevel: "anonymous", schedule: undefined, queueName: undefined, connection: undefined },
        http("tenants-get", "GET", "tenants/{tenantId}"),
        http("tenants-put", "PUT", "tenants/{tenantId}"),
        http("settings-auto-claim-get", "GET", "tenants/{tenantId}/settings/auto-claim"),
        http("settings-auto-claim-put", "PUT", "tenants/{tenantId}/settings/auto-claim"),
        http("settings-automation-get", "GET", "tenants/{tenantId}/settings/automation"),
        http("settings-automation-put", "PUT", "tenants/{tenantId}/settings/automation"),
        http("settings-alerts-get", "GET", "tenants/{tenantId}/settings/alerts"),
        http("settings-alerts-put", "PUT", "tenants/{tenantId}/settings/alerts"),
        http("alerts-list", "GET", "tenants/{tenantId}/alerts"),
        http("products-list", "GET", "tenants/{tenantId}/products"),
        http("products-get", "GET", "tenants/{tenantId}/products/{skuId}"),
        http("products-users-list", "GET", "tenants/{tenantId}/products/{skuId}/users"),
        http("products-assignments-post", "POST", "tenants/{tenantId}/products/{skuId}/assignments"),
        http("users-list", "GET", "tenants/{tenantId}/users"),
        http("users-licenses-get", "GET", "tenants/{tenantId}/users/{userId}/licenses"),
        http("users-assignlicense-post", "POST", "tenants/{tenantId}/users/{userId}/assignLicense"),
        http("users-licenses-patch", "PATCH", "tenants/{tenantId}/users/{userId}/licenses/{skuId}"),
        http("licenses-bulk-post", "POST", "tenants/{tenantId}/licenses/bulk"),
        http("licenses-rules-get", "GET", "tenants/{tenantId}/license-rules"),
        http("licenses-rules-put", "PUT", "tenants/{tenantId}/license-rules"),
        http("reports-active-user-licenses-get", "GET", "tenants/{tenantId}/reports/active-user-licenses"),
        http("reports-jobs-get", "GET", "tenants/{tenantId}/reports/jobs/{jobId}"),
        http("reports-jobs-result-get", "GET", "tenants/{tenantId}/reports/jobs/{jobId}/result"),
        http("reports-unused-licenses-get", "GET", "tenants/{tenantId}/reports/unused-licenses"),
        http("reports-group-license-errors-get", "GET", "tenants/{tenantId}/reports/group-license-errors"),
        http("audit-list", "GET", "tenants/{tenantId}/audit"),
        http("audit-verification-get", "GET", "tenants/{tenantId}/audit/verification"),
        { name: "trial-expiry-timer", trigger: "timer", route: undefined, methods: undefined, authLevel: undefined, schedule: "0 0 3 * * *", queueName: undefined, connection: undefined },
        { name: "group-licensing-check-timer", trigger: "timer", route: undefined, methods: undefined, authLevel: undefined, schedule: "0 15 */6 * * *", queueName: undefined, connection: undefined },
        http("auto-claim-policies-list", "GET", "tenants/{tenantId}/auto-claim-policies"),
        http("auto-claim-policies-post", "POST", "tenants/{tenantId}/auto-claim-policies"),
        http("auto-claim-policies-get", "GET", "tenants/{tenantId}/auto-claim-policies/{policyId:guid}"),
        http("auto-claim-policies-patch", "PATCH", "tenants/{tenantId}/auto-claim-policies/{policyId:guid}"),
        http("auto-claim-policies-delete", "DELETE", "tenants/{tenantId}/auto-claim-policies/{policyId:guid}"),
        http("auto-claim-policies-report", "GET", "tenants/{tenantId}/auto-claim-policies/report"),
        http("sign-in-events-post", "POST", "tenants/{tenantId}/sign-in-events"),
        http("sign-in-events-get", "GET", "tenants/{tenantId}/sign-in-events/{eventId}"),
        http("entra-token-issuance-start", "POST", "tenants/{tenantId}/entra/token-issuance-start"),
        { name: "auto-claim-maintenance-timer", trigger: "timer", route: undefined, methods: undefined, authLevel: undefined, schedule: "0 */5 * * * *", queueName: undefined, connection: undefined },
        { name: "auto-claim-reclaim-timer", trigger: "timer", route: undefined, methods: undefined, authLevel: undefined, schedule: "0 30 3 * * *", queueName: undefined, connection: undefined },
        { name: "sign-in-log-poll-timer", trigger: "timer", route: undefined, methods: undefined, authLevel: undefined, schedule: "0 */5 * * * *", queueName: undefined, connection: undefined },
        http("environments-list", "GET", "tenants/{tenantId}/environments"),
        http("environments-get", "GET", "tenants/{tenantId}/environments/{environmentId}"),
        http("environments-patch", "PATCH", "tenants/{tenantId}/environments/{environmentId}"),
        http("environments-sync-runs-post", "POST", "tenants/{tenantId}/environments/{environmentId}/sync-runs"),
        http("environments-sync-runs-list", "GET", "tenants/{tenantId}/environments/{environmentId}/sync-runs"),
        http("environments-sync-runs-get", "GET", "tenants/{tenantId}/environments/{environmentId}/sync-runs/{runId}"),
        http("environments-sync-runs-actions", "GET", "tenants/{tenantId}/environments/{environmentId}/sync-runs/{runId}/actions"),
        http("environments-sync-runs-approve", "POST", "tenants/{tenantId}/environments/{environmentId}/sync-runs/{runId}/approve"),
        http("environments-sync-runs-reject", "POST", "tenants/{tenantId}/environments/{environmentId}/sync-runs/{runId}/reject"),
        http("environments-users-list", "GET", "tenants/{tenantId}/environments/{environmentId}/users"),
        http("environments-users-post", "POST", "tenants/{tenantId}/environments/{environmentId}/users"),
        http("environments-users-refresh", "POST", "tenants/{tenantId}/environments/{environmentId}/users/{userId}/refresh"),
        http("environments-users-diagnostics", "GET", "tenants/{tenantId}/environments/{environmentId}/users/{userId}/diagnostics"),
        http("environments-users-patch", "PATCH", "tenants/{tenantId}/environments/{environmentId}/users/{userId}"),
        http("environments-application-users-post", "POST", "tenants/{tenantId}/environments/{environmentId}/application-users"),
        http("environments-application-users-get", "GET", "tenants/{tenantId}/environments/{environmentId}/application-users/{applicationId}"),
        http("environments-application-users-patch", "PATCH", "tenants/{tenantId}/environments/{environmentId}/application-users/{applicationId}"),
        { name: "sync-timer", trigger: "timer", route: undefined, methods: undefined, authLevel: undefined, schedule: "0 */5 * * * *", queueName: undefined, connection: undefined },
        { name: "sync-jobs-process", trigger: "queue", route: undefined, methods: undefined, authLevel: undefined, schedule: undefined, queueName: "sync-jobs", connection: "EventQueueStorage" },
      ].sort((a, b) => a.name.localeCompare(b.name)),
    );
  });

  it("when the API catalog lists an endpoint, then a function with its name, method and route is registered", async () => {
    const app = await captureRegistrations(path.join(repoRoot, "functions/index.ts"));
    for (const def of API_ENDPOINTS) {
      expect(app.table.find((f) => f.name === def.name), def.name).toMatchObject({ route: def.route, methods: [def.method] });
    }
    const httpFunctions = app.table.filter((f) => f.trigger === "http" && f.name !== "zz-route-not-found").map((f) => f.name).sort();
    expect(httpFunctions).toEqual(API_ENDPOINTS.map((d) => d.name).sort());
  });

  it("when the host tries routes in function-name order (first match wins, as Azure does), then every endpoint is reached by its own requests and the catch-all only by the rest", async () => {
    Object.assign(process.env, localAppSettings(DEFAULT_PORTS));
    const app = await captureRegistrations(path.join(repoRoot, "functions/index.ts"));
    const routes = app.table
      .filter((f) => f.trigger === "http")
      .sort((a, b) => compareFunctionNames(a.name, b.name))
      .map((f) => ({ name: f.name, methods: f.methods ?? [], template: parseRouteTemplate(f.route ?? f.name) }));
    const served = (method: string, path: string) => routes.find((r) => r.methods.includes(method) && matchRoute(r.template, splitPath(path)))?.name;
    const guid = "0f8b6f2e-1c2d-4e5f-8a9b-0c1d2e3f4a5b";
    for (const def of API_ENDPOINTS) {
      const path = `/${def.route.replace(/\{[^}]+\}/g, guid)}`;
      expect(served(def.method, path), `${def.method} ${path}`).toBe(def.name);
    }
    expect(routes.at(-1)?.name).toBe("zz-route-not-found");
    expect(served("GET", "/no/such/route")).toBe("zz-route-not-found");
    expect(served("GET", `/tenants/${guid}/auto-claim-policies/not-a-guid`)).toBe("zz-route-not-found");
  });
});

import path from "node:path";
import { describe, expect, it } from "vitest";
import { captureRegistrations } from "../../../local/host/registrations.js";
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
        http("tenants-get", "GET", "tenants/{tenantId}"),
        http("tenants-put", "PUT", "tenants/{tenantId}"),
        http("settings-auto-claim-get", "GET", "tenants/{tenantId}/settings/auto-claim"),
        http("settings-auto-claim-put", "PUT", "tenants/{tenantId}/settings/auto-claim"),
        http("settings-automation-get", "GET", "tenants/{tenantId}/settings/automation"),
        http("settings-automation-put", "PUT", "tenants/{tenantId}/settings/automation"),
      ].sort((a, b) => a.name.localeCompare(b.name)),
    );
  });

  it("when the API catalog lists an endpoint, then a function with its name, method and route is registered", async () => {
    const app = await captureRegistrations(path.join(repoRoot, "functions/index.ts"));
    for (const def of API_ENDPOINTS) {
      expect(app.table.find((f) => f.name === def.name), def.name).toMatchObject({ route: def.route, methods: [def.method] });
    }
    const httpFunctions = app.table.filter((f) => f.trigger === "http").map((f) => f.name).sort();
    expect(httpFunctions).toEqual(API_ENDPOINTS.map((d) => d.name).sort());
  });
});

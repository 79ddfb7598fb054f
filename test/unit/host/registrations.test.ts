import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { AppLoadError, captureRegistrations } from "../../../local/host/registrations.js";

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../fixtures/host-app");

describe("registration capture", () => {
  it("captures the real metadata @azure/functions registers", async () => {
    const app = await captureRegistrations(path.join(fixtures, "index.ts"));
    expect(app.warnings).toEqual([]);
    expect(app.programmingModel?.name).toBe("@azure/functions");
    const byName = Object.fromEntries(app.table.map((f) => [f.name, f]));
    expect(Object.keys(byName)).toEqual(["getItem", "zCatalogLatest", "catalogItem", "dupA", "dupB", "echo", "text", "boom", "nothing", "files", "enqueue", "records", "everySecond", "nightly", "onStartup", "jobs"]);
    expect(byName.getItem).toEqual({
      name: "getItem",
      trigger: "http",
      triggerType: "httpTrigger",
      route: "items/{id:int}/{detail?}",
      methods: ["GET"],
      authLevel: "anonymous",
    });
    expect(byName.text?.methods).toEqual(["GET", "PUT"]);
    expect(byName.everySecond).toEqual({ name: "everySecond", trigger: "timer", triggerType: "timerTrigger", schedule: "*/1 * * * * *" });
    expect(byName.nightly?.schedule).toBe("%NIGHTLY_SCHEDULE%");
    expect(byName.onStartup).toMatchObject({ trigger: "timer", schedule: "0 0 0 1 1 *", runOnStartup: true });
    expect(byName.jobs).toEqual({ name: "jobs", trigger: "queue", triggerType: "queueTrigger", queueName: "%JOBS_QUEUE%", connection: "" });

    // The raw metadata is what the worker would send to the host.
    const enqueue = app.functions.find((f) => f.metadata.name === "enqueue")!;
    const outputs = Object.values(enqueue.metadata.bindings).filter((b) => b.direction === "out").map((b) => b.type);
    expect(outputs.sort()).toEqual(["http", "queue"]);
  });

  it("returns the same capture when asked again (an ES module loads once)", async () => {
    const a = await captureRegistrations(path.join(fixtures, "index.ts"));
    const b = await captureRegistrations(path.join(fixtures, "index.ts"));
    expect(b).toBe(a);
  });

  it("reports an app that throws while loading", async () => {
    delete process.env.HOST_FIXTURE_REQUIRED_SETTING;
    const err = await captureRegistrations(path.join(fixtures, "broken.ts")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppLoadError);
    expect((err as Error).message).toMatch(/Worker was unable to load entry point "broken.ts": Configuration error: HOST_FIXTURE_REQUIRED_SETTING is not set/);
  });
});

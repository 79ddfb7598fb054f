import { describe, expect, it } from "vitest";
import { KNOWN_APPS } from "../../../shared/autoclaim/apps.js";
import { productQualifies, triggerQualifies } from "../../../shared/autoclaim/triggers.js";

describe("which triggers claim (A8, A9)", () => {
  it("when a Power Apps event is a premium or managed-environment app launch, then it qualifies; a plain sign-in does not", () => {
    const app = KNOWN_APPS.powerApps.appId;
    expect(triggerQualifies(app, "premium-app-launch").qualifies).toBe(true);
    expect(triggerQualifies(app, "managed-environment-app-launch").qualifies).toBe(true);
    expect(triggerQualifies(app, "sign-in").qualifies).toBe(false);
    expect(triggerQualifies(app, "premium-flow-run").qualifies).toBe(false);
  });

  it("when a Power Automate flow is run, saved or turned on (premium or RPA), then it qualifies; a sign-in does not", () => {
    const app = KNOWN_APPS.powerAutomate.appId;
    for (const t of ["premium-flow-run", "premium-flow-save", "premium-flow-turn-on", "rpa-flow-run", "rpa-flow-save", "rpa-flow-turn-on"] as const) {
      expect(triggerQualifies(app, t).qualifies, t).toBe(true);
    }
    expect(triggerQualifies(app, "sign-in").qualifies).toBe(false);
  });

  it("when an RPA trigger meets a per-user plan, then only the Premium plan may serve it; other triggers take any product", () => {
    expect(productQualifies("rpa-flow-run", "FLOW_PER_USER")).toBe(false);
    expect(productQualifies("rpa-flow-run", "POWERAUTOMATE_ATTENDED_RPA")).toBe(true);
    expect(productQualifies("premium-flow-run", "FLOW_PER_USER")).toBe(true);
  });

  it("when any other app signs a user in, then the sign-in qualifies; a first access never claims", () => {
    const other = "11111111-2222-4333-8444-555555555555";
    expect(triggerQualifies(other, "sign-in").qualifies).toBe(true);
    expect(triggerQualifies(other, "first-access").qualifies).toBe(false);
    expect(triggerQualifies(KNOWN_APPS.powerApps.appId, "first-access").qualifies).toBe(false);
  });
});

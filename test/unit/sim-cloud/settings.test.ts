import { describe, expect, it } from "vitest";
import { settingsFromOptions } from "../../../local/sim-cloud/server.js";
import { applySettingsPatch, defaultSettings, SettingsError } from "../../../local/sim-cloud/settings.js";

describe("simulated cloud settings", () => {
  it("when a number is given as latency, then every service gets it; objects merge and arrays replace", () => {
    const s = applySettingsPatch(defaultSettings(), { latencyMs: 25, rateLimits: { graph: { unitsPerWindow: 10 } }, faults: [{ rate429: 0.1 }] });
    expect(s.latencyMs).toEqual({ graph: 25, dataverse: 25, bap: 25, login: 25 });
    expect(s.rateLimits.graph).toMatchObject({ enabled: true, unitsPerWindow: 10, windowSeconds: 10 });
    expect(s.faults).toEqual([expect.objectContaining({ rate429: 0.1, rate503: 0, retryAfterSeconds: 2 })]);
    expect(applySettingsPatch(s, { faults: [] }).faults).toEqual([]);
  });

  it("when a patch is invalid, then SettingsError names the problem", () => {
    expect(() => applySettingsPatch(defaultSettings(), { faults: [{ rate429: 1.5 }] })).toThrow(SettingsError);
    expect(() => applySettingsPatch(defaultSettings(), { faults: [{ pathPattern: "(" }] })).toThrow(/regular expression/);
    expect(() => applySettingsPatch(defaultSettings(), { unknownSetting: 1 })).toThrow(SettingsError);
    expect(() => applySettingsPatch(defaultSettings(), { latencyMs: -1 })).toThrow(SettingsError);
  });

  it("when start options are given, then rateLimits:false turns every limit off and a single fault rule is accepted", () => {
    const s = settingsFromOptions({ rateLimits: false, faults: { rate503: 0.2 }, seed: 9, latencyMs: { dataverse: 5 } });
    expect([s.rateLimits.graph.enabled, s.rateLimits.dataverse.enabled, s.rateLimits.bap.enabled]).toEqual([false, false, false]);
    expect(s.faults).toHaveLength(1);
    expect(s.seed).toBe(9);
    expect(s.latencyMs).toEqual({ graph: 0, dataverse: 5, bap: 0, login: 0 });
  });
});

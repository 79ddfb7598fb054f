import { describe, expect, it } from "vitest";
import { FaultInjector } from "../../../local/sim-cloud/faults.js";
import { FaultRuleSchema } from "../../../local/sim-cloud/settings.js";

const rule = (r: Record<string, unknown>) => FaultRuleSchema.parse(r);

describe("FaultInjector", () => {
  it("when the same seed is used, then the same sequence of decisions comes out; rates are roughly honoured", () => {
    const rules = [rule({ rate429: 0.2, rate503: 0.1, rateTimeout: 0.05 })];
    const run = (seed: number) => {
      const f = new FaultInjector(rules, seed);
      return Array.from({ length: 2000 }, () => f.decide("graph", "/v1.0/users").kind);
    };
    const a = run(5);
    expect(run(5)).toEqual(a);
    expect(run(6)).not.toEqual(a);
    const share = (k: string) => a.filter((x) => x === k).length / a.length;
    expect(share("429")).toBeGreaterThan(0.15);
    expect(share("429")).toBeLessThan(0.25);
    expect(share("503")).toBeGreaterThan(0.06);
    expect(share("timeout")).toBeGreaterThan(0.02);
  });

  it("when a rule names services or a path pattern, then other requests are untouched and draw nothing", () => {
    const f = new FaultInjector([rule({ services: ["dataverse"], pathPattern: "systemusers", rate503: 1, retryAfterSeconds: 4 })], 1);
    expect(f.decide("graph", "/v1.0/systemusers")).toEqual({ kind: "none" });
    expect(f.decide("dataverse", "/env/api/data/v9.2/roles")).toEqual({ kind: "none" });
    expect(f.decide("dataverse", "/env/api/data/v9.2/systemusers")).toEqual({ kind: "503", retryAfterSeconds: 4 });
    expect(new FaultInjector([rule({ rate429: 1 })], 1).decide("login", "/x")).toEqual({ kind: "none" });
  });

  it("when reconfigured, then the sequence restarts from the seed", () => {
    const rules = [rule({ rate429: 0.5 })];
    const f = new FaultInjector(rules, 3);
    const first = Array.from({ length: 20 }, () => f.decide("bap", "/").kind);
    f.configure(rules, 3);
    expect(Array.from({ length: 20 }, () => f.decide("bap", "/").kind)).toEqual(first);
  });
});

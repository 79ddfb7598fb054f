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

  it("when a rule has shares of 500s and malformed answers, then both come out, in their shares, after the 429s and 503s", () => {
    const f = new FaultInjector([rule({ rate429: 0.1, rate503: 0.1, rate500: 0.2, rateMalformed: 0.2 })], 9);
    const kinds = Array.from({ length: 2000 }, () => f.decide("bap", "/x/addUser").kind);
    const share = (k: string) => kinds.filter((x) => x === k).length / kinds.length;
    expect(share("500")).toBeGreaterThan(0.15);
    expect(share("500")).toBeLessThan(0.25);
    expect(share("malformed")).toBeGreaterThan(0.15);
    expect(share("malformed")).toBeLessThan(0.25);
    expect(share("none")).toBeGreaterThan(0.35);
    expect(new FaultInjector([rule({ rate500: 1, count: 1 })], 1).decide("dataverse", "/e/api/data/v9.2/systemusers")).toEqual({ kind: "500" });
  });

  it("when reconfigured, then the sequence restarts from the seed", () => {
    const rules = [rule({ rate429: 0.5 })];
    const f = new FaultInjector(rules, 3);
    const first = Array.from({ length: 20 }, () => f.decide("bap", "/").kind);
    f.configure(rules, 3);
    expect(Array.from({ length: 20 }, () => f.decide("bap", "/").kind)).toEqual(first);
  });

  it("when a rule is for operations inside a $batch (inBatch), then it covers only them; other rules never reach inside a batch", () => {
    const f = new FaultInjector([rule({ services: ["dataverse"], inBatch: true, rate429: 1, rateTimeout: 1, retryAfterSeconds: 3 }), rule({ services: ["dataverse"], rate503: 1 })], 1);
    expect(f.decide("dataverse", "/env/api/data/v9.2/$batch")).toEqual({ kind: "503", retryAfterSeconds: 2 });
    expect(f.decideInBatch("dataverse", "/env/api/data/v9.2/systemusers(1)")).toEqual({ kind: "429", retryAfterSeconds: 3 });
    // A part cannot hang on its own: timeouts do not apply to operations.
    const timeouts = new FaultInjector([rule({ inBatch: true, rateTimeout: 1 })], 1);
    expect(timeouts.decideInBatch("dataverse", "/env/api/data/v9.2/systemusers(1)")).toEqual({ kind: "none" });
    expect(FaultRuleSchema.parse({ rate429: 1 }).inBatch).toBe(false);
  });

  it("when a rule has a count, then exactly the first count covered requests fail and then it is spent, until reconfigured", () => {
    const rules = [rule({ inBatch: true, pathPattern: "systemusers\\(", rate429: 1, retryAfterSeconds: 1, count: 2 })];
    const f = new FaultInjector(rules, 7);
    const kinds = () => ["roles", "systemusers(1)", "systemusers(2)", "systemusers(3)"].map((p) => f.decideInBatch("dataverse", `/env/api/data/v9.2/${p}`).kind);
    expect(kinds()).toEqual(["none", "429", "429", "none"]);
    expect(kinds()).toEqual(["none", "none", "none", "none"]);
    f.configure(rules, 7);
    expect(kinds()).toEqual(["none", "429", "429", "none"]);
    const requests = new FaultInjector([rule({ rate503: 1, count: 1 })], 1);
    expect([requests.decide("bap", "/"), requests.decide("bap", "/")].map((d) => d.kind)).toEqual(["503", "none"]);
  });
});

import type { FaultRule, ServiceName } from "./settings.js";
import { createPrng } from "./state/ids.js";

export type FaultDecision =
  | { kind: "none" }
  | { kind: "429"; retryAfterSeconds: number }
  | { kind: "503"; retryAfterSeconds: number }
  | { kind: "timeout"; hangMs: number };

const DEFAULT_SERVICES: readonly ServiceName[] = ["graph", "dataverse", "bap"];

/**
 * Seeded fault injection: each request that a rule covers draws one number from the PRNG, so a
 * given seed and sequence of requests always produces the same faults.
 */
export class FaultInjector {
  private random: () => number;
  private compiled: Array<{ rule: FaultRule; pattern: RegExp | null }> = [];

  constructor(rules: FaultRule[], seed: number) {
    this.random = createPrng(seed);
    this.configure(rules, seed);
  }

  configure(rules: FaultRule[], seed: number): void {
    this.random = createPrng(seed);
    this.compiled = rules.map((rule) => ({ rule, pattern: rule.pathPattern ? new RegExp(rule.pathPattern) : null }));
  }

  decide(service: ServiceName, path: string): FaultDecision {
    for (const { rule, pattern } of this.compiled) {
      if (!(rule.services ?? DEFAULT_SERVICES).includes(service)) continue;
      if (pattern && !pattern.test(path)) continue;
      const total = rule.rate429 + rule.rate503 + rule.rateTimeout;
      if (total <= 0) continue;
      const r = this.random();
      if (r < rule.rate429) return { kind: "429", retryAfterSeconds: rule.retryAfterSeconds };
      if (r < rule.rate429 + rule.rate503) return { kind: "503", retryAfterSeconds: rule.retryAfterSeconds };
      if (r < total) return { kind: "timeout", hangMs: rule.hangMs };
    }
    return { kind: "none" };
  }
}

import type { FaultRule, ServiceName } from "./settings.js";
import type { SimResponse } from "./http/types.js";
import { createPrng } from "./state/ids.js";

export type FaultDecision =
  | { kind: "none" }
  | { kind: "429"; retryAfterSeconds: number }
  | { kind: "503"; retryAfterSeconds: number }
  | { kind: "500" }
  | { kind: "malformed" }
  | { kind: "timeout"; hangMs: number };

/** An answer of 200 whose body is not the contract's shape (what a client must not take for data). */
export function malformedAnswer(): SimResponse {
  return { status: 200, json: { unexpected: "An answer of an unexpected shape (injected fault)." } };
}

const DEFAULT_SERVICES: readonly ServiceName[] = ["graph", "dataverse", "bap"];

/**
 * Seeded fault injection: each request that a rule covers draws one number from the PRNG, so a
 * given seed and sequence of requests always produces the same faults. Rules with `inBatch` cover
 * the operations inside a Dataverse $batch instead (decideInBatch), each operation drawing on its
 * own; a rule with a `count` stops covering anything once it has produced that many faults.
 */
export class FaultInjector {
  private random: () => number;
  private compiled: Array<{ rule: FaultRule; pattern: RegExp | null; faults: number }> = [];

  constructor(rules: FaultRule[], seed: number) {
    this.random = createPrng(seed);
    this.configure(rules, seed);
  }

  configure(rules: FaultRule[], seed: number): void {
    this.random = createPrng(seed);
    this.compiled = rules.map((rule) => ({ rule, pattern: rule.pathPattern ? new RegExp(rule.pathPattern) : null, faults: 0 }));
  }

  /** A whole request (rules without inBatch). */
  decide(service: ServiceName, path: string): FaultDecision {
    return this.pick(service, path, false);
  }

  /** One operation inside a $batch (rules with inBatch): never a timeout - a part cannot hang on its own. */
  decideInBatch(service: ServiceName, path: string): Exclude<FaultDecision, { kind: "timeout" }> {
    const decision = this.pick(service, path, true);
    return decision.kind === "timeout" ? { kind: "none" } : decision;
  }

  private pick(service: ServiceName, path: string, inBatch: boolean): FaultDecision {
    for (const entry of this.compiled) {
      const { rule, pattern } = entry;
      if (rule.inBatch !== inBatch) continue;
      if (!(rule.services ?? DEFAULT_SERVICES).includes(service)) continue;
      if (pattern && !pattern.test(path)) continue;
      if (rule.count !== undefined && entry.faults >= rule.count) continue;
      const rateTimeout = inBatch ? 0 : rule.rateTimeout;
      const shares: Array<[number, FaultDecision]> = [
        [rule.rate429, { kind: "429", retryAfterSeconds: rule.retryAfterSeconds }],
        [rule.rate503, { kind: "503", retryAfterSeconds: rule.retryAfterSeconds }],
        [rule.rate500, { kind: "500" }],
        [rule.rateMalformed, { kind: "malformed" }],
        [rateTimeout, { kind: "timeout", hangMs: rule.hangMs }],
      ];
      if (shares.every(([share]) => share <= 0)) continue;
      const r = this.random();
      let decision: FaultDecision | null = null;
      let upTo = 0;
      for (const [share, candidate] of shares) {
        upTo += share;
        if (r < upTo) {
          decision = candidate;
          break;
        }
      }
      if (decision) {
        entry.faults++;
        return decision;
      }
    }
    return { kind: "none" };
  }
}

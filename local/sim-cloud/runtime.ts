import { Counters } from "./counters.js";
import { FaultInjector } from "./faults.js";
import { KeyedWindows } from "./rate-limit.js";
import { applySettingsPatch, type SimSettings } from "./settings.js";
import type { TenantState } from "./state/tenant-state.js";

export interface SimUrls {
  /** https://127.0.0.1:<port> */
  origin: string;
  /** https://127.0.0.1:<port>/graph (the Graph client's baseUrl) */
  graph: string;
  /** https://127.0.0.1:<port>/bap */
  bap: string;
  /** https://127.0.0.1:<port>/login */
  authorityHost: string;
  dataverse(environmentId: string): string;
}

class Limiters {
  graphUnits: KeyedWindows;
  graphWrites: KeyedWindows;
  dataverseRequests: KeyedWindows;
  dataverseExecution: KeyedWindows;
  dataverseInFlight = new Map<string, number>();
  bapRequests: KeyedWindows;

  constructor(s: SimSettings) {
    this.graphUnits = new KeyedWindows(s.rateLimits.graph.windowSeconds);
    this.graphWrites = new KeyedWindows(s.rateLimits.graph.writeWindowSeconds);
    this.dataverseRequests = new KeyedWindows(s.rateLimits.dataverse.windowSeconds);
    this.dataverseExecution = new KeyedWindows(s.rateLimits.dataverse.windowSeconds);
    this.bapRequests = new KeyedWindows(s.rateLimits.bap.windowSeconds);
  }
}

/** Shared mutable runtime of one simulated cloud: state, settings, fault injection, limits, counters. */
export class SimRuntime {
  readonly counters = new Counters();
  readonly faults: FaultInjector;
  limiters: Limiters;

  constructor(
    public state: TenantState,
    public settings: SimSettings,
    readonly urls: SimUrls,
    readonly now: () => number,
  ) {
    this.faults = new FaultInjector(settings.faults, settings.seed);
    this.limiters = new Limiters(settings);
  }

  /** Applies a settings patch; fault injection restarts from the (possibly new) seed, limit windows restart. */
  updateSettings(patch: unknown): SimSettings {
    this.settings = applySettingsPatch(this.settings, patch);
    this.faults.configure(this.settings.faults, this.settings.seed);
    this.limiters = new Limiters(this.settings);
    return this.settings;
  }

  resetLimits(): void {
    this.limiters = new Limiters(this.settings);
    this.faults.configure(this.settings.faults, this.settings.seed);
  }

  /** Resource units per window for Graph by tenant size (facts.md), unless configured. */
  graphUnitsPerWindow(): number {
    const configured = this.settings.rateLimits.graph.unitsPerWindow;
    if (configured !== null) return configured;
    const users = this.state.directory.users.size;
    return users < 50 ? 3500 : users <= 500 ? 5000 : 8000;
  }
}

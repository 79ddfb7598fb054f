import { existsSync, readFileSync } from "node:fs";

/**
 * Where a process's JavaScript thread spent its time, from a V8 CPU profile (.cpuprofile JSON):
 * self time by component, where time in Node.js internals (sockets, TLS, HTTP parsing, timers)
 * counts for the nearest caller outside them - the SDK or our code that asked for the I/O.
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const COMPONENTS: [string, (url: string) => boolean][] = [
  ["app code (shared/, functions/)", (u) => /\/(shared|functions)\//.test(u) && !u.includes("/node_modules/")],
  ["local Functions host (local/host/)", (u) => u.includes("/local/host/")],
  ["@azure/cosmos", (u) => u.includes("/node_modules/@azure/cosmos/")],
  ["@azure/storage-queue + Azure core", (u) => /\/node_modules\/@azure\/(storage-|core-|abort-|logger)/.test(u) || u.includes("/node_modules/@typespec/")],
  ["@azure/functions", (u) => u.includes("/node_modules/@azure/functions/")],
  ["zod", (u) => u.includes("/node_modules/zod/")],
  ["jose (JWT)", (u) => u.includes("/node_modules/jose/")],
  ["Graph client", (u) => u.includes("/node_modules/@microsoft/")],
  ["tsx loader", (u) => u.includes("/node_modules/tsx/") || u.includes("/node_modules/esbuild/") || u.includes("/node_modules/get-tsconfig/")],
  ["other packages", (u) => u.includes("/node_modules/")],
];
const INTERNAL = "Node.js internals (no caller of ours on the stack)";

function componentOf(url: string): string | undefined {
  if (!url || url.startsWith("node:")) return undefined;
  return COMPONENTS.find(([, test]) => test(url))?.[0] ?? "other";
}

/** Milliseconds of JavaScript-thread time per component (idle excluded). */
export function cpuByComponent(profile: CpuProfile): Map<string, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const attributed = new Map<number, string>();
  const attribute = (id: number): string => {
    const known = attributed.get(id);
    if (known) return known;
    const node = byId.get(id)!;
    const name = node.callFrame.functionName;
    let component: string;
    if (name === "(garbage collector)") component = "garbage collector";
    else if (name === "(program)") component = "V8 / native (program)";
    else {
      component = componentOf(node.callFrame.url) ?? (parent.has(id) ? attribute(parent.get(id)!) : INTERNAL);
    }
    attributed.set(id, component);
    return component;
  };
  const out = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const node = byId.get(id)!;
    if (node.callFrame.functionName === "(idle)") return;
    const c = attribute(id);
    out.set(c, (out.get(c) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  return out;
}

export async function readProfile(file: string, timeoutMs = 30_000): Promise<CpuProfile> {
  const end = Date.now() + timeoutMs;
  while (!existsSync(file)) {
    if (Date.now() > end) throw new Error(`no CPU profile at ${file}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
}

import type { Client } from "@microsoft/microsoft-graph-client";
import type { Container } from "@azure/cosmos";
import { z } from "zod";
import { AppError } from "../errors/app-error.js";
import { mapGraphError } from "../clients/graph.js";
import { createItem, readItem, replaceIfMatch } from "../storage/repository.js";
import type { IngestDeps } from "./ingestion.js";
import { ingestSignInEvent, MAX_EVENT_AGE_MS } from "./ingestion.js";
import { FREE_TRACKING_PLANS } from "../autoclaim/tracking-plans.js";

/**
 * E2 (optional, off unless SIGNIN_POLL_ENABLED): reads Entra sign-in logs (Graph
 * `auditLogs/signIns`, Entra ID P1 and AuditLog.Read.All) and queues a sign-in event for a user
 * seen on a connected app (one with a policy, or with a free tracking plan - L12 whatever the
 * tenant's policies) for the first time that UTC day: the event id `e2-<yyyymmdd>-<user>-<app>`
 * makes every later sign-in of that day, in this poll or a later one, a replay that queues nothing
 * (a day is what the use records keep, L13/L19/A13, and when a removed tracking plan comes back,
 * L12). Entries appear minutes after the sign-in, so each poll reads back `LAG_MS` before the
 * previous one.
 */
export const LAG_MS = 15 * 60_000;
const CHECKPOINT_ID = "signin-poll";

const signInSchema = z.object({
  id: z.string(),
  createdDateTime: z.string(),
  userId: z.string(),
  appId: z.string(),
  status: z.object({ errorCode: z.number().nullish() }).nullish(),
});
const pageSchema = z.object({ value: z.array(z.unknown()), "@odata.nextLink": z.string().nullish() });

interface Checkpoint {
  id: string;
  type: "signin-poll-checkpoint";
  tenantId: string;
  polledAt: string;
}

export interface PollDeps {
  ingest: IngestDeps;
  graph(tenantId: string): Client;
  /** The `autoclaim` container (checkpoint per tenant). */
  state: Container;
  now(): Date;
}

export async function pollSignIns(deps: PollDeps, tenantId: string, connectedApps: ReadonlySet<string>): Promise<{ read: number; queued: number }> {
  const now = deps.now();
  const checkpoint = await readItem<Checkpoint>(deps.state, CHECKPOINT_ID, tenantId);
  const since = new Date(Math.max(Date.parse(checkpoint?.polledAt ?? new Date(now.getTime() - 3600_000).toISOString()) - LAG_MS, now.getTime() - MAX_EVENT_AGE_MS));
  const seen = new Set<string>();
  let read = 0;
  let queued = 0;
  let url: string | undefined = `/auditLogs/signIns?$filter=createdDateTime ge ${since.toISOString()}&$top=1000`;
  const client = deps.graph(tenantId);
  while (url) {
    let page: z.infer<typeof pageSchema>;
    try {
      page = pageSchema.parse(await client.api(url).get());
    } catch (err) {
      throw err instanceof z.ZodError ? new AppError("upstream", "Microsoft Graph answered sign-ins with an unexpected body.", { cause: err }) : mapGraphError(err);
    }
    for (const raw of page.value) {
      const entry = signInSchema.safeParse(raw);
      if (!entry.success) continue;
      read++;
      const s = entry.data;
      const appId = s.appId.toLowerCase();
      const userId = s.userId.toLowerCase();
      const eventId = `e2-${s.createdDateTime.slice(0, 10).replaceAll("-", "")}-${userId}-${appId}`;
      if ((s.status?.errorCode ?? 0) !== 0 || !connectedApps.has(appId) || seen.has(eventId)) continue;
      seen.add(eventId);
      try {
        const result = await ingestSignInEvent(deps.ingest, tenantId, { eventId, userId, appId, trigger: "sign-in", occurredAt: s.createdDateTime }, "E2", {
          id: "sign-in-log",
          kind: "sign-in-log",
        });
        if (!result.replay) queued++;
      } catch (err) {
        // Too old or not a valid event, or the user's event of that day exists (another sign-in:
        // conflict): skip it; anything else (queue down) stops the poll, to resume from the checkpoint.
        if (!(err instanceof AppError && (err.kind === "businessRule" || err.kind === "conflict" || err.kind === "validation"))) throw err;
      }
    }
    url = page["@odata.nextLink"] ?? undefined;
  }
  const next: Checkpoint = { id: CHECKPOINT_ID, type: "signin-poll-checkpoint", tenantId, polledAt: now.toISOString() };
  if (checkpoint) await replaceIfMatch(deps.state, next, checkpoint._etag);
  else await createItem(deps.state, next);
  return { read, queued };
}

export interface PollAllDeps extends PollDeps {
  tenants(): Promise<string[]>;
  /** The apps of the tenant's auto-claim policies. */
  policyApps(tenantId: string): Promise<string[]>;
  log(message: string, err?: unknown): void;
}

/**
 * One poll of every onboarded tenant. The connected apps are the tenant's policies' apps and the
 * apps with a free tracking plan: a tenant without any policy is still polled for those (L12 does
 * not depend on auto-claim). A tenant whose poll fails (no Entra ID P1, consent missing) is logged
 * and the others go on.
 */
export async function pollAllTenants(deps: PollAllDeps): Promise<{ tenantId: string; read: number; queued: number }[]> {
  const results: { tenantId: string; read: number; queued: number }[] = [];
  for (const tenantId of await deps.tenants()) {
    try {
      const apps = new Set([...(await deps.policyApps(tenantId)).map((a) => a.toLowerCase()), ...FREE_TRACKING_PLANS.map((f) => f.appId)]);
      results.push({ tenantId, ...(await pollSignIns(deps, tenantId, apps)) });
    } catch (err) {
      deps.log(`sign-in log poll failed for tenant ${tenantId}`, err);
    }
  }
  return results;
}

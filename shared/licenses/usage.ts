import type { Container } from "@azure/cosmos";
import { z } from "zod";
import { AppError } from "../errors/app-error.js";
import { createItem, patchIf, queryAll, queryPage, readItem } from "../storage/repository.js";

/**
 * The record of first and last use of a product per user (what Graph does not keep), in the
 * `usage` container. The sign-in pipeline writes it (`recordProductUse`, from first-sign-in and
 * first-access events); the active-user report (L13) and the unused-license report (L19, A13) read it.
 */
export const trackedProductSchema = z.enum(["powerApps", "powerAutomate"]);
export type TrackedProduct = z.infer<typeof trackedProductSchema>;

export interface TrackedProductInfo {
  displayName: string;
  /** First-party application ids whose sign-ins count as use of the product. */
  appIds: readonly string[];
  /** Service plan names that license the product. */
  planPattern: RegExp;
}

export const TRACKED_PRODUCTS: Readonly<Record<TrackedProduct, TrackedProductInfo>> = {
  powerApps: { displayName: "Power Apps", appIds: ["a8f7a65c-f5ba-4859-b2d6-df772c264e9d"], planPattern: /^(POWERAPPS|POWER_APPS)/i },
  powerAutomate: {
    displayName: "Power Automate",
    appIds: ["6204c1d1-4712-4c46-a7d9-3ed63d992682"],
    planPattern: /^(FLOW|POWER_AUTOMATE|POWERAUTOMATE)/i,
  },
};

/** The tracked product a sign-in to this application counts as, if any. */
export function productOfApp(appId: string): TrackedProduct | undefined {
  const id = appId.toLowerCase();
  return trackedProductSchema.options.find((p) => TRACKED_PRODUCTS[p].appIds.includes(id));
}

export interface UsageRecord {
  id: string;
  type: "usage";
  tenantId: string;
  userId: string;
  product: TrackedProduct;
  firstAccessAt: string;
  lastAccessAt: string;
}

const usageId = (userId: string, product: TrackedProduct) => `${userId.toLowerCase()}|${product}`;

/** Records a use: creates the record at the first use, moves `lastAccessAt` forward after that (idempotent, order-insensitive). */
export async function recordProductUse(container: Container, use: { tenantId: string; userId: string; product: TrackedProduct; at: Date }): Promise<void> {
  const at = use.at.toISOString();
  const id = usageId(use.userId, use.product);
  for (let attempt = 0; attempt < 5; attempt++) {
    const existing = await readItem<UsageRecord>(container, id, use.tenantId);
    try {
      if (!existing) {
        await createItem<UsageRecord>(container, { id, type: "usage", tenantId: use.tenantId, userId: use.userId.toLowerCase(), product: use.product, firstAccessAt: at, lastAccessAt: at });
        return;
      }
      const ops = [];
      if (at > existing.lastAccessAt) ops.push({ op: "set" as const, path: "/lastAccessAt", value: at });
      if (at < existing.firstAccessAt) ops.push({ op: "set" as const, path: "/firstAccessAt", value: at });
      if (ops.length === 0) return;
      await patchIf(container, id, use.tenantId, ops, { ifMatch: existing._etag });
      return;
    } catch (err) {
      if (err instanceof AppError && (err.kind === "conflict" || err.kind === "preconditionFailed")) continue;
      throw err;
    }
  }
  throw new AppError("unavailable", "The usage record is busy; try again.", { retryAfterSeconds: 1 });
}

export async function usageCount(container: Container, tenantId: string): Promise<number> {
  const [count] = await queryAll<number>(container, {
    query: "SELECT VALUE COUNT(1) FROM c WHERE c.tenantId = @t AND c.type = 'usage'",
    parameters: [{ name: "@t", value: tenantId }],
  }, { partitionKey: tenantId });
  return count ?? 0;
}

/** A page of the tenant's usage records, in user order. */
export async function usagePage(container: Container, tenantId: string, limit: number, continuationToken?: string | null) {
  return queryPage<UsageRecord>(
    container,
    {
      query: "SELECT * FROM c WHERE c.tenantId = @t AND c.type = 'usage' ORDER BY c.id",
      parameters: [{ name: "@t", value: tenantId }],
    },
    { limit, continuationToken: continuationToken ?? null, partitionKey: tenantId },
  );
}

/** The usage records of these users (at most a few hundred ids). */
export async function usageOfUsers(container: Container, tenantId: string, userIds: readonly string[]): Promise<UsageRecord[]> {
  if (userIds.length === 0) return [];
  return queryAll<UsageRecord>(
    container,
    {
      query: "SELECT * FROM c WHERE c.tenantId = @t AND c.type = 'usage' AND ARRAY_CONTAINS(@ids, c.userId)",
      parameters: [{ name: "@t", value: tenantId }, { name: "@ids", value: userIds.map((u) => u.toLowerCase()) }],
    },
    { partitionKey: tenantId, maxItems: userIds.length * trackedProductSchema.options.length },
  );
}

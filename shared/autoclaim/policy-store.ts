import { isDeepStrictEqual } from "node:util";
import { randomUUID } from "node:crypto";
import { ifMatchAccepts, writeMatchingAny } from "../http/conventions.js";
import type { Container } from "@azure/cosmos";
import { AppError } from "../errors/app-error.js";
import { createItem, deleteItem, queryAll, queryPage, readItem, replaceIfMatch, type Page, type Stored } from "../storage/repository.js";
import { policyDocumentSchema, type CreatePolicyBody, type PatchPolicyBody, type PolicyDocument } from "./policy.js";

/**
 * Auto-claim policies (container `policies`, partition key /tenantId). A12: one policy per app,
 * held by an app-lock document `app:<appId>` created before the policy (a 409 on it is the second
 * policy for the app). A lock left behind by a crash between the two writes names a policy that
 * does not exist, and the next create for that app takes it over.
 */
interface AppLock {
  id: string;
  type: "policy-app-lock";
  tenantId: string;
  appId: string;
  policyId: string;
}

/** How long the claim processor may use a policy it read (A10: a change reaches claims within 30 s). */
export const POLICY_CACHE_MS = 10_000;

const lockId = (appId: string) => `app:${appId.toLowerCase()}`;

/** What is left of a deleted policy: its name as it was, for the report of the claims it made (A7). */
interface DeletedPolicy {
  id: string;
  type: "policy-deleted";
  tenantId: string;
  name: string;
  appId: string;
  deletedAt: string;
}

export class PolicyStore {
  private readonly cache = new Map<string, { at: number; policy: PolicyDocument | undefined }>();
  private readonly reading = new Map<string, Promise<PolicyDocument | undefined>>();

  constructor(
    private readonly container: Container,
    private readonly now: () => Date = () => new Date(),
    private readonly cacheMs = POLICY_CACHE_MS,
  ) {}

  async create(tenantId: string, body: CreatePolicyBody, by: string): Promise<Stored<PolicyDocument>> {
    const at = this.now().toISOString();
    const policy: PolicyDocument = {
      id: randomUUID(),
      type: "policy",
      tenantId,
      name: body.name,
      appId: body.appId,
      products: body.products.map((p) => ({ skuId: p.skuId, disabledPlans: [...p.disabledPlans] })),
      enabled: body.enabled,
      createdAt: at,
      createdBy: by,
      updatedAt: at,
      updatedBy: by,
    };
    await this.takeAppLock(tenantId, body.appId, policy.id);
    try {
      const stored = await createItem(this.container, policy);
      this.forget(tenantId, body.appId);
      return stored;
    } catch (err) {
      await deleteItem(this.container, lockId(body.appId), tenantId).catch(() => undefined);
      throw err;
    }
  }

  async get(tenantId: string, policyId: string): Promise<Stored<PolicyDocument>> {
    const doc = await readItem<PolicyDocument>(this.container, policyId, tenantId);
    if (!doc || doc.type !== "policy") throw new AppError("notFound", "The auto-claim policy was not found.", { code: "policy-not-found" });
    return doc;
  }

  async list(tenantId: string, limit: number, continuationToken: string | undefined): Promise<Page<Stored<PolicyDocument>>> {
    return queryPage<Stored<PolicyDocument>>(
      this.container,
      {
        query: "SELECT * FROM c WHERE c.tenantId = @t AND c.type = 'policy' ORDER BY c.createdAt",
        parameters: [{ name: "@t", value: tenantId }],
      },
      { limit, continuationToken: continuationToken ?? null, partitionKey: tenantId },
    );
  }

  /** Every policy of the tenant (a handful; for the report and the maintenance timer). */
  async all(tenantId: string): Promise<PolicyDocument[]> {
    return queryAll<PolicyDocument>(
      this.container,
      { query: "SELECT * FROM c WHERE c.tenantId = @t AND c.type = 'policy'", parameters: [{ name: "@t", value: tenantId }] },
      { partitionKey: tenantId, maxItems: 1000 },
    );
  }

  /** The names these deleted policies had when they were deleted, by policy id (A7). */
  async deletedNames(tenantId: string, policyIds: readonly string[]): Promise<Map<string, string>> {
    if (!policyIds.length) return new Map();
    const gone = await queryAll<DeletedPolicy>(
      this.container,
      {
        query: "SELECT c.id, c.name FROM c WHERE c.tenantId = @t AND c.type = 'policy-deleted' AND ARRAY_CONTAINS(@ids, c.id)",
        parameters: [{ name: "@t", value: tenantId }, { name: "@ids", value: [...policyIds] }],
      },
      { partitionKey: tenantId, maxItems: policyIds.length },
    );
    return new Map(gone.map((p) => [p.id, p.name]));
  }

  /**
   * A4-A6: merge patch with If-Match (412 when stale; `*`: on whatever is stored). Removing a product
   * takes no license away. `changed` false: the patch changes nothing, and nothing is written (the
   * ETag and `updatedAt` stay).
   */
  update(tenantId: string, policyId: string, patch: PatchPolicyBody, ifMatch: string, by: string): Promise<{ before: PolicyDocument; after: Stored<PolicyDocument>; changed: boolean }> {
    return writeMatchingAny(ifMatch, () => this.updateOnce(tenantId, policyId, patch, ifMatch, by));
  }

  private async updateOnce(tenantId: string, policyId: string, patch: PatchPolicyBody, ifMatch: string, by: string): Promise<{ before: PolicyDocument; after: Stored<PolicyDocument>; changed: boolean }> {
    const current = await this.get(tenantId, policyId);
    if (!ifMatchAccepts(ifMatch, current._etag)) throw stale();
    const was = strip(current);
    const changes = {
      ...(patch.name !== undefined ? { name: patch.name } : {}),
      ...(patch.enabled !== undefined ? { enabled: patch.enabled } : {}),
      ...(patch.products !== undefined ? { products: patch.products.map((p) => ({ skuId: p.skuId, disabledPlans: [...p.disabledPlans] })) } : {}),
    };
    if (isDeepStrictEqual({ ...was, ...changes }, was)) return { before: was, after: current, changed: false };
    const next: PolicyDocument = { ...was, ...changes, updatedAt: this.now().toISOString(), updatedBy: by };
    const after = await replaceIfMatch(this.container, next, current._etag).catch((err: unknown) => {
      throw err instanceof AppError && err.kind === "preconditionFailed" ? stale() : err;
    });
    this.forget(tenantId, current.appId);
    return { before: was, after, changed: true };
  }

  /**
   * Deleting a policy takes no license away; its claims stay in the report, under the name the
   * policy had when it was deleted (the document is replaced by that tombstone, in one conditional write).
   */
  delete(tenantId: string, policyId: string, ifMatch: string): Promise<PolicyDocument> {
    return writeMatchingAny(ifMatch, () => this.deleteOnce(tenantId, policyId, ifMatch));
  }

  private async deleteOnce(tenantId: string, policyId: string, ifMatch: string): Promise<PolicyDocument> {
    const current = await this.get(tenantId, policyId);
    if (!ifMatchAccepts(ifMatch, current._etag)) throw stale();
    const tombstone: DeletedPolicy = { id: policyId, type: "policy-deleted", tenantId, name: current.name, appId: current.appId, deletedAt: this.now().toISOString() };
    try {
      await replaceIfMatch(this.container, tombstone, current._etag);
    } catch (err) {
      throw err instanceof AppError && err.kind === "preconditionFailed" ? stale() : err;
    }
    const lock = await readItem<AppLock>(this.container, lockId(current.appId), tenantId);
    if (lock?.policyId === policyId) await deleteItem(this.container, lock.id, tenantId, { ifMatch: lock._etag }).catch(() => undefined);
    this.forget(tenantId, current.appId);
    return strip(current);
  }

  /**
   * The policy of an app, for the claim processor: at most `cacheMs` old (writes through this
   * store are seen at once by this process; other instances see them within the cache time).
   */
  async forApp(tenantId: string, appId: string): Promise<PolicyDocument | undefined> {
    const key = `${tenantId}|${appId.toLowerCase()}`;
    const hit = this.cache.get(key);
    if (hit && Date.now() - hit.at < this.cacheMs) return hit.policy;
    // Concurrent claims share one read when the cached value runs out.
    let reading = this.reading.get(key);
    if (!reading) {
      reading = this.read(tenantId, appId)
        .then((policy) => {
          this.cache.set(key, { at: Date.now(), policy });
          return policy;
        })
        .finally(() => this.reading.delete(key));
      this.reading.set(key, reading);
    }
    return reading;
  }

  private async read(tenantId: string, appId: string): Promise<PolicyDocument | undefined> {
    const lock = await readItem<AppLock>(this.container, lockId(appId), tenantId);
    const doc = lock ? await readItem<PolicyDocument | DeletedPolicy>(this.container, lock.policyId, tenantId) : undefined;
    // A lock still naming a deleted policy (its tombstone): the app has no policy.
    return doc?.type === "policy" ? policyDocumentSchema.parse(strip(doc)) : undefined;
  }

  private forget(tenantId: string, appId: string): void {
    this.cache.delete(`${tenantId}|${appId.toLowerCase()}`);
  }

  private async takeAppLock(tenantId: string, appId: string, policyId: string): Promise<void> {
    const lock: AppLock = { id: lockId(appId), type: "policy-app-lock", tenantId, appId: appId.toLowerCase(), policyId };
    // A delete of the app's policy may remove the lock between these steps: then try again (a few times).
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await createItem(this.container, lock);
        return;
      } catch (err) {
        if (!(err instanceof AppError && err.kind === "conflict")) throw err;
      }
      const existing = await readItem<AppLock>(this.container, lock.id, tenantId);
      if (!existing) continue; // removed meanwhile
      const owner = await readItem<PolicyDocument | DeletedPolicy>(this.container, existing.policyId, tenantId);
      if (owner?.type === "policy") throw policyExists(appId, existing.policyId);
      // The lock outlived its policy (a crash between the two writes, or a deleted policy's lock left behind): take it over.
      try {
        await replaceIfMatch(this.container, lock, existing._etag);
        return;
      } catch (err) {
        if (err instanceof AppError && err.kind === "notFound") continue; // removed meanwhile
        throw err instanceof AppError && err.kind === "preconditionFailed" ? policyExists(appId, undefined) : err;
      }
    }
    throw policyExists(appId, undefined);
  }
}

function policyExists(appId: string, policyId: string | undefined): AppError {
  return new AppError("conflict", `The app ${appId} already has an auto-claim policy (one policy per app); change that policy instead.`, {
    code: "policy-exists-for-app",
    extensions: { appId, ...(policyId ? { policyId } : {}) },
  });
}

function stale(): AppError {
  return new AppError("preconditionFailed", "The policy changed since you read it; read it again and retry with the new ETag.");
}

/** The document without Cosmos system properties. */
export function strip<T extends object>(doc: T): T {
  const copy = { ...doc } as Record<string, unknown>;
  for (const k of Object.keys(copy)) if (k.startsWith("_")) delete copy[k];
  return copy as T;
}

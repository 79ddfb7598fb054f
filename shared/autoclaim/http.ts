import type { HttpResponseInit } from "@azure/functions";
import type { Principal } from "../auth/token-validator.js";
import { decodeCursor, encodeCursor, requireIfMatch, type ListQuery } from "../http/conventions.js";
import { autoClaim } from "./composition.js";
import { createPolicy, deletePolicy, getPolicy, listPolicies, patchPolicy, type PolicyDeps } from "./policies.js";
import type { CreatePolicyBody, PatchPolicyBody } from "./policy.js";
import { buildReport } from "./report.js";

/** HTTP shapes of the auto-claim use-cases (the function files only wire these). */
type Headers = { get(name: string): string | null };

async function policyDeps(): Promise<PolicyDeps> {
  const ac = await autoClaim();
  return { policies: ac.policies, catalog: ac.licensing.catalog, audit: ac.runtime.audit };
}

const location = (tenantId: string, policyId: string) => `/api/tenants/${tenantId}/auto-claim-policies/${policyId}`;

export async function listPoliciesResponse(tenantId: string, query: ListQuery): Promise<HttpResponseInit> {
  const position = decodeCursor(query.cursor, tenantId, "auto-claim-policies");
  const page = await listPolicies(await policyDeps(), tenantId, query.limit, position);
  return {
    status: 200,
    jsonBody: { items: page.items, nextCursor: page.continuationToken ? encodeCursor(tenantId, "auto-claim-policies", page.continuationToken) : null },
  };
}

export async function createPolicyResponse(tenantId: string, body: CreatePolicyBody, by: Principal): Promise<HttpResponseInit> {
  const { view, etag } = await createPolicy(await policyDeps(), tenantId, body, by);
  return { status: 201, headers: { ETag: etag, Location: location(tenantId, view.id) }, jsonBody: view };
}

export async function getPolicyResponse(tenantId: string, policyId: string): Promise<HttpResponseInit> {
  const { view, etag } = await getPolicy(await policyDeps(), tenantId, policyId);
  return { status: 200, headers: { ETag: etag }, jsonBody: view };
}

export async function patchPolicyResponse(tenantId: string, policyId: string, body: PatchPolicyBody, headers: Headers, by: Principal): Promise<HttpResponseInit> {
  const ifMatch = requireIfMatch(headers);
  const { view, etag } = await patchPolicy(await policyDeps(), tenantId, policyId, body, ifMatch, by);
  return { status: 200, headers: { ETag: etag }, jsonBody: view };
}

export async function deletePolicyResponse(tenantId: string, policyId: string, headers: Headers, by: Principal): Promise<HttpResponseInit> {
  const ifMatch = requireIfMatch(headers);
  await deletePolicy(await policyDeps(), tenantId, policyId, ifMatch, by);
  return { status: 204 };
}

export async function reportResponse(tenantId: string, days: number): Promise<HttpResponseInit> {
  const ac = await autoClaim();
  const report = await buildReport(
    { policies: ac.policies, claims: ac.claims, events: ac.events, catalog: ac.licensing.catalog, failures: ac.runtime.failures },
    tenantId,
    days,
    new Date(),
  );
  return { status: 200, jsonBody: report };
}

import type { Container } from "@azure/cosmos";
import { describe, expect, it } from "vitest";
import { API_ENDPOINTS } from "../../../shared/api-catalog.js";
import { PolicyStore } from "../../../shared/autoclaim/policy-store.js";
import { createPolicyBodySchema } from "../../../shared/autoclaim/policy.js";
import { zodIssuesToFieldErrors } from "../../../shared/http/problem.js";
import { buildOpenApiDocument } from "../../../shared/platform/openapi.js";

/**
 * A (as in the Microsoft 365 admin center, where an admin picks the app from a list): a policy
 * names one of the apps auto-claim serves, and the OpenAPI document declares them as an enum
 * (conventions: enumerations are enums). Dataverse is not one: it is the resource of first-access
 * events, not an app whose users claim a license. Sign-in events still come for any app.
 */
const POWER_APPS = "a8f7a65c-f5ba-4859-b2d6-df772c264e9d";
const POWER_AUTOMATE = "6204c1d1-4712-4c46-a7d9-3ed63d992682";
const POWER_BI = "871c010f-5e61-4fb1-83ac-98610a7e9110";
const DATAVERSE = "00000007-0000-0000-c000-000000000000";
const MESSAGE = `must be one of the apps auto-claim serves: Power Apps ${POWER_APPS}, Power Automate ${POWER_AUTOMATE}, Power BI ${POWER_BI}`;

const body = (appId: unknown) => ({ name: "P", appId, products: [{ skuId: "b30411f5-fea1-4a59-9ad9-3db7c7ead579" }] });

/** A container with creates and point reads, over a map. */
function fakeContainer(docs: Map<string, Record<string, unknown>>): Container {
  return {
    id: "policies",
    items: {
      create: (doc: Record<string, unknown>) => {
        const stored = { ...doc, _etag: "e", _ts: 1 };
        docs.set(String(doc.id), stored);
        return Promise.resolve({ resource: stored, statusCode: 201 });
      },
    },
    item: (id: string) => ({
      read: () => Promise.resolve(docs.has(id) ? { resource: docs.get(id), statusCode: 200 } : { resource: undefined, statusCode: 404 }),
    }),
  } as unknown as Container;
}

describe("the app of an auto-claim policy", () => {
  it("when the app is not one auto-claim serves (another app, Dataverse, not a GUID, missing), then the body is refused at appId with the apps it serves", () => {
    for (const appId of ["22222222-2222-4222-8222-222222222222", DATAVERSE, "not-a-guid", undefined]) {
      const result = createPolicyBodySchema.safeParse(body(appId));
      expect(result.success, String(appId)).toBe(false);
      expect(zodIssuesToFieldErrors(result.error!, "body")).toEqual([{ path: "body.appId", message: MESSAGE }]);
    }
  });

  it("when a served app's id comes in upper case, then it is accepted and stored in lower case (the app lock too), and the claim processor finds the policy", async () => {
    const parsed = createPolicyBodySchema.parse(body(POWER_BI.toUpperCase()));
    expect(parsed.appId).toBe(POWER_BI);
    const docs = new Map<string, Record<string, unknown>>();
    const store = new PolicyStore(fakeContainer(docs), () => new Date("2026-12-06T12:00:00Z"), 0);
    const created = await store.create("t", parsed, "admin");
    expect(docs.get(created.id)).toMatchObject({ type: "policy", appId: POWER_BI });
    expect(docs.get(`app:${POWER_BI}`)).toMatchObject({ appId: POWER_BI, policyId: created.id });
    expect((await store.forApp("t", POWER_BI.toUpperCase()))?.id).toBe(created.id);
    for (const appId of [POWER_APPS, POWER_AUTOMATE.toUpperCase()]) expect(createPolicyBodySchema.parse(body(appId)).appId).toBe(appId.toLowerCase());
  });

  it("when the OpenAPI document is generated, then the create-policy body and the policy views declare appId as an enum of the three apps; sign-in events take any app", () => {
    const doc = buildOpenApiDocument(API_ENDPOINTS, { title: "test", version: "0" }) as unknown as {
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: JsonSchema }> }; responses: Record<string, { content?: Record<string, { schema: JsonSchema }> }> }>>;
    };
    type JsonSchema = { properties?: Record<string, JsonSchema>; items?: JsonSchema; enum?: string[]; type?: string };
    const policies = doc.paths["/api/tenants/{tenantId}/auto-claim-policies"]!;
    const requestAppId = policies.post!.requestBody!.content["application/json"]!.schema.properties!.appId!;
    expect(requestAppId.enum).toEqual([POWER_APPS, POWER_AUTOMATE, POWER_BI]);
    expect(requestAppId.type).toBe("string");

    const created = policies.post!.responses["201"]!.content!["application/json"]!.schema;
    expect(created.properties!.appId!.enum).toEqual([POWER_APPS, POWER_AUTOMATE, POWER_BI]);
    const listed = policies.get!.responses["200"]!.content!["application/json"]!.schema;
    expect(listed.properties!.items!.items!.properties!.appId!.enum).toEqual([POWER_APPS, POWER_AUTOMATE, POWER_BI]);

    const event = doc.paths["/api/tenants/{tenantId}/sign-in-events"]!.post!.requestBody!.content["application/json"]!.schema;
    expect(event.properties!.appId!.enum).toBeUndefined();
  });
});

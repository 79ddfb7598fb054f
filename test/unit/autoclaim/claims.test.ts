import type { Container } from "@azure/cosmos";
import { describe, expect, it } from "vitest";
import { ClaimStore, type ClaimDocument } from "../../../shared/autoclaim/claims.js";

const doc: ClaimDocument = {
  id: "claim:app:user", type: "claim", tenantId: "t", appId: "app", userId: "user", status: "pending", eventId: "e1", trigger: "sign-in",
  source: "E3", caller: { id: "relay", kind: "relay" }, policyId: "p", policyName: "P", skuId: "sku", shard: 3,
  createdAt: "2026-12-06T00:00:00.000Z", expiresAt: "2026-12-06T00:10:00.000Z",
};
const store = new ClaimStore({} as Container);

describe("the claim a transactional batch wrote (A10)", () => {
  it("when the batch answers the stored item, then that is the claim, with its ETag", () => {
    const stored = { ...doc, _etag: "\"stored\"", _ts: 1 };
    expect(store.written(doc, { resource: stored, etag: "\"stored\"" })).toBe(stored);
  });

  it("when the batch answers only an ETag (no content on write), then the claim is the document with that ETag", () => {
    expect(store.written(doc, { resource: undefined, etag: "\"e\"" })).toMatchObject({ ...doc, _etag: "\"e\"" });
  });

  it("when it answers neither, then it fails: a claim without its ETag could not be removed safely if Graph refuses", () => {
    expect(() => store.written(doc, { resource: undefined, etag: undefined })).toThrow(/ETag/);
  });

  it("when the operations are built, then the create is a plain create and the takeover is conditional on the ETag read", () => {
    expect(store.createOperation(doc)).toEqual({ operationType: "Create", resourceBody: doc });
    expect(store.replaceOperation(doc, "\"old\"")).toEqual({ operationType: "Replace", id: doc.id, ifMatch: "\"old\"", resourceBody: doc });
  });
});

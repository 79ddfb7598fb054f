import { describe, expect, it } from "vitest";
import { MAPPED_FIELDS, NEVER_SYNCED_FIELDS, profilePatch } from "../../../shared/sync/fields.js";
import { applyStagedUser } from "../../../shared/sync/snapshot.js";
import { rowFor, user } from "./fixtures.js";

const unlocked = { internalEmailLocked: false };

describe("D6 field mapping", () => {
  it("when the record matches Entra, then nothing is written", () => {
    const u = user();
    expect(profilePatch(rowFor(u), u, unlocked)).toEqual({ patch: {}, lockInternalEmail: false });
  });

  it("when the user principal name changes, then domainname follows it", () => {
    const u = user();
    const row = rowFor(u);
    expect(profilePatch(row, { ...u, upn: "renamed@contoso.example" }, unlocked).patch).toEqual({ domainname: "renamed@contoso.example" });
  });

  it.each([
    ["jobTitle", "title"],
    ["givenName", "firstname"],
    ["surname", "lastname"],
    ["mobilePhone", "mobilephone"],
    ["businessPhone", "address1_telephone1"],
    ["streetAddress", "address1_line1"],
    ["city", "address1_city"],
    ["state", "address1_stateorprovince"],
    ["country", "address1_country"],
  ] as const)("when %s changes in Entra, then only %s is written", (property, column) => {
    const u = user();
    expect(profilePatch(rowFor(u), { ...u, [property]: "changed" }, unlocked).patch).toEqual({ [column]: "changed" });
  });

  it("when a user comes from a snapshot stored before the street address was read, then address1_line1 is neither compared nor written", () => {
    const u = user();
    const legacy = { ...u, streetAddress: undefined } as unknown as typeof u;
    expect(Object.keys(profilePatch(rowFor(u, { address1_line1: "17 Main Street" }), legacy, unlocked).patch)).toEqual([]);
  });

  it("when the display name changes, then the full name is not updated by the sync", () => {
    const u = user();
    const decision = profilePatch(rowFor(u), { ...u, displayName: "Alexandra Smit-Jansen" }, unlocked);
    expect(decision.patch).toEqual({});
    expect(Object.keys(MAPPED_FIELDS)).not.toContain("fullname");
    expect(NEVER_SYNCED_FIELDS).toContain("fullname");
  });

  it("when the mail changes, then the internal email follows it and no other email column is written (primary email is never updated)", () => {
    const before = user();
    const after = applyStagedUser(before, { id: before.id, mail: "new.address@contoso.example" });
    const patch = profilePatch(rowFor(before), after, unlocked).patch;
    expect(patch).toEqual({ internalemailaddress: "new.address@contoso.example" });
    for (const column of NEVER_SYNCED_FIELDS) expect(patch).not.toHaveProperty(column);
  });

  it("when someone changed the internal email in Dataverse, then the sync does not write it and locks it", () => {
    const before = user();
    const after = applyStagedUser(before, { id: before.id, mail: "new.address@contoso.example" });
    const edited = rowFor(before, { internalemailaddress: "typed.by.an.admin@contoso.example" });
    expect(profilePatch(edited, after, unlocked)).toEqual({ patch: {}, lockInternalEmail: true });
  });

  it("when a user without mail is renamed (UPN change), then the internal email follows the new UPN and is not locked", () => {
    const before = user({ mail: null, upn: "old.name@contoso.example" });
    const after = applyStagedUser(before, { id: before.id, upn: "new.name@contoso.example" });
    expect(profilePatch(rowFor(before), after, unlocked)).toEqual({
      patch: { domainname: "new.name@contoso.example", internalemailaddress: "new.name@contoso.example" },
      lockInternalEmail: false,
    });
    // Renamed twice before the record was updated: both former names are the sync's own.
    const again = applyStagedUser(after, { id: before.id, upn: "newest.name@contoso.example" });
    expect(profilePatch(rowFor(before), again, unlocked).patch.internalemailaddress).toBe("newest.name@contoso.example");
  });

  it("when a user without mail is renamed but someone changed the internal email in Dataverse, then it is still locked", () => {
    const before = user({ mail: null, upn: "old.name@contoso.example" });
    const after = applyStagedUser(before, { id: before.id, upn: "new.name@contoso.example" });
    const edited = rowFor(before, { internalemailaddress: "typed.by.an.admin@contoso.example" });
    expect(profilePatch(edited, after, unlocked)).toEqual({ patch: { domainname: "new.name@contoso.example" }, lockInternalEmail: true });
  });

  it("when the internal email is locked, then it is never written again, even when the value looks like one the sync wrote", () => {
    const before = user();
    const after = applyStagedUser(before, { id: before.id, mail: "newest@contoso.example" });
    const row = rowFor(before);
    expect(profilePatch(row, after, { internalEmailLocked: true }).patch).toEqual({});
    expect(profilePatch(row, after, unlocked).patch).toEqual({ internalemailaddress: "newest@contoso.example" });
  });
});

import { describe, expect, it } from "vitest";
import { z } from "zod";
import { objectIdSchema } from "../../../shared/http/conventions.js";

const messageFor = (value: unknown) => z.object({ userId: objectIdSchema }).safeParse(value === undefined ? {} : { userId: value }).error?.issues[0]?.message;

describe("objectIdSchema", () => {
  it("when the value is a UPN, then the message says a UPN is not an id; other wrong values are not called UPNs; a missing one is required", () => {
    expect(messageFor("someone@contoso.com")).toBe("must be an Entra object id (GUID), not a user principal name");
    expect(messageFor(12345)).toBe("must be an Entra object id (GUID)");
    expect(messageFor("12345")).toBe("must be an Entra object id (GUID)");
    expect(messageFor(undefined)).toBe("is required: an Entra object id (GUID)");
    expect(messageFor("0F8B6F2E-1C2D-4E5F-8A9B-0C1D2E3F4A5B")).toBeUndefined();
  });
});

import type { AccessToken, TokenCredential } from "@azure/identity";
import { describe, expect, it } from "vitest";
import { reusedToken, reusedTokenProvider } from "../../../shared/clients/credentials.js";

/** A credential that counts how often it is asked, and hands out tokens expiring in `lifetimeMs`. */
function countingCredential(lifetimeMs: number) {
  const asked: string[] = [];
  const credential: TokenCredential = {
    getToken: (scopes) => {
      asked.push(String(scopes));
      return Promise.resolve<AccessToken>({ token: `t${asked.length}`, expiresOnTimestamp: Date.now() + lifetimeMs });
    },
  };
  return { credential, asked };
}

describe("tokens reused across requests", () => {
  it("when a token is valid for more than 5 minutes, then the credential is asked once per scope", async () => {
    const { credential, asked } = countingCredential(3600_000);
    const graph = reusedTokenProvider(credential, "https://graph.microsoft.com/.default");
    expect(await graph.getAccessToken()).toBe("t1");
    expect(await graph.getAccessToken()).toBe("t1");
    expect((await reusedToken(credential, "https://service.powerapps.com/.default"))?.token).toBe("t2");
    expect(asked).toHaveLength(2);
  });

  it("when the token expires within 5 minutes, then a new one is asked for", async () => {
    const { credential, asked } = countingCredential(299_000);
    await reusedToken(credential, "s");
    await reusedToken(credential, "s");
    expect(asked).toHaveLength(2);
  });

  it("when a request carries claims (a CAE challenge), then the credential is asked and nothing is reused for it", async () => {
    const { credential, asked } = countingCredential(3600_000);
    await reusedToken(credential, "s");
    await reusedToken(credential, "s", { claims: "eyJhY2Nlc3NfdG9rZW4iOnt9fQ" });
    expect(asked).toHaveLength(2);
  });

  it("when the credential gives no token, then Graph's provider fails as unavailable (retried later), not with a token of undefined", async () => {
    const credential: TokenCredential = { getToken: () => Promise.resolve(null) };
    await expect(reusedTokenProvider(credential, "s").getAccessToken()).rejects.toMatchObject({ kind: "unavailable", transient: true });
  });
});

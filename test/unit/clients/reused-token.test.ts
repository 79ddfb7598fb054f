import { AuthenticationError, type AccessToken, type TokenCredential } from "@azure/identity";
import { describe, expect, it } from "vitest";
import { reusedToken, reusedTokenProvider, TokenRefusedError } from "../../../shared/clients/credentials.js";
import { createGraphClient, mapGraphError } from "../../../shared/clients/graph.js";
import { AppError } from "../../../shared/errors/app-error.js";

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

describe("a token Microsoft Entra ID refuses", () => {
  const refusing = (status: number, error: string): TokenCredential => ({
    getToken: () => Promise.reject(new AuthenticationError(status, { error, error_description: `AADSTS700016: Application was not found in the directory.` })),
  });

  it("when Entra refuses the app (4xx: not consented, not found), then the Graph call fails as 502 token-refused, not as an outage to retry", async () => {
    const client = createGraphClient({ credential: refusing(400, "unauthorized_client"), baseUrl: "https://127.0.0.1:1/v1.0" });
    const err = await client.api("/users").get().then(() => undefined, (e: unknown) => mapGraphError(e));
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ kind: "upstream", code: "token-refused" });
    expect(err?.message).toMatch(/unauthorized_client.*consented/);
  });

  it("when Entra is throttling (429) or down (5xx), then it stays a retryable outage", async () => {
    for (const status of [429, 503]) {
      await expect(reusedToken(refusing(status, "temporarily_unavailable"), "s")).rejects.not.toBeInstanceOf(TokenRefusedError);
    }
    await expect(reusedToken(refusing(401, "invalid_client"), "s")).rejects.toBeInstanceOf(TokenRefusedError);
  });
});

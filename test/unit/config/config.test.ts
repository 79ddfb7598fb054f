import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../../shared/config/config.js";

const valid = {
  COSMOS_ENDPOINT: "https://acct.documents.azure.com:443/",
  AUTH_AUDIENCES: "api://license-control-plane, 11111111-1111-1111-1111-111111111111",
  EventQueueStorage: "UseDevelopmentStorage=true",
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    parseConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.map((p) => p.key);
  }
  return [];
}

describe("configuration", () => {
  it("when every required setting is valid, then it parses with defaults applied", () => {
    const c = parseConfig(valid);
    expect(c.APP_ENV).toBe("azure");
    expect(c.ENTRA_AUTHORITY_HOST).toBe("https://login.microsoftonline.com");
    expect(c.AUTH_AUDIENCES).toEqual(["api://license-control-plane", "11111111-1111-1111-1111-111111111111"]);
    expect(c.COSMOS_ENDPOINT).toBe("https://acct.documents.azure.com:443");
    expect(c.QUEUE_MAX_ATTEMPTS).toBe(8);
  });

  it("when several settings are missing or malformed, then the error names each key and what it expects", () => {
    let error: ConfigError | undefined;
    try {
      parseConfig({ COSMOS_ENDPOINT: "not a url", QUEUE_MAX_ATTEMPTS: "zero" });
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const keys = error!.problems.map((p) => p.key);
    expect(keys).toEqual(expect.arrayContaining(["COSMOS_ENDPOINT", "AUTH_AUDIENCES", "QUEUE_MAX_ATTEMPTS"]));
    expect(error!.message).toContain("AUTH_AUDIENCES: is required but not set");
  });

  it("when a loopback authority is configured outside local mode, then it is refused", () => {
    expect(problemsOf({ ...valid, ENTRA_AUTHORITY_HOST: "https://127.0.0.1:8443/login" })).toContain("ENTRA_AUTHORITY_HOST");
  });

  it("when a loopback authority is configured in local mode on a developer machine, then it is accepted", () => {
    expect(parseConfig({ ...valid, APP_ENV: "local", ENTRA_AUTHORITY_HOST: "https://127.0.0.1:8443/login" }).ENTRA_AUTHORITY_HOST).toBe(
      "https://127.0.0.1:8443/login",
    );
  });

  it("when local mode is claimed inside Azure, then start-up fails on APP_ENV and the loopback authority", () => {
    const keys = problemsOf({ ...valid, APP_ENV: "local", WEBSITE_SITE_NAME: "func-prod", ENTRA_AUTHORITY_HOST: "https://127.0.0.1:8443/login" });
    expect(keys).toEqual(expect.arrayContaining(["APP_ENV", "ENTRA_AUTHORITY_HOST"]));
  });

  it("when a non-Microsoft authority is configured, then it is refused even in local mode", () => {
    expect(problemsOf({ ...valid, APP_ENV: "local", ENTRA_AUTHORITY_HOST: "https://evil.example.com" })).toContain("ENTRA_AUTHORITY_HOST");
  });

  it("when a Cosmos key is set outside local mode, then it is refused (Azure uses the managed identity)", () => {
    expect(problemsOf({ ...valid, COSMOS_KEY: "abc" })).toContain("COSMOS_KEY");
  });

  it("when Service Bus is chosen without its namespace, then the namespace setting is named", () => {
    expect(problemsOf({ ...valid, EVENT_QUEUE_TRANSPORT: "servicebus" })).toContain("EventServiceBus__fullyQualifiedNamespace");
  });
});

import type { HttpRequest, InvocationContext } from "@azure/functions";
import { afterEach, describe, expect, it, vi } from "vitest";
import { continueResponse } from "../../../shared/events/entra-extension.js";
import { entraTokenIssuanceStartHandler } from "../../../shared/events/http.js";

// A cold instance whose services never come up (Cosmos unreachable while the runtime is built).
vi.mock("../../../shared/autoclaim/composition.js", () => ({ autoClaim: () => new Promise<never>(() => undefined) }));
vi.mock("../../../shared/config/config.js", async (importOriginal) => ({
  ...(await importOriginal<Record<string, unknown>>()),
  getConfig: () => ({ ENTRA_EXTENSION_DEADLINE_MS: 300 }),
}));

afterEach(() => {
  vi.useRealTimers();
});

describe("E1 on a cold instance", () => {
  it("when the app's services are not ready, then Entra still gets continue with no claims at the deadline (the sign-in is never blocked)", async () => {
    vi.useFakeTimers();
    const request = { params: { tenantId: "0b0b0b0b-0000-4000-8000-000000000003" }, headers: new Headers(), text: () => Promise.resolve("{}") } as unknown as HttpRequest;
    const context = { log: () => undefined, warn: () => undefined } as unknown as InvocationContext;
    let answered = false;
    const answer = entraTokenIssuanceStartHandler(request, context).finally(() => (answered = true));

    await vi.advanceTimersByTimeAsync(299);
    expect(answered).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await answer).toEqual({ status: 200, jsonBody: continueResponse() });
  });
});

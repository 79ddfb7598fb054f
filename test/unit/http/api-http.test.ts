import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../../local/paths.js";
import { API_ENDPOINTS } from "../../../shared/api-catalog.js";

/** P6: api.http holds an example of every endpoint (a request line whose method and path match its route). */
describe("api.http", () => {
  it("when the API has an endpoint, then api.http has a request for it", () => {
    const requests = readFileSync(path.join(repoRoot, "api.http"), "utf8")
      .split("\n")
      .flatMap((line) => {
        const m = /^(GET|POST|PUT|PATCH|DELETE) \{\{host\}\}\/([^?\s]*)/.exec(line);
        return m ? [{ method: m[1]!, segments: m[2]!.split("/").filter(Boolean) }] : [];
      });
    const matches = (route: string, segments: string[]) => {
      const parts = route.split("/").filter(Boolean);
      return parts.length === segments.length && parts.every((p, i) => (p.startsWith("{") ? true : p.toLowerCase() === segments[i]!.toLowerCase()));
    };
    const missing = API_ENDPOINTS.filter((d) => !requests.some((r) => r.method === d.method && matches(d.route, r.segments))).map((d) => `${d.method} ${d.route}`);
    expect(missing).toEqual([]);
  });
});

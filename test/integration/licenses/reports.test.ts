import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DEMO_IDS, DEMO_SKUS, demoUserId } from "../../../local/sim-cloud/demo-tenant.js";
import { AppError } from "../../../shared/errors/app-error.js";
import { readReportJob, runReportJob, startReportJob } from "../../../shared/licenses/report-jobs.js";
import { recordProductUse, type TrackedProduct } from "../../../shared/licenses/usage.js";
import { startLicenseStack, type LicenseStack } from "./support.js";

/** Catalog (L1), users, reports (L13, L19, L20) and the audit queries (L16) through the real host. */
let s: LicenseStack;
const DAY = 86_400_000;
const now = Date.now();

const used = (n: number, product: TrackedProduct, daysAgo: number) =>
  recordProductUse(s.stack.database.container("usage"), { tenantId: s.tenantId, userId: demoUserId(n), product, at: new Date(now - daysAgo * DAY) });

beforeAll(async () => {
  s = await startLicenseStack();
  await s.resetSim();
  // L13 cast: 20 Office 365 E3 (Power Apps through it), 26 Power Apps per user, 289 only the Power
  // Apps trial, 21 licensed but never seen, 59 seen but unlicensed, 44 gone from the directory,
  // 45 with a name a spreadsheet would run.
  await used(20, "powerApps", 1);
  await used(20, "powerApps", 3); // first use moves back, last use stays
  await used(26, "powerApps", 60);
  await used(289, "powerApps", 2);
  await used(59, "powerApps", 1);
  await used(44, "powerAutomate", 10);
  await used(45, "powerAutomate", 5);
});
afterAll(async () => {
  await s?.stop();
});
beforeEach(async () => {
  await s.resetSim();
  await s.sim("DELETE", `users/${demoUserId(44)}`);
  await s.sim("PATCH", `users/${demoUserId(45)}`, { displayName: '=HYPERLINK("http://evil.example","Zoë")' });
});

const reader = ["Global Reader"] as const;

describe("L1 catalog", () => {
  it("when the catalog is listed, then each product has its kind, counts, renewal date and service plans", async () => {
    const res = await s.api("products", { roles: [...reader], headers: { "Cache-Control": "no-cache" } });
    expect(res.status).toBe(200);
    const { items } = (await res.json()) as { items: { skuId: string; kind: string; total: number; assigned: number; available: number; renewalDate: string | null; servicePlans: unknown[] }[] };
    const bySku = new Map(items.map((p) => [p.skuId, p]));
    expect(bySku.get(DEMO_SKUS.office365E3)).toMatchObject({ kind: "paid", total: 300, renewalDate: "2027-06-30T00:00:00Z" });
    expect(bySku.get(DEMO_SKUS.powerAppsTrial)?.kind).toBe("trial");
    expect(bySku.get(DEMO_SKUS.powerAutomateFree)?.kind).toBe("free");
    expect(bySku.get(DEMO_SKUS.powerBiProSelfService)?.kind).toBe("selfService");
    const summary = await s.sim<{ skus: { skuId: string; consumedUnits: number; available: number }[] }>("GET", "summary");
    for (const sku of summary.skus) {
      expect(bySku.get(sku.skuId)).toMatchObject({ assigned: sku.consumedUnits, available: sku.available });
    }
    expect(bySku.get(DEMO_SKUS.office365E3)?.servicePlans).toHaveLength(6);
  });

  it("when the catalog is read twice within 60 s, then Graph is asked once, and the snapshot with counts is in Cosmos", async () => {
    await s.api("products", { headers: { "Cache-Control": "no-cache" } });
    await s.api("products");
    await s.api(`products/${DEMO_SKUS.office365E3}`);
    const counters = await s.graphCounters();
    expect(counters.batchItemsByKind.subscribedSkus).toBe(1);
    expect(counters.batchItemsByKind["directory.subscriptions"]).toBe(1);
    const { resource } = await s.stack.database.container("catalog").item("catalog", s.tenantId).read<{ products: { skuId: string; assigned: number }[] }>();
    expect(resource?.products.find((p) => p.skuId === DEMO_SKUS.office365E3)?.assigned).toBeGreaterThan(0);
  });

  it("when one product is read with Cache-Control: no-cache, then Graph is read now, as for the list", async () => {
    await s.api(`products/${DEMO_SKUS.office365E3}`); // the catalog is cached (read now, or by an earlier test)
    const before = (await s.graphCounters()).batchItemsByKind.subscribedSkus ?? 0;
    await s.api(`products/${DEMO_SKUS.office365E3}`);
    expect((await s.graphCounters()).batchItemsByKind.subscribedSkus ?? 0).toBe(before);
    await s.api(`products/${DEMO_SKUS.office365E3}`, { headers: { "Cache-Control": "no-cache" } });
    expect((await s.graphCounters()).batchItemsByKind.subscribedSkus).toBe(before + 1);
  });

  it("when a product is not subscribed, then 404", async () => {
    expect((await s.api("products/00000000-0000-4000-8000-000000000000")).status).toBe(404);
  });

  it("when a product's users are listed, then inherited holders show their group", async () => {
    const res = await s.api(`products/${DEMO_SKUS.powerAppsPerUser}/users?limit=200`);
    expect(res.status).toBe(200);
    const { items } = (await res.json()) as { items: { id: string; direct: boolean; groups: string[] }[] };
    expect(items.find((u) => u.id === demoUserId(101))).toMatchObject({ direct: false, groups: [DEMO_IDS.groups.powerAppsLicensing] });
    expect(items.find((u) => u.id === DEMO_IDS.users.globalAdmin)).toMatchObject({ direct: true, groups: [] });
  });

  it("when users are searched, then those whose name starts with the text come back, paged with a cursor", async () => {
    const res = await s.api("users?search=Adele&limit=5");
    expect(res.status).toBe(200);
    const { items } = (await res.json()) as { items: { id: string }[] };
    expect(items.map((u) => u.id)).toContain(DEMO_IDS.users.globalAdmin);
    const first = (await (await s.api("users?limit=2")).json()) as { items: unknown[]; nextCursor: string };
    const second = (await (await s.api(`users?limit=2&cursor=${first.nextCursor}`)).json()) as { items: { id: string }[] };
    expect(second.items).toHaveLength(2);
    expect((await s.api(`users?limit=2&search=x&cursor=${first.nextCursor}`)).status).toBe(400);
  });

  it("when the search text holds characters that mean something in a URL (&, #, +, %, a quote), then it is matched as text", async () => {
    const made = { id: "0e0e0e0e-1111-4222-8333-444455556666" };
    await s.sim("POST", "users", { id: made.id, displayName: "R&D #1 + 100% O'Brien", userPrincipalName: "rnd-search@contoso.example" });
    for (const text of ["R&D", "R&D #1 +", "R&D #1 + 100% O'B"]) {
      const res = await s.api(`users?search=${encodeURIComponent(text)}`);
      expect(res.status, text).toBe(200);
      expect(((await res.json()) as { items: { id: string }[] }).items.map((u) => u.id), text).toEqual([made.id]);
    }
    // A "+" is a plus, not a space: "Adele+" names nobody (the demo tenant's Adele Vance would match "Adele ").
    const plus = await s.api(`users?search=${encodeURIComponent("Adele+")}`);
    expect(((await plus.json()) as { items: unknown[] }).items).toEqual([]);
  });
});

interface ActiveRow {
  userId: string;
  name: string;
  email: string;
  product: string;
  licenseType: string;
  firstAccessAt: string;
  lastAccessAt: string;
}

describe("L13 active-user license report", () => {
  it("when asked as JSON, then only users licensed AND seen using the product, with how they are licensed", async () => {
    const res = await s.api("reports/active-user-licenses", { roles: [...reader] });
    expect(res.status).toBe(200);
    const { items } = (await res.json()) as { items: ActiveRow[] };
    const byUser = new Map(items.map((r) => [r.userId, r]));
    expect(byUser.get(demoUserId(20))).toMatchObject({ product: "powerApps", licenseType: "office365", firstAccessAt: new Date(now - 3 * DAY).toISOString(), lastAccessAt: new Date(now - DAY).toISOString() });
    expect(byUser.get(demoUserId(26))?.licenseType).toBe("standalone");
    expect(byUser.get(demoUserId(289))?.licenseType).toBe("trial");
    expect(byUser.has(demoUserId(21))).toBe(false); // licensed, never used
    expect(byUser.has(demoUserId(59))).toBe(false); // used, not licensed
    expect(byUser.get(demoUserId(44))).toMatchObject({ name: "Unknown", email: "Unknown" }); // Graph: 404
    expect(items.filter((r) => r.name === "Unknown").map((r) => r.userId)).toEqual([demoUserId(44)]);
  });

  it("when asked as CSV, then RFC 4180 with a header row, UTF-8, and formula cells neutralised", async () => {
    const viaAccept = await s.api("reports/active-user-licenses", { roles: ["Global Administrator"], headers: { Accept: "text/csv" } });
    expect(viaAccept.status).toBe(200);
    expect(viaAccept.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    const bytes = Buffer.from(await viaAccept.arrayBuffer());
    const csv = bytes.toString("utf8");
    const lines = csv.split("\r\n");
    expect(lines[0]).toBe("User name,Email,Product,License type,First access,Last access,User id");
    expect(lines.at(-1)).toBe("");
    expect(csv).toContain(`"'=HYPERLINK(""http://evil.example"",""Zoë"")"`);
    expect(bytes.includes(Buffer.from("Zoë", "utf8"))).toBe(true);
    expect(csv).not.toMatch(/(^|,)=HYPERLINK/m);
    const viaQuery = await s.api("reports/active-user-licenses?format=csv", { roles: [...reader] });
    expect(await viaQuery.text()).toBe(csv);
  });

  it("when Graph fails for a user with anything but 404, then the report fails with 503 instead of showing Unknown", async () => {
    await s.sim("PATCH", "settings", { faults: [{ services: ["graph"], pathPattern: "^/v1\\.0/users/[^/]+$", rate503: 1, retryAfterSeconds: 30 }] });
    const res = await s.api("reports/active-user-licenses", { roles: [...reader] });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("30");
  });

  it("when a License Administrator asks for it, then 403 (Global Administrator and Global Reader only)", async () => {
    expect((await s.api("reports/active-user-licenses")).status).toBe(403);
  });

  it("when asked asynchronously, then 202 with a job to poll, whose result is the same report", async () => {
    const res = await s.api("reports/active-user-licenses?format=csv", { roles: [...reader], headers: { Prefer: "respond-async" } });
    expect(res.status).toBe(202);
    const location = res.headers.get("location")!;
    expect(location).toMatch(/\/reports\/jobs\//);
    const jobPath = location.replace(`/api/tenants/${s.tenantId}/`, "");
    const deadline = Date.now() + 30_000;
    let job: { status: string; resultLocation: string | null; rowCount: number | null } = { status: "queued", resultLocation: null, rowCount: null };
    while (job.status !== "succeeded" && job.status !== "failed" && Date.now() < deadline) {
      job = (await (await s.api(jobPath, { roles: [...reader] })).json()) as typeof job;
    }
    expect(job.status).toBe("succeeded");
    // A GUID in capitals is the same job.
    const jobId = jobPath.split("/").pop()!;
    expect((await s.api(jobPath.replace(jobId, jobId.toUpperCase()), { roles: [...reader] })).status).toBe(200);
    const result = await s.api(job.resultLocation!.replace(`/api/tenants/${s.tenantId}/`, ""), { roles: [...reader] });
    const sync = await s.api("reports/active-user-licenses?format=csv", { roles: [...reader] });
    expect(await result.text()).toBe(await sync.text());
  });
});

describe("L13 report jobs when Microsoft fails", () => {
  const pollJob = async (jobPath: string) => {
    const deadline = Date.now() + 60_000;
    let job: { status: string; error: string | null } = { status: "queued", error: null };
    while (job.status !== "succeeded" && job.status !== "failed" && Date.now() < deadline) {
      job = (await (await s.api(jobPath, { roles: [...reader] })).json()) as typeof job;
    }
    return job;
  };

  it("when Graph answers 500 while a job builds, then the job is tried again and succeeds (not failed at once)", async () => {
    await s.sim("PATCH", "settings", { faults: [{ services: ["graph"], pathPattern: "^/v1\\.0/users/[^/]+$", rate500: 1, count: 1 }] });
    const res = await s.api("reports/active-user-licenses?format=csv", { roles: [...reader], headers: { Prefer: "respond-async" } });
    expect(res.status).toBe(202);
    const job = await pollJob(res.headers.get("location")!.replace(`/api/tenants/${s.tenantId}/`, ""));
    expect(job, job.error ?? "").toMatchObject({ status: "succeeded", error: null }); // the failed attempt's note is gone
  });

  it("when a job's last attempt fails transiently, then the job is failed with why - it does not stay running", async () => {
    const container = s.stack.database.container("reports");
    const queue = { transport: "storage-queue" as const, queueName: "events", send: () => Promise.resolve(), close: () => Promise.resolve() };
    const job = await startReportJob(container, queue, s.tenantId, "csv", "tester");
    const outage = () => Promise.reject(new AppError("upstream", "Microsoft Graph answered 500.", { extensions: { upstreamStatus: 500 } }));

    await expect(runReportJob(container, s.tenantId, job.id, outage, { attempt: 1, maxAttempts: 3 })).rejects.toMatchObject({ transient: true });
    // Still running, and its status says why the attempt did not finish (it had said nothing for minutes).
    expect(await readReportJob(container, s.tenantId, job.id)).toMatchObject({ status: "running", error: expect.stringMatching(/^Attempt 1 did not finish \(retried\): .*500/) as string });
    await runReportJob(container, s.tenantId, job.id, outage, { attempt: 3, maxAttempts: 3 });
    expect(await readReportJob(container, s.tenantId, job.id)).toMatchObject({ status: "failed", error: expect.stringMatching(/^Gave up after 3 attempts: .*500/) as string });
  });
});

describe("L19 unused licenses", () => {
  it("when asked for 30 days, then licensed users who never used the product or not in 30 days are listed, recent users are not", async () => {
    const rows: { userId: string; product: string; lastAccessAt: string | null; daysSinceLastUse: number | null }[] = [];
    let cursor: string | null = null;
    do {
      const res = await s.api(`reports/unused-licenses?days=30&product=powerApps&limit=200${cursor ? `&cursor=${cursor}` : ""}`);
      expect(res.status).toBe(200);
      const page = (await res.json()) as { items: typeof rows; nextCursor: string | null };
      rows.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    const byUser = new Map(rows.map((r) => [r.userId, r]));
    expect(byUser.get(demoUserId(21))).toMatchObject({ product: "powerApps", lastAccessAt: null, daysSinceLastUse: null });
    expect(byUser.get(demoUserId(26))).toMatchObject({ daysSinceLastUse: 60 });
    expect(byUser.has(demoUserId(20))).toBe(false);
    expect(byUser.has(demoUserId(59))).toBe(false);
    expect(rows.every((r) => r.product === "powerApps")).toBe(true);
  });

  it("when read with a small limit, then no page holds more than limit rows (a user with two unused products included), and the pages together are the whole list, nothing lost or repeated", async () => {
    const walk = async (limit: number) => {
      const rows: { userId: string; product: string }[] = [];
      let cursor: string | null = null;
      do {
        const res = await s.api(`reports/unused-licenses?days=30&limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`);
        expect(res.status).toBe(200);
        const page = (await res.json()) as { items: typeof rows; nextCursor: string | null };
        expect(page.items.length).toBeLessThanOrEqual(limit);
        rows.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor);
      return rows.map((r) => `${r.userId}|${r.product}`);
    };
    const whole = await walk(200);
    expect(new Set(whole).size).toBe(whole.length);
    // Some users miss more than one product: a limit of 1 has to cut between a user's rows.
    expect(new Set(whole.map((k) => k.split("|")[0])).size).toBeLessThan(whole.length);
    expect(await walk(1)).toEqual(whole);
    expect(await walk(7)).toEqual(whole);
  });
});

describe("L19 parameters", () => {
  it("when days is missing or not a whole number of days, then 400 naming query.days, without calling a given value missing", async () => {
    for (const q of ["", "?days=abc", "?days=0"]) {
      const res = await s.api(`reports/unused-licenses${q}`);
      expect(res.status).toBe(400);
      const { errors } = (await res.json()) as { errors: { path: string; message: string }[] };
      expect(errors[0]?.path).toBe("query.days");
      expect(errors[0]?.message).not.toMatch(/is required/);
    }
  });
});

describe("L20 group-licensing errors", () => {
  it("when listed, then every failed group assignment shows with its group, error and reason, across pages", async () => {
    const rows: { userId: string; groupId: string; error: string; reason: string; skuId: string }[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await s.api(`reports/group-license-errors?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      expect(res.status).toBe(200);
      const page = (await res.json()) as { items: typeof rows; nextCursor: string | null };
      expect(page.items.length).toBeLessThanOrEqual(2);
      rows.push(...page.items);
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 100);
    const count = rows.filter((r) => r.groupId === DEMO_IDS.groups.automationCoE && r.error === "CountViolation");
    expect(count).toHaveLength(3);
    expect(count[0]?.reason).toMatch(/Not enough licenses/);
    const exclusive = rows.filter((r) => r.groupId === DEMO_IDS.groups.exchangePlan1Licensing);
    expect(exclusive.map((r) => r.error)).toEqual(["MutuallyExclusiveViolation", "MutuallyExclusiveViolation", "MutuallyExclusiveViolation"]);
    expect(rows).toHaveLength(6);
  });

  it("when paged, then every page but the last is full (across groups), no row repeats, and one page of the default size shows them all", async () => {
    const pages: { userId: string; skuId: string; groupId: string }[][] = [];
    let cursor: string | null = null;
    do {
      const res = await s.api(`reports/group-license-errors?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      const page = (await res.json()) as { items: { userId: string; skuId: string; groupId: string }[]; nextCursor: string | null };
      pages.push(page.items);
      cursor = page.nextCursor;
    } while (cursor && pages.length < 100);
    expect(pages.map((p) => p.length)).toEqual([2, 2, 2]);
    const keys = pages.flat().map((r) => `${r.groupId}|${r.userId}|${r.skuId}`);
    expect(new Set(keys).size).toBe(6);
    const all = (await (await s.api("reports/group-license-errors")).json()) as { items: unknown[]; nextCursor: string | null };
    expect(all.items).toHaveLength(6);
    expect(all.nextCursor).toBeNull();
  });
});

describe("L16 audit queries", () => {
  it("when the audit is queried by user, actor and time, then the matching license records come back newest first, paged", async () => {
    const user = demoUserId(27);
    const from = new Date().toISOString();
    const res = await s.api(`users/${user}/assignLicense`, { method: "POST", body: { addLicenses: [{ skuId: DEMO_SKUS.powerAutomateFree }] } });
    expect(res.status).toBe(200);
    const page1 = (await (await s.api(`audit?userId=${user}&from=${encodeURIComponent(from)}&limit=1`)).json()) as { items: { phase: string; seq: number; actor: { id: string } }[]; nextCursor: string };
    expect(page1.items.map((r) => r.phase)).toEqual(["outcome"]);
    const page2 = (await (await s.api(`audit?userId=${user}&from=${encodeURIComponent(from)}&limit=1&cursor=${page1.nextCursor}`)).json()) as { items: { phase: string; seq: number }[] };
    expect(page2.items.map((r) => r.phase)).toEqual(["intent"]);
    expect(page2.items[0]!.seq).toBeLessThan(page1.items[0]!.seq);
    const actor = page1.items[0]!.actor.id;
    const byActor = (await (await s.api(`audit?actor=${actor}&from=${encodeURIComponent(from)}`)).json()) as { items: unknown[] };
    expect(byActor.items).toHaveLength(2);
    const before = (await (await s.api(`audit?userId=${user}&to=${encodeURIComponent(from)}`)).json()) as { items: unknown[] };
    expect(before.items).toHaveLength(0);
  });
});

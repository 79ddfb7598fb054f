import { z } from "zod";
import { serializeGroup, serializeUser, USER_PROPS } from "../graph/serialize.js";
import { SimError } from "../http/errors.js";
import { jsonResponse, parseJsonBody, type SimRequest, type SimResponse } from "../http/types.js";
import type { SimRuntime } from "../runtime.js";
import { SettingsError } from "../settings.js";
import type { Row, SystemUserRec } from "../state/dataverse-db.js";
import { isAssignableToRole } from "../state/directory.js";
import { FixtureError, FixtureGroup, FixtureServicePrincipal, FixtureSignIn, FixtureSku, FixtureUser, parseFixture, type ParsedFixture } from "../state/fixture.js";
import { assignLicense, evaluateGroupLicenses, evaluateGroupMembers, reprocessFailedGroupLicenses } from "../state/licensing.js";
import type { LicenseState, UserRec } from "../state/types.js";

/**
 * The test-control API under /_admin (no authentication: the sim listens on loopback only).
 * Every change goes through the same state methods Graph uses, so delta queries see it.
 */
export class AdminService {
  constructor(private readonly rt: SimRuntime, private readonly fixture: () => ParsedFixture, private readonly setFixture: (f: ParsedFixture) => void) {}

  kind(req: SimRequest): string {
    return `${req.method} ${req.path.split("/").filter(Boolean).slice(0, 2).join("/")}`;
  }

  handle(req: SimRequest): SimResponse {
    try {
      return this.route(req);
    } catch (err) {
      if (err instanceof SimError) return jsonResponse(err.status, { error: { code: err.code, message: err.message } });
      if (err instanceof SettingsError || err instanceof FixtureError) return jsonResponse(400, { error: { code: "BadRequest", message: err.message } });
      if (err instanceof z.ZodError) return jsonResponse(400, { error: { code: "BadRequest", message: err.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ") } });
      if (err instanceof SyntaxError) return jsonResponse(400, { error: { code: "BadRequest", message: `Invalid JSON: ${err.message}` } });
      throw err;
    }
  }

  private body(req: SimRequest): unknown {
    return parseJsonBody(req) ?? {};
  }

  private route(req: SimRequest): SimResponse {
    const seg = req.path.split("/").filter(Boolean).map(decodeURIComponent);
    const [a, b, c, d, e] = seg;
    const m = req.method;
    const st = this.rt.state;
    const dir = st.directory;

    if (a === "health" && m === "GET") return jsonResponse(200, { status: "ok", tenantId: st.tenantId });
    if (a === "settings") {
      if (m === "GET") return jsonResponse(200, this.rt.settings);
      if (m === "PATCH" || m === "PUT") return jsonResponse(200, this.rt.updateSettings(this.body(req)));
    }
    if (a === "reset" && m === "POST") {
      const body = this.body(req) as { fixture?: unknown; resetCounters?: boolean };
      if (body.fixture !== undefined) this.setFixture(parseFixture(body.fixture));
      st.load(this.fixture());
      this.rt.resetLimits();
      if (body.resetCounters !== false) this.rt.counters.reset();
      return jsonResponse(200, { status: "reset", tenantId: st.tenantId, deltaEpoch: st.deltaEpoch });
    }
    if (a === "counters") {
      if (m === "GET" && !b) return jsonResponse(200, this.rt.counters.snapshot());
      if ((m === "POST" && b === "reset") || (m === "DELETE" && !b)) {
        this.rt.counters.reset();
        return jsonResponse(200, this.rt.counters.snapshot());
      }
    }
    if (a === "delta" && b === "expire" && m === "POST") {
      st.deltaEpoch += 1;
      return jsonResponse(200, { deltaEpoch: st.deltaEpoch });
    }
    if (a === "summary" && m === "GET") return jsonResponse(200, this.summary());
    if (a === "fixture" && m === "GET") return jsonResponse(200, this.fixture());

    if (a === "users") {
      if (!b) {
        if (m === "POST") {
          const input = FixtureUser.parse(this.body(req));
          const user = dir.addUser(input);
          if (input.licenses.length) {
            dir.setLicenseStates(user, input.licenses.map((l) => directState(dir.nowIso(), l.skuId, l.disabledPlans, l.assignedDateTime)));
          }
          return jsonResponse(201, this.user(user));
        }
        if (m === "GET") return jsonResponse(200, { value: dir.userOrder.map((u) => this.user(u)) });
      } else {
        const user = dir.findUser(b);
        if (!user) throw new SimError(404, "NotFound", `No user '${b}'.`);
        if (!c) {
          if (m === "GET") return jsonResponse(200, this.user(user));
          if (m === "PATCH") {
            dir.updateUser(user, UserPatchSchema.parse(this.body(req)));
            return jsonResponse(200, this.user(user));
          }
          if (m === "DELETE") {
            dir.hardDeleteUser(user);
            for (const env of st.environments.values()) {
              const rec = env.db?.findByAadObjectId(user.id);
              if (rec) env.db?.update(rec, { azurestate: 2 }, { skipValidation: true });
            }
            return { status: 204 };
          }
        }
        if (m === "POST" && (c === "disable" || c === "enable")) {
          dir.updateUser(user, { accountEnabled: c === "enable" });
          return jsonResponse(200, this.user(user));
        }
        if (m === "POST" && c === "soft-delete") {
          dir.softDeleteUser(user);
          this.markAzureState(user.id, 1);
          return jsonResponse(200, this.user(user));
        }
        if (m === "POST" && c === "restore") {
          dir.restoreUser(user);
          evaluateGroupLicenses(dir, user);
          this.markAzureState(user.id, 0);
          return jsonResponse(200, this.user(user));
        }
        if (c === "licenses" && m === "PUT") {
          const body = z.object({ licenses: z.array(AdminLicense) }).parse(this.body(req));
          dir.setLicenseStates(user, body.licenses.map((l) => ({
            ...directState(dir.nowIso(), l.skuId, l.disabledPlans, l.assignedDateTime),
            assignedByGroup: l.assignedByGroup?.toLowerCase() ?? null,
            state: l.state,
            error: l.error,
          })));
          return jsonResponse(200, this.user(user));
        }
        if (c === "assign-license" && m === "POST") {
          const body = z.object({
            addLicenses: z.array(z.object({ skuId: z.string(), disabledPlans: z.array(z.string()).optional() })).default([]),
            removeLicenses: z.array(z.string()).default([]),
          }).parse(this.body(req));
          assignLicense(dir, user, body);
          return jsonResponse(200, this.user(user));
        }
      }
    }

    if (a === "servicePrincipals" && !b && m === "POST") {
      // An application registered in the tenant (an enterprise application): what an application user needs.
      const sp = dir.addServicePrincipal(FixtureServicePrincipal.parse(this.body(req)));
      return jsonResponse(201, { id: sp.id, appId: sp.appId, displayName: sp.displayName });
    }

    if (a === "groups") {
      if (!b && m === "POST") {
        const body = this.body(req);
        const input = FixtureGroup.parse(body);
        // Not a fixture property: Entra sets it only when a group is created (roles can then be assigned to it).
        const { isAssignableToRole } = z.object({ isAssignableToRole: z.boolean().default(false) }).parse(body);
        const group = dir.addGroup({ ...input, isAssignableToRole });
        dir.addMembers(group, input.members);
        evaluateGroupMembers(dir, group.id);
        return jsonResponse(201, this.group(group.id));
      }
      if (!b && m === "GET") return jsonResponse(200, { value: dir.groupOrder.map((g) => this.group(g.id)) });
      const group = b ? dir.groups.get(b.toLowerCase()) : undefined;
      if (!group) throw new SimError(404, "NotFound", `No group '${b ?? ""}'.`);
      if (!c && m === "GET") return jsonResponse(200, this.group(group.id));
      if (!c && m === "DELETE") {
        const members = [...group.memberOrder];
        dir.deleteGroup(group);
        for (const id of members) {
          const u = dir.users.get(id);
          if (u) evaluateGroupLicenses(dir, u);
        }
        return { status: 204 };
      }
      if (c === "members" && (m === "PATCH" || m === "POST")) {
        const body = z.object({ add: z.array(z.string()).default([]), remove: z.array(z.string()).default([]) }).parse(this.body(req));
        const added = dir.addMembers(group, body.add);
        const removed = body.remove.filter((id) => dir.removeMember(group, id)).map((id) => id.toLowerCase());
        for (const id of [...added, ...removed]) {
          const u = dir.users.get(id);
          if (u) evaluateGroupLicenses(dir, u);
        }
        return jsonResponse(200, { added, removed, memberCount: group.members.size });
      }
      if (c === "owners" && m === "PUT") {
        const body = z.object({ owners: z.array(z.string()) }).parse(this.body(req));
        group.owners = body.owners.map((o) => o.toLowerCase());
        dir.touchGroup(group);
        return jsonResponse(200, this.group(group.id));
      }
      if (c === "licenses" && m === "PUT") {
        const body = z.object({ assignedLicenses: z.array(z.object({ skuId: z.string(), disabledPlans: z.array(z.string()).default([]) })) }).parse(this.body(req));
        group.assignedLicenses = body.assignedLicenses.map((l) => ({ skuId: l.skuId.toLowerCase(), disabledPlans: l.disabledPlans.map((p) => p.toLowerCase()) }));
        dir.touchGroup(group);
        evaluateGroupMembers(dir, group.id);
        return jsonResponse(200, this.group(group.id));
      }
    }

    if (a === "skus" && !b && m === "POST") {
      // A product the tenant buys (a new subscription): what the fixture's skus hold.
      const input = FixtureSku.parse(this.body(req));
      if (dir.skus.has(input.skuId.toLowerCase())) throw new SimError(409, "Conflict", `The SKU '${input.skuId}' exists.`);
      const sku = dir.addSku(input);
      return jsonResponse(201, { ...sku, available: dir.availableUnits(sku) });
    }
    if (a === "skus" && b && m === "PATCH") {
      const sku = dir.skus.get(b.toLowerCase());
      if (!sku) throw new SimError(404, "NotFound", `No SKU '${b}'.`);
      const body = SkuPatch.parse(this.body(req));
      if (body.prepaidUnits) Object.assign(sku.prepaidUnits, body.prepaidUnits);
      if (body.capabilityStatus) sku.capabilityStatus = body.capabilityStatus;
      if (body.subscription) Object.assign(sku.subscription, body.subscription);
      reprocessFailedGroupLicenses(dir);
      return jsonResponse(200, { ...sku, available: dir.availableUnits(sku) });
    }

    if (a === "roles" && b && c === "members" && (m === "PATCH" || m === "POST")) {
      const body = z.object({ add: z.array(z.string()).default([]), remove: z.array(z.string()).default([]), displayName: z.string().optional() }).parse(this.body(req));
      const role = dir.ensureRole(b, body.displayName ?? b);
      for (const id of body.add) dir.assignRole(role, id);
      for (const id of body.remove) role.members.delete(id.toLowerCase());
      return jsonResponse(200, { roleTemplateId: role.roleTemplateId, members: [...role.members] });
    }

    if (a === "signins" && m === "POST") {
      const raw = this.body(req);
      const items = z.array(FixtureSignIn).parse(Array.isArray(raw) ? raw : [raw]);
      return jsonResponse(201, { value: items.map((s) => st.addSignIn(s)) });
    }

    if (a === "environments") {
      if (!b && m === "GET") return jsonResponse(200, { value: [...st.environments.values()].map((env) => ({ ...env.meta, hasDataverse: !!env.db })) });
      const env = b ? st.environment(b) : undefined;
      if (!env) throw new SimError(404, "NotFound", `No environment '${b ?? ""}'.`);
      if (!c && m === "PATCH") {
        const body = z.object({ displayName: z.string().optional(), securityGroupId: z.string().nullable().optional() }).parse(this.body(req));
        if (body.displayName !== undefined) env.meta.displayName = body.displayName;
        if (body.securityGroupId !== undefined) env.meta.securityGroupId = body.securityGroupId;
        return jsonResponse(200, { ...env.meta, hasDataverse: !!env.db });
      }
    }

    if (a === "dataverse" && b && c === "systemusers") {
      const env = st.environment(b);
      if (!env?.db) throw new SimError(404, "NotFound", `Environment '${b}' has no Dataverse database.`);
      const db = env.db;
      if (!d && m === "GET") return jsonResponse(200, { value: db.order.map(rowOf) });
      if (!d && m === "POST") return jsonResponse(201, rowOf(db.insert(this.body(req) as Row)));
      const rec = d ? db.get(d) ?? db.findByAadObjectId(d) : undefined;
      if (!rec) throw new SimError(404, "NotFound", `No systemuser '${d ?? ""}' in environment '${b}'.`);
      if (!e && m === "GET") return jsonResponse(200, rowOf(rec));
      if (!e && m === "PATCH") {
        db.update(rec, this.body(req) as Row);
        return jsonResponse(200, rowOf(rec));
      }
      if (!e && m === "DELETE") {
        db.removeRecord(rec);
        return { status: 204 };
      }
    }
    return jsonResponse(404, { error: { code: "NotFound", message: `No admin endpoint ${m} ${req.path}.` } });
  }

  private markAzureState(userId: string, state: number): void {
    for (const env of this.rt.state.environments.values()) {
      const rec = env.db?.findByAadObjectId(userId);
      if (rec) env.db?.update(rec, { azurestate: state }, { skipValidation: true });
    }
  }

  private user(u: UserRec): Record<string, unknown> {
    return { ...serializeUser(this.rt.state.directory, u, USER_PROPS), deletedDateTime: u.deletedDateTime };
  }

  private group(id: string): Record<string, unknown> {
    const dir = this.rt.state.directory;
    const g = dir.groups.get(id);
    if (!g) return { id };
    return { ...serializeGroup(g, null), isAssignableToRole: isAssignableToRole(g), assignedLicenses: g.assignedLicenses, members: [...g.memberOrder], owners: g.owners };
  }

  private summary(): Record<string, unknown> {
    const st = this.rt.state;
    const dir = st.directory;
    let softDeleted = 0;
    for (const u of dir.userOrder) if (u.deletedDateTime) softDeleted++;
    return {
      tenantId: st.tenantId,
      users: dir.users.size,
      softDeletedUsers: softDeleted,
      groups: dir.groups.size,
      skus: dir.skuOrder.map((s) => ({ skuId: s.skuId, skuPartNumber: s.skuPartNumber, consumedUnits: s.consumedUnits, available: dir.availableUnits(s) })),
      environments: [...st.environments.values()].map((e) => ({ id: e.meta.id, environmentSku: e.meta.environmentSku, systemusers: e.db?.users.size ?? null })),
      signIns: st.signIns.length,
      deltaEpoch: st.deltaEpoch,
      directoryVersion: dir.currentVersion,
    };
  }
}

const nullableText = z.string().nullable();

/** Profile fields an admin may change (PATCH /_admin/users/{id}); unknown fields are refused. */
const UserPatchSchema = z.object({
  userPrincipalName: z.string().min(3),
  displayName: z.string(),
  givenName: nullableText,
  surname: nullableText,
  mail: nullableText,
  userType: z.enum(["Member", "Guest"]),
  accountEnabled: z.boolean(),
  usageLocation: z.string().length(2).nullable(),
  jobTitle: nullableText,
  department: nullableText,
  mobilePhone: nullableText,
  businessPhones: z.array(z.string()),
  officeLocation: nullableText,
  streetAddress: nullableText,
  city: nullableText,
  state: nullableText,
  country: nullableText,
  companyName: nullableText,
  preferredLanguage: nullableText,
}).partial().strict();

const AdminLicense = z.object({
  skuId: z.string(),
  disabledPlans: z.array(z.string()).default([]),
  assignedByGroup: z.string().nullable().optional(),
  state: z.enum(["Active", "ActiveWithError", "Disabled", "Error"]).default("Active"),
  error: z.enum(["None", "CountViolation", "MutuallyExclusiveViolation", "DependencyViolation", "ProhibitedInUsageLocationViolation", "UniquenessViolation", "Other"]).default("None"),
  assignedDateTime: z.string().optional(),
});

const SkuPatch = z.object({
  prepaidUnits: z.object({
    enabled: z.number().int().nonnegative().optional(),
    suspended: z.number().int().nonnegative().optional(),
    warning: z.number().int().nonnegative().optional(),
    lockedOut: z.number().int().nonnegative().optional(),
  }).optional(),
  capabilityStatus: z.enum(["Enabled", "Warning", "Suspended", "Deleted", "LockedOut"]).optional(),
  subscription: z.object({
    isTrial: z.boolean().optional(),
    status: z.enum(["Enabled", "Warning", "Suspended", "Deleted", "LockedOut"]).optional(),
    nextLifecycleDateTime: z.string().nullable().optional(),
    ownerType: z.enum(["Company", "User"]).nullable().optional(),
    ownerId: z.string().nullable().optional(),
  }).optional(),
});

function directState(now: string, skuId: string, disabledPlans: string[], assignedDateTime?: string): LicenseState {
  return {
    skuId: skuId.toLowerCase(),
    disabledPlans: disabledPlans.map((p) => p.toLowerCase()),
    assignedByGroup: null,
    state: "Active",
    error: "None",
    lastUpdatedDateTime: assignedDateTime ?? now,
    assignedDateTime: assignedDateTime ?? now,
  };
}

function rowOf(rec: SystemUserRec): Record<string, unknown> {
  return { ...rec.data, roles: [...rec.roles] };
}

import { SimError } from "../http/errors.js";
import { ChangeLog, MemberLog } from "./change-log.js";
import type { ParsedFixture, ParsedGroup, ParsedServicePrincipal, ParsedSku, ParsedUser } from "./fixture.js";
import { guidFor } from "./ids.js";
import type {
  DirectoryRoleRec, GroupLicense, GroupRec, LicenseState, ServicePlanRec, ServicePrincipalRec, SkuRec, UserRec,
} from "./types.js";

const EMPTY: never[] = [];

/**
 * Groups created with `isAssignableToRole` (Entra: set at creation, immutable). Kept beside the
 * records rather than in them so that every group record stays a plain fixture-shaped GroupRec.
 */
const roleAssignable = new WeakSet<GroupRec>();

/** Whether directory roles can be assigned to the group (and groups cannot be its members). */
export function isAssignableToRole(group: GroupRec): boolean {
  return roleAssignable.has(group);
}

export interface UserInput {
  id: string;
  userPrincipalName: string;
  displayName: string;
  givenName?: string | null;
  surname?: string | null;
  mail?: string | null;
  userType?: "Member" | "Guest";
  accountEnabled?: boolean;
  usageLocation?: string | null;
  jobTitle?: string | null;
  department?: string | null;
  mobilePhone?: string | null;
  businessPhones?: string[];
  officeLocation?: string | null;
  streetAddress?: string | null;
  city?: string | null;
  state?: string | null;
  country?: string | null;
  companyName?: string | null;
  preferredLanguage?: string | null;
  createdDateTime?: string;
  deletedDateTime?: string | null;
}

/** Profile fields an admin may change (PATCH /_admin/users/{id}). */
export const EDITABLE_USER_FIELDS = [
  "userPrincipalName", "displayName", "givenName", "surname", "mail", "userType", "accountEnabled", "usageLocation",
  "jobTitle", "department", "mobilePhone", "businessPhones", "officeLocation", "streetAddress", "city", "state", "country",
  "companyName", "preferredLanguage",
] as const;
export type UserPatch = Partial<Pick<UserRec, (typeof EDITABLE_USER_FIELDS)[number]>>;

/**
 * The simulated Entra ID directory of one tenant: users, groups, service principals, directory
 * roles and licensing data, with change tracking for delta queries. All lookups are by map;
 * ordered views are arrays kept in creation order.
 */
export class Directory {
  readonly users = new Map<string, UserRec>();
  private readonly upnIndex = new Map<string, string>();
  /** Users (including soft-deleted) in creation order. */
  readonly userOrder: UserRec[] = [];
  /** Hard-deleted users: id -> version of the deletion (delta shows `@removed: deleted`). */
  readonly userTombstones = new Map<string, number>();
  readonly groups = new Map<string, GroupRec>();
  readonly groupOrder: GroupRec[] = [];
  readonly groupTombstones = new Map<string, number>();
  readonly memberLogs = new Map<string, MemberLog>();
  /** principal id -> ids of the groups it is a direct member of. */
  readonly memberOf = new Map<string, Set<string>>();
  readonly servicePrincipals = new Map<string, ServicePrincipalRec>();
  readonly spByAppId = new Map<string, ServicePrincipalRec>();
  readonly skus = new Map<string, SkuRec>();
  readonly skuOrder: SkuRec[] = [];
  readonly roles = new Map<string, DirectoryRoleRec>();
  readonly mutuallyExclusive: Array<[string, string]> = [];
  readonly dependencies = new Map<string, string[]>();
  readonly userLog = new ChangeLog();
  readonly groupLog = new ChangeLog();
  private versionCounter = 0;
  private seqCounter = 0;

  constructor(
    readonly tenantId: string,
    readonly displayName: string,
    readonly defaultDomain: string,
    readonly countryLetterCode: string,
    private readonly now: () => number,
  ) {}

  nowIso(): string {
    return new Date(this.now()).toISOString();
  }

  get currentVersion(): number {
    return this.versionCounter;
  }

  nextVersion(): number {
    return ++this.versionCounter;
  }

  // ---------- loading ----------

  static fromFixture(fx: ParsedFixture, now: () => number): Directory {
    const dir = new Directory(fx.tenant.id, fx.tenant.displayName, fx.tenant.defaultDomain, fx.tenant.countryLetterCode, now);
    for (const pair of fx.servicePlanRules.mutuallyExclusive) dir.mutuallyExclusive.push([pair[0].toLowerCase(), pair[1].toLowerCase()]);
    for (const dep of fx.servicePlanRules.dependencies) dir.dependencies.set(dep.servicePlanId.toLowerCase(), dep.requiresAnyOf.map((p) => p.toLowerCase()));
    for (const sku of fx.skus) dir.addSku(sku);
    for (const sp of fx.servicePrincipals) dir.addServicePrincipal(sp);
    for (const u of fx.users) dir.loadUser(u);
    for (const g of fx.groups) dir.loadGroup(g);
    for (const role of fx.directoryRoles) {
      const rec = dir.ensureRole(role.roleTemplateId, role.displayName);
      for (const m of role.members) rec.members.add(m.toLowerCase());
    }
    // The fixture format has no isAssignableToRole: a group holding a role there can only be role-assignable in Entra.
    for (const role of dir.roles.values()) {
      for (const id of role.members) {
        const group = dir.groups.get(id);
        if (group) roleAssignable.add(group);
      }
    }
    return dir;
  }

  /** License states are never mutated in place (always replaced), so identical ones loaded from a fixture are shared. */
  private readonly sharedStates = new Map<string, LicenseState[]>();

  private loadUser(u: ParsedUser): void {
    const user = this.addUser(u);
    const created = user.createdDateTime;
    if (u.licenses.length) {
      const key = u.licenses.map((l) => `${l.skuId}|${l.disabledPlans.join(",")}|${l.assignedDateTime ?? created}`).join(";");
      let states = this.sharedStates.get(key);
      if (!states) {
        states = u.licenses.map((l) => ({
          skuId: l.skuId.toLowerCase(),
          disabledPlans: l.disabledPlans.map((p) => p.toLowerCase()),
          assignedByGroup: null,
          state: "Active",
          error: "None",
          lastUpdatedDateTime: l.assignedDateTime ?? created,
          assignedDateTime: l.assignedDateTime ?? created,
        }));
        this.sharedStates.set(key, states);
      }
      user.licenses = states;
      if (!user.deletedDateTime) for (const l of user.licenses) this.adjustConsumed(l.skuId, 1);
    }
  }

  private loadGroup(g: ParsedGroup): void {
    const group = this.addGroup(g);
    for (const m of g.members) this.addMemberRaw(group, m.toLowerCase(), 0);
    group.owners = g.owners.map((o) => o.toLowerCase());
  }

  // ---------- users ----------

  findUser(idOrUpn: string): UserRec | undefined {
    const key = idOrUpn.toLowerCase();
    const byId = this.users.get(key);
    if (byId) return byId;
    const id = this.upnIndex.get(key);
    return id ? this.users.get(id) : undefined;
  }

  /** A user that exists and is not soft-deleted. */
  activeUser(idOrUpn: string): UserRec | undefined {
    const u = this.findUser(idOrUpn);
    return u && !u.deletedDateTime ? u : undefined;
  }

  addUser(input: UserInput): UserRec {
    const id = input.id.toLowerCase();
    if (this.users.has(id) || this.groups.has(id) || this.servicePrincipals.has(id)) {
      throw new SimError(409, "Request_BadRequest", `Another object with the same value for property id already exists: ${id}`);
    }
    const upnKey = input.userPrincipalName.toLowerCase();
    if (this.upnIndex.has(upnKey)) {
      throw new SimError(400, "Request_BadRequest", "Another object with the same value for property userPrincipalName already exists.");
    }
    const user: UserRec = {
      id,
      userPrincipalName: input.userPrincipalName,
      displayName: input.displayName,
      givenName: input.givenName ?? null,
      surname: input.surname ?? null,
      mail: input.mail ?? null,
      userType: input.userType ?? "Member",
      accountEnabled: input.accountEnabled ?? true,
      usageLocation: input.usageLocation ?? null,
      jobTitle: input.jobTitle ?? null,
      department: input.department ?? null,
      mobilePhone: input.mobilePhone ?? null,
      businessPhones: input.businessPhones?.length ? input.businessPhones : EMPTY,
      officeLocation: input.officeLocation ?? null,
      streetAddress: input.streetAddress ?? null,
      city: input.city ?? null,
      state: input.state ?? null,
      country: input.country ?? null,
      companyName: input.companyName ?? null,
      preferredLanguage: input.preferredLanguage ?? null,
      createdDateTime: input.createdDateTime ?? this.nowIso(),
      deletedDateTime: input.deletedDateTime ?? null,
      licenses: EMPTY,
      seq: ++this.seqCounter,
      version: 0,
    };
    this.users.set(id, user);
    this.upnIndex.set(upnKey, id);
    this.userOrder.push(user);
    this.userTombstones.delete(id);
    this.touchUser(user);
    return user;
  }

  touchUser(user: UserRec): void {
    user.version = this.nextVersion();
    this.userLog.append(user.id, user.version);
  }

  updateUser(user: UserRec, patch: UserPatch): void {
    if (patch.userPrincipalName !== undefined && patch.userPrincipalName.toLowerCase() !== user.userPrincipalName.toLowerCase()) {
      const key = patch.userPrincipalName.toLowerCase();
      if (this.upnIndex.has(key)) throw new SimError(400, "Request_BadRequest", "Another object with the same value for property userPrincipalName already exists.");
      this.upnIndex.delete(user.userPrincipalName.toLowerCase());
      this.upnIndex.set(key, user.id);
    }
    Object.assign(user, patch);
    this.touchUser(user);
  }

  softDeleteUser(user: UserRec): void {
    if (user.deletedDateTime) return;
    const before = this.activeSkus(user);
    user.deletedDateTime = this.nowIso();
    this.releaseConsumption(before, this.activeSkus(user));
    for (const gid of this.memberOf.get(user.id) ?? []) this.logMembership(gid, user.id, false);
    this.touchUser(user);
  }

  restoreUser(user: UserRec): void {
    if (!user.deletedDateTime) return;
    const before = this.activeSkus(user);
    user.deletedDateTime = null;
    this.releaseConsumption(before, this.activeSkus(user));
    for (const gid of this.memberOf.get(user.id) ?? []) this.logMembership(gid, user.id, true);
    this.touchUser(user);
  }

  hardDeleteUser(user: UserRec): void {
    const before = this.activeSkus(user);
    user.deletedDateTime = user.deletedDateTime ?? this.nowIso();
    this.releaseConsumption(before, new Set());
    for (const gid of [...(this.memberOf.get(user.id) ?? [])]) {
      const g = this.groups.get(gid);
      if (g) this.removeMember(g, user.id);
    }
    for (const role of this.roles.values()) role.members.delete(user.id);
    this.users.delete(user.id);
    this.upnIndex.delete(user.userPrincipalName.toLowerCase());
    const idx = this.userOrder.indexOf(user);
    if (idx >= 0) this.userOrder.splice(idx, 1);
    const version = this.nextVersion();
    this.userTombstones.set(user.id, version);
    this.userLog.append(user.id, version);
  }

  // ---------- service principals ----------

  addServicePrincipal(sp: ParsedServicePrincipal): ServicePrincipalRec {
    const rec: ServicePrincipalRec = {
      id: sp.id.toLowerCase(),
      appId: sp.appId.toLowerCase(),
      displayName: sp.displayName,
      clientSecret: sp.clientSecret ?? null,
      roles: sp.roles,
      seq: ++this.seqCounter,
    };
    this.servicePrincipals.set(rec.id, rec);
    this.spByAppId.set(rec.appId, rec);
    return rec;
  }

  // ---------- groups ----------

  addGroup(g: Omit<ParsedGroup, "members" | "owners"> & { owners?: string[]; isAssignableToRole?: boolean }): GroupRec {
    const id = g.id.toLowerCase();
    if (this.groups.has(id) || this.users.has(id)) throw new SimError(400, "Request_BadRequest", `Another object with id ${id} already exists.`);
    const group: GroupRec = {
      id,
      displayName: g.displayName,
      description: g.description ?? null,
      mailNickname: g.mailNickname ?? g.displayName.replace(/[^A-Za-z0-9]/g, "").slice(0, 64),
      securityEnabled: g.securityEnabled,
      mailEnabled: g.mailEnabled,
      groupTypes: g.groupTypes,
      createdDateTime: g.createdDateTime ?? this.nowIso(),
      deletedDateTime: null,
      memberOrder: [],
      members: new Set(),
      owners: (g.owners ?? []).map((o) => o.toLowerCase()),
      assignedLicenses: g.assignedLicenses.map((l) => ({ skuId: l.skuId.toLowerCase(), disabledPlans: l.disabledPlans.map((p) => p.toLowerCase()) })),
      seq: ++this.seqCounter,
      version: 0,
    };
    if (g.isAssignableToRole) roleAssignable.add(group);
    this.groups.set(id, group);
    this.groupOrder.push(group);
    this.memberLogs.set(id, new MemberLog());
    this.touchGroup(group);
    return group;
  }

  touchGroup(group: GroupRec): void {
    group.version = this.nextVersion();
    this.groupLog.append(group.id, group.version);
  }

  principalExists(id: string): boolean {
    return this.users.has(id) || this.groups.has(id) || this.servicePrincipals.has(id);
  }

  private addMemberRaw(group: GroupRec, memberId: string, version: number): boolean {
    if (group.members.has(memberId)) return false;
    group.members.add(memberId);
    group.memberOrder.push(memberId);
    let set = this.memberOf.get(memberId);
    if (!set) {
      set = new Set();
      this.memberOf.set(memberId, set);
    }
    set.add(group.id);
    if (version > 0) this.memberLogs.get(group.id)?.append(memberId, version, true);
    return true;
  }

  private logMembership(groupId: string, memberId: string, added: boolean): void {
    const g = this.groups.get(groupId);
    if (!g) return;
    this.touchGroup(g);
    this.memberLogs.get(groupId)?.append(memberId, g.version, added);
  }

  /** Adds direct members; returns those actually added. */
  addMembers(group: GroupRec, memberIds: string[]): string[] {
    const added: string[] = [];
    for (const raw of memberIds) {
      const id = raw.toLowerCase();
      if (!this.principalExists(id)) throw new SimError(404, "Request_ResourceNotFound", `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`);
      if (id === group.id) throw new SimError(400, "Request_BadRequest", "A group cannot be a member of itself.");
      if (roleAssignable.has(group) && this.groups.has(id)) {
        throw new SimError(400, "Request_BadRequest", "Groups cannot be members of a role-assignable group (nesting is not supported for groups that can be assigned to a role).");
      }
      if (group.members.has(id)) continue;
      this.touchGroup(group);
      this.addMemberRaw(group, id, group.version);
      added.push(id);
    }
    return added;
  }

  removeMember(group: GroupRec, memberId: string): boolean {
    const id = memberId.toLowerCase();
    if (!group.members.delete(id)) return false;
    const idx = group.memberOrder.indexOf(id);
    if (idx >= 0) group.memberOrder.splice(idx, 1);
    this.memberOf.get(id)?.delete(group.id);
    this.logMembership(group.id, id, false);
    return true;
  }

  deleteGroup(group: GroupRec): void {
    for (const m of [...group.memberOrder]) this.removeMember(group, m);
    for (const parent of [...(this.memberOf.get(group.id) ?? [])]) {
      const p = this.groups.get(parent);
      if (p) this.removeMember(p, group.id);
    }
    for (const role of this.roles.values()) role.members.delete(group.id);
    this.groups.delete(group.id);
    const idx = this.groupOrder.indexOf(group);
    if (idx >= 0) this.groupOrder.splice(idx, 1);
    const version = this.nextVersion();
    this.groupTombstones.set(group.id, version);
    this.groupLog.append(group.id, version);
  }

  /** Direct members that are not soft-deleted, in membership order. */
  visibleMembers(group: GroupRec): string[] {
    const out: string[] = [];
    for (const id of group.memberOrder) {
      const u = this.users.get(id);
      if (u?.deletedDateTime) continue;
      out.push(id);
    }
    return out;
  }

  /** Nested members (users, groups, service principals), each once. */
  transitiveMembers(group: GroupRec): string[] {
    const seen = new Set<string>();
    const out: string[] = [];
    const queue = [group];
    const visitedGroups = new Set<string>([group.id]);
    while (queue.length) {
      const g = queue.shift();
      if (!g) break;
      for (const id of g.memberOrder) {
        if (seen.has(id)) continue;
        const u = this.users.get(id);
        if (u?.deletedDateTime) continue;
        seen.add(id);
        out.push(id);
        const child = this.groups.get(id);
        if (child && !visitedGroups.has(child.id)) {
          visitedGroups.add(child.id);
          queue.push(child);
        }
      }
    }
    return out;
  }

  // ---------- roles ----------

  ensureRole(roleTemplateId: string, displayName: string): DirectoryRoleRec {
    const key = roleTemplateId.toLowerCase();
    let role = this.roles.get(key);
    if (!role) {
      role = { id: guidFor(`directoryRole:${this.tenantId}`, this.roles.size + 1), roleTemplateId: key, displayName, members: new Set() };
      this.roles.set(key, role);
    }
    return role;
  }

  /** Assigns a role; Entra assigns roles to a group only when it was created role-assignable. */
  assignRole(role: DirectoryRoleRec, principalId: string): void {
    const id = principalId.toLowerCase();
    const group = this.groups.get(id);
    if (group && !roleAssignable.has(group)) {
      throw new SimError(400, "Request_BadRequest", `The group '${id}' is not role-assignable: only groups created with isAssignableToRole can be assigned a directory role.`);
    }
    role.members.add(id);
  }

  /**
   * The roles a principal holds: assigned to it, and (transitive) assigned to a role-assignable
   * group it is a member of - such a group holds its roles for its members, which cannot be groups.
   */
  rolesHeldBy(principalId: string, transitive: boolean): DirectoryRoleRec[] {
    const holders = [principalId];
    if (transitive) {
      for (const gid of this.memberOf.get(principalId) ?? []) {
        const group = this.groups.get(gid);
        if (group && roleAssignable.has(group)) holders.push(gid);
      }
    }
    return [...this.roles.values()].filter((role) => holders.some((h) => role.members.has(h)));
  }

  /** Template ids of the roles the principal holds, directly or through a role-assignable group. */
  rolesOf(principalId: string): string[] {
    return this.rolesHeldBy(principalId, true).map((role) => role.roleTemplateId);
  }

  // ---------- SKUs and consumption ----------

  addSku(s: ParsedSku): SkuRec {
    const skuId = s.skuId.toLowerCase();
    const plans: ServicePlanRec[] = s.servicePlans.map((p) => ({
      servicePlanId: p.servicePlanId.toLowerCase(),
      servicePlanName: p.servicePlanName,
      provisioningStatus: p.provisioningStatus,
      appliesTo: p.appliesTo,
      service: p.service ?? p.servicePlanName,
    }));
    const rec: SkuRec = {
      id: `${this.tenantId}_${skuId}`,
      skuId,
      skuPartNumber: s.skuPartNumber,
      displayName: s.displayName ?? null,
      appliesTo: s.appliesTo,
      capabilityStatus: s.capabilityStatus,
      prepaidUnits: { ...s.prepaidUnits },
      servicePlans: plans,
      consumedUnits: 0,
      subscription: {
        id: s.subscription.id ?? guidFor(`subscription:${this.tenantId}`, this.skus.size + 1),
        commerceSubscriptionId: s.subscription.commerceSubscriptionId ?? guidFor(`commerce:${this.tenantId}`, this.skus.size + 1),
        isTrial: s.subscription.isTrial,
        status: s.subscription.status,
        createdDateTime: s.subscription.createdDateTime ?? "2024-01-01T00:00:00Z",
        nextLifecycleDateTime: s.subscription.nextLifecycleDateTime ?? null,
        ownerType: s.subscription.ownerType,
        ownerId: s.subscription.ownerId?.toLowerCase() ?? null,
        ownerTenantId: s.subscription.ownerTenantId ?? (s.subscription.ownerType ? this.tenantId : null),
      },
    };
    this.skus.set(skuId, rec);
    this.skuOrder.push(rec);
    return rec;
  }

  adjustConsumed(skuId: string, delta: number): void {
    const sku = this.skus.get(skuId);
    if (sku) sku.consumedUnits = Math.max(0, sku.consumedUnits + delta);
  }

  /** Units still assignable: enabled + warning - consumed (none while suspended or deleted). */
  availableUnits(sku: SkuRec): number {
    if (sku.capabilityStatus !== "Enabled" && sku.capabilityStatus !== "Warning") return 0;
    return sku.prepaidUnits.enabled + sku.prepaidUnits.warning - sku.consumedUnits;
  }

  /** SKUs the user consumes a unit of (none while soft-deleted). */
  activeSkus(user: UserRec): Set<string> {
    const out = new Set<string>();
    if (user.deletedDateTime) return out;
    for (const l of user.licenses) if (l.state === "Active" || l.state === "ActiveWithError") out.add(l.skuId);
    return out;
  }

  private releaseConsumption(before: Set<string>, after: Set<string>): void {
    for (const s of before) if (!after.has(s)) this.adjustConsumed(s, -1);
    for (const s of after) if (!before.has(s)) this.adjustConsumed(s, 1);
  }

  /** Replaces a user's license states, keeping consumedUnits and the delta version right. */
  setLicenseStates(user: UserRec, states: LicenseState[]): void {
    const before = this.activeSkus(user);
    const beforeKey = assignedLicensesKey(user.licenses);
    user.licenses = states.length ? states : EMPTY;
    this.releaseConsumption(before, this.activeSkus(user));
    // Delta tracks assignedLicenses, not licenseAssignmentStates (as Graph documents).
    if (assignedLicensesKey(user.licenses) !== beforeKey) this.touchUser(user);
  }

  planSet(skuId: string): Set<string> {
    return new Set(this.skus.get(skuId)?.servicePlans.map((p) => p.servicePlanId) ?? []);
  }
}

/** The user's assignedLicenses: one entry per active SKU; a plan is disabled only if every assignment disables it. */
export function assignedLicensesOf(states: readonly LicenseState[]): GroupLicense[] {
  const bySku = new Map<string, string[] | null>();
  for (const s of states) {
    if (s.state !== "Active" && s.state !== "ActiveWithError") continue;
    const prev = bySku.get(s.skuId);
    bySku.set(s.skuId, prev === undefined ? [...s.disabledPlans] : (prev ?? []).filter((p) => s.disabledPlans.includes(p)));
  }
  return [...bySku].map(([skuId, disabledPlans]) => ({ skuId, disabledPlans: disabledPlans ?? [] }));
}

function assignedLicensesKey(states: readonly LicenseState[]): string {
  return assignedLicensesOf(states).map((l) => `${l.skuId}:${[...l.disabledPlans].sort().join(",")}`).sort().join(";");
}

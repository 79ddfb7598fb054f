import { randomUUID } from "node:crypto";
import { SimError } from "../http/errors.js";
import type { ParsedEnvironment, ParsedSystemUser } from "./fixture.js";
import { isGuid } from "./ids.js";

export type ColumnType = "guid" | "string" | "bool" | "int" | "datetime";

/** The systemuser columns the simulation knows (a subset of Dataverse's, covering facts.md). */
export const SYSTEMUSER_COLUMNS: Record<string, ColumnType> = {
  systemuserid: "guid",
  azureactivedirectoryobjectid: "guid",
  domainname: "string",
  internalemailaddress: "string",
  personalemailaddress: "string",
  windowsliveid: "string",
  fullname: "string",
  firstname: "string",
  lastname: "string",
  title: "string",
  mobilephone: "string",
  address1_telephone1: "string",
  address1_line1: "string",
  address1_city: "string",
  address1_stateorprovince: "string",
  address1_country: "string",
  isdisabled: "bool",
  islicensed: "bool",
  issyncwithdirectory: "bool",
  applicationid: "guid",
  accessmode: "int",
  azurestate: "int",
  caltype: "int",
  userlicensetype: "int",
  _businessunitid_value: "guid",
  createdon: "datetime",
  modifiedon: "datetime",
};

export const ROLE_COLUMNS: Record<string, ColumnType> = {
  roleid: "guid",
  name: "string",
  ismanaged: "bool",
  _businessunitid_value: "guid",
  createdon: "datetime",
};

export const BUSINESSUNIT_COLUMNS: Record<string, ColumnType> = {
  businessunitid: "guid",
  name: "string",
  _parentbusinessunitid_value: "guid",
  isdisabled: "bool",
};

const DEFAULT_ROW: Row = {
  systemuserid: null, azureactivedirectoryobjectid: null, domainname: null, internalemailaddress: null, personalemailaddress: null,
  windowsliveid: null, fullname: null, firstname: null, lastname: null, title: null, mobilephone: null, address1_telephone1: null,
  address1_line1: null, address1_city: null, address1_stateorprovince: null, address1_country: null, isdisabled: false, islicensed: false,
  issyncwithdirectory: true, applicationid: null, accessmode: 0, azurestate: 0, caltype: 0, userlicensetype: 6,
  _businessunitid_value: null, createdon: null, modifiedon: null,
};

const READ_ONLY = new Set(["createdon", "modifiedon", "_businessunitid_value"]);
export const MAX_NON_INTERACTIVE_USERS = 7;

export type Row = Record<string, string | number | boolean | null>;

export interface SystemUserRec {
  data: Row;
  seq: number;
  rowVersion: number;
  roles: Set<string>;
  /** Internal email as last written by the platform's directory sync (addUser); later edits in Dataverse stop the refresh. */
  platformEmail: string | null;
}

export interface RoleRec {
  data: Row;
}

/** Undo log of one change set (a Dataverse transaction). */
type Undo = () => void;

/** One environment's Dataverse database: systemusers, security roles and the root business unit. */
export class DataverseDb {
  readonly users = new Map<string, SystemUserRec>();
  /** Users in creation order (the default order of collection reads). */
  readonly order: SystemUserRec[] = [];
  private readonly byAadId = new Map<string, string>();
  readonly roles = new Map<string, RoleRec>();
  readonly businessUnit: Row;
  private seq = 0;
  private rowVersion = 1_000_000;
  private undo: Undo[] | null = null;

  constructor(
    readonly environmentId: string,
    readonly organizationId: string,
    readonly businessUnitId: string,
    readonly domainName: string,
    private readonly now: () => number,
  ) {
    this.businessUnit = { businessunitid: businessUnitId, name: domainName, _parentbusinessunitid_value: null, isdisabled: false };
  }

  static fromFixture(env: ParsedEnvironment, now: () => number): DataverseDb | null {
    const dv = env.dataverse;
    if (!dv) return null;
    const db = new DataverseDb(env.id.toLowerCase(), dv.organizationId, dv.businessUnitId.toLowerCase(), dv.domainName, now);
    for (const r of dv.roles) {
      db.roles.set(r.roleid.toLowerCase(), {
        data: { roleid: r.roleid.toLowerCase(), name: r.name, ismanaged: r.ismanaged, _businessunitid_value: db.businessUnitId, createdon: "2024-01-01T00:00:00Z" },
      });
    }
    for (const u of dv.systemusers) db.loadUser(u);
    return db;
  }

  private loadUser(u: ParsedSystemUser): void {
    const { roles, fullname, createdon, ...rest } = u;
    const data: Row = { ...rest };
    data.fullname = fullname ?? composeFullName(u.firstname, u.lastname, u.domainname);
    data.createdon = createdon ?? "2024-01-01T00:00:00Z";
    const rec = this.insert(data, { skipValidation: true });
    rec.platformEmail = typeof rec.data.internalemailaddress === "string" ? rec.data.internalemailaddress : null;
    for (const r of roles) rec.roles.add(r.toLowerCase());
  }

  // ---------- transactions ----------

  /** Runs fn as one change set: everything it changed is undone if it throws. */
  transaction<T>(fn: () => T): T {
    const outer = this.undo;
    const mine: Undo[] = [];
    this.undo = mine;
    try {
      const result = fn();
      if (outer) outer.push(...mine);
      return result;
    } catch (err) {
      for (const u of mine.reverse()) u();
      throw err;
    } finally {
      this.undo = outer;
    }
  }

  private record(u: Undo): void {
    this.undo?.push(u);
  }

  // ---------- systemusers ----------

  get(id: string): SystemUserRec | undefined {
    return this.users.get(id.toLowerCase());
  }

  findByAadObjectId(objectId: string): SystemUserRec | undefined {
    const id = this.byAadId.get(objectId.toLowerCase());
    return id ? this.users.get(id) : undefined;
  }

  findByApplicationId(appId: string): SystemUserRec | undefined {
    const key = appId.toLowerCase();
    for (const u of this.order) if (typeof u.data.applicationid === "string" && u.data.applicationid.toLowerCase() === key) return u;
    return undefined;
  }

  private nowIso(): string {
    return new Date(this.now()).toISOString();
  }

  /** Creates a systemuser (Web API POST semantics: unknown columns and duplicates are errors). */
  insert(input: Row, opts: { skipValidation?: boolean } = {}): SystemUserRec {
    if (!opts.skipValidation) validateColumns(input, { forCreate: true });
    // One object literal shape for every row (cheap for 100,000 users).
    const data: Row = { ...DEFAULT_ROW, _businessunitid_value: this.businessUnitId, ...normalize(input) };
    const id = typeof data.systemuserid === "string" && data.systemuserid ? data.systemuserid.toLowerCase() : randomUUID();
    if (this.users.has(id)) throw duplicateKey();
    data.systemuserid = id;
    const aad = typeof data.azureactivedirectoryobjectid === "string" ? data.azureactivedirectoryobjectid.toLowerCase() : null;
    data.azureactivedirectoryobjectid = aad;
    if (aad && this.byAadId.has(aad)) throw duplicateKey();
    if (!opts.skipValidation && data.accessmode === 4 && data.applicationid === null) this.assertNonInteractiveRoom(null);
    data.fullname = data.fullname ?? composeFullName(data.firstname as string | null, data.lastname as string | null, String(data.domainname ?? ""));
    data.createdon = data.createdon ?? this.nowIso();
    data.modifiedon = this.nowIso();
    const rec: SystemUserRec = { data, seq: ++this.seq, rowVersion: ++this.rowVersion, roles: new Set(), platformEmail: null };
    this.users.set(id, rec);
    this.order.push(rec);
    if (aad) this.byAadId.set(aad, id);
    this.record(() => this.removeRecord(rec));
    return rec;
  }

  update(rec: SystemUserRec, patch: Row, opts: { skipValidation?: boolean } = {}): void {
    if (!opts.skipValidation) validateColumns(patch, { forCreate: false });
    const values = normalize(patch);
    if (!opts.skipValidation && values.accessmode === 4 && rec.data.accessmode !== 4 && rec.data.applicationid === null) this.assertNonInteractiveRoom(rec);
    const newAad = values.azureactivedirectoryobjectid;
    const oldAad = rec.data.azureactivedirectoryobjectid;
    if (newAad !== undefined && newAad !== oldAad) {
      if (typeof newAad === "string" && this.byAadId.has(newAad.toLowerCase())) throw duplicateKey();
    }
    const previous: Row = { ...rec.data };
    const previousVersion = rec.rowVersion;
    const previousEmail = rec.platformEmail;
    Object.assign(rec.data, values);
    if (newAad !== undefined && newAad !== oldAad) {
      if (typeof oldAad === "string") this.byAadId.delete(oldAad);
      if (typeof newAad === "string") this.byAadId.set(newAad.toLowerCase(), String(rec.data.systemuserid));
    }
    rec.data.modifiedon = this.nowIso();
    rec.rowVersion = ++this.rowVersion;
    this.record(() => {
      if (newAad !== undefined && newAad !== oldAad) {
        if (typeof newAad === "string") this.byAadId.delete(newAad.toLowerCase());
        if (typeof oldAad === "string") this.byAadId.set(oldAad, String(previous.systemuserid));
      }
      rec.data = previous;
      rec.rowVersion = previousVersion;
      rec.platformEmail = previousEmail;
    });
  }

  /** Removes a record (the admin API only: the Web API refuses to delete systemusers, as Dataverse does). */
  removeRecord(rec: SystemUserRec): void {
    const id = String(rec.data.systemuserid);
    if (!this.users.delete(id)) return;
    const idx = this.order.indexOf(rec);
    if (idx >= 0) this.order.splice(idx, 1);
    const aad = rec.data.azureactivedirectoryobjectid;
    if (typeof aad === "string") this.byAadId.delete(aad);
  }

  /** Non-interactive users (accessmode 4) that are not application users (those have no limit). */
  nonInteractiveCount(except: SystemUserRec | null = null): number {
    let n = 0;
    for (const u of this.order) if (u !== except && u.data.accessmode === 4 && u.data.applicationid === null) n++;
    return n;
  }

  private assertNonInteractiveRoom(except: SystemUserRec | null): void {
    const n = this.nonInteractiveCount(except);
    if (n >= MAX_NON_INTERACTIVE_USERS) {
      throw new SimError(400, "0x80044331", `An environment can have at most ${MAX_NON_INTERACTIVE_USERS} non-interactive users (accessmode 4); this one already has ${n}.`);
    }
  }

  // ---------- roles ----------

  associateRole(rec: SystemUserRec, roleId: string): void {
    const key = roleId.toLowerCase();
    if (!this.roles.has(key)) throw new SimError(404, "0x80040217", `role With Id = ${roleId} Does Not Exist`);
    if (rec.roles.has(key)) return;
    rec.roles.add(key);
    this.record(() => rec.roles.delete(key));
  }

  disassociateRole(rec: SystemUserRec, roleId: string): void {
    const key = roleId.toLowerCase();
    if (!rec.roles.delete(key)) return;
    this.record(() => rec.roles.add(key));
  }
}

export function composeFullName(first: string | null | undefined, last: string | null | undefined, fallback: string): string {
  const name = [first, last].filter((p) => p && p.trim()).join(" ");
  return name || fallback;
}

function duplicateKey(): SimError {
  return new SimError(412, "0x80040237", "A record with matching key values already exists.");
}

function validateColumns(input: Row, opts: { forCreate: boolean }): void {
  for (const [key, value] of Object.entries(input)) {
    const type = SYSTEMUSER_COLUMNS[key];
    if (!type || (READ_ONLY.has(key) && key !== "_businessunitid_value")) {
      throw new SimError(400, "0x80060888",
        `The property '${key}' does not exist on type 'Microsoft.Dynamics.CRM.systemuser'. Make sure to only use property names that are defined by the type.`);
    }
    if (key === "_businessunitid_value") throw new SimError(400, "0x80060888", "Use 'businessunitid@odata.bind' to set the business unit.");
    if (key === "systemuserid" && !opts.forCreate) throw new SimError(400, "0x80060888", "The primary key 'systemuserid' cannot be changed.");
    if (value === null) continue;
    const ok = type === "bool" ? typeof value === "boolean"
      : type === "int" ? Number.isInteger(value)
        : type === "guid" ? isGuid(value)
          : typeof value === "string";
    if (!ok) throw new SimError(400, "0x80048d19", `Cannot convert the literal '${String(value)}' to the expected type '${type === "guid" ? "Edm.Guid" : type === "bool" ? "Edm.Boolean" : type === "int" ? "Edm.Int32" : "Edm.String"}' for property '${key}'.`);
    if (key === "accessmode" && (typeof value !== "number" || value < 0 || value > 5)) throw new SimError(400, "0x80044331", `accessmode ${String(value)} is not a valid option.`);
  }
}

function normalize(input: Row): Row {
  const out: Row = {};
  for (const [key, value] of Object.entries(input)) {
    const type = SYSTEMUSER_COLUMNS[key];
    out[key] = type === "guid" && typeof value === "string" ? value.toLowerCase() : value;
  }
  return out;
}

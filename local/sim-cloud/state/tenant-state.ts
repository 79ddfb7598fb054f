import { DataverseDb } from "./dataverse-db.js";
import { Directory } from "./directory.js";
import type { ParsedEnvironment, ParsedFixture, ParsedSignIn } from "./fixture.js";
import { evaluateGroupLicenses } from "./licensing.js";
import type { SignInRec } from "./types.js";

export interface EnvironmentRec {
  meta: Omit<ParsedEnvironment, "dataverse">;
  db: DataverseDb | null;
}

/**
 * Everything the simulated cloud knows about its one tenant. Tests may read and change it
 * directly (SimCloud.state); the admin API does the same over HTTP.
 */
export class TenantState {
  directory: Directory;
  environments = new Map<string, EnvironmentRec>();
  /** Newest first. */
  signIns: SignInRec[] = [];
  /** Bumped to invalidate every delta token issued so far. */
  deltaEpoch = 1;

  constructor(fixture: ParsedFixture, readonly now: () => number = Date.now) {
    this.directory = new Directory(fixture.tenant.id, "", "", "NL", now);
    this.load(fixture);
  }

  get tenantId(): string {
    return this.directory.tenantId;
  }

  /** Replaces all state with the fixture's (delta tokens issued before stop working). */
  load(fixture: ParsedFixture): void {
    this.directory = Directory.fromFixture(fixture, this.now);
    for (const user of this.directory.userOrder) evaluateGroupLicenses(this.directory, user);
    this.environments = new Map();
    for (const env of fixture.environments) {
      const { dataverse: _dataverse, ...meta } = env;
      this.environments.set(env.id.toLowerCase(), { meta: { ...meta, id: env.id.toLowerCase() }, db: DataverseDb.fromFixture(env, this.now) });
    }
    this.signIns = [];
    for (const s of fixture.signIns) this.addSignIn(s);
    this.deltaEpoch += 1;
  }

  environment(id: string): EnvironmentRec | undefined {
    return this.environments.get(id.toLowerCase());
  }

  addSignIn(s: ParsedSignIn): SignInRec {
    const rec: SignInRec = {
      id: s.id,
      createdDateTime: new Date(s.createdDateTime).toISOString(),
      userId: s.userId.toLowerCase(),
      userPrincipalName: s.userPrincipalName,
      userDisplayName: s.userDisplayName ?? this.directory.findUser(s.userId)?.displayName ?? s.userPrincipalName,
      appId: s.appId.toLowerCase(),
      appDisplayName: s.appDisplayName,
      resourceDisplayName: s.resourceDisplayName ?? s.appDisplayName,
      ipAddress: s.ipAddress ?? "203.0.113.10",
      clientAppUsed: s.clientAppUsed ?? "Browser",
      isInteractive: s.isInteractive,
      status: { errorCode: s.status.errorCode, failureReason: s.status.failureReason ?? null, additionalDetails: s.status.additionalDetails ?? null },
    };
    // Keep newest first; appends are usually newest, so search from the front.
    let i = 0;
    while (i < this.signIns.length && (this.signIns[i]?.createdDateTime ?? "") > rec.createdDateTime) i++;
    this.signIns.splice(i, 0, rec);
    return rec;
  }
}

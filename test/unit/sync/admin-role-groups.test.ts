import { randomUUID } from "node:crypto";
import type { Client } from "@microsoft/microsoft-graph-client";
import { describe, expect, it } from "vitest";
import { DIRECTORY_ROLES } from "../../../shared/auth/roles.js";
import { adminsOf, groupUsersUrl, readTenantFacts, roleHoldersOf } from "../../../shared/sync/directory-reader.js";

/**
 * D2's admin exception when a directory role is assigned to a role-assignable group: Graph lists
 * the group among the role's members (`@odata.type: #microsoft.graph.group`), not its members.
 */
const USER = "#microsoft.graph.user";
const GROUP = "#microsoft.graph.group";
const APP = "#microsoft.graph.servicePrincipal";
const id = () => randomUUID();

const roleUrl = (role: keyof typeof DIRECTORY_ROLES) => `/directoryRoles(roleTemplateId='${DIRECTORY_ROLES[role]}')/members?$select=id`;

/** A Graph client answering `$batch` items and plain GETs from a table of URLs, recording what was asked. */
function directory(answers: Record<string, unknown>) {
  const batches: string[][] = [];
  const gets: string[] = [];
  const answer = (url: string) => answers[url] ?? { value: [] };
  const client = {
    api: (url: string) => ({
      get: () => {
        gets.push(url);
        return Promise.resolve(answer(url));
      },
      post: (body: { requests: { id: string; url: string }[] }) => {
        batches.push(body.requests.map((r) => r.url));
        return Promise.resolve({ responses: body.requests.map((r) => ({ id: r.id, status: 200, body: answer(r.url) })) });
      },
    }),
  } as unknown as Client;
  return { client, batches, gets };
}

describe("roleHoldersOf (a directory role's members by kind)", () => {
  it("when a role names users, a group and a service principal, then users hold it, the group is kept apart and the app is ignored", () => {
    const [user, group, app] = [id(), id(), id()];
    expect(roleHoldersOf([{ id: user, "@odata.type": USER }, { id: group.toUpperCase(), "@odata.type": GROUP }, { id: app, "@odata.type": APP }]))
      .toEqual({ users: [user], groups: [group] });
  });

  it("when an entry carries no @odata.type (the user cast of a group's members), then it is a user", () => {
    const user = id();
    expect(roleHoldersOf([{ id: user }])).toEqual({ users: [user], groups: [] });
  });
});

describe("adminsOf (users holding each role, directly or through a group)", () => {
  it("when a group holds a role, then its member users hold it, each once and sorted, and the group's id is no admin", () => {
    const [direct, member, both, group] = [id(), id(), id(), id()];
    const none = { users: [], groups: [] };
    const admins = adminsOf(
      { global: none, powerPlatform: { users: [direct, both], groups: [group] }, dynamics: { users: [], groups: [group] } },
      new Map([[group, [member, both]]]),
    );
    expect(admins).toEqual({ global: [], powerPlatform: [direct, member, both].sort(), dynamics: [member, both].sort() });
    expect(Object.values(admins).flat()).not.toContain(group);
  });
});

describe("readTenantFacts with roles held by role-assignable groups", () => {
  it("when no role is held by a group, then the facts take one $batch and no group's members are read", async () => {
    const admin = id();
    const { client, batches, gets } = directory({ [roleUrl("Dynamics 365 Administrator")]: { value: [{ id: admin, "@odata.type": USER }] } });

    const facts = await readTenantFacts(client, []);

    expect(facts.admins).toEqual({ global: [], powerPlatform: [], dynamics: [admin] });
    expect(batches).toHaveLength(1);
    expect(gets).toEqual([]);
  });

  it("when a group holds two roles, then its members are read once, page by page, and they hold both roles; the group and apps are no admins", async () => {
    const [group, direct, first, second, app] = [id(), id(), id(), id(), id()];
    const nextPage = `https://graph.example/v1.0/groups/${group}/members/microsoft.graph.user?$skiptoken=2`;
    const { client, batches, gets } = directory({
      [roleUrl("Power Platform Administrator")]: { value: [{ id: group, "@odata.type": GROUP }, { id: app, "@odata.type": APP }] },
      [roleUrl("Dynamics 365 Administrator")]: { value: [{ id: direct, "@odata.type": USER }, { id: group, "@odata.type": GROUP }] },
      [groupUsersUrl(group)]: { value: [{ id: first }], "@odata.nextLink": nextPage },
      [nextPage]: { value: [{ id: second }] },
    });

    const facts = await readTenantFacts(client, []);

    expect(facts.admins).toEqual({ global: [], powerPlatform: [first, second].sort(), dynamics: [direct, first, second].sort() });
    expect(batches).toHaveLength(2);
    expect(batches[1]).toEqual([groupUsersUrl(group)]);
    expect(gets).toEqual([nextPage]);
  });
});

import type { PlatformEnvironment } from "./model.js";

/** D5: how each environment type gets its users. */
export interface EnvironmentPolicy {
  /** Whether the environment can have users at all (it needs a Dataverse database). */
  usersAllowed: boolean;
  /** Whether the periodic sync adds users; otherwise they come only on demand. */
  backgroundAdds: boolean;
  /**
   * Whether an admin's add through the API adds users. Dataverse for Teams: no - its users are
   * added only at their first access (D5); a user's first access adds wherever `usersAllowed`.
   */
  apiAdds: boolean;
  /** Developer environments: only their creator. */
  onlyCreator: boolean;
  summary: string;
}

export function environmentPolicy(env: Pick<PlatformEnvironment, "type" | "dataverse">): EnvironmentPolicy {
  if (!env.dataverse) {
    return { usersAllowed: false, backgroundAdds: false, apiAdds: false, onlyCreator: false, summary: "No Dataverse database: no users at all." };
  }
  switch (env.type) {
    case "Production":
    case "Sandbox":
    case "Default":
      return { usersAllowed: true, backgroundAdds: true, apiAdds: true, onlyCreator: false, summary: `${env.type}: eligible users are added by the periodic sync.` };
    case "Trial":
      return { usersAllowed: true, backgroundAdds: false, apiAdds: true, onlyCreator: false, summary: "Trial: users are added only on demand; the periodic sync keeps existing users up to date." };
    case "Developer":
      return { usersAllowed: true, backgroundAdds: true, apiAdds: true, onlyCreator: true, summary: "Developer: only the environment's creator." };
    case "Teams":
      return { usersAllowed: true, backgroundAdds: false, apiAdds: false, onlyCreator: false, summary: "Dataverse for Teams: users are added only at their first access." };
    case "Other":
      return { usersAllowed: false, backgroundAdds: false, apiAdds: false, onlyCreator: false, summary: "An environment type this product does not manage." };
  }
}

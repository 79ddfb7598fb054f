import type { DirectoryRole } from "../auth/roles.js";
import type { Principal } from "../auth/token-validator.js";

/**
 * Who asks for a license change: an admin (user token), an application, or the product itself
 * (trial expiry, auto-claim). Directory roles decide what an admin may do beyond the endpoint's
 * access (L9: only a Global Administrator licenses guests).
 */
export interface AuditActor {
  type: "user" | "application" | "system";
  id: string;
  name?: string;
  directoryRoles: readonly DirectoryRole[];
}

export function actorFromPrincipal(principal: Principal): AuditActor {
  return {
    type: principal.isApplication ? "application" : "user",
    id: principal.objectId,
    ...(principal.name ? { name: principal.name } : {}),
    directoryRoles: principal.directoryRoles,
  };
}

/** The product acting on its own rules (e.g. "trial-expiry", "auto-claim"). */
export function systemActor(id: string, name?: string): AuditActor {
  return { type: "system", id, ...(name ? { name } : {}), directoryRoles: [] };
}

export function auditActorOf(actor: AuditActor): { type: AuditActor["type"]; id: string; name?: string } {
  return { type: actor.type, id: actor.id, ...(actor.name ? { name: actor.name } : {}) };
}

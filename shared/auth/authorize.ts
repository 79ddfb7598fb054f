import { AppError } from "../errors/app-error.js";
import { invalidRouteTenantId } from "../http/conventions.js";
import { isGuid } from "../ids.js";
import type { Access } from "./roles.js";
import type { Principal } from "./token-validator.js";

const forbidden = (detail: string, code = "forbidden") => new AppError("forbidden", detail, { code });

export interface AuthorizationContext {
  /** The `{tenantId}` of the route, when it has one. */
  routeTenantId: string | undefined;
  isTenantOnboarded(tenantId: string): Promise<boolean>;
}

/** P4: valid token, then the route's tenant, the tenant registry, and the endpoint's roles. */
export async function authorize(principal: Principal, access: Access, ctx: AuthorizationContext): Promise<void> {
  if (access.kind === "public") return;
  if (access.kind === "entraExtension") {
    // Its own handler validates Entra's token (shared/auth/entra-extension-token.ts); an admin token never passes here.
    throw forbidden("This endpoint accepts only Microsoft Entra's custom authentication extension calls.", "entra-extension-only");
  }
  if (ctx.routeTenantId !== undefined && !isGuid(ctx.routeTenantId)) throw invalidRouteTenantId();
  if (ctx.routeTenantId !== undefined && ctx.routeTenantId.toLowerCase() !== principal.tenantId.toLowerCase()) {
    throw forbidden("The token was issued for another tenant than the one in the route.", "wrong-tenant");
  }
  const allowNotOnboarded = access.kind === "directoryRoles" && access.allowNotOnboarded === true;
  if (!allowNotOnboarded && !(await ctx.isTenantOnboarded(principal.tenantId))) {
    throw forbidden("This tenant is not onboarded. A Global Administrator of the tenant must onboard it first (PUT /api/tenants/{tenantId}).", "tenant-not-onboarded");
  }
  if (access.kind === "appRole") {
    // An app role is granted to applications (P4: "an application token with the app role"): a
    // user token carrying the same role name (assigned to a user) does not pass.
    if (!principal.isApplication || !principal.appRoles.includes(access.role)) {
      throw forbidden(`This endpoint needs an application token with the app role ${access.role}.`, "missing-role");
    }
    return;
  }
  if (access.orAppRole && principal.isApplication && principal.appRoles.includes(access.orAppRole)) return;
  if (principal.isApplication || !principal.directoryRoles.some((r) => access.anyOf.includes(r))) {
    throw forbidden(`This endpoint needs one of these directory roles: ${access.anyOf.join(", ")}.`, "missing-role");
  }
}

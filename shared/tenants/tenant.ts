import { z } from "zod";
import { oneLineTextSchema, tenantIdSchema } from "../http/conventions.js";

export const tenantSchema = z.object({
  tenantId: tenantIdSchema,
  displayName: z.string(),
  status: z.enum(["active"]),
  onboardedAt: z.iso.datetime(),
  onboardedBy: z.guid().describe("Object id of the Global Administrator who onboarded the tenant"),
  updatedAt: z.iso.datetime(),
});
export type Tenant = z.infer<typeof tenantSchema>;

export const onboardTenantBodySchema = z.object({
  displayName: oneLineTextSchema(256),
}).strict();
export type OnboardTenantBody = z.infer<typeof onboardTenantBodySchema>;

export const tenantRouteParamsSchema = z.object({ tenantId: tenantIdSchema });

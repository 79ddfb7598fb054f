import { z } from "zod";
import type { Access } from "../auth/roles.js";
import type { EndpointDefinition } from "../http/endpoint.js";
import { PROBLEM_CONTENT_TYPE } from "../http/problem.js";
import { ERROR_KINDS, PROBLEM_TYPE_BASE } from "../errors/app-error.js";

type JsonSchema = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any", target: "draft-2020-12" });
  return rest;
}

export const problemSchema = z.object({
  type: z.string().describe(`A URI under ${PROBLEM_TYPE_BASE}`),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});

function parameters(def: EndpointDefinition): JsonSchema[] {
  const out: JsonSchema[] = [];
  if (def.ifMatch) out.push({ name: "If-Match", in: "header", required: def.ifMatch === true, schema: { type: "string" }, description: "The ETag read (a quoted entity-tag)" });
  for (const [where, schema] of [["path", def.params], ["query", def.query]] as const) {
    if (!schema) continue;
    const shape: Record<string, z.ZodType> = schema.shape;
    for (const [name, field] of Object.entries(shape)) {
      out.push({
        name,
        in: where,
        required: where === "path" || !field.safeParse(undefined).success,
        schema: jsonSchema(field, "input"),
        ...(field.description ? { description: field.description } : {}),
      });
    }
  }
  return out;
}

/** Who may call: the security requirement and this API's `x-access` summary of P4. */
function security(access: Access): Record<string, unknown> {
  switch (access.kind) {
    case "public":
      return { security: [], "x-access": "public" };
    case "entraExtension":
      return { security: [{ entraCustomExtension: [] }], "x-access": { entraExtension: true } };
    case "appRole":
      return { "x-access": { appRole: access.role } };
    case "directoryRoles":
      return { "x-access": { directoryRoles: access.anyOf, ...(access.orAppRole ? { appRole: access.orAppRole } : {}) } };
  }
}

/**
 * The problem statuses every endpoint of its kind may answer, documented without being listed in
 * its `responses`: schema and token failures, a named resource not found, a stale or missing
 * If-Match, Microsoft's refusal (endpoints that call it), a dependency down.
 */
export function commonErrorStatuses(def: EndpointDefinition): number[] {
  const named = Object.keys(def.params?.shape ?? {}).some((p) => p !== "tenantId");
  if (def.access.kind === "public") return [400, 500];
  if (def.access.kind === "entraExtension") return [401, 403];
  return [
    400,
    401,
    403,
    ...(named ? [404] : []),
    ...(def.ifMatch ? [412] : []),
    ...(def.ifMatch === true ? [428] : []),
    500,
    ...(def.upstream ? [502] : []),
    503,
  ];
}

/** OpenAPI 3.1 document generated from the endpoint contracts (the same zod schemas that validate). */
export function buildOpenApiDocument(endpoints: readonly EndpointDefinition[], info: { title: string; version: string }) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const def of endpoints) {
    const path = `/api/${def.route.replace(/\{(\w+)(?::\w+)?\??\}/g, "{$1}")}`;
    const responses: Record<string, unknown> = {};
    for (const [status, r] of Object.entries(def.responses)) {
      responses[status] = {
        description: r.description,
        ...(r.headers ? { headers: Object.fromEntries(Object.entries(r.headers).map(([h, d]) => [h, { description: d, schema: { type: "string" } }])) } : {}),
        ...(r.schema || r.contentType
          ? {
              content: Object.fromEntries(
                [{ contentType: r.contentType ?? "application/json", schema: r.schema }, ...(r.alsoAs ?? [])].map((c) => [
                  c.contentType,
                  c.schema ? { schema: jsonSchema(c.schema, "output") } : {},
                ]),
              ),
            }
          : {}),
      };
    }
    for (const status of commonErrorStatuses(def)) {
      responses[String(status)] ??= { $ref: `#/components/responses/Problem${status}` };
    }
    paths[path] ??= {};
    paths[path][def.method.toLowerCase()] = {
      operationId: def.name,
      summary: def.summary,
      tags: [def.tag],
      ...security(def.access),
      parameters: parameters(def),
      ...(def.body
        ? { requestBody: { required: true, content: { "application/json": { schema: jsonSchema(def.body, "input") } } } }
        : {}),
      responses,
    };
  }
  const problemResponses = Object.fromEntries(
    Object.values(ERROR_KINDS).map((k) => [
      `Problem${k.status}`,
      { description: k.title, content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: "#/components/schemas/Problem" } } } },
    ]),
  );
  return {
    openapi: "3.1.0",
    info,
    servers: [{ url: "/" }],
    security: [{ entraBearer: [] }],
    paths,
    components: {
      securitySchemes: {
        entraBearer: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "A Microsoft Entra ID access token for this API" },
        entraCustomExtension: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description:
            "The token Microsoft Entra sends to a custom authentication extension: audience = ENTRA_EXTENSION_AUDIENCES, " +
            "caller app (azp/appid) = ENTRA_EXTENSION_CALLER_APP_ID; admins' tokens are refused",
        },
      },
      schemas: { Problem: jsonSchema(problemSchema, "output") },
      responses: problemResponses,
    },
  };
}

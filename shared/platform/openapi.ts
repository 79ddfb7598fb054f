import { z } from "zod";
import type { Access } from "../auth/roles.js";
import type { EndpointDefinition, ResponseSpec } from "../http/endpoint.js";
import { PROBLEM_CONTENT_TYPE } from "../http/problem.js";
import { ERROR_KINDS, PROBLEM_TYPE_BASE } from "../errors/app-error.js";

type JsonSchema = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any", target: "draft-2020-12" });
  return rest;
}

/**
 * An RFC 9457 problem document: the members every problem carries, and open to the extension members
 * a problem type names (docs/errors.md: `userId`, `skuId`, `shortBy`, `upstreamStatus`, `allowed`,
 * ...), so that a client validating against the document accepts every problem the app sends.
 */
export const problemSchema = z
  .looseObject({
    type: z.string().describe(`A URI under ${PROBLEM_TYPE_BASE}`),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional().describe("Schema failures: one per field"),
  })
  .describe("RFC 9457 problem details; extension members as the problem type names them (docs/errors.md)");

const PROBLEM_SCHEMA_REF = { $ref: "#/components/schemas/Problem" };

/** Content types a PATCH body is taken in: JSON merge patches (RFC 7396), also sent as plain JSON. */
export const PATCH_CONTENT_TYPES = ["application/merge-patch+json", "application/json"] as const;

/** Headers some problems carry, on the shared problem responses (`Retry-After` on 429 and 503, P6). */
const PROBLEM_HEADERS: Partial<Record<number, Record<string, string>>> = {
  401: { "WWW-Authenticate": 'The Bearer challenge: Bearer error="invalid_token" for a token refused, plain Bearer when none was sent (RFC 6750)' },
  429: { "Retry-After": "Seconds to wait before sending again" },
  503: { "Retry-After": "Seconds to wait before trying again (when throttled or a dependency is down)" },
};

function headerObjects(headers: Record<string, string>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(headers).map(([h, d]) => [h, { description: d, schema: { type: "string" } }]));
}

/**
 * One declared response. An error status declared without a schema of its own is a problem document
 * (every error is `application/problem+json`, docs/errors.md): its description names the problem types.
 */
function responseObject(status: number, r: ResponseSpec): Record<string, unknown> {
  const problem = status >= 400 && !r.schema && !r.contentType;
  return {
    description: r.description,
    ...(r.headers ? { headers: headerObjects(r.headers) } : {}),
    ...(problem
      ? { content: { [PROBLEM_CONTENT_TYPE]: { schema: PROBLEM_SCHEMA_REF } } }
      : r.schema || r.contentType
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

function requestBody(method: EndpointDefinition["method"], body: z.ZodType): Record<string, unknown> {
  const schema = jsonSchema(body, "input");
  const types = method === "PATCH" ? PATCH_CONTENT_TYPES : (["application/json"] as const);
  return { required: true, content: Object.fromEntries(types.map((t) => [t, { schema }])) };
}

function parameters(def: EndpointDefinition): JsonSchema[] {
  const out: JsonSchema[] = [];
  if (def.ifMatch) out.push({ name: "If-Match", in: "header", required: def.ifMatch === true, schema: { type: "string" }, description: "The ETag read (a quoted entity-tag)" });
  for (const [name, description] of Object.entries(def.requestHeaders ?? {})) out.push({ name, in: "header", required: false, schema: { type: "string" }, description });
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
 * If-Match, a body too large or not JSON, Microsoft's refusal (endpoints that call it), a dependency down.
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
    ...(def.body ? [413, 415] : []),
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
    for (const [status, r] of Object.entries(def.responses)) responses[status] = responseObject(Number(status), r);
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
      ...(def.body ? { requestBody: requestBody(def.method, def.body) } : {}),
      responses,
    };
  }
  const problemResponses = Object.fromEntries(
    Object.values(ERROR_KINDS).map((k) => {
      const headers = PROBLEM_HEADERS[k.status];
      return [
        `Problem${k.status}`,
        { description: k.title, ...(headers ? { headers: headerObjects(headers) } : {}), content: { [PROBLEM_CONTENT_TYPE]: { schema: PROBLEM_SCHEMA_REF } } },
      ];
    }),
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

import type { HttpHandler, HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import type { z } from "zod";
import type { Access } from "../auth/roles.js";
import type { Principal, TokenValidator } from "../auth/token-validator.js";
import { authorize } from "../auth/authorize.js";
import { AppError } from "../errors/app-error.js";
import { PART_MISMATCH } from "./conventions.js";
import { toProblemResponse, zodIssuesToFieldErrors } from "./problem.js";

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface ResponseSpec {
  /** For an error status, the problem types (codes of docs/errors.md) it stands for. */
  description: string;
  /**
   * The body. An error status (4xx, 5xx) without one is an `application/problem+json` problem
   * document (the shared Problem schema of the OpenAPI document).
   */
  schema?: z.ZodType;
  /** Defaults to application/json when a schema is given. */
  contentType?: string;
  /** Header name -> its description: every header this answer carries (ETag, Location, Retry-After). */
  headers?: Record<string, string>;
  /** The same answer in other representations, chosen by `Accept` or a query parameter (content negotiation). */
  alsoAs?: { contentType: string; schema?: z.ZodType }[];
}

/**
 * The contract of one HTTP endpoint: route, access (its roles, declared once here), and the zod
 * schemas that both validate requests and generate the OpenAPI document.
 */
export interface EndpointDefinition<
  P extends z.ZodObject = z.ZodObject,
  Q extends z.ZodObject = z.ZodObject,
  B extends z.ZodType = z.ZodType,
> {
  /** The Azure Function's name, `<resource>-<verb>`. */
  name: string;
  method: HttpMethod;
  /** Functions route template, without the `api/` prefix. */
  route: string;
  summary: string;
  tag: string;
  access: Access;
  params?: P;
  query?: Q;
  body?: B;
  /**
   * The resource is versioned: the request must carry the ETag read (If-Match; 428 without, 412 when
   * stale) - or may ("optional": a PUT that creates or replaces; 412 when stale).
   */
  ifMatch?: true | "optional";
  /** Optional request headers the endpoint reads (name -> what it does), for the OpenAPI document. */
  requestHeaders?: Record<string, string>;
  /**
   * The endpoint calls Microsoft (Graph, Dataverse, the Power Platform admin API): a refusal or an
   * answer of an unexpected shape is a 502 (`upstream`, `token-refused`), throttling past the retry
   * budget a 503.
   */
  upstream?: true;
  responses: Record<number, ResponseSpec>;
}

export function defineEndpoint<P extends z.ZodObject, Q extends z.ZodObject, B extends z.ZodType>(
  def: EndpointDefinition<P, Q, B>,
): EndpointDefinition<P, Q, B> {
  return def;
}

type Out<T, Fallback> = T extends z.ZodType ? z.output<T> : Fallback;

export interface EndpointInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  /** Undefined only for public endpoints. */
  principal: Principal;
  request: HttpRequest;
  context: InvocationContext;
}

export interface AuthDependencies {
  validateToken: TokenValidator;
  isTenantOnboarded(tenantId: string): Promise<boolean>;
}

/**
 * Wraps a use-case into a Functions HTTP handler: authenticate, authorize, validate params / query /
 * body, run, and map any error to problem+json. Nothing else in the app catches errors for HTTP.
 */
export function endpointHandler<P extends z.ZodObject, Q extends z.ZodObject, B extends z.ZodType>(
  def: EndpointDefinition<P, Q, B>,
  auth: () => Promise<AuthDependencies>,
  run: (input: EndpointInput<Out<P, Record<string, never>>, Out<Q, Record<string, never>>, Out<B, undefined>>) => Promise<HttpResponseInit>,
): HttpHandler {
  return async (request, context) => {
    const started = Date.now();
    let response: HttpResponseInit;
    let tenantId: string | undefined;
    try {
      const rawParams = { ...request.params };
      // One spelling of a tenant id everywhere (partition keys, settings, routes): Entra's lower case.
      if (typeof rawParams.tenantId === "string") rawParams.tenantId = rawParams.tenantId.toLowerCase();
      tenantId = rawParams.tenantId;
      let principal: Principal | undefined;
      if (def.access.kind !== "public") {
        const deps = await auth();
        principal = await deps.validateToken(request.headers.get("authorization"));
        await authorize(principal, def.access, { routeTenantId: rawParams.tenantId, isTenantOnboarded: (t) => deps.isTenantOnboarded(t) });
      }
      const params = parsePart(def.params, rawParams, "params");
      const query = parsePart(def.query, Object.fromEntries(request.query.entries()), "query");
      const body = def.body ? parsePart(def.body, await readJson(request), "body") : await refuseBody(request);
      response = await run({
        params: params as Out<P, Record<string, never>>,
        query: query as Out<Q, Record<string, never>>,
        body: body as Out<B, undefined>,
        principal: principal as Principal,
        request,
        context,
      });
    } catch (err) {
      response = toProblemResponse(err, context);
    }
    context.log(
      JSON.stringify({ event: "http", function: def.name, tenantId, method: request.method, status: response.status ?? 200, ms: Date.now() - started }),
    );
    return response;
  };
}

function parsePart(schema: z.ZodType | undefined, value: unknown, part: keyof typeof PART_MISMATCH): unknown {
  if (!schema) return {};
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new AppError("validation", PART_MISMATCH[part], {
    errors: zodIssuesToFieldErrors(result.error, part),
  });
}

/**
 * An endpoint that takes no body (a start, an approval, a refresh): one sent is refused, not
 * ignored - an option a caller believes it set (`{"full": true}`) must not pass silently. An empty
 * body, or `{}`, is no body.
 */
async function refuseBody(request: HttpRequest): Promise<undefined> {
  if (request.method === "GET" || request.method === "HEAD" || request.body === null) return undefined;
  const text = (await request.text()).trim();
  if (text === "" || /^\{\s*\}$/.test(text)) return undefined;
  throw new AppError("validation", "This request takes no body.", { errors: [{ path: "body", message: "this request takes no body; send none (or {})" }] });
}

/** The largest body an endpoint reads (a 500-user bulk change is ~50 KB). */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * A body is JSON - `application/json` or a `+json` type (a PATCH's `application/merge-patch+json`),
 * UTF-8 - or refused (415) before it is parsed or anything is done: a form post or a text body is not read
 * as JSON by guesswork, nor a JSON Patch (`application/json-patch+json`: an array of operations) as
 * a merge patch. A body without a Content-Type is read as JSON.
 */
function checkMediaType(request: HttpRequest): void {
  const coding = request.headers.get("content-encoding")?.trim().toLowerCase();
  if (coding && coding !== "identity") {
    throw new AppError("unsupportedMediaType", `The request body is sent with Content-Encoding "${coding}", which is not accepted: send it uncompressed. Nothing was done.`, {
      errors: [{ path: "headers.content-encoding", message: `"${coding}" is not accepted; send the body uncompressed` }],
    });
  }
  const header = request.headers.get("content-type");
  if (header === null || header.trim() === "") return;
  const [type = "", ...params] = header.split(";").map((p) => p.trim().toLowerCase());
  const charset = params.map((p) => p.split("=")).find(([name]) => name?.trim() === "charset")?.[1]?.trim().replace(/^"|"$/g, "");
  const json = /^application\/(?:[a-z0-9.+-]+\+)?json$/.test(type) && type !== "application/json-patch+json";
  if (json && (charset === undefined || charset === "utf-8" || charset === "utf8")) return;
  const accepted = request.method === "PATCH" ? "application/merge-patch+json or application/json" : "application/json";
  throw new AppError("unsupportedMediaType", `The request body must be ${accepted} (UTF-8); it was sent as "${header}". Nothing was done.`, {
    errors: [{ path: "headers.content-type", message: `"${header}" is not accepted; send ${accepted}` }],
    extensions: { accepted: accepted.split(" or ") },
  });
}

/** 413 before reading when Content-Length says so, or after reading a body sent without one. */
function tooLarge(bytes: number): AppError {
  return new AppError("payloadTooLarge", `The request body is ${bytes} bytes; at most ${MAX_BODY_BYTES} are read. Nothing was done.`, {
    errors: [{ path: "body", message: `at most ${MAX_BODY_BYTES} bytes` }],
    extensions: { maxBytes: MAX_BODY_BYTES },
  });
}

async function readJson(request: HttpRequest): Promise<unknown> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > MAX_BODY_BYTES) throw tooLarge(declared);
  const bytes = new Uint8Array(await request.arrayBuffer());
  if (bytes.byteLength > MAX_BODY_BYTES) throw tooLarge(bytes.byteLength);
  if (bytes.byteLength === 0) return undefined;
  checkMediaType(request);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    // Not replaced by U+FFFD and stored: a name with broken bytes is refused.
    throw new AppError("validation", "The request body is not valid UTF-8.", { errors: [{ path: "body", message: "invalid UTF-8" }] });
  }
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new AppError("validation", "The request body is not valid JSON.", { errors: [{ path: "body", message: "invalid JSON" }] });
  }
}

/** The options object for `app.http(def.name, httpTrigger(def, handler))`. */
export function httpTrigger(def: EndpointDefinition, handler: HttpHandler) {
  return { methods: [def.method], route: def.route, authLevel: "anonymous" as const, handler };
}

import { z } from "zod";
import { ACCESS } from "../auth/roles.js";
import { defineEndpoint } from "../http/endpoint.js";
import { healthSchema } from "./health.js";

export const healthGet = defineEndpoint({
  name: "health-get",
  method: "GET",
  route: "health",
  summary: "Liveness and dependencies (Cosmos DB, storage). No authentication.",
  tag: "Platform",
  access: ACCESS.public,
  responses: {
    200: { description: "Every dependency answered", schema: healthSchema },
    503: { description: "A dependency failed; `failed` names it", schema: healthSchema, headers: { "Retry-After": "Seconds to wait" } },
  },
});

export const openApiGet = defineEndpoint({
  name: "openapi-get",
  method: "GET",
  route: "openapi.json",
  summary: "This OpenAPI 3.1 document, generated from the request and response schemas.",
  tag: "Platform",
  access: ACCESS.public,
  responses: { 200: { description: "OpenAPI document", schema: z.record(z.string(), z.unknown()) } },
});

import { app } from "@azure/functions";
import { API_ENDPOINTS } from "../shared/api-catalog.js";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { openApiGet } from "../shared/platform/endpoints.js";
import { buildOpenApiDocument } from "../shared/platform/openapi.js";
import { authDependencies } from "../shared/runtime.js";

let document: ReturnType<typeof buildOpenApiDocument> | undefined;

export const handler = endpointHandler(openApiGet, authDependencies, () => {
  document ??= buildOpenApiDocument(API_ENDPOINTS, { title: "License and provisioning control plane", version: "0.1.0" });
  return Promise.resolve({ status: 200, jsonBody: document });
});

app.http(openApiGet.name, httpTrigger(openApiGet, handler));

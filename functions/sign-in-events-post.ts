import { app } from "@azure/functions";
import { signInEventsPost } from "../shared/events/endpoints.js";
import { postSignInEventResponse } from "../shared/events/http.js";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { authDependencies } from "../shared/runtime.js";

export const handler = endpointHandler(signInEventsPost, authDependencies, ({ params, body, principal }) =>
  postSignInEventResponse(params.tenantId, body, principal),
);

app.http(signInEventsPost.name, httpTrigger(signInEventsPost, handler));

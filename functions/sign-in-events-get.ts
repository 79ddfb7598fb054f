import { app } from "@azure/functions";
import { signInEventsGet } from "../shared/events/endpoints.js";
import { getSignInEventResponse } from "../shared/events/http.js";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { authDependencies } from "../shared/runtime.js";

export const handler = endpointHandler(signInEventsGet, authDependencies, ({ params, principal }) => getSignInEventResponse(params.tenantId, params.eventId, principal));

app.http(signInEventsGet.name, httpTrigger(signInEventsGet, handler));

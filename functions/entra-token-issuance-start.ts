import { app } from "@azure/functions";
import { entraTokenIssuanceStart } from "../shared/events/endpoints.js";
import { entraTokenIssuanceStartHandler } from "../shared/events/http.js";
import { httpTrigger } from "../shared/http/endpoint.js";

/** E1: its own handler (not endpointHandler): Entra's token, and "continue" on every internal error. */
export const handler = entraTokenIssuanceStartHandler;

app.http(entraTokenIssuanceStart.name, httpTrigger(entraTokenIssuanceStart, handler));

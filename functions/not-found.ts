import { app } from "@azure/functions";
import { unmatchedRoute } from "../shared/platform/unmatched-route.js";

// Registered last; the host tries a catch-all route after every other route, whatever the order.
app.http("not-found", {
  methods: ["GET", "POST", "PUT", "PATCH", "DELETE"],
  route: "{*path}",
  authLevel: "anonymous",
  handler: (request) => Promise.resolve(unmatchedRoute(request.method, request.params.path ?? "")),
});

import { app } from "@azure/functions";
import { unmatchedRoute } from "../shared/platform/unmatched-route.js";

// The catch-all for what no endpoint takes. The Functions host tries routes in function-name order,
// first match wins, so this name must sort after every other HTTP function ("zz-": the registration
// contract test checks it).
app.http("zz-route-not-found", {
  methods: ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
  route: "{*path}",
  authLevel: "anonymous",
  handler: (request) => Promise.resolve(unmatchedRoute(request.method, request.params.path ?? "")),
});

/**
 * A function app that does nothing, for the autoclaim benchmark's baseline: what the local
 * Functions host itself costs for one HTTP request and one queue message (serving, polling,
 * deleting, invoking through @azure/functions) when the functions do no work.
 */
import { app } from "@azure/functions";

app.http("baseline-post", {
  methods: ["POST"],
  authLevel: "anonymous",
  route: "baseline",
  handler: async (request) => {
    await request.text();
    return { status: 202, jsonBody: { status: "queued" } };
  },
});

app.storageQueue("baseline-process", {
  queueName: "baseline",
  connection: "AzureWebJobsStorage",
  handler: () => undefined,
});

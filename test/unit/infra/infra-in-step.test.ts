/**
 * P8: infra/ stays in step with the code. No Bicep compiler runs here, so the Bicep text is read
 * with a small parser (./bicep.ts) and compared with the code's own declarations: the Cosmos DB
 * containers (shared/storage/containers.ts), the config schema (shared/config/config.ts) and the
 * queue names (shared/events/queues.ts). Every check is also run on a broken copy of the Bicep to
 * show that it fails when the two drift apart.
 */
import { describe, expect, it } from "vitest";
import { CONFIG_KEYS } from "../../../shared/config/config.js";
import { CONTAINERS } from "../../../shared/storage/containers.js";
import { readFileSync } from "node:fs";
import {
  HOST_OWNED_SETTINGS,
  LOCAL_ONLY_SETTINGS,
  SCENARIOS,
  bicepContainers,
  bicepSettings,
  checkContainers,
  checkFlexUnsupportedSettings,
  checkLocalOnlySettings,
  checkPosture,
  checkQueues,
  checkRequiredSettings,
  checkScenario,
  checkSettingsWiring,
  checkUnknownSettings,
  checkWorkerArguments,
  readInfra,
  requiredConfigKeys,
} from "./infra-checks.js";

const infra = readInfra();
const sampleSettings = readFileSync("local.settings.sample.json", "utf8");

/** A copy of `source` with one edit; fails the test if the edit did not apply (the fixture moved). */
function edit(source: string, from: string | RegExp, to: string): string {
  const edited = source.replace(from, to);
  expect(edited, `the edit ${String(from)} did not apply`).not.toBe(source);
  return edited;
}

/** Adds an entry to the first object of `var appSettings` in main.bicep. */
function withSetting(main: string, line: string): string {
  return edit(main, "    APP_ENV: 'azure'\n", `    APP_ENV: 'azure'\n    ${line}\n`);
}

describe("infra/main.bicep and the code's declarations", () => {
  it("when the containers are compared, then every declared container exists with its partition key and no other container does", () => {
    expect(checkContainers(infra)).toEqual([]);
    expect(bicepContainers(infra.main).map((c) => c.name).sort()).toEqual(CONTAINERS.map((c) => c.name).sort());
  });

  it("when the app settings are compared, then every required setting of the config schema is set", () => {
    expect(requiredConfigKeys()).toEqual(expect.arrayContaining(["COSMOS_ENDPOINT", "AUTH_AUDIENCES"]));
    expect(checkRequiredSettings(infra.main)).toEqual([]);
  });

  it("when the app settings are compared, then each is a config schema key or a host-owned setting on the allow-list", () => {
    expect(checkUnknownSettings(infra.main)).toEqual([]);
    // The allow-list does not shadow the schema: no entry matches a key the schema owns.
    expect(CONFIG_KEYS.filter((key) => HOST_OWNED_SETTINGS.some((s) => s.name.test(key)))).toEqual([]);
  });

  it("when the app settings are compared, then no local-only setting is set and APP_ENV is azure", () => {
    expect(checkLocalOnlySettings(infra.main)).toEqual([]);
    expect(bicepSettings(infra.main).find((s) => s.key === "APP_ENV")?.value.text).toBe("'azure'");
  });

  it("when the app settings are compared, then none is one that Flex Consumption does not support", () => {
    expect(checkFlexUnsupportedSettings(infra.main)).toEqual([]);
  });

  it("when the settings reach the function app, then main.bicep's appSettings is the only place they come from", () => {
    expect(checkSettingsWiring(infra)).toEqual([]);
  });

  it.each(SCENARIOS.map((s) => [s.name, s] as const))("when the app starts in Azure with the settings of: %s, then the config schema accepts them", (_, scenario) => {
    expect(checkScenario(infra.main, scenario)).toEqual([]);
  });

  it("when the worker's Node.js flags are compared, then Azure and the local settings pass the same ones (local/worker-arguments.ts)", () => {
    expect(checkWorkerArguments(infra.main, sampleSettings)).toEqual([]);
  });

  it("when the queues are compared, then the event queue and its poison queue exist with the code's names", () => {
    expect(checkQueues(infra.main)).toEqual([]);
  });

  it("when the resources are inspected, then local auth is off everywhere and the runtime is Node 22 on Flex Consumption", () => {
    expect(checkPosture(infra)).toEqual([]);
  });
});

describe("the in-step checks, on broken copies of the Bicep", () => {
  it("when a declared container is missing, then its name is reported", () => {
    const main = edit(infra.main, / {2}\{\n {4}name: 'leases'\n {4}partitionKeyPath: '\/id'\n {4}defaultTtl: -1\n {2}\}\n/, "");
    expect(checkContainers({ ...infra, main })).toEqual([expect.stringContaining('container "leases" (/id) is declared in shared/storage/containers.ts but missing')]);
  });

  it("when a negative default TTL (-1: on, no default) is dropped from the Bicep, then the difference is reported", () => {
    const main = edit(infra.main, "    defaultTtl: -1\n", "");
    expect(checkContainers({ ...infra, main })).toEqual([expect.stringContaining('container "leases": defaultTtl undefined')]);
  });

  it("when a container has another partition key, then both keys are reported", () => {
    const main = edit(infra.main, "partitionKeyPath: '/tenantId'", "partitionKeyPath: '/id'");
    expect(checkContainers({ ...infra, main })).toEqual([expect.stringMatching(/container "settings": partition key \/id in .*, \/tenantId in/)]);
  });

  it("when the Bicep has a container the code does not declare, then it is reported", () => {
    const main = edit(infra.main, "var cosmosContainers = [\n", "var cosmosContainers = [\n  {\n    name: 'claims'\n    partitionKeyPath: '/tenantId'\n  }\n");
    expect(checkContainers({ ...infra, main })).toEqual([expect.stringContaining('container "claims" is in cosmosContainers')]);
  });

  it("when the code declares a TTL the Bicep lacks, then the mismatch is reported", () => {
    const declared = CONTAINERS.map((c) => (c.name === "tenants" ? { ...c, defaultTtlSeconds: 86_400 } : c));
    expect(checkContainers(infra, declared)).toEqual([expect.stringContaining('container "tenants": defaultTtl undefined')]);
  });

  it("when the container list does not reach the container resources, then it is reported", () => {
    const main = edit(infra.main, "containers: cosmosContainers", "containers: []");
    expect(checkContainers({ ...infra, main })).toEqual([expect.stringContaining("module cosmos must receive")]);
    const cosmos = edit(infra.cosmos, "paths: [container.partitionKeyPath]", "paths: ['/id']");
    expect(checkContainers({ ...infra, cosmos })).toEqual([expect.stringContaining("take its id and partition key path")]);
  });

  it("when a required setting is not set, then it is named", () => {
    const main = edit(infra.main, /\n {4}AUTH_AUDIENCES: authAudiences/, "");
    expect(checkRequiredSettings(main)).toEqual([expect.stringContaining('"AUTH_AUDIENCES" is required')]);
  });

  it("when a setting is unknown to the config schema and not host-owned, then it is named with its line", () => {
    const main = withSetting(infra.main, "COSMOS_DATABSE: 'licensing'");
    expect(checkUnknownSettings(main)).toEqual([expect.stringMatching(/"COSMOS_DATABSE" \(infra\/main\.bicep line \d+\) is neither/)]);
  });

  it("when a prefix of the allow-list is stretched to a setting it does not cover, then it is still unknown", () => {
    const main = withSetting(infra.main, "AzureWebJobsStorage__accountKey: 'x'");
    expect(checkUnknownSettings(main)).toEqual([expect.stringContaining('"AzureWebJobsStorage__accountKey"')]);
  });

  it.each(LOCAL_ONLY_SETTINGS.map((key) => [key]))("when the local-only %s is set, then it is refused", (key) => {
    const main = withSetting(infra.main, `${key}: 'x'`);
    expect(checkLocalOnlySettings(main)).toEqual([expect.stringContaining(`"${key}"`)]);
  });

  it("when APP_ENV is local, then it is refused", () => {
    const main = edit(infra.main, "APP_ENV: 'azure'", "APP_ENV: 'local'");
    expect(checkLocalOnlySettings(main)).toEqual([expect.stringContaining("APP_ENV")]);
  });

  it("when FUNCTIONS_WORKER_RUNTIME is set, then it is reported as unsupported on Flex Consumption", () => {
    const main = withSetting(infra.main, "FUNCTIONS_WORKER_RUNTIME: 'node'");
    expect(checkFlexUnsupportedSettings(main)).toEqual([expect.stringContaining('"FUNCTIONS_WORKER_RUNTIME"')]);
    expect(checkUnknownSettings(main)).toEqual([expect.stringContaining("Flex Consumption does not support it either")]);
  });

  it("when the function app module adds settings of its own, then the wiring check fails", () => {
    const functionApp = edit(infra.functionApp, "properties: appSettings", "properties: union(appSettings, { EXTRA: 'x' })");
    expect(checkSettingsWiring({ ...infra, functionApp })).toEqual([expect.stringContaining("must apply `properties: appSettings` unchanged")]);
  });

  it("when the Service Bus namespace setting is dropped, then the Service Bus scenario fails on it", () => {
    const main = edit(infra.main, /\n {8}EventServiceBus__fullyQualifiedNamespace: [^\n]*/, "");
    const [serviceBus, storage] = SCENARIOS;
    expect(checkScenario(main, serviceBus!)).toEqual([expect.stringContaining("EventServiceBus__fullyQualifiedNamespace")]);
    expect(checkScenario(main, storage!)).toEqual([]);
  });

  it("when a literal setting has a value the schema refuses, then the scenario names it", () => {
    const main = edit(infra.main, "'managed-identity' : 'federated-app'", "'managedidentity' : 'federated-app'");
    expect(checkScenario(main, SCENARIOS[0]!)).toEqual([expect.stringContaining("MS_API_AUTH")]);
  });

  it("when a loopback Graph URL is set, then the Azure scenario refuses it", () => {
    const main = withSetting(infra.main, "GRAPH_BASE_URL: 'https://127.0.0.1:8443/graph'");
    expect(checkScenario(main, SCENARIOS[0]!)).toEqual([expect.stringContaining("GRAPH_BASE_URL")]);
  });

  it("when the worker's flags differ in Azure or locally, then each place that differs is named", () => {
    const main = edit(infra.main, "languageWorkers__node__arguments: '--no-memory-reducer'", "languageWorkers__node__arguments: '--max-old-space-size=1024'");
    expect(checkWorkerArguments(main, sampleSettings)).toEqual([expect.stringContaining('is "--max-old-space-size=1024", not "--no-memory-reducer"')]);
    const sample = edit(sampleSettings, /\n\s*"languageWorkers__node__arguments": "--no-memory-reducer",/, "");
    expect(checkWorkerArguments(infra.main, sample)).toEqual([expect.stringContaining("local.settings.sample.json: languageWorkers__node__arguments is undefined")]);
  });

  it("when the event queue is renamed in the Bicep, then the queue check fails", () => {
    const main = edit(infra.main, "var eventsQueueName = 'events'", "var eventsQueueName = 'event'");
    expect(checkQueues(main)).toEqual(expect.arrayContaining([expect.stringContaining("eventsQueueName must be 'events'")]));
  });

  it("when duplicate detection or local auth is switched, then the posture check names the resource", () => {
    const serviceBus = edit(infra.serviceBus, "requiresDuplicateDetection: true", "requiresDuplicateDetection: false");
    expect(checkPosture({ ...infra, serviceBus })).toEqual([expect.stringContaining("requiresDuplicateDetection")]);
    const cosmos = edit(infra.cosmos, "disableLocalAuth: true", "disableLocalAuth: false");
    expect(checkPosture({ ...infra, cosmos })).toEqual([expect.stringContaining("disableLocalAuth")]);
    const functionApp = edit(infra.functionApp, "version: '22'", "version: '20'");
    expect(checkPosture({ ...infra, functionApp })).toEqual([expect.stringContaining("runtime.version")]);
  });
});

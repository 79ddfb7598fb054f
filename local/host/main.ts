/**
 * Local Functions host CLI (instead of `func start`, which cannot be installed here):
 *
 *   node --import tsx local/host/main.ts --app functions/index.ts [--port 7071] [--host-json host.json]
 *   node dist/local/host/main.js --app dist/functions/index.js
 *
 * Prints `FUNCTIONS_HOST_READY <url>` once listening. Exits 0 on SIGTERM/SIGINT after a clean
 * stop, 1 when the app fails to load or the configuration is invalid.
 */
import { parseArgs } from "node:util";
import { HostConfigError } from "./config.js";
import { startFunctionsHost, type FunctionsHost } from "./host.js";
import { errorMessage, errorText, flushConsoleLog } from "./log.js";
import { AppLoadError } from "./registrations.js";

const USAGE = `Usage: main --app <entry module> [--port <n>] [--host-json <path>] [--settings <dir>] [--verbose] [--method-mismatch 404|405]`;

async function main(): Promise<number | undefined> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        app: { type: "string" },
        port: { type: "string" },
        "host-json": { type: "string" },
        settings: { type: "string" },
        verbose: { type: "boolean", default: false },
        "method-mismatch": { type: "string" },
        help: { type: "boolean", default: false },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`${errorMessage(err)}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!values.app) {
    process.stderr.write(`--app is required\n${USAGE}\n`);
    return 2;
  }
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    process.stderr.write(`--port must be a port number\n`);
    return 2;
  }
  const mismatch = values["method-mismatch"];
  if (mismatch !== undefined && mismatch !== "404" && mismatch !== "405") {
    process.stderr.write(`--method-mismatch must be 404 or 405\n`);
    return 2;
  }

  let host: FunctionsHost;
  try {
    host = await startFunctionsHost({
      appEntry: values.app,
      ...(port === undefined ? {} : { port }),
      ...(values["host-json"] ? { hostJsonPath: values["host-json"] } : {}),
      ...(values.settings ? { settingsDir: values.settings } : {}),
      ...(mismatch ? { methodMismatchStatus: Number(mismatch) as 404 | 405 } : {}),
      verbose: values.verbose,
    });
  } catch (err) {
    flushConsoleLog();
    if (err instanceof AppLoadError || err instanceof HostConfigError) {
      process.stderr.write(`${err.message}\n`);
      if (values.verbose && err instanceof AppLoadError) process.stderr.write(`${errorText(err.cause)}\n`);
    } else {
      process.stderr.write(`The host failed to start: ${errorText(err)}\n`);
    }
    return 1;
  }
  flushConsoleLog(); // the function table first, then the ready line
  process.stdout.write(`FUNCTIONS_HOST_READY ${host.url}\n`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`${signal} again: exiting now\n`);
      process.exit(1);
    }
    stopping = true;
    host.close().then(
      () => {
        process.exitCode = 0;
        // The app may hold handles of its own (clients, sockets); `func` ends the worker anyway.
        setTimeout(() => {
          const left = process.getActiveResourcesInfo().filter((r) => r !== "TTYWrap" && r !== "Timeout");
          if (left.length > 0) process.stderr.write(`Exiting with handles still open (held by the app or its libraries): ${left.join(", ")}\n`);
          process.exit(0);
        }, 2000).unref();
      },
      (err: unknown) => {
        process.stderr.write(`Stopping the host failed: ${errorText(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  return undefined;
}

main().then(
  (code) => {
    // Exit at once on failure: the app may have opened handles before it threw.
    if (code !== undefined) process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`${errorText(err)}\n`);
    process.exit(1);
  },
);

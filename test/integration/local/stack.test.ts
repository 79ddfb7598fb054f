import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startLocalStack } from "../../../local/stack.js";
import { freeStackPorts } from "../../support/stack.js";

/** Live processes (not zombies) whose command line runs the local Cosmos server on this port. */
function cosmosServersOn(port: number): number[] {
  const rows = execFileSync("ps", ["-e", "-o", "pid=,stat=,args="], { encoding: "utf8" }).trim().split("\n");
  return rows
    .map((l) => /^\s*(\d+)\s+(\S+)\s+(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => !!m && !m[2]!.startsWith("Z") && m[3]!.includes("cosmos-server.cjs") && m[3]!.trim().endsWith(` ${port}`))
    .map((m) => Number(m[1]));
}

let leftovers: number[] = [];
afterAll(() => {
  for (const pid of leftovers) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      /* already gone */
    }
  }
});

describe("the local stack (startLocalStack)", () => {
  it("when Azurite cannot start, then the Cosmos server started beside it is stopped too: no process is left holding its port", async () => {
    const ports = await freeStackPorts();
    // A file where Azurite's data folder should be: Azurite fails at once, while the Cosmos server is starting.
    const dir = mkdtempSync(path.join(tmpdir(), "stack-fail-"));
    const notAFolder = path.join(dir, "azurite-data");
    writeFileSync(notAFolder, "a file, not a folder");

    await expect(startLocalStack({ ports, mode: "ts", azuriteLocation: notAFolder, withHost: false })).rejects.toThrow();

    leftovers = cosmosServersOn(ports.cosmos);
    expect(leftovers).toEqual([]);
  });
});

import { copyFileSync, existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { repoRoot } from "./paths.js";

const fileSchema = z.object({
  Values: z.record(z.string(), z.string()),
  Host: z.object({ LocalHttpPort: z.number().int().optional() }).optional(),
});
export type LocalSettingsFile = z.infer<typeof fileSchema>;

/**
 * local.settings.json (git-ignored), created from local.settings.sample.json on first use.
 * `file` overrides the location (tests run the start script on free ports this way).
 */
export function readLocalSettings(root = repoRoot, file = path.join(root, "local.settings.json")): LocalSettingsFile {
  if (!existsSync(file)) copyFileSync(path.join(root, "local.settings.sample.json"), file);
  return fileSchema.parse(JSON.parse(readFileSync(file, "utf8")));
}

export function portOf(url: string, fallback: number): number {
  const u = new URL(url);
  return u.port ? Number(u.port) : fallback;
}

/** QueueEndpoint=... etc. from an Azure Storage connection string. */
export function storageEndpoint(connectionString: string, service: "Blob" | "Queue" | "Table"): string {
  const m = new RegExp(`${service}Endpoint=([^;]+)`).exec(connectionString);
  if (!m?.[1]) throw new Error(`The storage connection string has no ${service}Endpoint`);
  return m[1];
}

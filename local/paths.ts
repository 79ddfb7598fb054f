import { fileURLToPath } from "node:url";
import path from "node:path";

/** Repository root, whether running from TypeScript sources or from dist/. */
function findRoot(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // local/ -> root, or dist/local/ -> root
  const parent = path.resolve(here, "..");
  return path.basename(parent) === "dist" ? path.resolve(parent, "..") : parent;
}

export const repoRoot = findRoot();
/** Git-ignored folder for everything the local stack generates (certificates, keys, Azurite data). */
export const localStateDir = path.join(repoRoot, ".local");

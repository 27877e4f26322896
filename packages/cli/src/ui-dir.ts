import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The built web UI (`@regent/ui`'s dist/), when it is installed and built; the server serves it at `/`. */
export function builtUiDir(): string | undefined {
  try {
    const dir = join(dirname(fileURLToPath(import.meta.resolve("@regent/ui/package.json"))), "dist");
    return existsSync(join(dir, "index.html")) ? dir : undefined;
  } catch {
    return undefined;
  }
}

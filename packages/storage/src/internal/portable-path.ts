import { isAbsolute, relative, sep } from "node:path";

/**
 * The name a bundled file goes by in the bundle (esbuild's `// file` comments and module keys, the source
 * map) and in `FlowBundle.inputs`, chosen so that it does not depend on where the project is checked out:
 * - below `root`: relative to it (`hello.ts`, `lib/db.ts`, `node_modules/zod/index.js`);
 * - elsewhere but in a `node_modules` folder (a hoisted workspace install, a symlinked `node_modules`, a
 *   pnpm store): from that `node_modules` on, so a package has the same name wherever it is installed
 *   (`/repo/node_modules/zod/v4/core/core.js` → `node_modules/zod/v4/core/core.js`);
 * - elsewhere: relative to `root` (`../shared/util.ts`).
 * Separators are always `/`.
 */
export function portablePath(file: string, root: string): string {
  const rel = relative(root, file);
  const parts = rel.split(sep);
  if (!isAbsolute(rel) && parts[0] !== "..") return parts.join("/");
  const segments = file.split(sep);
  const at = segments.indexOf("node_modules");
  return at >= 0 ? segments.slice(at).join("/") : parts.join("/");
}

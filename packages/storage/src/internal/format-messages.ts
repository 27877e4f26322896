import { relative, resolve } from "node:path";
import type { Message } from "esbuild";

/** A path relative to the working directory when it lies below it, else absolute. */
export function displayPath(file: string): string {
  const rel = relative(process.cwd(), resolve(file));
  return rel.startsWith("..") ? resolve(file) : rel;
}

/**
 * esbuild's messages as `file:line:col: error: text` with the offending line and a caret, as the CLI
 * prints them for local runs. `root` is the folder esbuild's (relative) file names are relative to.
 */
export function formatMessages(messages: readonly Message[], root: string): string {
  return messages
    .map((m) => {
      const loc = m.location;
      const where = loc ? `${displayPath(resolve(root, loc.file))}:${loc.line}:${loc.column + 1}: ` : "";
      const code = loc?.lineText ? `\n    ${loc.lineText}\n    ${" ".repeat(loc.column)}^` : "";
      return `${where}error: ${m.text}${code}`;
    })
    .join("\n");
}

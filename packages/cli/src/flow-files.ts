import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { FlowLoadError } from "@regent/core";

const FLOW_FILE = /\.(c|m)?(t|j)s$/;
const SKIP_FILE = /\.(test|spec)\.[cm]?[tj]s$|\.d\.[cm]?ts$/;
const SKIP_DIR = new Set(["node_modules", "dist", ".git", ".regent"]);

/** The flow files a path names: the file itself, or every .ts/.js file below a folder (tests excluded). */
export async function findFlowFiles(target: string): Promise<{ files: string[]; folder: boolean }> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(target);
  } catch {
    throw new FlowLoadError(`no such file or folder: ${target}`);
  }
  if (info.isFile()) return { files: [target], folder: false };
  const files: string[] = [];
  const walk = async (dir: string) => {
    for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!SKIP_DIR.has(entry.name) && !entry.name.startsWith(".")) await walk(path);
      } else if (FLOW_FILE.test(entry.name) && !SKIP_FILE.test(entry.name)) files.push(path);
    }
  };
  await walk(target);
  return { files, folder: true };
}

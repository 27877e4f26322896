import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, normalize, resolve, sep } from "node:path";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
};

/**
 * Headers on every page and file of the UI: nothing from another origin runs or frames it. Inline
 * styles are let through (the log view positions its rows with them); scripts only from the UI's files.
 */
export const UI_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
};

const isFile = async (path: string) => {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
};

/**
 * Serves the built web UI from `dir`: its files as they are (hashed assets cached for a year), and
 * `index.html` for every other path without an extension, so that each page's URL can be opened
 * directly (the UI routes in the browser). Answers false for what it does not serve.
 */
export async function serveUi(
  dir: string,
  path: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<boolean> {
  if (req.method !== "GET" && req.method !== "HEAD") return false;
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return false;
  }
  const root = resolve(dir);
  const file = resolve(join(root, normalize(decoded)));
  if (file !== root && !file.startsWith(root + sep)) return false; // ../ out of the folder
  let target = file;
  if (!(await isFile(target))) {
    if (extname(decoded) !== "") return false;
    target = join(root, "index.html");
    if (!(await isFile(target))) return false;
  }
  const immutable = target.startsWith(join(root, "assets") + sep);
  res.writeHead(200, {
    ...UI_SECURITY_HEADERS,
    "content-type": TYPES[extname(target)] ?? "application/octet-stream",
    "cache-control": immutable ? "public, max-age=31536000, immutable" : "no-cache",
  });
  if (req.method === "HEAD") res.end();
  else createReadStream(target).pipe(res);
  return true;
}

import { existsSync } from "node:fs";

/**
 * The built JS of a worker-thread entry of this folder (`pool-worker`, `heartbeat-thread`), also when this
 * module runs from TypeScript source (tests, dev): threads load JS.
 */
export function workerEntry(name: string): URL {
  const here = new URL(`./${name}.js`, import.meta.url);
  if (existsSync(here)) return here;
  return new URL(`../../dist/internal/${name}.js`, import.meta.url);
}

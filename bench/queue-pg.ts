// PostgreSQL databases for bench/queue: a template per system (its schema migrated once), then a fresh clone
// per case (CREATE DATABASE … TEMPLATE, ~20 ms), each dropped afterwards, also when the benchmark is aborted.
import pg from "pg";
import { checkNotAborting, onCleanup } from "./cleanup.js";

/** The URL of database `name` on the server of `adminUrl`. */
function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

async function admin<T>(adminUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface BenchDatabase {
  readonly name: string;
  readonly url: string;
  /** Drops it (WITH (FORCE): sessions left over are ended); once, later calls wait for the first. */
  drop(): Promise<void>;
}

/**
 * Creates database `<prefix>_<pid>_<n>` (a clone of `template` when given) and registers its drop as a
 * cleanup of the benchmark.
 */
export async function createDatabase(
  adminUrl: string,
  prefix: string,
  template?: string,
): Promise<BenchDatabase> {
  checkNotAborting();
  const name = `${prefix}_${process.pid}_${(counter++).toString(36)}`;
  await admin(adminUrl, (c) =>
    c.query(`CREATE DATABASE ${quoteIdent(name)}${template ? ` TEMPLATE ${quoteIdent(template)}` : ""}`),
  );
  const drop = onCleanup(() =>
    admin(adminUrl, async (c) => {
      await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    }),
  );
  return { name, url: databaseUrl(adminUrl, name), drop };
}
let counter = 0;

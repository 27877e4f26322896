import { NotFoundError } from "@regent/core";
import type { Kysely, Transaction } from "kysely";
import type { Database } from "../db/database.js";

/** Fails with PROJECT_NOT_FOUND unless the project exists (read in the caller's transaction). */
export async function requireProject(
  db: Transaction<Database> | Kysely<Database>,
  id: string,
): Promise<void> {
  const project = await db.selectFrom("project").select("id").where("id", "=", id).executeTakeFirst();
  if (!project) throw new NotFoundError("PROJECT_NOT_FOUND", `no project with id ${id}`, { id });
}

import { z } from "zod";

/** The flow's bundle is kept in the server's database (the default). */
export const DatabaseStorageSchema = z.strictObject({ type: z.literal("database") });
/** The flow's bundle is kept in a folder reachable where the run executes. */
export const LocalStorageSchema = z.strictObject({ type: z.literal("local"), path: z.string().min(1) });

/** Discriminated by `type`; s3, docker and git join with their issues. */
export const StorageSchema = z.discriminatedUnion("type", [DatabaseStorageSchema, LocalStorageSchema]);
export type Storage = z.infer<typeof StorageSchema>;
export type DatabaseStorage = z.infer<typeof DatabaseStorageSchema>;
export type LocalStorage = z.infer<typeof LocalStorageSchema>;

export const databaseStorage = (): DatabaseStorage => ({ type: "database" });
export const localStorage = (path: string): LocalStorage => LocalStorageSchema.parse({ type: "local", path });

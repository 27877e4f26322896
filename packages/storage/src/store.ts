import type { FlowBundle } from "./bundle.js";

/**
 * Where a stored bundle is: the store's `kind`, an opaque `ref` only that kind of store understands
 * (a relative file path, a database id, an S3 key, an image digest…), and the bundle's sha256, which
 * `get` checks. It is what registration records with the flow version.
 */
export interface StoredBundle {
  readonly kind: string;
  readonly ref: string;
  readonly hash: string;
}

export interface PutBundleMeta {
  /** The flow's name; stores may group bundles by it. */
  readonly flowName: string;
  /** The flow version being registered, for stores that keep it. */
  readonly version?: number;
}

/** Keeps flow bundles where runs can fetch them: a local folder, the database, S3, … */
export interface FlowStore {
  /** Which kind of store this is; equal to `StoredBundle.kind` of what it stores (e.g. `local`). */
  readonly kind: string;
  /** Stores a bundle (again: storing the same bundle twice is harmless) and says where it is. */
  put(bundle: FlowBundle, meta: PutBundleMeta): Promise<StoredBundle>;
  /** The bundle's code, checked against its hash; a `FlowLoadError` when missing or altered. */
  get(stored: StoredBundle): Promise<string>;
}

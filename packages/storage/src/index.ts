export { type BundleFlowOptions, bundleFlow, type FlowBundle } from "./bundle.js";
export { type LoadBundleOptions, loadBundle, loadBundleByHash } from "./load-bundle.js";
export { type LocalFolderStoreOptions, localFolderStore } from "./local-folder-store.js";
export type { FlowStore, PutBundleMeta, StoredBundle } from "./store.js";

export { type BundleFlowOptions, bundleFlow, type FlowBundle } from "./bundle.js";
export { type BuildFlowImageOptions, buildFlowImage, type FlowImage } from "./docker-image.js";
export {
  authConfigFor,
  type DockerProgressEvent,
  dockerConfigAuth,
  dockerConfigFile,
  followProgress,
  type RegistryAuth,
  registryOf,
} from "./docker-registry.js";
export { type LoadBundleOptions, loadBundle, loadBundleByHash, loadImageBundle } from "./load-bundle.js";
export { type LocalFolderStoreOptions, localFolderStore } from "./local-folder-store.js";
export { type ClosurePackage, copyPackages, packageClosure } from "./package-closure.js";
export { type S3StoreOptions, s3Store } from "./s3-store.js";
export type { FlowStore, PutBundleMeta, StoredBundle } from "./store.js";

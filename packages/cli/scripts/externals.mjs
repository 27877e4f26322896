// What the CLI bundle (bundle.mjs) leaves as imports, and so what an installation of the bundle (the
// runtime image: deploy/docker/build-runtime.mjs) must carry in node_modules beside it:
// native addons, esbuild and dockerode (whose ssh transport has native addons), which cannot be inlined;
// and the workspace packages that user flows load too (@regent/core, @regent/sdk, @regent/client), so
// that a process holds one copy of each (their classes and symbols stay the same for flow and CLI).
export const BUNDLE_EXTERNALS = [
  "@regent/core",
  "@regent/sdk",
  "@regent/client",
  "better-sqlite3",
  "pg",
  "esbuild",
  "dockerode",
];
/** Left as imports too, but optional: installed by nobody unless wanted. */
export const OPTIONAL_EXTERNALS = ["pg-native"];

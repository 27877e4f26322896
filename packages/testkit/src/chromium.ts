/**
 * Debian's Chromium as the UI tests and the UI benchmark launch it (TESTBED.md): the binary
 * (`REGENT_TEST_CHROMIUM`, set by scripts/testbed/chromium.sh) and flags for a headless run in a
 * container, with nothing fetched from the network.
 */
export const CHROMIUM_PATH = process.env.REGENT_TEST_CHROMIUM ?? "/usr/lib/chromium/chromium";

export const CHROMIUM_ARGS: readonly string[] = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

import type { Dialect } from "@regent/server";

/** A database backend the suites run on. */
export type Backend = Dialect;

export const ALL_BACKENDS: readonly Backend[] = ["sqlite", "postgres"];

/** The backends named by `REGENT_TEST_BACKENDS` (a comma list; unset or empty: all of them). */
export function wantedBackends(value = process.env.REGENT_TEST_BACKENDS): Backend[] {
  const names = (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0) return [...ALL_BACKENDS];
  const unknown = names.filter((n) => !ALL_BACKENDS.includes(n as Backend));
  if (unknown.length > 0) {
    throw new Error(
      `REGENT_TEST_BACKENDS names unknown backend(s) ${unknown.join(", ")} (known: ${ALL_BACKENDS.join(", ")})`,
    );
  }
  return ALL_BACKENDS.filter((b) => names.includes(b));
}

/** Ends every `switch` over a closed union, so adding a member is a compile error until it is handled. */
export function assertNever(value: never, what = "value"): never {
  throw new Error(`unhandled ${what}: ${JSON.stringify(value)}`);
}

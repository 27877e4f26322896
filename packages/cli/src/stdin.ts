import { InvalidUsageError } from "@regent/core";

/**
 * All of standard input, without one trailing newline (what `echo value |` adds). A terminal is refused
 * with `hint`: values such as passwords come piped, never typed into a command line.
 */
export async function readStdin(hint: string): Promise<string> {
  if (process.stdin.isTTY) throw new InvalidUsageError(hint);
  let text = "";
  for await (const chunk of process.stdin) text += chunk;
  return text.replace(/\r?\n$/, "");
}

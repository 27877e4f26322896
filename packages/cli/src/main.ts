import { readFileSync } from "node:fs";
import { RegentError } from "@regent/core";
import { Command, CommanderError, Option } from "commander";
import { EXIT, exitCodeFor } from "./exit.js";
import { stylerFor } from "./style.js";

const VERSION = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;

const collect = (value: string, previous: string[]) => [...previous, value];

export function buildProgram(): Command {
  const program = new Command("regent")
    .description("Regent: write flows in TypeScript, run them locally or on your infrastructure.")
    .version(VERSION, "-v, --version")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();

  program
    .command("run")
    .description("Run a flow file locally: its default-exported flow, with live progress")
    .argument("<file>", "a .ts or .js file whose default export is a flow")
    .option(
      "-p, --param <key=value>",
      "a parameter (repeatable); strings verbatim, other types as JSON",
      collect,
      [],
    )
    .option("--params-json <json>", "all parameters as one JSON object (--param values win)")
    .addOption(new Option("--json", "print the run's outcome as JSON on stdout (progress goes to stderr)"))
    .addHelpText(
      "after",
      "\nExamples:\n  regent run flows/hello.ts --param name=Ada\n  regent run flows/etl.ts --params-json '{\"rows\": 100}' --json",
    )
    .action(async (file: string, options: { param: string[]; paramsJson?: string; json?: boolean }) => {
      // Loaded on demand, so `regent --help` does not pay for the engine and the bundler.
      const { runLocal } = await import("./commands/run-local.js");
      process.exitCode = await runLocal(file, options);
    });

  return program;
}

export async function main(argv: string[]): Promise<void> {
  // Stack traces point into the user's .ts files through the bundles' inline source maps.
  process.setSourceMapsEnabled(true);
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; any other parse error is bad usage.
      process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return;
    }
    const paint = stylerFor(process.stderr);
    const code = error instanceof RegentError ? ` [${error.code}]` : "";
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${paint("red", "error")}${code}: ${message}\n`);
    if (!(error instanceof RegentError) && error instanceof Error && error.stack) {
      process.stderr.write(`${error.stack}\n`);
    }
    process.exitCode = exitCodeFor(error);
  }
}

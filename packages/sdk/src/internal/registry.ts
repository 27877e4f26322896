import { pathToFileURL } from "node:url";

/**
 * Tasks by the module that defined them, so a pool worker that re-imports the flow module finds the
 * same task by name. Several tasks may share a name; definition order (`ordinal`) tells them apart.
 */
const byModule = new Map<string, Map<string, unknown[]>>();

export interface TaskLocation {
  readonly moduleUrl: string | undefined;
  readonly ordinal: number;
}

export function registerTask(moduleUrl: string | undefined, name: string, task: unknown): TaskLocation {
  if (!moduleUrl) return { moduleUrl, ordinal: 0 };
  const names = byModule.get(moduleUrl) ?? new Map<string, unknown[]>();
  byModule.set(moduleUrl, names);
  const list = names.get(name) ?? [];
  names.set(name, list);
  list.push(task);
  return { moduleUrl, ordinal: list.length - 1 };
}

export function findTask(moduleUrl: string, name: string, ordinal: number): unknown {
  return byModule.get(moduleUrl)?.get(name)?.[ordinal];
}

/** The module URL of the code that called `fn` (V8 call sites), or undefined when it cannot be told. */
export function callerModuleUrl(fn: (...args: never[]) => unknown): string | undefined {
  const original = Error.prepareStackTrace;
  try {
    Error.prepareStackTrace = (_, stack) => stack;
    const holder: { stack?: unknown } = {};
    Error.captureStackTrace(holder, fn);
    const frames = holder.stack as NodeJS.CallSite[] | undefined;
    const file = frames?.[0]?.getFileName();
    if (!file) return undefined;
    return file.startsWith("file:") ? file : file.startsWith("/") ? pathToFileURL(file).href : undefined;
  } finally {
    Error.prepareStackTrace = original;
  }
}

/**
 * A task by name and definition order in whichever module defined it: what a cluster worker looks up,
 * having imported only the flow's bundle (whose path differs from the flow process's).
 */
export function findTaskByName(name: string, ordinal: number): unknown {
  for (const names of byModule.values()) {
    const task = names.get(name)?.[ordinal];
    if (task) return task;
  }
  return undefined;
}

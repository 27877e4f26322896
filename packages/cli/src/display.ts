import { isFailureLike, isFinal } from "@regent/core";
import type { EngineEvent, EngineReporter, LogLevel, TaskRunInfo } from "@regent/sdk";
import { STATE_STYLE, stylerFor } from "./style.js";

const LEVEL_LABEL: Record<LogLevel, string> = {
  debug: "DEBUG",
  info: "INFO ",
  warn: "WARN ",
  error: "ERROR",
};
const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

interface TaskEntry {
  readonly info: TaskRunInfo;
  startedAt: number;
}

interface ParentTally {
  readonly label: string;
  total: number;
  finished: number;
  readonly byState: Map<string, number>;
}

/**
 * Shows a local run as it happens: log lines and task-run outcomes as plain lines; on a terminal, also a
 * live status line (running / done / failed) redrawn in place. Mapped children are summarised per
 * parent, except failures and retries, which are always shown.
 */
export class RunDisplay implements EngineReporter {
  private readonly tasks = new Map<string, TaskEntry>();
  private readonly parents = new Map<string, ParentTally>();
  private readonly live: boolean;
  private readonly paint: ReturnType<typeof stylerFor>;
  private running = 0;
  private done = 0;
  private failed = 0;
  private created = 0;
  private statusShown = false;
  private timer: NodeJS.Timeout | undefined;
  private frame = 0;
  private readonly started = Date.now();
  private flowLabel = "";

  constructor(private readonly out: NodeJS.WriteStream) {
    this.live = out.isTTY === true;
    this.paint = stylerFor(out);
  }

  record(event: EngineEvent): void {
    switch (event.type) {
      case "flow_run_created":
        if (event.flowRun.parentTaskRunId) return;
        this.flowLabel = `${event.flowRun.flowName} (${event.flowRun.name})`;
        if (this.live) this.timer = setInterval(() => this.redraw(), 100).unref();
        return;
      case "flow_run_state":
        if (event.state.type === "Running" && this.flowLabel)
          this.line(`${this.time(event.state.timestamp)} ${this.flowLabel} ${this.state("Running")}`);
        return;
      case "task_run_created": {
        const info = event.taskRun;
        this.tasks.set(info.id, { info, startedAt: 0 });
        this.created++;
        if (info.parentTaskRunId) {
          let tally = this.parents.get(info.parentTaskRunId);
          if (!tally) {
            tally = { label: info.taskKey, total: 0, finished: 0, byState: new Map() };
            this.parents.set(info.parentTaskRunId, tally);
          }
          tally.total++;
        }
        return;
      }
      case "task_run_state":
        this.onTaskState(event);
        return;
      case "log":
        this.onLog(event.log.taskRunId, event.log.level, event.log.message, event.log.timestamp);
        return;
    }
  }

  private onTaskState(event: Extract<EngineEvent, { type: "task_run_state" }>): void {
    const entry = this.tasks.get(event.taskRunId);
    if (!entry) return;
    const { state } = event;
    const label = this.label(entry.info);
    if (state.type === "Running") {
      entry.startedAt = state.timestamp;
      this.running++;
      return;
    }
    if (state.type === "Retrying") {
      this.running--;
      this.line(`${this.time(state.timestamp)} ${label} ${this.state("Retrying")} ${state.message ?? ""}`);
      return;
    }
    if (state.type === "Mapped") {
      this.running--;
      return;
    }
    if (state.type === "Paused") {
      this.line(`${this.time(state.timestamp)} ${label} → ${this.state("Paused")}: ${state.message ?? ""}`);
      return;
    }
    if (!isFinal(state.type)) return;
    if (entry.startedAt) this.running--;
    this.done++;
    if (isFailureLike(state.type)) this.failed++;
    const took = entry.startedAt ? ` ${this.paint("gray", `(${state.timestamp - entry.startedAt} ms)`)}` : "";
    const parentId = entry.info.parentTaskRunId;
    const showChild = !parentId || isFailureLike(state.type);
    if (showChild) {
      this.line(
        `${this.time(state.timestamp)} ${label} → ${this.state(state.type)}${state.message && state.type !== "Success" ? `: ${state.message}` : ""}${took}`,
      );
      if (isFailureLike(state.type) && state.error?.stack && state.error.code !== "TRIGGER_FAILED") {
        this.line(this.paint("gray", indent(state.error.stack)));
      }
    }
    if (parentId) {
      const tally = this.parents.get(parentId);
      if (tally) {
        tally.finished++;
        tally.byState.set(state.type, (tally.byState.get(state.type) ?? 0) + 1);
        if (tally.finished === tally.total) {
          const counts = [...tally.byState].map(([s, n]) => `${n} ${this.state(s)}`).join(", ");
          this.line(`${this.time(state.timestamp)} ${tally.label}: ${tally.total} mapped runs → ${counts}`);
        }
      }
    }
  }

  private onLog(taskRunId: string | undefined, level: LogLevel, message: string, timestamp: number): void {
    const entry = taskRunId ? this.tasks.get(taskRunId) : undefined;
    const who = entry ? this.label(entry.info) : (this.flowLabel.split(" ")[0] ?? "flow");
    const lvl =
      level === "error"
        ? this.paint("red", LEVEL_LABEL[level])
        : level === "warn"
          ? this.paint("yellow", LEVEL_LABEL[level])
          : LEVEL_LABEL[level];
    this.line(`${this.time(timestamp)} ${who} │ ${lvl} ${message}`);
  }

  /** Ends the live status line; the caller prints the summary. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.clearStatus();
  }

  private label(info: TaskRunInfo): string {
    return info.mapIndex >= 0 ? `${info.taskKey}[${info.mapIndex}]` : info.taskKey;
  }

  private state(type: string): string {
    const style = STATE_STYLE[type];
    return style ? this.paint(style, type) : type;
  }

  private time(ts: number): string {
    return this.paint("gray", new Date(ts).toISOString().slice(11, 23));
  }

  private line(text: string): void {
    this.clearStatus();
    this.out.write(`${text}\n`);
    if (this.timer) this.drawStatus();
  }

  private clearStatus(): void {
    if (this.statusShown) {
      this.out.write("\r\x1b[2K");
      this.statusShown = false;
    }
  }

  private redraw(): void {
    this.clearStatus();
    this.drawStatus();
  }

  private drawStatus(): void {
    const secs = ((Date.now() - this.started) / 1000).toFixed(1);
    const spin = SPINNER[this.frame++ % SPINNER.length];
    const failed = this.failed ? this.paint("red", `failed ${this.failed}`) : "failed 0";
    this.out.write(
      `${spin} ${this.flowLabel} · running ${this.running} · done ${this.done}/${this.created} · ${failed} · ${secs}s`,
    );
    this.statusShown = true;
  }
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n");
}

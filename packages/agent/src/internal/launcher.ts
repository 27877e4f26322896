/** A run this agent claimed, with what launching it needs. */
export interface ClaimedRun {
  readonly id: string;
  readonly name: string;
  /** The run's state version after the claim (Submitted to this agent). */
  readonly version: number;
  /** The flow version it runs. */
  readonly flowId: string;
  /** The flow's versions together (its newest is what `version_group_id` runs). */
  readonly flowVersionGroupId: string | undefined;
  /** How many times the run was started again (restart, resume) before this claim. */
  readonly restartCount: number;
  /** The run's own run config (an override), if it was created with one. */
  readonly runConfig: unknown;
  /** The flow version's run config. */
  readonly flowRunConfig: unknown;
  /** Where the flow version's code is (its Docker storage names the image runs use). */
  readonly flowStorage: unknown;
  /**
   * The data of the run's newest Scheduled state — after an infrastructure failure, what the agent that
   * saw it reported (e.g. `stopCode: "SpotInterruption"`) — for launchers that ask (`wantsLastSchedule`).
   */
  readonly lastSchedule: Readonly<Record<string, unknown>> | undefined;
  /**
   * The token the server minted for this run (valid for it only): what its process authenticates with,
   * never the agent's own key. Undefined from a server that mints none (then the agent's key is given).
   */
  readonly token: string | undefined;
}

/**
 * One of a run's cluster workers (`regent worker` with `args`), launched like the run itself — its
 * image, environment, token and limits — by launchers that support it (local, docker).
 */
export interface WorkerLaunch {
  readonly id: string;
  readonly args: readonly string[];
}

/** How a launched run ended, as its infrastructure saw it (not the run's state: the agent reads that). */
export type LaunchOutcome =
  | {
      readonly kind: "exited";
      /** Completes "the flow-run process …": `exited with code 3`, `was killed by signal SIGKILL`. */
      readonly description: string;
      readonly exitCode: number | null;
      readonly signal: string | null;
      /** Its last lines of output, for the run's logs when the flow never started to report its own. */
      readonly output?: readonly OutputLine[];
      /** More of what the infrastructure said (e.g. ECS's `stopCode`), kept in the failure's state data. */
      readonly data?: Readonly<Record<string, unknown>>;
    }
  | { readonly kind: "not-started"; readonly error: Error };

export interface OutputLine {
  readonly line: string;
  readonly at: Date;
}

export interface Launched {
  /** What to show for it in logs (e.g. `pid 1234`), when there is one. */
  readonly ref: string | undefined;
  /** Settles once it has ended and its output is drained; never rejects. */
  readonly ended: Promise<LaunchOutcome>;
  /** Asks it to end (`force: false`: SIGTERM) or ends it (`force: true`: SIGKILL). */
  stop(force: boolean): void;
}

/**
 * One kind of infrastructure (local processes now; docker, kubernetes and ecs later): the agent loop
 * claims, the launcher starts and watches.
 */
export interface Launcher {
  /** The agent type registered with the server, e.g. `local`. */
  readonly type: string;
  /** What a launched run is called in messages: `flow-run process`. */
  readonly noun: string;
  /**
   * Starts the run. Throws InvalidConfigError (a user fault) when its run config cannot be launched by
   * this kind of agent; failures of the infrastructure come back through `ended` instead.
   */
  launch(run: ClaimedRun, worker?: WorkerLaunch): Launched;
  /**
   * Why it cannot take runs now (its engine does not answer), or undefined when it can. The agent claims
   * nothing while there is a reason, and asks again at its next poll: a run is not claimed only to fail.
   */
  unavailable?(): Promise<string | undefined>;
  /** Claims should bring each run's newest Scheduled state data (`ClaimedRun.lastSchedule`). */
  readonly wantsLastSchedule?: boolean;
  /** Lets go of what it keeps ready for runs (e.g. pre-started executors); runs under way go on. */
  close?(): Promise<void>;
}

import type { RunControl } from "../store/run-control.js";
import type { Clock } from "../store/store.js";

/** Fails paused flow runs not resumed by the deadline their pause() gave (`timeout`). */
export class PausedRuns {
  constructor(
    private readonly runControl: RunControl,
    private readonly clock: Clock,
  ) {}

  /** One pass; returns the runs it failed. */
  async loop(): Promise<{ expired: number }> {
    let expired = 0;
    for (const run of await this.runControl.pausedPast(this.clock(), 500)) {
      const message = `not resumed by ${run.resumeBy}: the pause timed out`;
      if (await this.runControl.expire(run, message)) expired++;
    }
    return { expired };
  }
}

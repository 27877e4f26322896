/** A run's state as a coloured pill: green for success-like, red for failure-like, blue while running. */
export const TONE: Record<string, string> = {
  Success: "ok",
  Cached: "ok",
  Mapped: "ok",
  Skipped: "muted",
  Failed: "bad",
  TimedOut: "bad",
  TriggerFailed: "bad",
  Cancelled: "muted",
  Cancelling: "warn",
  Running: "run",
  Retrying: "warn",
  Submitted: "run",
  Queued: "wait",
  Scheduled: "wait",
  Pending: "wait",
  Paused: "warn",
};

export function StateBadge({ state }: { state: string }) {
  return (
    <span className={`state state-${TONE[state] ?? "wait"}`} data-state={state}>
      {state}
    </span>
  );
}

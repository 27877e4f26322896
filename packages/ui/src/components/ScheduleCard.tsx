import { graphql } from "@regent/client";
import { checkSchedule, nextFireTimes, type ScheduleClock } from "@regent/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { client, errorMessage } from "../api.js";

const SetActive = graphql(`
  mutation UiScheduleOn($id: uuid!) { set_schedule_active(input: { flow_id: $id }) { success } }
`);
const SetInactive = graphql(`
  mutation UiScheduleOff($id: uuid!) { set_schedule_inactive(input: { flow_id: $id }) { success } }
`);

/** A clock in words: `cron 0 6 * * * (Europe/Paris)`, `every 15m`, `rrule …`. */
export function clockText(clock: ScheduleClock): string {
  switch (clock.type) {
    case "cron":
      return `cron ${clock.cron}${clock.timezone ? ` (${clock.timezone})` : " (UTC)"}`;
    case "interval":
      return `every ${typeof clock.every === "number" ? `${clock.every} ms` : clock.every}`;
    case "rrule":
      return `rrule ${clock.rrule.replace(/\s+/g, " ")}${clock.timezone ? ` (${clock.timezone})` : ""}`;
  }
}

/** A flow's schedule: its clocks, on/off, and when it fires next (computed here, as the scheduler does). */
export function ScheduleCard({
  flowId,
  schedule,
  active,
}: {
  flowId: string;
  schedule: unknown;
  active: boolean;
}) {
  const queryClient = useQueryClient();
  const fires = useQuery({
    queryKey: ["fires", flowId, JSON.stringify(schedule)],
    queryFn: async () => {
      const checked = await checkSchedule(schedule);
      return { checked, next: await nextFireTimes(checked, new Date(), 5) };
    },
    staleTime: 30_000,
  });
  const toggle = useMutation({
    mutationFn: async () => {
      if (active) await client.request(SetInactive, { id: flowId });
      else await client.request(SetActive, { id: flowId });
    },
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ["flow", flowId] }),
  });
  return (
    <div className="card" data-testid="schedule">
      <h2>
        Schedule{" "}
        <span className={`state ${active ? "state-ok" : "state-muted"}`}>{active ? "on" : "off"}</span>
      </h2>
      {fires.error ? <div className="error-text">{errorMessage(fires.error)}</div> : null}
      {fires.data ? (
        <>
          <ul className="clocks">
            {fires.data.checked.clocks.map((c, i) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: clocks have no id; their order is their identity
              <li key={i}>{clockText(c)}</li>
            ))}
          </ul>
          {active ? (
            <>
              <div className="muted small">Next runs</div>
              <ol className="fire-times">
                {fires.data.next.map((f) => (
                  <li key={`${f.at.toISOString()}-${f.clock}`}>
                    {f.at.toLocaleString()}
                    {Object.keys(f.parameters).length ? (
                      <span className="muted"> {JSON.stringify(f.parameters)}</span>
                    ) : null}
                  </li>
                ))}
              </ol>
            </>
          ) : (
            <p className="muted">Paused: no runs are created until it is turned on again.</p>
          )}
        </>
      ) : null}
      {toggle.error ? <div className="error-text">{errorMessage(toggle.error)}</div> : null}
      <button type="button" onClick={() => toggle.mutate()} disabled={toggle.isPending}>
        {active ? "Pause schedule" : "Resume schedule"}
      </button>
    </div>
  );
}

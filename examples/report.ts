// A scheduled flow: a daily report for two regions, each at 06:00 local time (docs/scheduling.md).
import { cron, flow, task } from "@regent/sdk";
import { z } from "zod";

const summarise = task({ name: "summarise", retries: 1 }, async (day: string, ctx) => {
  ctx.log.info(`summarising ${day}`);
  return { day, rows: day.length };
});

export default flow(
  {
    name: "report",
    params: z.object({ region: z.string().default("eu") }),
    schedule: {
      clocks: [
        cron("0 6 * * *", { timezone: "Europe/Paris", parameters: { region: "eu" } }),
        cron("0 6 * * *", { timezone: "America/New_York", parameters: { region: "us" }, labels: ["us"] }),
      ],
      catchup: "latest",
    },
  },
  async ({ region }, ctx) => {
    // The day a run reports on is the day it stands for: a backfilled run fills in a past day.
    const day = ctx.scheduledStartTime.toISOString().slice(0, 10);
    ctx.log.info(`report for ${region}, due at ${ctx.scheduledStartTime.toISOString()}`);
    return summarise(`${region}:${day}`);
  },
);

// > CPU-bound work on the worker pool
import { flow, task, workerPoolTaskRunner } from "@regent/sdk";
import { z } from "zod";

/** Counts primes below `limit` the slow way: real CPU work for each mapped item. */
const countPrimes = task({ name: "count-primes" }, (limit: number) => {
  let count = 0;
  for (let n = 2; n < limit; n++) {
    let prime = true;
    for (let d = 2; d * d <= n; d++) {
      if (n % d === 0) {
        prime = false;
        break;
      }
    }
    if (prime) count++;
  }
  return count;
});

export default flow(
  {
    name: "parallel",
    params: z.object({
      limits: z.array(z.number().int().positive()).default([20_000, 40_000, 60_000, 80_000]),
    }),
    taskRunner: workerPoolTaskRunner({ size: 2 }),
  },
  async ({ limits }, ctx) => {
    const counts = await countPrimes.map(limits);
    ctx.log.info(`primes: ${counts.join(", ")}`);
    return counts;
  },
);
// !!

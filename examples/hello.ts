// > Hello flow
import { flow, task } from "@regent/sdk";
import { z } from "zod";

const sayHello = task({ name: "say-hello", retries: 2, retryDelay: "1s" }, async (name: string, ctx) => {
  ctx.log.info(`Hello, ${name}!`);
  return name.length;
});

export default flow(
  { name: "hello", params: z.object({ name: z.string().default("world") }) },
  async ({ name }) => {
    const length = await sayHello(name);
    return { greeted: name, length };
  },
);
// !!

export { RegentEcsStack, type RegentEcsStackProps } from "./regent-ecs-stack.js";

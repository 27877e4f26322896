// The CDK app: `npx cdk synth --no-notices` in deploy/aws (after `npm run build`), with its settings as
// context: `-c runtimeImage=… -c apiUrl=… [-c agentLabels=ecs,prod] [-c vpcId=vpc-…] [-c bundleBucket=acme-flows]`.
import { App } from "aws-cdk-lib";
import { RegentEcsStack } from "./regent-ecs-stack.js";

const app = new App();
const context = (name: string, fallback?: string): string => {
  const value = app.node.tryGetContext(name) as string | undefined;
  if (value === undefined && fallback === undefined)
    throw new Error(`give -c ${name}=… (see deploy/aws/README.md)`);
  return value ?? fallback!;
};
const bucket = app.node.tryGetContext("bundleBucket") as string | undefined;
new RegentEcsStack(app, "RegentEcs", {
  runtimeImage: context("runtimeImage"),
  apiUrl: context("apiUrl"),
  agentLabels: context("agentLabels", "ecs").split(","),
  vpcId: app.node.tryGetContext("vpcId") as string | undefined,
  bundleBucket: bucket
    ? { name: bucket, keyPrefix: app.node.tryGetContext("bundleKeyPrefix") as string | undefined }
    : undefined,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
app.synth();

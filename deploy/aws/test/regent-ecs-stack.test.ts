import { App } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { describe, expect, test } from "vitest";
import { RegentEcsStack, type RegentEcsStackProps } from "../src/index.js";

// Assertions on the CloudFormation template the CDK app synthesises (offline, no AWS account).

const synth = (props: Partial<RegentEcsStackProps> = {}) =>
  Template.fromStack(
    new RegentEcsStack(new App(), "RegentEcs", {
      runtimeImage: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/regent/runtime:0.1.0",
      apiUrl: "https://regent.example.com",
      agentLabels: ["ecs", "prod"],
      ...props,
    }),
  );

describe("RegentEcsStack", () => {
  const template = synth();

  test("a cluster with FARGATE and FARGATE_SPOT, Spot weight 3, on-demand base 1 weight 2", () => {
    template.hasResourceProperties("AWS::ECS::ClusterCapacityProviderAssociations", {
      CapacityProviders: Match.arrayWith(["FARGATE", "FARGATE_SPOT"]),
      DefaultCapacityProviderStrategy: [
        { CapacityProvider: "FARGATE_SPOT", Weight: 3 },
        { CapacityProvider: "FARGATE", Base: 1, Weight: 2 },
      ],
    });
  });

  test("the agent is an ECS service on on-demand FARGATE, configured by env, its key and labels from SSM", () => {
    template.hasResourceProperties("AWS::ECS::Service", {
      DesiredCount: 1,
      CapacityProviderStrategy: [{ CapacityProvider: "FARGATE", Weight: 1 }],
    });
    const [definition] = Object.values(template.findResources("AWS::ECS::TaskDefinition"));
    const container = (definition as { Properties: { ContainerDefinitions: Array<Record<string, unknown>> } })
      .Properties.ContainerDefinitions[0]!;
    expect(container.Command).toEqual(["regent", "agent", "ecs", "start"]);
    expect(container.StopTimeout).toBe(60);
    const env = Object.fromEntries(
      (container.Environment as Array<{ Name: string; Value: unknown }>).map((e) => [e.Name, e.Value]),
    );
    expect(env.REGENT__API).toBe("https://regent.example.com");
    expect(env.REGENT__ECS__CAPACITY_PROVIDERS).toBe("FARGATE_SPOT:3,FARGATE:2:1");
    expect(Object.keys(env).sort()).toEqual([
      "REGENT__AGENT__NAME",
      "REGENT__API",
      "REGENT__ECS__CAPACITY_PROVIDERS",
      "REGENT__ECS__CLUSTER",
      "REGENT__ECS__EXECUTION_ROLE_ARN",
      "REGENT__ECS__IMAGE",
      "REGENT__ECS__LOG_GROUP",
      "REGENT__ECS__SECURITY_GROUPS",
      "REGENT__ECS__SUBNETS",
      "REGENT__ECS__TASK_ROLE_ARN",
    ]);
    const secrets = container.Secrets as Array<{ Name: string; ValueFrom: unknown }>;
    expect(secrets.map((s) => s.Name).sort()).toEqual(["REGENT__AGENT__LABELS", "REGENT__API_KEY"]);
    expect(JSON.stringify(secrets)).toContain(":parameter/regent/agent/api-key");
    template.hasResourceProperties("AWS::SSM::Parameter", {
      Name: "/regent/agent/labels",
      Value: "ecs,prod",
    });
  });

  test("the agent may run and stop tasks only on its cluster, and pass only the flow roles", () => {
    const policies = JSON.stringify(template.findResources("AWS::IAM::Policy"));
    template.hasResourceProperties("AWS::IAM::Policy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ["ecs:RunTask", "ecs:StopTask", "ecs:DescribeTasks"],
            Condition: { ArnEquals: { "ecs:cluster": Match.anyValue() } },
          }),
          Match.objectLike({
            Action: "iam:PassRole",
            Condition: { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } },
            Resource: [
              { "Fn::GetAtt": [Match.stringLikeRegexp("FlowTaskRole"), "Arn"] },
              { "Fn::GetAtt": [Match.stringLikeRegexp("FlowExecutionRole"), "Arn"] },
            ],
          }),
        ]),
      },
    });
    expect(policies).not.toContain('"iam:*"');
    expect(policies).not.toContain('"ecs:*"');
  });

  test("flow tasks: an execution role that pulls and logs; a task role with no rights but reading the bundles", () => {
    template.hasResourceProperties("AWS::IAM::Role", {
      Description: "Regent flow tasks: pull the image, write logs",
      ManagedPolicyArns: [
        Match.objectLike({
          "Fn::Join": Match.arrayWith([
            Match.arrayWith([Match.stringLikeRegexp("AmazonECSTaskExecutionRolePolicy")]),
          ]),
        }),
      ],
    });
    template.hasResourceProperties("AWS::Logs::LogGroup", {
      LogGroupName: "/regent/flows",
      RetentionInDays: 30,
    });
    const noBucket = JSON.stringify(template.findResources("AWS::IAM::Policy"));
    expect(noBucket).not.toContain("s3:GetObject");

    const withBucket = synth({ bundleBucket: { name: "acme-flows", keyPrefix: "regent/" } });
    withBucket.hasResourceProperties("AWS::IAM::Policy", {
      Roles: [{ Ref: Match.stringLikeRegexp("FlowTaskRole") }],
      PolicyDocument: {
        Statement: [
          {
            Action: "s3:GetObject",
            Effect: "Allow",
            Resource: { "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":s3:::acme-flows/regent/*"]] },
          },
        ],
      },
    });
  });

  test("a spot strategy of one's own reaches the cluster and the agent", () => {
    const custom = synth({ spot: { spotWeight: 1, onDemandBase: 0, onDemandWeight: 1 } });
    custom.hasResourceProperties("AWS::ECS::ClusterCapacityProviderAssociations", {
      DefaultCapacityProviderStrategy: [
        { CapacityProvider: "FARGATE_SPOT", Weight: 1 },
        { CapacityProvider: "FARGATE", Base: 0, Weight: 1 },
      ],
    });
    expect(JSON.stringify(custom.toJSON())).toContain("FARGATE_SPOT:1,FARGATE:1:0");
  });
});

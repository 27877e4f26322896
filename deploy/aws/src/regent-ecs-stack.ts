import { Duration, RemovalPolicy, Stack, type StackProps } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as iam from "aws-cdk-lib/aws-iam";
import * as logs from "aws-cdk-lib/aws-logs";
import * as ssm from "aws-cdk-lib/aws-ssm";
import type { Construct } from "constructs";

export interface RegentEcsStackProps extends StackProps {
  /** An existing VPC to run in (its private subnets take the tasks); default: a new one with 2 AZs. */
  readonly vpcId?: string | undefined;
  /** The Regent runtime image the agent runs (and flows without an image of their own). */
  readonly runtimeImage: string;
  /** The Regent server's API, e.g. `https://regent.example.com`. */
  readonly apiUrl: string;
  /** Labels of the agent: it takes runs whose labels are all among these. */
  readonly agentLabels: readonly string[];
  /** SSM parameter names the agent reads its API key and labels from; default under `/regent/agent/`. */
  readonly ssmPrefix?: string | undefined;
  /** The capacity-provider strategy of flow runs: FARGATE_SPOT weight, FARGATE base and weight. */
  readonly spot?: {
    readonly spotWeight: number;
    readonly onDemandBase: number;
    readonly onDemandWeight: number;
  };
  /** S3 bucket (and key prefix) flows' bundles are in (S3 storage): the flow task role may read them. */
  readonly bundleBucket?: { readonly name: string; readonly keyPrefix?: string } | undefined;
  /** How long flow and agent logs are kept in CloudWatch. */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * What Regent needs on AWS to run flows as ECS tasks: a cluster with the FARGATE and FARGATE_SPOT
 * capacity providers, the roles flow tasks run with (least privilege: the execution role pulls images
 * and writes logs; the task role may only read the flows' bundles when S3 storage is used), CloudWatch
 * log groups, and the Regent ECS agent as an ECS service whose settings come from SSM parameters.
 */
export class RegentEcsStack extends Stack {
  readonly cluster: ecs.Cluster;
  readonly flowTaskRole: iam.Role;
  readonly flowExecutionRole: iam.Role;
  readonly flowLogGroup: logs.LogGroup;
  readonly agentService: ecs.FargateService;

  constructor(scope: Construct, id: string, props: RegentEcsStackProps) {
    super(scope, id, props);
    const prefix = props.ssmPrefix ?? "/regent/agent";
    const retention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const spot = props.spot ?? { spotWeight: 3, onDemandBase: 1, onDemandWeight: 2 };

    const vpc = props.vpcId
      ? ec2.Vpc.fromLookup(this, "Vpc", { vpcId: props.vpcId })
      : new ec2.Vpc(this, "Vpc", { maxAzs: 2, natGateways: 1 });

    this.cluster = new ecs.Cluster(this, "Cluster", {
      vpc,
      clusterName: "regent-flows",
      enableFargateCapacityProviders: true,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });
    this.cluster.addDefaultCapacityProviderStrategy([
      { capacityProvider: "FARGATE_SPOT", weight: spot.spotWeight },
      { capacityProvider: "FARGATE", base: spot.onDemandBase, weight: spot.onDemandWeight },
    ]);

    this.flowLogGroup = new logs.LogGroup(this, "FlowLogs", {
      logGroupName: "/regent/flows",
      retention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const agentLogs = new logs.LogGroup(this, "AgentLogs", {
      logGroupName: "/regent/agent",
      retention,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // The flows' tasks: ECS pulls their images and writes their logs with the execution role; the flow
    // code runs with the task role, which may do nothing but read the bundles (grant it more per flow).
    this.flowExecutionRole = new iam.Role(this, "FlowExecutionRole", {
      assumedBy: new iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
      description: "Regent flow tasks: pull the image, write logs",
      managedPolicies: [
        iam.ManagedPolicy.fromAwsManagedPolicyName("service-role/AmazonECSTaskExecutionRolePolicy"),
      ],
    });
    this.flowLogGroup.grantWrite(this.flowExecutionRole);
    this.flowTaskRole = new iam.Role(this, "FlowTaskRole", {
      assumedBy: new iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
      description: "Regent flow tasks: what the flow's code may do",
    });
    if (props.bundleBucket)
      this.flowTaskRole.addToPolicy(
        new iam.PolicyStatement({
          actions: ["s3:GetObject"],
          resources: [
            `arn:${this.partition}:s3:::${props.bundleBucket.name}/${props.bundleBucket.keyPrefix ?? ""}*`,
          ],
        }),
      );

    const flowSecurityGroup = new ec2.SecurityGroup(this, "FlowSecurityGroup", {
      vpc,
      description: "Regent flow tasks: outbound only",
      allowAllOutbound: true,
    });

    // The agent: an ECS service of one task, configured only by env, its API key a SecureString in SSM.
    const apiKey = ssm.StringParameter.fromSecureStringParameterAttributes(this, "AgentApiKey", {
      parameterName: `${prefix}/api-key`,
    });
    const labels = new ssm.StringParameter(this, "AgentLabels", {
      parameterName: `${prefix}/labels`,
      stringValue: props.agentLabels.join(","),
      description: "Labels of the Regent ECS agent (REGENT__AGENT__LABELS)",
    });
    const agentTaskDefinition = new ecs.FargateTaskDefinition(this, "AgentTask", {
      cpu: 256,
      memoryLimitMiB: 512,
      runtimePlatform: {
        cpuArchitecture: ecs.CpuArchitecture.X86_64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
    });
    agentTaskDefinition.addContainer("agent", {
      image: ecs.ContainerImage.fromRegistry(props.runtimeImage),
      command: ["regent", "agent", "ecs", "start"],
      // Stopping, the agent waits up to 30 s for its runs' tasks before it stops them: give it that.
      stopTimeout: Duration.seconds(60),
      logging: ecs.LogDrivers.awsLogs({ logGroup: agentLogs, streamPrefix: "agent" }),
      environment: {
        REGENT__API: props.apiUrl,
        REGENT__AGENT__NAME: "ecs",
        REGENT__ECS__CLUSTER: this.cluster.clusterName,
        REGENT__ECS__SUBNETS: vpc.privateSubnets.map((s) => s.subnetId).join(","),
        REGENT__ECS__SECURITY_GROUPS: flowSecurityGroup.securityGroupId,
        REGENT__ECS__CAPACITY_PROVIDERS: `FARGATE_SPOT:${spot.spotWeight},FARGATE:${spot.onDemandWeight}:${spot.onDemandBase}`,
        REGENT__ECS__TASK_ROLE_ARN: this.flowTaskRole.roleArn,
        REGENT__ECS__EXECUTION_ROLE_ARN: this.flowExecutionRole.roleArn,
        REGENT__ECS__IMAGE: props.runtimeImage,
        REGENT__ECS__LOG_GROUP: this.flowLogGroup.logGroupName,
      },
      secrets: {
        REGENT__API_KEY: ecs.Secret.fromSsmParameter(apiKey),
        REGENT__AGENT__LABELS: ecs.Secret.fromSsmParameter(labels),
      },
    });
    // What the agent does in AWS: run, follow and stop flow tasks, register their task definitions, and
    // hand them the flow roles (and no other).
    agentTaskDefinition.addToTaskRolePolicy(
      new iam.PolicyStatement({
        actions: ["ecs:RunTask", "ecs:StopTask", "ecs:DescribeTasks"],
        resources: ["*"],
        conditions: { ArnEquals: { "ecs:cluster": this.cluster.clusterArn } },
      }),
    );
    agentTaskDefinition.addToTaskRolePolicy(
      new iam.PolicyStatement({
        // Task definitions have no cluster: these cannot be narrowed by resource.
        actions: ["ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition", "ecs:TagResource"],
        resources: ["*"],
      }),
    );
    agentTaskDefinition.addToTaskRolePolicy(
      new iam.PolicyStatement({
        actions: ["iam:PassRole"],
        resources: [this.flowTaskRole.roleArn, this.flowExecutionRole.roleArn],
        conditions: { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } },
      }),
    );

    this.agentService = new ecs.FargateService(this, "Agent", {
      cluster: this.cluster,
      taskDefinition: agentTaskDefinition,
      desiredCount: 1,
      // The agent on on-demand capacity: a reclaimed agent would only delay claims, but need not.
      capacityProviderStrategies: [{ capacityProvider: "FARGATE", weight: 1 }],
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [flowSecurityGroup],
      circuitBreaker: { rollback: true },
      minHealthyPercent: 0,
      maxHealthyPercent: 100,
      enableExecuteCommand: false,
    });
  }
}

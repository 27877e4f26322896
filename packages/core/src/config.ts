import { z } from "zod";
import { AuthSettingSchema } from "./auth.js";
import { parseDuration } from "./durations.js";

const duration = z.union([z.string(), z.number()]).refine(
  (value) => {
    try {
      parseDuration(value);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'a duration: a number of milliseconds or a string like "30s", "5m"' },
);

/**
 * `~/.regent/config.toml`, overridden by env `REGENT__KEY` / `REGENT__SECTION__KEY`, overridden by CLI
 * flags. Strict: an unknown key is an error naming it and where it came from.
 */
export const ConfigSchema = z.strictObject({
  /** The API the CLI, agents and executors talk to. */
  api: z.url().default("http://127.0.0.1:4200"),
  api_key: z.string().optional(),
  server: z
    .strictObject({
      host: z.string().min(1).default("127.0.0.1"),
      /** `auto`: API keys are required unless the server listens on loopback only; `required`: always. */
      auth: AuthSettingSchema.default("auto"),
      /** Serve without API keys on any address (`--insecure-no-auth`): anyone who reaches it can run code. */
      insecure_no_auth: z.boolean().default(false),
      /** Origins whose web pages may call the API from a browser (CORS); none by default. */
      cors_origins: z.array(z.string().min(1)).default([]),
      /**
       * Encrypts flows' secrets: 32 bytes in base64 (`openssl rand -base64 32`), the same on every replica.
       * Unset: the key in `~/.regent/secrets.key`, made at first start.
       */
      secrets_key: z.string().min(1).optional(),
      /** Expensive mutations (register_flow, backfills, new keys, …) each API key may call per minute; 0: no limit. */
      rate_limit: z.number().int().min(0).max(1_000_000).default(300),
      port: z.number().int().min(0).max(65535).default(4200),
      /** `postgres://…` or a SQLite file; default `~/.regent/regent.db`. */
      db: z.string().min(1).optional(),
      /** A Scheduled run still unclaimed this long after its start time is flagged late, with the reason. */
      late_after: duration.default("30s"),
      /** An agent not heard from for this long no longer counts as live (late-run reasons, Lazarus). */
      agent_timeout: duration.default("60s"),
      /** A Running run whose executor has not sent a heartbeat for this long is lost: Lazarus takes it. */
      heartbeat_timeout: duration.default("90s"),
      /** A run Submitted to an agent that has not started it within this long is lost (image pulls are slow). */
      submission_timeout: duration.default("10m"),
      /** Times Lazarus reschedules a run whose infrastructure died before failing it (a flow's `maxRestarts` wins). */
      max_restarts: z.number().int().min(0).max(100).default(3),
      /** Finished flow runs older than this are deleted with their task runs and logs; unset: kept. */
      retain_runs: duration.optional(),
      /** Log lines older than this are deleted; unset: kept. */
      retain_logs: duration.optional(),
      /** Where email notifications go out: `smtp://user:password@host:587` (unset: no email). */
      smtp_url: z.string().min(1).optional(),
      /** The sender of email notifications. */
      smtp_from: z.string().min(1).default("regent@localhost"),
    })
    .prefault({}),
  agent: z
    .strictObject({
      labels: z.array(z.string().min(1)).default([]),
      name: z.string().min(1).optional(),
      /** Executors a local agent keeps started ahead of runs, so a run skips process start-up; 0 for none. */
      prestarted: z.number().int().min(0).max(100).default(2),
    })
    .prefault({}),
  docker: z
    .strictObject({
      /**
       * The base image of flows with Docker storage that name none: the Regent runtime image, built from
       * deploy/docker/Dockerfile and pushed where builds can pull it. Default `regent/runtime:<version>`.
       */
      runtime_image: z.string().min(1).optional(),
      /** A registry host (`registry.example.com:5000`) to use `registry_username` and `registry_password` for. */
      registry: z.string().min(1).optional(),
      /** For `registry`, besides those `docker login` saved: pushes at register, pulls by Docker agents. */
      registry_username: z.string().min(1).optional(),
      registry_password: z.string().min(1).optional(),
    })
    .prefault({}),
  /** The ECS agent's defaults for runs whose run config leaves them unset (flags of `regent agent ecs start`). */
  ecs: z
    .strictObject({
      cluster: z.string().min(1).optional(),
      /** `FARGATE` (default), `EC2` or `EXTERNAL`; not with `capacity_providers`. */
      launch_type: z.enum(["FARGATE", "EC2", "EXTERNAL"]).optional(),
      /** A capacity-provider strategy, each `NAME[:WEIGHT[:BASE]]`: `["FARGATE_SPOT:3", "FARGATE:2:1"]`. */
      capacity_providers: z.array(z.string().min(1)).optional(),
      subnets: z.array(z.string().min(1)).optional(),
      security_groups: z.array(z.string().min(1)).optional(),
      assign_public_ip: z.boolean().optional(),
      task_role_arn: z.string().min(1).optional(),
      execution_role_arn: z.string().min(1).optional(),
      /** A JSON file whose object is merged into every RunTask input. */
      run_task_kwargs: z.string().min(1).optional(),
      /** A CloudWatch log group flows' containers log to (awslogs driver), for runs that configure none. */
      log_group: z.string().min(1).optional(),
      /** The image for runs whose run config and storage name none. */
      image: z.string().min(1).optional(),
    })
    .prefault({}),
});
export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;

/**
 * A named server in the config file (`[profiles.NAME]`): its API and key. `profile = "NAME"` (or env
 * `REGENT__PROFILE`, or `--profile`) picks one; its values sit between the file's own and env.
 */
export const ProfileSchema = z.strictObject({
  api: z.url(),
  api_key: z.string().min(1).optional(),
});
export type Profile = z.infer<typeof ProfileSchema>;

/** A profile's name: letters, digits, `-` and `_`, as TOML bare keys allow. */
export const PROFILE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

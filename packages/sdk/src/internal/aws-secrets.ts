import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import type { AwsSecretSources } from "../secrets.js";

/**
 * AWS sources for `ctx.secret`, through the official clients with their usual configuration: region and
 * credentials from the environment, the shared config files or the task role (ECS, EKS); endpoints may
 * be overridden with AWS_ENDPOINT_URL_SSM / AWS_ENDPOINT_URL_SECRETS_MANAGER. A missing parameter or secret
 * is undefined; anything else (no credentials, access denied) throws the client's error, which names it.
 */
export function awsSecretSources(): AwsSecretSources {
  let ssm: SSMClient | undefined;
  let secrets: SecretsManagerClient | undefined;
  return {
    async ssmParameter(name) {
      ssm ??= new SSMClient({});
      try {
        const out = await ssm.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
        return out.Parameter?.Value;
      } catch (error) {
        if ((error as Error).name === "ParameterNotFound") return undefined;
        throw error;
      }
    },
    async secretsManagerSecret(id) {
      secrets ??= new SecretsManagerClient({});
      try {
        const out = await secrets.send(new GetSecretValueCommand({ SecretId: id }));
        if (out.SecretString !== undefined) return out.SecretString;
        return out.SecretBinary ? Buffer.from(out.SecretBinary).toString("utf8") : undefined;
      } catch (error) {
        if ((error as Error).name === "ResourceNotFoundException") return undefined;
        throw error;
      }
    },
  };
}

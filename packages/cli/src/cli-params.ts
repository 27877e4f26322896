import { InvalidUsageError, type JsonSchema, readParamText } from "@regent/core";

/**
 * Parameters from `--params-json '{...}'` and repeated `--param key=value` (which win). Each `--param`
 * value is read by the parameter's JSON Schema type (DESIGN §9): strings verbatim, the rest as JSON.
 */
export function paramsFromCli(
  pairs: readonly string[],
  paramsJson: string | undefined,
  jsonSchema: JsonSchema | undefined,
): Record<string, unknown> {
  let params: Record<string, unknown> = {};
  if (paramsJson !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(paramsJson);
    } catch (error) {
      throw new InvalidUsageError(`--params-json is not valid JSON: ${(error as Error).message}`);
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new InvalidUsageError('--params-json must be a JSON object, e.g. \'{"name": "Ada"}\'');
    }
    params = { ...(parsed as Record<string, unknown>) };
  }
  const properties = (jsonSchema?.properties ?? {}) as Record<string, JsonSchema>;
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new InvalidUsageError(`--param takes key=value (got "${pair}")`);
    const key = pair.slice(0, eq);
    params[key] = readParamText(pair.slice(eq + 1), properties[key]);
  }
  return params;
}

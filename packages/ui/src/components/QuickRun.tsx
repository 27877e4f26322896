import { ApiError, graphql } from "@regent/client";
import { checkRunConfigOverride, redactSensitive } from "@regent/core";
import { useMutation } from "@tanstack/react-query";
import { type FormEvent, useMemo, useState } from "react";
import { useLocation } from "wouter";
import { client, errorMessage } from "../api.js";
import { issuesByField, type ParamField, paramFields, parseParams } from "../param-form.js";
import { sizeFields, sizeOverrides } from "../run-size.js";

const CreateRun = graphql(`
  mutation UiCreateRun($input: create_flow_run_input!) { create_flow_run(input: $input) { id } }
`);

interface Props {
  flowId: string;
  parametersSchema: unknown;
  runConfig: unknown;
  labels: unknown;
}

/**
 * The run config overrides as typed (a JSON object) with the size fields over them, checked by merging
 * them over the flow's own.
 */
function checkRunConfig(
  text: string,
  sizes: Record<string, unknown>,
  base: unknown,
): { value?: Record<string, unknown>; error?: string } {
  if (!text.trim() && Object.keys(sizes).length === 0) return {};
  let value: unknown = {};
  try {
    if (text.trim()) value = JSON.parse(text);
  } catch (error) {
    return { error: `not valid JSON: ${(error as Error).message}` };
  }
  if (value !== null && typeof value === "object" && !Array.isArray(value)) value = { ...value, ...sizes };
  try {
    checkRunConfigOverride(base, value);
  } catch (error) {
    return { error: errorMessage(error) };
  }
  return { value: value as Record<string, unknown> };
}

function Field({
  field,
  text,
  error,
  onChange,
}: {
  field: ParamField;
  text: string;
  error: string | undefined;
  onChange: (text: string) => void;
}) {
  const id = `param-${field.name}`;
  const common = { id, name: field.name, "aria-invalid": error ? true : undefined };
  return (
    <div className={`field ${error ? "field-error" : ""}`}>
      <label htmlFor={id}>
        {field.name}
        {field.required ? <span className="required"> *</span> : null}
        <span className="muted small"> {field.kind}</span>
      </label>
      {field.kind === "boolean" ? (
        <input
          {...common}
          type="checkbox"
          checked={text === "true"}
          onChange={(e) => onChange(e.target.checked ? "true" : "false")}
        />
      ) : field.kind === "enum" ? (
        <select {...common} value={text} onChange={(e) => onChange(e.target.value)}>
          {field.required || !field.hasDefault ? <option value="">—</option> : null}
          {(field.options ?? []).map((o) => (
            <option key={String(o)} value={String(o)}>
              {String(o)}
            </option>
          ))}
        </select>
      ) : field.kind === "json" ? (
        <textarea {...common} rows={3} value={text} onChange={(e) => onChange(e.target.value)} />
      ) : (
        <input
          {...common}
          type={field.kind === "string" ? "text" : "number"}
          step={field.kind === "integer" ? 1 : "any"}
          value={text}
          onChange={(e) => onChange(e.target.value)}
        />
      )}
      {field.description ? <div className="muted small">{field.description}</div> : null}
      {error ? (
        <div className="error-text" role="alert">
          {error}
        </div>
      ) : null}
    </div>
  );
}

/**
 * Quick run: a form made from the flow's parameters schema, with a run name, labels and run config
 * overrides; typed values are checked here first, then by the server (its errors land on their fields).
 */
export function QuickRun({ flowId, parametersSchema, runConfig, labels }: Props) {
  const fields = useMemo(() => paramFields(parametersSchema), [parametersSchema]);
  const [texts, setTexts] = useState<Record<string, string>>({});
  const [name, setName] = useState("");
  const [labelText, setLabelText] = useState("");
  const [configText, setConfigText] = useState("");
  const [sizeTexts, setSizeTexts] = useState<Record<string, string>>({});
  const sizes = sizeFields(runConfig, sizeTexts.cpu);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [, navigate] = useLocation();
  const run = useMutation({
    mutationFn: (input: Record<string, unknown>) => client.request(CreateRun, { input: input as never }),
    onSuccess: (data) => navigate(`/runs/${data.create_flow_run.id}`),
    onError: (error) => {
      if (error instanceof ApiError && error.apiCode === "INVALID_PARAMETERS")
        setErrors(issuesByField(error.errors[0]?.details));
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const parsed = parseParams(fields, texts);
    const config = checkRunConfig(configText, sizeOverrides(sizes, sizeTexts), runConfig);
    const found = { ...parsed.errors, ...(config.error ? { "run config": config.error } : {}) };
    setErrors(found);
    if (Object.keys(found).length > 0) return;
    const runLabels = labelText
      .split(",")
      .map((l) => l.trim())
      .filter(Boolean);
    run.mutate({
      flow_id: flowId,
      parameters: parsed.values,
      ...(name.trim() ? { flow_run_name: name.trim() } : {}),
      ...(runLabels.length ? { labels: runLabels } : {}),
      ...(config.value ? { run_config: config.value } : {}),
    });
  };
  const generalError =
    run.error && !(run.error instanceof ApiError && run.error.apiCode === "INVALID_PARAMETERS");
  return (
    <form className="card quick-run" onSubmit={submit} noValidate>
      <h2>Quick run</h2>
      {fields.length === 0 ? <p className="muted">This flow takes no parameters.</p> : null}
      {fields.map((f) => (
        <Field
          key={f.name}
          field={f}
          text={texts[f.name] ?? f.initial}
          error={errors[f.name]}
          onChange={(text) => setTexts((t) => ({ ...t, [f.name]: text }))}
        />
      ))}
      {errors[""] ? <div className="error-text">{errors[""]}</div> : null}
      <details>
        <summary>Run options</summary>
        <div className="field">
          <label htmlFor="run-name">Run name</label>
          <input
            id="run-name"
            placeholder="generated"
            value={name}
            onChange={(e) => setName(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="run-labels">
            Labels (comma-separated; default: the flow's {JSON.stringify(labels ?? [])})
          </label>
          <input id="run-labels" value={labelText} onChange={(e) => setLabelText(e.target.value)} />
        </div>
        {sizes.map((f) => (
          <div className="field" key={f.key}>
            <label htmlFor={`size-${f.key}`}>{f.label}</label>
            {f.options ? (
              <select
                id={`size-${f.key}`}
                value={sizeTexts[f.key] ?? ""}
                onChange={(e) => setSizeTexts((t) => ({ ...t, [f.key]: e.target.value }))}
              >
                <option value="">{f.current ? `the flow's (${f.current})` : "the flow's"}</option>
                {f.options.map((o) => (
                  <option key={o} value={String(o)}>
                    {o}
                  </option>
                ))}
              </select>
            ) : (
              <input
                id={`size-${f.key}`}
                type={f.kind === "number" ? "number" : "text"}
                step="any"
                placeholder={f.current ? `the flow's: ${f.current}` : "the flow's"}
                value={sizeTexts[f.key] ?? ""}
                onChange={(e) => setSizeTexts((t) => ({ ...t, [f.key]: e.target.value }))}
              />
            )}
            {f.hint ? <div className="muted small">{f.hint}</div> : null}
          </div>
        ))}
        <div className={`field ${errors["run config"] ? "field-error" : ""}`}>
          <label htmlFor="run-config">Run config overrides (JSON, merged over the flow's)</label>
          <textarea
            id="run-config"
            rows={4}
            placeholder='{ "env": { "LOG_LEVEL": "debug" } }'
            value={configText}
            onChange={(e) => setConfigText(e.target.value)}
          />
          <div className="muted small">
            Flow's run config: {JSON.stringify(redactSensitive(runConfig ?? { type: "local" }))}
          </div>
          {errors["run config"] ? (
            <div className="error-text" role="alert">
              {errors["run config"]}
            </div>
          ) : null}
        </div>
      </details>
      {generalError ? (
        <div className="notice notice-error" role="alert">
          Could not start the run. {errorMessage(run.error)}
        </div>
      ) : null}
      <button type="submit" className="primary" disabled={run.isPending}>
        {run.isPending ? "Starting…" : "Run"}
      </button>
    </form>
  );
}

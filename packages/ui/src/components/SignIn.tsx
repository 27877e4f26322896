import { graphql } from "@regent/client";
import { useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { client, errorMessage, storeApiKey } from "../api.js";

export const AuthInfo = graphql(`
  query UiAuthInfo { auth_info { scope key_id key_name keys_required } }
`);

/** Asks for an API key when the server requires one; checks it before keeping it. */
export function SignIn({ problem }: { problem: string }) {
  const queryClient = useQueryClient();
  const [key, setKey] = useState("");
  const [remember, setRemember] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    storeApiKey(key.trim(), remember);
    try {
      await client.request(AuthInfo, {});
      await queryClient.resetQueries();
    } catch (e) {
      storeApiKey(undefined);
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="sign-in">
      <h1>Sign in</h1>
      <p className="muted">{problem}</p>
      <form className="card form" onSubmit={submit}>
        <div className={`field ${error ? "field-error" : ""}`}>
          <label htmlFor="api-key">API key</label>
          <input
            id="api-key"
            type="password"
            autoComplete="off"
            placeholder="rgt_…"
            value={key}
            onChange={(e) => setKey(e.target.value)}
            aria-invalid={error ? true : undefined}
            required
          />
          {error ? <div className="error-text">{error}</div> : null}
          <div className="muted small">
            An admin makes one with <code>regent auth create-key --name NAME --scope user</code>.
          </div>
        </div>
        <div className="field">
          <label>
            <input type="checkbox" checked={remember} onChange={(e) => setRemember(e.target.checked)} />{" "}
            Remember on this browser (otherwise for this tab only)
          </label>
        </div>
        <button type="submit" className="primary" disabled={busy || !key.trim()}>
          Sign in
        </button>
      </form>
    </section>
  );
}

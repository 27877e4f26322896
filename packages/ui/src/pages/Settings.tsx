import { graphql } from "@regent/client";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { client, errorCode, errorMessage, storeApiKey, useGql } from "../api.js";
import { ErrorBox, Loading } from "../components/Notice.js";
import { AuthInfo } from "../components/SignIn.js";
import { ago } from "../format.js";

const ApiKeys = graphql(`
  query UiApiKeys { api_keys { id name scope prefix created expires revoked last_used } }
`);
const CreateKey = graphql(`
  mutation UiCreateApiKey($name: String!, $scope: api_key_scope!, $expiresIn: String) {
    create_api_key(input: { name: $name, scope: $scope, expires_in: $expiresIn }) { key api_key { name } }
  }
`);
const RevokeKey = graphql(`
  mutation UiRevokeApiKey($id: String!) { revoke_api_key(input: { id_or_name: $id }) { id } }
`);

const Secrets = graphql(`query UiSecrets { secrets { name updated } }`);
const SetSecret = graphql(`
  mutation UiSetSecret($name: String!, $value: String!) { set_secret(input: { name: $name, value: $value }) { name } }
`);
const DeleteSecret = graphql(`
  mutation UiDeleteSecret($name: String!) { delete_secret(input: { name: $name }) { success } }
`);

type Scope = "admin" | "user" | "runner";
const EXPIRIES = [
  ["", "never"],
  ["30d", "in 30 days"],
  ["90d", "in 90 days"],
  ["365d", "in a year"],
] as const;

/** Create a key; the new key is shown once, here. */
function CreateKeyForm() {
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const [scope, setScope] = useState<Scope>("user");
  const [expiresIn, setExpiresIn] = useState("");
  const create = useMutation({
    mutationFn: () => client.request(CreateKey, { name: name.trim(), scope, expiresIn: expiresIn || null }),
    onSuccess: () => {
      setName("");
      void queryClient.invalidateQueries({ queryKey: ["api-keys"] });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate();
  };
  return (
    <form className="card form" onSubmit={submit}>
      <h2>New key</h2>
      <div className="field">
        <label htmlFor="key-name">Name</label>
        <input
          id="key-name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          placeholder="ci"
          required
        />
      </div>
      <div className="field">
        <label htmlFor="key-scope">Scope</label>
        <select id="key-scope" value={scope} onChange={(e) => setScope(e.target.value as Scope)}>
          <option value="user">user: projects, flows, runs, logs</option>
          <option value="runner">runner: agents and the runs they launch</option>
          <option value="admin">admin: everything, keys included</option>
        </select>
      </div>
      <div className="field">
        <label htmlFor="key-expires">Expires</label>
        <select id="key-expires" value={expiresIn} onChange={(e) => setExpiresIn(e.target.value)}>
          {EXPIRIES.map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
      </div>
      {create.error ? <div className="error-text">{errorMessage(create.error)}</div> : null}
      <button type="submit" className="primary" disabled={create.isPending || !name.trim()}>
        Create key
      </button>
      {create.data ? (
        <div className="notice new-key" role="status">
          <strong>
            Key “{create.data.create_api_key.api_key.name}” — copy it now, it is not shown again:
          </strong>
          <code data-testid="new-key">{create.data.create_api_key.key}</code>
          <button
            type="button"
            onClick={() => void navigator.clipboard?.writeText(create.data.create_api_key.key)}
          >
            Copy
          </button>
        </div>
      ) : null}
    </form>
  );
}

/** Secrets for flows (ctx.secret): names listed, values set here and never shown again. */
function SecretsCard({ scope }: { scope: string | undefined }) {
  const queryClient = useQueryClient();
  const secrets = useGql(["secrets"], Secrets, {});
  const [name, setName] = useState("");
  const [value, setValue] = useState("");
  const refresh = () => void queryClient.invalidateQueries({ queryKey: ["secrets"] });
  const set = useMutation({
    mutationFn: () => client.request(SetSecret, { name: name.trim(), value }),
    onSuccess: () => {
      setName("");
      setValue("");
      refresh();
    },
  });
  const remove = useMutation({
    mutationFn: (secret: string) => client.request(DeleteSecret, { name: secret }),
    onSuccess: refresh,
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    set.mutate();
  };
  if (secrets.error && errorCode(secrets.error) === "FORBIDDEN")
    return (
      <div className="notice notice-empty">
        Managing secrets needs a user or admin key; this one has scope {scope}.
      </div>
    );
  if (secrets.error) return <ErrorBox error={secrets.error} what="load the secrets" />;
  if (secrets.isPending) return <Loading />;
  return (
    <>
      <div className="card">
        {secrets.data.secrets.length === 0 ? (
          <p className="muted">No secrets yet. Flows read them with ctx.secret("NAME").</p>
        ) : (
          <table data-testid="secrets">
            <thead>
              <tr>
                <th>Name</th>
                <th>Updated</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {secrets.data.secrets.map((secret) => (
                <tr key={secret.name}>
                  <td>
                    <code>{secret.name}</code>
                  </td>
                  <td>{ago(secret.updated)}</td>
                  <td>
                    <button
                      type="button"
                      disabled={remove.isPending}
                      onClick={() => {
                        if (window.confirm(`Delete secret “${secret.name}”? Flows that read it will fail.`))
                          remove.mutate(secret.name);
                      }}
                    >
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {remove.error ? <ErrorBox error={remove.error} what="delete the secret" /> : null}
      </div>
      <form className="card form" onSubmit={submit}>
        <h2>Set a secret</h2>
        <div className="field">
          <label htmlFor="secret-name">Secret name</label>
          <input
            id="secret-name"
            value={name}
            onChange={(e) => setName(e.target.value)}
            placeholder="DB_PASSWORD"
            required
          />
        </div>
        <div className="field">
          <label htmlFor="secret-value">Value</label>
          <input
            id="secret-value"
            type="password"
            autoComplete="off"
            value={value}
            onChange={(e) => setValue(e.target.value)}
            required
          />
        </div>
        {set.error ? <div className="error-text">{errorMessage(set.error)}</div> : null}
        <button type="submit" className="primary" disabled={set.isPending || !name.trim() || !value}>
          Set secret
        </button>
        <p className="muted">
          Encrypted on the server; it is never shown again. Setting an existing name replaces it.
        </p>
      </form>
    </>
  );
}

/** API keys (admins manage them) and which key this browser uses. */
export function SettingsPage() {
  const queryClient = useQueryClient();
  const auth = useGql(["auth"], AuthInfo, {});
  const keys = useGql(["api-keys"], ApiKeys, {});
  const revoke = useMutation({
    mutationFn: (id: string) => client.request(RevokeKey, { id }),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ["api-keys"] }),
  });
  const me = auth.data?.auth_info;
  const signOut = async () => {
    storeApiKey(undefined);
    await queryClient.resetQueries();
  };
  return (
    <section>
      <div className="page-head">
        <h1>Settings</h1>
      </div>
      <div className="card">
        <h2>This browser</h2>
        {me ? (
          <p>
            {me.key_name ? (
              <>
                Signed in with key <strong>{me.key_name}</strong> (scope {me.scope}).{" "}
                <button type="button" onClick={() => void signOut()}>
                  Sign out
                </button>
              </>
            ) : (
              <>No key: this server does not require one (it listens on loopback only).</>
            )}
          </p>
        ) : null}
      </div>
      <h2>API keys</h2>
      {keys.isPending ? <Loading /> : null}
      {keys.error && errorCode(keys.error) === "FORBIDDEN" ? (
        <div className="notice notice-empty">
          Managing keys needs an admin key; this one has scope {me?.scope}.
        </div>
      ) : keys.error ? (
        <ErrorBox error={keys.error} what="load the API keys" />
      ) : null}
      {keys.data ? (
        <div className="card">
          <table>
            <thead>
              <tr>
                <th>Name</th>
                <th>Scope</th>
                <th>Key</th>
                <th>Created</th>
                <th>Expires</th>
                <th>Last used</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {keys.data.api_keys.map((k) => (
                <tr key={k.id} className={k.revoked ? "muted" : ""}>
                  <td>{k.name}</td>
                  <td>{k.scope}</td>
                  <td>
                    <code>{k.prefix}…</code>
                  </td>
                  <td>{ago(k.created)}</td>
                  <td>{k.expires ? new Date(k.expires).toLocaleString() : "never"}</td>
                  <td>{k.last_used ? ago(k.last_used) : "never"}</td>
                  <td>
                    {k.revoked ? (
                      `revoked ${ago(k.revoked)}`
                    ) : (
                      <button
                        type="button"
                        disabled={revoke.isPending || k.id === me?.key_id}
                        title={k.id === me?.key_id ? "the key this browser signs in with" : undefined}
                        onClick={() => {
                          if (window.confirm(`Revoke key “${k.name}”? Whatever uses it stops working.`))
                            revoke.mutate(k.id);
                        }}
                      >
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {revoke.error ? <ErrorBox error={revoke.error} what="revoke the key" /> : null}
        </div>
      ) : null}
      {keys.data ? <CreateKeyForm /> : null}
      <h2>Secrets</h2>
      <SecretsCard scope={me?.scope} />
    </section>
  );
}

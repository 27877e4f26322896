import type { ReactNode } from "react";
import { errorMessage } from "../api.js";

/** An error from the API, shown where the data would have been. */
export function ErrorBox({ error, what }: { error: unknown; what: string }) {
  return (
    <div className="notice notice-error" role="alert">
      <strong>Could not {what}.</strong> {errorMessage(error)}
    </div>
  );
}

/** What a page shows when it has nothing yet, saying what to do next. */
export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="notice notice-empty">
      <strong>{title}</strong>
      {children ? <div>{children}</div> : null}
    </div>
  );
}

export const Loading = () => <div className="loading">Loading…</div>;

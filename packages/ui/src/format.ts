/** How long ago `iso` was, in words a person reads at a glance ("3 min ago", "in 2 h"). */
export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "—";
  const ms = now - Date.parse(iso);
  const future = ms < 0;
  const s = Math.abs(ms) / 1000;
  const text =
    s < 5
      ? "just now"
      : s < 60
        ? `${Math.round(s)} s`
        : s < 3600
          ? `${Math.round(s / 60)} min`
          : s < 86_400
            ? `${Math.round(s / 3600)} h`
            : `${Math.round(s / 86_400)} d`;
  if (text === "just now") return text;
  return future ? `in ${text}` : `${text} ago`;
}

/** A duration between two instants (the second missing: until now). */
export function duration(start: string | null | undefined, end?: string | null, now = Date.now()): string {
  if (!start) return "—";
  const ms = (end ? Date.parse(end) : now) - Date.parse(start);
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** A timestamp in the reader's own time zone. */
export const when = (iso: string | null | undefined): string =>
  iso ? new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" }) : "—";

import type { RegentClient, TadaDocumentNode } from "@regent/client";
import { abortableSleep } from "./abortable-sleep.js";

export interface WakeUps {
  /** Whether the subscription is open now (callers poll more often while it is not). */
  readonly open: boolean;
  /**
   * Resolves at the next event, or when the signal aborts, or after `ms` — by default the polling
   * fallback: every 2 s while subscribed, 250 ms while not. Never rejects.
   */
  next(ms?: number): Promise<void>;
  /** Wakes the waiter as an event would (something of the caller's own changed). */
  kick(): void;
}

const POLL_SUBSCRIBED_MS = 2_000;
const POLL_UNSUBSCRIBED_MS = 250;
const RECONNECT_FIRST_MS = 250;
const RECONNECT_MAX_MS = 5_000;

/**
 * Wake-ups from a server subscription: every event (and every (re)connect, which may follow missed ones)
 * wakes the waiter. A dropped or refused stream is reopened with backoff until `signal` aborts; the
 * caller's polling covers the gap.
 */
export function wakeUps<R, V>(
  client: RegentClient,
  document: TadaDocumentNode<R, V>,
  variables: V,
  signal: AbortSignal,
): WakeUps {
  let open = false;
  let dirty = true;
  let waiter: (() => void) | undefined;
  const wake = () => {
    dirty = true;
    const w = waiter;
    waiter = undefined;
    w?.();
  };
  void (async () => {
    for (let failures = 0; !signal.aborted; ) {
      try {
        const events = client.subscribe(document, variables, {
          signal,
          onOpen: () => {
            open = true;
            failures = 0;
            wake();
          },
        });
        for await (const _event of events) wake();
      } catch {
        // reopened below; polling goes on meanwhile
      }
      open = false;
      if (signal.aborted) return;
      failures++;
      const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_FIRST_MS * 2 ** (failures - 1));
      await abortableSleep(delay, signal).catch(() => undefined);
    }
  })();
  signal.addEventListener("abort", wake, { once: true });
  return {
    kick: wake,
    get open() {
      return open;
    },
    next(ms = open ? POLL_SUBSCRIBED_MS : POLL_UNSUBSCRIBED_MS) {
      if (dirty || signal.aborted) {
        dirty = false;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          waiter = undefined;
          resolve();
        }, ms);
        waiter = () => {
          clearTimeout(timer);
          dirty = false;
          resolve();
        };
      });
    },
  };
}

import { RegentClient, type TadaDocumentNode } from "@regent/client";
import { type QueryKey, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect } from "react";

const KEY_ITEM = "regent.apiKey";

/**
 * The API key this browser signs in with: for this tab only (sessionStorage) unless remembered
 * (localStorage). Undefined when the server needs none.
 */
export const storedApiKey = (): string | undefined =>
  sessionStorage.getItem(KEY_ITEM) ?? localStorage.getItem(KEY_ITEM) ?? undefined;

export function storeApiKey(key: string | undefined, remember = false): void {
  sessionStorage.removeItem(KEY_ITEM);
  localStorage.removeItem(KEY_ITEM);
  if (key) (remember ? localStorage : sessionStorage).setItem(KEY_ITEM, key);
}

/** The API is on the UI's own origin (`regent server start` serves both). */
export const client = new RegentClient({ apiUrl: `${window.location.origin}/graphql`, apiKey: storedApiKey });

/** The stable code of an API error (`UNAUTHENTICATED`, `FORBIDDEN`, …), if it is one. */
export const errorCode = (error: unknown): string | undefined =>
  (error as { apiCode?: string } | null)?.apiCode ?? (error as { code?: string } | null)?.code;

/** A GraphQL query as a TanStack query; `every` re-reads it that often (lists without a subscription). */
export function useGql<Result, Variables>(
  key: QueryKey,
  document: TadaDocumentNode<Result, Variables>,
  variables: Variables,
  options: { every?: number; enabled?: boolean } = {},
) {
  return useQuery({
    queryKey: key,
    queryFn: () => client.request(document, variables),
    refetchInterval: options.every ?? false,
    enabled: options.enabled ?? true,
    placeholderData: (previous) => previous,
  });
}

/**
 * Keeps the queries under `keys` live from a subscription: each event re-reads them, at most every
 * `throttleMs` (a busy run sends thousands of events a second; the page needs a few frames of them).
 */
export function useLiveInvalidation<Result, Variables>(
  document: TadaDocumentNode<Result, Variables>,
  variables: Variables,
  keys: QueryKey[],
  options: { throttleMs?: number; enabled?: boolean; onEvent?: (event: Result) => void } = {},
) {
  const queryClient = useQueryClient();
  const serial = JSON.stringify([variables, keys]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: `serial` stands for variables and keys
  useEffect(() => {
    if (options.enabled === false) return;
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const refresh = () => {
      timer ??= setTimeout(() => {
        timer = undefined;
        for (const key of keys) void queryClient.invalidateQueries({ queryKey: key });
      }, options.throttleMs ?? 250);
    };
    void (async () => {
      for (let attempt = 0; !abort.signal.aborted; attempt++) {
        try {
          for await (const event of client.subscribe(document, variables, {
            signal: abort.signal,
            onOpen: refresh, // catch up on what happened before the stream opened
          })) {
            options.onEvent?.(event);
            refresh();
          }
        } catch {
          // Dropped: polling by the queries' own intervals covers the gap until it reopens.
        }
        await new Promise((r) => setTimeout(r, Math.min(10_000, 500 * 2 ** attempt)));
      }
    })();
    return () => {
      abort.abort();
      clearTimeout(timer);
    };
  }, [serial, options.enabled]);
}

/** The message of an error from the API or the network, for showing in place. */
export const errorMessage = (error: unknown): string =>
  error instanceof Error ? error.message : String(error ?? "unknown error");

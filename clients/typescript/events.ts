// A typed reader of the api's event streams (Server-Sent Events): a run's
// (GET /v1/runs/{runId}/events) and a subject's (GET /v1/brainstorm-sessions/{id}/events,
// /v1/project-sessions/{id}/events, /v1/programmes/{id}/events).
//
// fetch-based rather than EventSource, because a browser's EventSource can
// send neither the bearer token nor a Last-Event-ID of our choosing. It
// reconnects by itself with the id of the last event it handed out, so the
// server sends exactly the events after it (no loss, no duplicates), when
// the connection drops, when the server ends a stream without `end` (every
// EVENTS_STREAM_SECONDS), after a 429 (waiting its Retry-After) and after a
// 5xx. It stops after `end`, on an abort, or on another 4xx (thrown as an
// ApiError). The event data types are the OpenAPI document's (api.d.ts);
// `Item` narrows `item`/`items` to the subject's (e.g. SeedView for a brainstorm).
import type { components } from "./api"; // clients/typescript/api.d.ts

type Schemas = components["schemas"];
type ErrorBody = Schemas["ErrorBody"];

/** `run`: the run as `GET /v1/runs/{runId}` shows it, first as it is, then after each change. */
export type RunView = Schemas["RunView"];
/** `end`: the run reached a terminal status; the stream closes after it. */
export type RunEnded = Schemas["RunEnded"];
/** `item`: one completed item of a step's attempt, as the committed output will have it. */
export type ItemEvent<Item = unknown> = Omit<Schemas["LiveItemEvent"], "item"> & { item: Item };
/** `reset`: every item the step showed so far is withdrawn (its attempt failed). */
export type ResetEvent = Schemas["LiveResetEvent"];
/** `final`: the step committed; `items` is its committed list (repairs applied). */
export type FinalEvent<Item = unknown> = Omit<Schemas["LiveFinalEvent"], "items"> & {
  items: Item[];
};

/** One event as the reader hands it out: its SSE id, its name and its typed data. */
export type StreamEvent<Item = unknown> = { id: string } & (
  | { type: "run"; data: RunView }
  | { type: "end"; data: RunEnded }
  | { type: "item"; data: ItemEvent<Item> }
  | { type: "reset"; data: ResetEvent }
  | { type: "final"; data: FinalEvent<Item> }
);

export type Subject = "brainstorm-sessions" | "project-sessions" | "programmes";

export interface ReaderOptions {
  /** The bearer token, or a function asked again before every (re)connection. */
  token: string | (() => string | Promise<string>);
  /** Resume after this event id (e.g. one kept from an earlier page). */
  lastEventId?: string;
  /** Stops the reader (the loop ends without an error). */
  signal?: AbortSignal;
  /** Wait before a reconnection, until the server's `retry:` says otherwise (ms). */
  retryMs?: number;
  /** Called with each id handed out, e.g. to keep it across page loads. */
  onEventId?: (id: string) => void;
}

/** A 4xx other than 429 (bad token, another tenant's or no such run): not retried. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`${status} ${code}: ${message}`);
  }
}

const EVENT_TYPES = new Set(["run", "end", "item", "reset", "final"]);

export function runEvents<Item = unknown>(api: string, runId: string, options: ReaderOptions) {
  return readEvents<Item>(`${api}/v1/runs/${encodeURIComponent(runId)}/events`, options);
}

export function subjectEvents<Item = unknown>(
  api: string,
  subject: Subject,
  id: string,
  options: ReaderOptions,
) {
  return readEvents<Item>(`${api}/v1/${subject}/${encodeURIComponent(id)}/events`, options);
}

/** The events of one stream URL, across reconnections, until `end` or the signal aborts. */
export async function* readEvents<Item = unknown>(
  url: string,
  options: ReaderOptions,
): AsyncGenerator<StreamEvent<Item>, void, undefined> {
  let lastEventId = options.lastEventId;
  let retryMs = options.retryMs ?? 2000;
  const { signal } = options;
  while (!signal?.aborted) {
    let waitMs = retryMs;
    try {
      const token = typeof options.token === "function" ? await options.token() : options.token;
      const headers: Record<string, string> = {
        Accept: "text/event-stream",
        Authorization: `Bearer ${token}`,
      };
      if (lastEventId !== undefined) headers["Last-Event-ID"] = lastEventId;
      const response = await fetch(url, { headers, signal, cache: "no-store" });
      if (response.status === 429 || response.status >= 500) {
        waitMs = Math.max(retryMs, Number(response.headers.get("Retry-After") ?? 0) * 1000);
        await response.body?.cancel();
      } else if (!response.ok) {
        const { error } = (await response.json()) as ErrorBody;
        throw new ApiError(response.status, error.code, error.message);
      } else if (response.body) {
        for await (const field of sseFields(response.body)) {
          if (field.retry !== undefined) {
            retryMs = field.retry;
            continue;
          }
          if (!field.event || !EVENT_TYPES.has(field.event)) continue; // a future kind
          if (field.id !== undefined) {
            lastEventId = field.id;
            options.onEventId?.(field.id);
          }
          const event = {
            id: field.id ?? "",
            type: field.event,
            data: JSON.parse(field.data),
          } as StreamEvent<Item>;
          yield event;
          if (event.type === "end") return;
        }
      }
    } catch (error) {
      if (error instanceof ApiError) throw error;
      if (signal?.aborted) return;
      // A dropped connection or a body cut mid-event: reconnect with the last id.
    }
    await sleep(waitMs, signal);
  }
}

interface SseField {
  event?: string;
  data: string;
  id?: string;
  retry?: number;
}

/** The text/event-stream grammar: fields up to a blank line make one event; `:` lines are comments. */
async function* sseFields(body: ReadableStream<Uint8Array>): AsyncGenerator<SseField> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let current: SseField = { data: "" };
  let hasData = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return; // an event not ended by a blank line is dropped, as the spec says
      buffer += decoder.decode(value, { stream: true });
      let newline: number;
      while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
        if (newline === buffer.length - 1 && buffer.endsWith("\r")) break; // "\r\n" split in two
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer.startsWith("\r\n", newline) ? 2 : 1));
        if (line === "") {
          if (hasData || current.retry !== undefined) yield current;
          current = { data: "" };
          hasData = false;
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const name = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (name === "event") current.event = value;
        else if (name === "data") {
          current.data = hasData ? `${current.data}\n${value}` : value;
          hasData = true;
        } else if (name === "id" && !value.includes("\0")) current.id = value;
        else if (name === "retry" && /^\d+$/.test(value)) current.retry = Number(value);
      }
    }
  } finally {
    reader.releaseLock();
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

/**
 * The items a view shows, kept by the item/reset/final rules: an `item` adds
 * one provisional item to its step's attempt (a later attempt's first item
 * replaces an earlier attempt's), a `reset` withdraws the step's items shown
 * up to its attempt, a `final` replaces the step's items with the committed
 * list for good. `items()` lists them step by step, in index order.
 */
export class LiveItems<Item = unknown> {
  private readonly steps = new Map<string, { attempt: number; items: Item[]; final: boolean }>();

  apply(event: StreamEvent<Item>): void {
    if (event.type === "item") {
      const { step, attempt, index, item } = event.data;
      const kept = this.steps.get(step);
      if (kept?.final) return;
      const entry =
        kept && kept.attempt === attempt ? kept : { attempt, items: [] as Item[], final: false };
      entry.items[index] = item;
      this.steps.set(step, entry);
    } else if (event.type === "reset") {
      const kept = this.steps.get(event.data.step);
      if (kept && !kept.final && kept.attempt <= event.data.attempt) {
        this.steps.delete(event.data.step);
      }
    } else if (event.type === "final") {
      this.steps.set(event.data.step, { attempt: 0, items: event.data.items, final: true });
    }
  }

  /** Every item so far, with whether its step committed it (`provisional` until then). */
  items(): { step: string; item: Item; provisional: boolean }[] {
    return [...this.steps].flatMap(([step, entry]) =>
      entry.items
        .filter((item) => item !== undefined)
        .map((item) => ({ step, item, provisional: !entry.final })),
    );
  }
}

// README's live-output example (tests/test_typescript_client.py keeps the two identical):
// a brainstorm's seeds shown as the model writes them, resumable after a reload.
import type { components } from "./api"; // clients/typescript/api.d.ts
import { LiveItems, subjectEvents } from "./events";

type Seed = components["schemas"]["SeedView"];

export async function showSeeds(api: string, token: string, sessionId: string) {
  const seen = new LiveItems<Seed>();
  const key = `events:${sessionId}`;
  for await (const event of subjectEvents<Seed>(api, "brainstorm-sessions", sessionId, {
    token,
    lastEventId: sessionStorage.getItem(key) ?? undefined, // a reload resumes, no repeats
    onEventId: (id) => sessionStorage.setItem(key, id),
  })) {
    seen.apply(event); // item: add; reset: withdraw the attempt's; final: the committed list
    render(seen.items().map(({ item, provisional }) => ({ ...item, provisional })));
    if (event.type === "end") return event.data.status; // COMPLETED, FAILED or CANCELLED
  }
}

declare function render(seeds: (Seed & { provisional: boolean })[]): void;

// docs/api.md's example (tests/test_typescript_client.py keeps the two identical):
// a frontend starting a brainstorm and waiting for its seeds, typed by api.d.ts.
import type { components, paths } from "./api"; // clients/typescript/api.d.ts

type BrainstormRequest =
  paths["/v1/brainstorm-sessions"]["post"]["requestBody"]["content"]["application/json"];
type SessionStarted = components["schemas"]["SessionStarted"];
type BrainstormSession = components["schemas"]["BrainstormSessionView"];
type ApiError = components["schemas"]["ErrorBody"];

async function call<T>(url: string, token: string, init: RequestInit = {}): Promise<T> {
  const response = await fetch(url, {
    ...init,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", ...init.headers },
  });
  if (!response.ok) {
    const { error } = (await response.json()) as ApiError;
    throw new Error(`${response.status} ${error.code}: ${error.message}`);
  }
  return (await response.json()) as T;
}

export async function brainstorm(api: string, token: string, body: BrainstormRequest) {
  const started = await call<SessionStarted>(`${api}/v1/brainstorm-sessions`, token, {
    method: "POST",
    headers: { "Idempotency-Key": crypto.randomUUID() }, // a retried click makes no second session
    body: JSON.stringify(body),
  });
  for (;;) {
    const session = await call<BrainstormSession>(
      `${api}/v1/brainstorm-sessions/${started.sessionId}`,
      token,
    );
    if (session.status !== "IN_PROGRESS") return session; // COMPLETED: session.seeds
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

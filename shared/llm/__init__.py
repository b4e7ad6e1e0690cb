"""The model code: how a workflow step asks a language model for structured content.

A step calls `llm(ctx).generate(Schema, system=..., prompt=..., temperature=...)`
(`shared.workflows.deps`) and gets back a validated `Schema` instance; everything
between that call and the provider lives here:

- `interface`: the `LanguageModel` protocol workflows depend on, its answer
  (`Generation`), and what it reports to (`UsageSink`, the attempt's meter) and
  takes permits from (`CallBudget`). Provider failures arrive sorted into
  `TransientError` (retry) and `NonRetriableError` (fail the run).
- `openai_model`: `OpenAILanguageModel`, Chat Completions with a strict JSON
  schema, a schema retry that tells the model what was wrong, 429 handling.
- `offline_model`: `OfflineLanguageModel`, schema-valid placeholder content
  for local work without a key (its `aiModel` is "offline").
- `factory`: `build_language_model` picks one of the two from settings (the
  offline one only when no key is configured and the settings allow it).
- `metered`: a model bound to one step attempt's meter (what `llm(ctx)` returns).
- `structured_output`: the strict `response_format` schema sent to the
  provider, without the keywords providers refuse (length bounds go into
  descriptions); `schema_example`: a value satisfying a JSON schema, for the
  offline model and the fake OpenAI-compatible server.
- `validation`: a pydantic error as one timeline line; `repair`: the
  deterministic repairs the answer models declare (`Capped`, `SortedBy`,
  `DropDuplicates`) applied while a fresh answer is validated.
- `budget`: `LLMBudget`, the deployment's shared requests/tokens-per-minute
  budget over a `BudgetCounter`. The Firestore counter is an adapter
  (`shared/adapters/firestore_budget.py`), like every other Firestore
  collection: it needs nothing from this package (the protocol is structural).
  Nor does this package import an adapter: the factory reads keys through a
  `SecretSource` that `shared.services` passes in (Secret Manager's
  `SecretReader`), so no storage or cloud client is imported from here.

This `__init__` imports nothing on purpose: `openai` costs ~0.4 s of cold
start, so only `openai_model` and `structured_output` import it, and only
`shared.services` imports those, lazily, when a worker reaches a model call;
the api and the answer models (which import `repair`) never load it.
"""

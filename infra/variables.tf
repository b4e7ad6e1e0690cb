# ---------------------------------------------------------------------------
# Project and placement
# ---------------------------------------------------------------------------

variable "project_id" {
  type        = string
  description = "ID of the Google Cloud project everything is deployed into."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a valid project ID: 6-30 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "region" {
  type        = string
  description = "Region of the functions, the Scheduler job and the source bucket."
  default     = "europe-west1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]$", var.region))
    error_message = "region must be a Google Cloud region such as europe-west1."
  }
}

variable "firestore_location" {
  type        = string
  description = "Location of the Firestore database: a region (europe-west1) or a multi-region (eur3, nam5). Cannot be changed after creation."
  default     = "eur3"

  validation {
    condition     = can(regex("^([a-z]+-[a-z]+[0-9]|eur3|nam5|nam7)$", var.firestore_location))
    error_message = "firestore_location must be a region (e.g. europe-west1) or a multi-region (eur3, nam5, nam7)."
  }
}

variable "firestore_database" {
  type        = string
  description = "Firestore database ID. \"(default)\" is the project's default database; the functions get it as FIRESTORE_DATABASE."
  default     = "(default)"

  validation {
    condition     = var.firestore_database == "(default)" || can(regex("^[a-z][a-z0-9-]{2,61}[a-z0-9]$", var.firestore_database))
    error_message = "firestore_database must be \"(default)\" or 4-63 lowercase letters, digits or hyphens starting with a letter."
  }
}

# ---------------------------------------------------------------------------
# Messaging
# ---------------------------------------------------------------------------

variable "events_topic" {
  type        = string
  description = "Pub/Sub topic carrying run events (api -> worker, sweep -> worker)."
  default     = "generation-events"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9._~+%-]{2,254}$", var.events_topic)) && !startswith(lower(var.events_topic), "goog")
    error_message = "events_topic must be a valid Pub/Sub topic name (3-255 chars, starts with a letter, not with \"goog\")."
  }
}

variable "dead_letter_topic" {
  type        = string
  description = "Pub/Sub topic receiving run events that exhausted max_delivery_attempts; the worker marks those runs FAILED."
  default     = "generation-events-dead-letter"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9._~+%-]{2,247}$", var.dead_letter_topic)) && !startswith(lower(var.dead_letter_topic), "goog")
    error_message = "dead_letter_topic must be a valid Pub/Sub topic name of 3-248 chars (\"<name>-parked\" must be one too), starting with a letter, not with \"goog\"."
  }
}

variable "results_topic" {
  type        = string
  description = "Pub/Sub topic receiving every terminal transition of a run ({runId, workflow, tenant, subject, status, error?, usage}); the app's services subscribe to it and dedupe by runId."
  default     = "generation-results"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9._~+%-]{2,254}$", var.results_topic)) && !startswith(lower(var.results_topic), "goog")
    error_message = "results_topic must be a valid Pub/Sub topic name (3-255 chars, starts with a letter, not with \"goog\")."
  }
}

variable "triggers_topic" {
  type        = string
  description = "Pub/Sub topic on which backends publish trigger events ({\"name\", \"data\", \"id\", \"ts\"?}, tenantId in attributes or data) that start runs; the worker's subscription to it has the events subscription's retry and dead-letter policy."
  default     = "generation-triggers"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9._~+%-]{2,254}$", var.triggers_topic)) && !startswith(lower(var.triggers_topic), "goog")
    error_message = "triggers_topic must be a valid Pub/Sub topic name (3-255 chars, starts with a letter, not with \"goog\")."
  }
}

variable "trigger_publishers" {
  type        = list(string)
  description = "IAM members allowed to publish trigger events (roles/pubsub.publisher on the triggers topic only), e.g. [\"serviceAccount:backend@my-project.iam.gserviceaccount.com\"]. Each may start runs for any tenant an event names: narrow it with trigger_tenants. Empty: nobody (but project-level Pub/Sub publishers)."
  default     = []

  validation {
    condition     = alltrue([for m in var.trigger_publishers : can(regex("^(serviceAccount|user|group|domain|principal|principalSet):.+$", m))])
    error_message = "Each trigger publisher is an IAM member such as serviceAccount:NAME@PROJECT.iam.gserviceaccount.com (not allUsers or allAuthenticatedUsers)."
  }
}

variable "trigger_tenants" {
  type        = list(string)
  description = "Tenants trigger events may start runs for (TRIGGER_TENANTS); an event naming another is rejected. Empty: any tenant."
  default     = []

  validation {
    condition     = alltrue([for t in var.trigger_tenants : can(regex("^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$", t))])
    error_message = "Each trigger tenant is a tenant id: 1-128 letters, digits and _ . : @ - (starting with a letter or digit)."
  }
}

variable "max_delivery_attempts" {
  type        = number
  description = "Deliveries of one run event to the worker before Pub/Sub dead-letters it."
  default     = 15

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100 && floor(var.max_delivery_attempts) == var.max_delivery_attempts
    error_message = "max_delivery_attempts must be a whole number between 5 and 100 (Pub/Sub limits)."
  }
}

variable "sweep_schedule" {
  type        = string
  description = "Cron schedule (UTC) of the Scheduler job that publishes the sweep message."
  default     = "* * * * *"

  validation {
    condition     = length(split(" ", trimspace(var.sweep_schedule))) == 5
    error_message = "sweep_schedule must be a 5-field cron expression, e.g. \"* * * * *\"."
  }
}

# ---------------------------------------------------------------------------
# LLM
# ---------------------------------------------------------------------------

variable "openai_secret_id" {
  type        = string
  description = "Secret Manager secret ID holding the OpenAI API key. Terraform creates the secret only; the key is added as a version with gcloud (see DEPLOY.md)."
  default     = "openai-api-key"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,255}$", var.openai_secret_id))
    error_message = "openai_secret_id may contain only letters, digits, underscores and hyphens (1-255 chars)."
  }
}

variable "openai_model" {
  type        = string
  description = "Chat Completions model the worker uses (OPENAI_MODEL)."
  default     = "gpt-4o-mini"

  validation {
    condition     = length(trimspace(var.openai_model)) > 0
    error_message = "openai_model must not be empty."
  }
}

variable "openai_base_url" {
  type        = string
  description = "Base URL of an OpenAI-compatible server (OPENAI_BASE_URL). Null uses the OpenAI API."
  default     = null
  nullable    = true

  validation {
    condition     = var.openai_base_url == null || can(regex("^https://", var.openai_base_url))
    error_message = "openai_base_url must be null or an https:// URL."
  }
}

variable "llm_requests_per_minute" {
  type        = number
  description = "LLM calls per minute for the whole deployment, shared by every worker instance (LLM_REQUESTS_PER_MINUTE). Null: no limit. A call over budget waits; it never fails for it."
  default     = null
  nullable    = true

  validation {
    condition     = var.llm_requests_per_minute == null || try(var.llm_requests_per_minute >= 1 && floor(var.llm_requests_per_minute) == var.llm_requests_per_minute, false)
    error_message = "llm_requests_per_minute must be null or a whole number >= 1."
  }
}

variable "llm_tokens_per_minute" {
  type        = number
  description = "LLM tokens per minute for the whole deployment (LLM_TOKENS_PER_MINUTE). Null: no limit."
  default     = null
  nullable    = true

  validation {
    condition     = var.llm_tokens_per_minute == null || try(var.llm_tokens_per_minute >= 1 && floor(var.llm_tokens_per_minute) == var.llm_tokens_per_minute, false)
    error_message = "llm_tokens_per_minute must be null or a whole number >= 1."
  }
}

variable "llm_prices" {
  type = map(object({
    inputPerMillion  = number
    outputPerMillion = number
  }))
  description = "USD per million input and output tokens by model (LLM_PRICES), merged over the built-in table (gpt-4o-mini, gpt-4o); used for each run's costUsd and GET /v1/usage. Empty: the built-in table."
  default     = {}

  validation {
    condition     = alltrue([for price in values(var.llm_prices) : price.inputPerMillion >= 0 && price.outputPerMillion >= 0])
    error_message = "llm_prices must not be negative."
  }
}

variable "llm_fallbacks" {
  type = list(object({
    model    = string
    base_url = optional(string)
    # A Secret Manager secret ID Terraform creates (no value: add it with
    # gcloud like the primary's); null uses the primary's key.
    secret_id = optional(string)
  }))
  description = "Models tried in order when the primary fails in a way another provider could avoid (LLM_FALLBACKS; docs/architecture.md, Model failover). Each: model, optional base_url (https) and optional secret_id of its own key. Empty: no failover."
  default     = []

  validation {
    condition = length(var.llm_fallbacks) <= 4 && alltrue([
      for f in var.llm_fallbacks : length(trimspace(f.model)) > 0
      && (f.base_url == null || can(regex("^https://", f.base_url)))
      && (f.secret_id == null || can(regex("^[A-Za-z0-9_-]{1,255}$", f.secret_id)))
    ])
    error_message = "llm_fallbacks: at most 4, each with a model, an https:// base_url or null, and a secret_id of letters, digits, _ and - or null."
  }

  validation {
    condition     = length(distinct([for f in var.llm_fallbacks : f.secret_id if f.secret_id != null])) == length([for f in var.llm_fallbacks : f.secret_id if f.secret_id != null]) && !contains([for f in var.llm_fallbacks : f.secret_id if f.secret_id != null], var.openai_secret_id)
    error_message = "llm_fallbacks: each secret_id must be distinct, and not openai_secret_id (leave it null to use the primary's key)."
  }
}

variable "llm_breaker" {
  type = object({
    failures         = number
    window_seconds   = number
    cooldown_seconds = number
  })
  description = "The model breaker shared by every worker instance (LLM_BREAKER_FAILURES, LLM_BREAKER_WINDOW_SECONDS, LLM_BREAKER_COOLDOWN_SECONDS): after `failures` failures of a model within `window_seconds`, it is skipped for `cooldown_seconds`. Used only with llm_fallbacks. Null: the built-in 5 in 60 s, 60 s."
  default     = null
  nullable    = true

  validation {
    condition = var.llm_breaker == null || try(
      var.llm_breaker.failures >= 1 && var.llm_breaker.failures <= 1000 && floor(var.llm_breaker.failures) == var.llm_breaker.failures
      && var.llm_breaker.window_seconds >= 1 && var.llm_breaker.window_seconds <= 3600
      && var.llm_breaker.cooldown_seconds >= 1 && var.llm_breaker.cooldown_seconds <= 3600,
      false
    )
    error_message = "llm_breaker: failures a whole number 1-1000, window_seconds and cooldown_seconds 1-3600."
  }
}

# ---------------------------------------------------------------------------
# Auth (JWT verification in the api)
# ---------------------------------------------------------------------------

variable "auth_issuer" {
  type        = string
  description = "Expected `iss` claim of the bearer JWTs the api accepts (AUTH_ISSUER)."

  validation {
    condition     = length(trimspace(var.auth_issuer)) > 0
    error_message = "auth_issuer must not be empty."
  }
}

variable "auth_audience" {
  type        = string
  description = "Expected `aud` claim of the bearer JWTs the api accepts (AUTH_AUDIENCE)."

  validation {
    condition     = length(trimspace(var.auth_audience)) > 0
    error_message = "auth_audience must not be empty."
  }
}

variable "auth_jwks_url" {
  type        = string
  description = "HTTPS URL of the JWKS holding the keys that sign the bearer JWTs (AUTH_JWKS_URL)."

  validation {
    condition     = can(regex("^https://", var.auth_jwks_url))
    error_message = "auth_jwks_url must be an https:// URL."
  }
}

variable "auth_tenant_claim" {
  type        = string
  description = "JWT claim holding the tenant ID (AUTH_TENANT_CLAIM)."
  default     = "org_id"

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_.:/-]*$", var.auth_tenant_claim))
    error_message = "auth_tenant_claim must be a claim name."
  }
}

variable "cors_allowed_origins" {
  type        = list(string)
  description = "Browser origins (scheme://host[:port]) allowed to call the api cross-origin, e.g. the frontend's URL. Empty: no CORS headers."
  default     = []

  validation {
    condition     = alltrue([for o in var.cors_allowed_origins : can(regex("^https?://[^/]+$", o))])
    error_message = "Each origin is scheme://host[:port], without a path or trailing slash."
  }
}

# ---------------------------------------------------------------------------
# Sizing and engine tuning
# ---------------------------------------------------------------------------

variable "api_memory" {
  type        = string
  description = "Memory of each api instance, e.g. 512Mi."
  default     = "512Mi"

  validation {
    condition     = can(regex("^[0-9]+(Mi|Gi|M|G)$", var.api_memory))
    error_message = "api_memory must look like 256Mi, 512Mi, 1Gi or 2G."
  }
}

variable "api_cpu" {
  type        = string
  description = "vCPUs of each api instance. At least 1: Cloud Run serves more than one request per instance only with a whole vCPU."
  default     = "1"

  validation {
    condition     = contains(["1", "2", "4", "6", "8"], var.api_cpu)
    error_message = "api_cpu must be 1, 2, 4, 6 or 8 (concurrency above 1 needs at least one vCPU)."
  }
}

variable "api_concurrency" {
  type        = number
  description = "Requests one api instance serves at once (max_instance_request_concurrency, and functions-framework's THREADS). Cloud Run counts every open event stream (SSE) as one: 1000, its maximum, lets an instance hold 500 streams (EVENTS_MAX_STREAMS defaults to half) and still serve 500 other requests at once (infra/README.md, Sizing)."
  default     = 1000

  validation {
    condition     = var.api_concurrency >= 1 && var.api_concurrency <= 1000 && floor(var.api_concurrency) == var.api_concurrency
    error_message = "api_concurrency must be a whole number between 1 and 1000 (Cloud Run limit)."
  }
}

variable "api_max_instances" {
  type        = number
  description = "Upper bound on concurrently running api instances."
  default     = 10

  validation {
    condition     = var.api_max_instances >= 1 && var.api_max_instances <= 1000 && floor(var.api_max_instances) == var.api_max_instances
    error_message = "api_max_instances must be a whole number between 1 and 1000."
  }
}

variable "worker_memory" {
  type        = string
  description = "Memory of each worker instance, e.g. 1Gi. Size it for worker_concurrency runs at once: about 100 MiB for the process plus well under 1 MiB per in-flight brainstorm run (infra/README.md, Sizing)."
  default     = "1Gi"

  validation {
    condition     = can(regex("^[0-9]+(Mi|Gi|M|G)$", var.worker_memory))
    error_message = "worker_memory must look like 512Mi, 1Gi or 2G."
  }
}

variable "worker_cpu" {
  type        = string
  description = "vCPUs of each worker instance. At least 1: Cloud Run runs more than one request per instance only with a whole vCPU. Runs mostly wait on the LLM, so one vCPU serves worker_concurrency of them."
  default     = "1"

  validation {
    condition     = contains(["1", "2", "4", "6", "8"], var.worker_cpu)
    error_message = "worker_cpu must be 1, 2, 4, 6 or 8 (concurrency above 1 needs at least one vCPU)."
  }
}

variable "worker_concurrency" {
  type        = number
  description = "Run deliveries one worker instance executes at once (max_instance_request_concurrency, and functions-framework's THREADS). Runs at once in the whole deployment = worker_concurrency x worker_max_instances."
  default     = 80

  validation {
    condition     = var.worker_concurrency >= 1 && var.worker_concurrency <= 1000 && floor(var.worker_concurrency) == var.worker_concurrency
    error_message = "worker_concurrency must be a whole number between 1 and 1000 (Cloud Run limit)."
  }
}

variable "worker_max_instances" {
  type        = number
  description = "Upper bound on worker instances. With worker_concurrency runs each, it bounds the runs in flight (and the OpenAI calls at once); deliveries beyond it wait in Pub/Sub."
  default     = 5

  validation {
    condition     = var.worker_max_instances >= 1 && var.worker_max_instances <= 1000 && floor(var.worker_max_instances) == var.worker_max_instances
    error_message = "worker_max_instances must be a whole number between 1 and 1000."
  }
}

variable "worker_timeout_seconds" {
  type        = number
  description = "Request timeout of the worker. The push subscriptions' ack deadline is this plus 30 s, so at most 570."
  default     = 540

  validation {
    condition     = var.worker_timeout_seconds >= 60 && var.worker_timeout_seconds <= 570 && floor(var.worker_timeout_seconds) == var.worker_timeout_seconds
    error_message = "worker_timeout_seconds must be a whole number between 60 and 570 (Pub/Sub ack deadlines stop at 600 s)."
  }
}

variable "lease_seconds" {
  type        = number
  description = "Length of a worker's lease on a run (LEASE_SECONDS); a lease not renewed within it can be taken over."
  default     = 12

  validation {
    condition     = var.lease_seconds >= 5 && var.lease_seconds <= 600
    error_message = "lease_seconds must be between 5 and 600."
  }
}

variable "step_max_attempts" {
  type        = number
  description = "Attempts per step before the run fails (STEP_MAX_ATTEMPTS). Keep it below max_delivery_attempts so the engine, not the dead-letter topic, normally ends a run."
  default     = 5

  validation {
    condition     = var.step_max_attempts >= 1 && var.step_max_attempts <= 50 && floor(var.step_max_attempts) == var.step_max_attempts
    error_message = "step_max_attempts must be a whole number between 1 and 50."
  }
}

variable "tenant_max_active_runs" {
  type        = number
  description = "Runs of one tenant executing at once (TENANT_MAX_ACTIVE_RUNS); the tenant's further runs wait QUEUED, oldest first, and never fail for it."
  default     = 5

  validation {
    condition     = var.tenant_max_active_runs >= 1 && floor(var.tenant_max_active_runs) == var.tenant_max_active_runs
    error_message = "tenant_max_active_runs must be a whole number >= 1."
  }
}

variable "tenant_creates_per_minute" {
  type        = number
  description = "Runs one tenant may create in any 60 s, over the API and trigger events together (TENANT_CREATES_PER_MINUTE). A create over it is answered 429 rate_limited with Retry-After; a trigger event over it is redelivered later. Null: no limit."
  default     = null
  nullable    = true

  validation {
    condition     = var.tenant_creates_per_minute == null || try(var.tenant_creates_per_minute >= 1 && var.tenant_creates_per_minute <= 1000000 && floor(var.tenant_creates_per_minute) == var.tenant_creates_per_minute, false)
    error_message = "tenant_creates_per_minute must be null or a whole number between 1 and 1000000."
  }
}

variable "tenant_daily_token_limit" {
  type        = number
  description = "LLM tokens one tenant may use in a UTC day (TENANT_DAILY_TOKEN_LIMIT). Once over, creates answer 429 quota_exceeded until midnight UTC; runs already started finish. Null: no limit."
  default     = null
  nullable    = true

  validation {
    condition     = var.tenant_daily_token_limit == null || try(var.tenant_daily_token_limit >= 1 && floor(var.tenant_daily_token_limit) == var.tenant_daily_token_limit, false)
    error_message = "tenant_daily_token_limit must be null or a whole number >= 1."
  }
}

variable "tenant_daily_cost_limit_usd" {
  type        = number
  description = "Estimated LLM cost (USD, from llm_prices) one tenant may spend in a UTC day (TENANT_DAILY_COST_LIMIT_USD). Once over, creates answer 429 quota_exceeded until midnight UTC. Null: no limit."
  default     = null
  nullable    = true

  validation {
    condition     = var.tenant_daily_cost_limit_usd == null || try(var.tenant_daily_cost_limit_usd > 0 && var.tenant_daily_cost_limit_usd <= 1000000, false)
    error_message = "tenant_daily_cost_limit_usd must be null or a number above 0 (at most 1000000)."
  }
}

variable "trace_exporter" {
  type        = string
  description = "Where both functions send their spans (TRACE_EXPORTER): cloud (Cloud Trace) or none (log lines still carry trace ids)."
  default     = "cloud"

  validation {
    condition     = contains(["cloud", "none"], var.trace_exporter)
    error_message = "trace_exporter must be cloud or none."
  }
}

variable "trace_sample_ratio" {
  type        = number
  description = "Share of traces kept (TRACE_SAMPLE_RATIO), decided per trace at its root so a run is kept whole; failed step attempts are exported whatever it says."
  default     = 1

  validation {
    condition     = var.trace_sample_ratio >= 0 && var.trace_sample_ratio <= 1
    error_message = "trace_sample_ratio must be between 0 and 1."
  }
}

variable "log_level" {
  type        = string
  description = "Log level of both functions (LOG_LEVEL)."
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

# ---------------------------------------------------------------------------
# Alerts
# ---------------------------------------------------------------------------

variable "alert_emails" {
  type        = list(string)
  description = "Email addresses notified by the alert policies (failed runs, dead letters, runs past their deadline, token budget). Empty: the policies exist but notify nobody."
  default     = []

  validation {
    condition     = alltrue([for email in var.alert_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", email))])
    error_message = "Each entry of alert_emails must be an email address."
  }
}

variable "alert_failed_runs" {
  type        = number
  description = "Alert when more than this many runs fail within 10 minutes."
  default     = 5

  validation {
    condition     = var.alert_failed_runs >= 0 && floor(var.alert_failed_runs) == var.alert_failed_runs
    error_message = "alert_failed_runs must be a whole number >= 0."
  }
}

variable "alert_rejected_events" {
  type        = number
  description = "Alert when more than this many trigger events are rejected within 10 minutes (a publisher sending bad events, or a tenant over its daily quota)."
  default     = 10

  validation {
    condition     = var.alert_rejected_events >= 0 && floor(var.alert_rejected_events) == var.alert_rejected_events
    error_message = "alert_rejected_events must be a whole number >= 0."
  }
}

variable "alert_tokens_per_hour" {
  type        = number
  description = "Alert when the LLM tokens of one hour exceed this. Null: no token alert."
  default     = null
  nullable    = true

  validation {
    condition     = var.alert_tokens_per_hour == null || try(var.alert_tokens_per_hour >= 1, false)
    error_message = "alert_tokens_per_hour must be null or >= 1."
  }
}

locals {
  # Every name here is read by shared/config.py (tests/test_infra_wiring.py
  # checks it). Values are strings: Cloud Functions env vars are strings.
  common_env = {
    GOOGLE_CLOUD_PROJECT = var.project_id
    FIRESTORE_DATABASE   = google_firestore_database.main.name
    EVENTS_TOPIC         = google_pubsub_topic.events.name
    DEAD_LETTER_TOPIC    = google_pubsub_topic.dead_letter.name
    RESULTS_TOPIC        = google_pubsub_topic.results.name
    TRIGGERS_TOPIC       = google_pubsub_topic.triggers.name
    LOG_LEVEL            = var.log_level
    # Spans to Cloud Trace, the share of traces kept (failed attempts always are).
    TRACE_EXPORTER     = var.trace_exporter
    TRACE_SAMPLE_RATIO = tostring(var.trace_sample_ratio)
  }

  # Set only when configured: unset means no limit, or the built-in prices.
  llm_budget_env = merge(
    var.llm_requests_per_minute == null ? {} : { LLM_REQUESTS_PER_MINUTE = tostring(var.llm_requests_per_minute) },
    var.llm_tokens_per_minute == null ? {} : { LLM_TOKENS_PER_MINUTE = tostring(var.llm_tokens_per_minute) },
  )
  llm_prices_env = length(var.llm_prices) == 0 ? {} : { LLM_PRICES = jsonencode(var.llm_prices) }

  # Model failover (LLM_FALLBACKS, shared/config.py): each fallback's key is
  # a version of its own secret (secrets.tf), or the primary's key.
  llm_fallbacks_env = length(var.llm_fallbacks) == 0 ? {} : {
    LLM_FALLBACKS = jsonencode([
      for f in var.llm_fallbacks : merge(
        { model = f.model },
        f.base_url == null ? {} : { baseUrl = f.base_url },
        f.secret_id == null ? {} : { apiKeySecret = "${google_secret_manager_secret.fallback_keys[f.secret_id].id}/versions/latest" },
      )
    ])
  }
  llm_breaker_env = var.llm_breaker == null ? {} : {
    LLM_BREAKER_FAILURES         = tostring(var.llm_breaker.failures)
    LLM_BREAKER_WINDOW_SECONDS   = tostring(var.llm_breaker.window_seconds)
    LLM_BREAKER_COOLDOWN_SECONDS = tostring(var.llm_breaker.cooldown_seconds)
  }
  # Admission per tenant, checked by every create: the api's routes and the
  # worker's trigger events. Set only when configured (unset = no limit).
  admission_env = merge(
    var.tenant_creates_per_minute == null ? {} : { TENANT_CREATES_PER_MINUTE = tostring(var.tenant_creates_per_minute) },
    var.tenant_daily_token_limit == null ? {} : { TENANT_DAILY_TOKEN_LIMIT = tostring(var.tenant_daily_token_limit) },
    var.tenant_daily_cost_limit_usd == null ? {} : { TENANT_DAILY_COST_LIMIT_USD = tostring(var.tenant_daily_cost_limit_usd) },
  )

  api_env = {
    AUTH_JWKS_URL     = var.auth_jwks_url
    AUTH_ISSUER       = var.auth_issuer
    AUTH_AUDIENCE     = var.auth_audience
    AUTH_TENANT_CLAIM = var.auth_tenant_claim
    # The frontend's origins (CORS); empty = same-origin callers only.
    CORS_ALLOWED_ORIGINS = join(",", var.cors_allowed_origins)
  }

  worker_env = {
    # A version name, not the key: the worker fetches the key at startup.
    OPENAI_API_KEY_SECRET = "${google_secret_manager_secret.openai_api_key.id}/versions/latest"
    OPENAI_MODEL          = var.openai_model
    LEASE_SECONDS         = tostring(var.lease_seconds)
    STEP_MAX_ATTEMPTS     = tostring(var.step_max_attempts)
    # Runs of one tenant at once; the rest wait QUEUED.
    TENANT_MAX_ACTIVE_RUNS = tostring(var.tenant_max_active_runs)
  }

  # Set only when configured: an empty OPENAI_BASE_URL must not override the
  # client's default; no TRIGGER_TENANTS lets events name any tenant.
  worker_optional_env = merge(
    var.openai_base_url == null ? {} : { OPENAI_BASE_URL = var.openai_base_url },
    length(var.trigger_tenants) == 0 ? {} : { TRIGGER_TENANTS = join(",", var.trigger_tenants) },
  )

  # Read by functions-framework (shared/config.py only bounds-checks it): its
  # gunicorn serves THREADS requests at once in one process (WORKERS defaults to 1), so the
  # Firestore, Pub/Sub and OpenAI clients are shared by every request of an
  # instance. THREADS must equal the instance's request concurrency, or Cloud
  # Run sends requests that wait in gunicorn's backlog.
  api_server_env    = { THREADS = tostring(var.api_concurrency) }
  worker_server_env = { THREADS = tostring(var.worker_concurrency) }
}

# --- api: public HTTPS, every /v1 route verifies a JWT itself ----------------

resource "google_cloudfunctions2_function" "api" {
  # checkov:skip=CKV_GCP_124: the api is the product's public HTTPS endpoint for browsers; every /v1 route verifies a bearer JWT in the function.
  project     = var.project_id
  name        = "api"
  location    = var.region
  description = "genjobs HTTP API (JWT-authenticated /v1 routes, unauthenticated /healthz)."

  build_config {
    runtime         = "python312"
    entry_point     = "api"
    service_account = google_service_account.build.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.bundle["api"].name
      }
    }
  }

  service_config {
    available_memory = var.api_memory
    available_cpu    = var.api_cpu
    # Requests one instance serves at once (Cloud Run needs >= 1 vCPU for > 1).
    max_instance_request_concurrency = var.api_concurrency
    max_instance_count               = var.api_max_instances
    timeout_seconds                  = 60
    ingress_settings                 = "ALLOW_ALL"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.api.email
    environment_variables            = merge(local.common_env, local.api_env, local.llm_prices_env, local.admission_env, local.api_server_env)
  }

  depends_on = [
    google_project_iam_member.runtime,
    google_storage_bucket_iam_member.build_source_reader,
  ]
}

# The api is reachable by anyone on the internet: it authenticates callers
# itself (bearer JWT against the JWKS), Cloud Run IAM cannot check those.
resource "google_cloud_run_v2_service_iam_member" "api_public" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.api.service_config[0].service
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# --- worker: no trigger of its own; our push subscriptions call it ----------

resource "google_cloudfunctions2_function" "worker" {
  project     = var.project_id
  name        = "worker"
  location    = var.region
  description = "genjobs worker: runs workflow steps for Pub/Sub pushes of run events, dead letters and sweeps."

  build_config {
    runtime         = "python312"
    entry_point     = "worker"
    service_account = google_service_account.build.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.bundle["worker"].name
      }
    }
  }

  service_config {
    available_memory = var.worker_memory
    available_cpu    = var.worker_cpu
    # Runs one instance executes at once: each mostly waits on the LLM, so
    # one instance holds many (infra/README.md, "Sizing").
    max_instance_request_concurrency = var.worker_concurrency
    max_instance_count               = var.worker_max_instances
    timeout_seconds                  = var.worker_timeout_seconds
    # Pub/Sub push counts as internal traffic; nothing else needs to reach it.
    ingress_settings               = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision = true
    service_account_email          = google_service_account.worker.email
    environment_variables          = merge(local.common_env, local.worker_env, local.worker_optional_env, local.llm_budget_env, local.llm_prices_env, local.llm_fallbacks_env, local.llm_breaker_env, local.admission_env, local.worker_server_env)
  }

  # No event_trigger: an Eventarc trigger would create its own subscription
  # without our dead-letter policy and paths.

  depends_on = [
    google_project_iam_member.runtime,
    google_storage_bucket_iam_member.build_source_reader,
    google_secret_manager_secret_iam_member.worker_reads_openai_key,
    google_secret_manager_secret_iam_member.worker_reads_fallback_keys,
  ]
}

# Only the push subscriptions' identity may invoke the worker, on this one
# service: no allUsers, no project-wide run.invoker.
resource "google_cloud_run_v2_service_iam_member" "push_invokes_worker" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.worker.service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.push.email}"
}

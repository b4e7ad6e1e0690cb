resource "google_firestore_database" "main" {
  project     = var.project_id
  name        = var.firestore_database
  location_id = var.firestore_location
  type        = "FIRESTORE_NATIVE"

  # Runs and sessions are the product's record: keep 7 days of history and
  # refuse deletion (terraform destroy leaves the database in place).
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  deletion_policy                   = "ABANDON"

  depends_on = [google_project_service.enabled]
}

locals {
  # Composite indexes the queries of shared/ need. Add one entry per index;
  # the key only names the Terraform resource instance.
  firestore_indexes = {
    # Sweep: runs in a given status whose lease/deadline watchdog has passed.
    runs_status_watchdog = {
      collection  = "runs"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "status", order = "ASCENDING" },
        { field_path = "watchdogAt", order = "ASCENDING" },
      ]
    }
    # Fair per-tenant concurrency: the tenant's parked run first in line
    # (shared/engine/slots.py, FirestoreRunStore.next_waiting).
    runs_tenant_slot_queue = {
      collection  = "runs"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "tenantId", order = "ASCENDING" },
        { field_path = "slotQueue", order = "ASCENDING" },
      ]
    }
    # GET /v1/runs and the bulk operations: a tenant's runs, newest first,
    # optionally narrowed by status and/or workflow (createdAt ranges ride
    # on the same indexes). Ties on createdAt are broken by document id.
    runs_tenant_created = {
      collection  = "runs"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "tenantId", order = "ASCENDING" },
        { field_path = "createdAt", order = "DESCENDING" },
      ]
    }
    runs_tenant_status_created = {
      collection  = "runs"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "tenantId", order = "ASCENDING" },
        { field_path = "status", order = "ASCENDING" },
        { field_path = "createdAt", order = "DESCENDING" },
      ]
    }
    runs_tenant_workflow_created = {
      collection  = "runs"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "tenantId", order = "ASCENDING" },
        { field_path = "workflow", order = "ASCENDING" },
        { field_path = "createdAt", order = "DESCENDING" },
      ]
    }
    runs_tenant_status_workflow_created = {
      collection  = "runs"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "tenantId", order = "ASCENDING" },
        { field_path = "status", order = "ASCENDING" },
        { field_path = "workflow", order = "ASCENDING" },
        { field_path = "createdAt", order = "DESCENDING" },
      ]
    }
    # The same search narrowed to what started the runs (source: http or
    # trigger), alone or with status and/or workflow.
    runs_tenant_source_created = {
      collection  = "runs"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "tenantId", order = "ASCENDING" },
        { field_path = "source", order = "ASCENDING" },
        { field_path = "createdAt", order = "DESCENDING" },
      ]
    }
    runs_tenant_status_source_created = {
      collection  = "runs"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "tenantId", order = "ASCENDING" },
        { field_path = "status", order = "ASCENDING" },
        { field_path = "source", order = "ASCENDING" },
        { field_path = "createdAt", order = "DESCENDING" },
      ]
    }
    runs_tenant_workflow_source_created = {
      collection  = "runs"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "tenantId", order = "ASCENDING" },
        { field_path = "workflow", order = "ASCENDING" },
        { field_path = "source", order = "ASCENDING" },
        { field_path = "createdAt", order = "DESCENDING" },
      ]
    }
    runs_tenant_status_workflow_source_created = {
      collection  = "runs"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "tenantId", order = "ASCENDING" },
        { field_path = "status", order = "ASCENDING" },
        { field_path = "workflow", order = "ASCENDING" },
        { field_path = "source", order = "ASCENDING" },
        { field_path = "createdAt", order = "DESCENDING" },
      ]
    }
    # The sweep's outbox: ended runs whose result is not yet published.
    runs_result_pending = {
      collection  = "runs"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "resultPending", order = "ASCENDING" },
        { field_path = "finishedAt", order = "ASCENDING" },
      ]
    }
    # GET /v1/usage: a tenant's usage documents (every shard) over a range of
    # days; admission sums one day's with an aggregation on the same index.
    usage_tenant_day = {
      collection  = "usage"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "tenantId", order = "ASCENDING" },
        { field_path = "day", order = "ASCENDING" },
      ]
    }
  }
}

resource "google_firestore_index" "composite" {
  for_each = local.firestore_indexes

  project     = var.project_id
  database    = google_firestore_database.main.name
  collection  = each.value.collection
  query_scope = each.value.query_scope

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path = fields.value.field_path
      order      = fields.value.order
    }
  }
}

# A run's step records carry checkpointed outputs (long JSON strings) and its
# input; no query reads either, so they are exempt from indexing: cheaper,
# faster writes, and no index-entry size limits on large outputs.
locals {
  runs_unindexed_fields = { steps = "steps", input = "input" }
}

resource "google_firestore_field" "runs_unindexed" {
  for_each = local.runs_unindexed_fields

  project    = var.project_id
  database   = google_firestore_database.main.name
  collection = "runs"
  field      = each.value

  index_config {}
}


# The LLM budget's counter documents (llmBudget/*, shared/adapters/firestore_budget.py)
# matter only for their few-second window: a TTL policy on `expireAt` deletes
# them (Firestore removes expired documents within about a day). The field is
# never queried, so it carries no single-field index either.
resource "google_firestore_field" "llm_budget_ttl" {
  project    = var.project_id
  database   = google_firestore_database.main.name
  collection = "llmBudget"
  field      = "expireAt"

  ttl_config {}
  index_config {}
}

# The model breakers' counters (llmBreaker/<model>-failures-*, -probe-*;
# shared/adapters/firestore_breaker.py) matter for one window or cool-down:
# the same TTL deletes them. The state documents (one per model) carry no
# expireAt and stay.
resource "google_firestore_field" "llm_breaker_ttl" {
  project    = var.project_id
  database   = google_firestore_database.main.name
  collection = "llmBreaker"
  field      = "expireAt"

  ttl_config {}
  index_config {}
}

# The tenants' creates-per-minute counters (admission/*, shared/admission.py)
# are the same kind of short-lived document.
resource "google_firestore_field" "admission_ttl" {
  project    = var.project_id
  database   = google_firestore_database.main.name
  collection = "admission"
  field      = "expireAt"

  ttl_config {}
  index_config {}
}

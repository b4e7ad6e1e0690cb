# Topics are not CMEK-encrypted (see the skips below): messages carry only ids
# (runId, sessionId, workflow) and live at most 7 days; a KMS key would add a
# key ring, rotation and the Pub/Sub agent's access to it for no gain.

resource "google_pubsub_topic" "events" {
  # checkov:skip=CKV_GCP_83: messages are ids only (no user content), Google-managed encryption is sufficient.
  project                    = var.project_id
  name                       = var.events_topic
  message_retention_duration = "604800s"

  depends_on = [google_project_service.enabled]
}

resource "google_pubsub_topic" "dead_letter" {
  # checkov:skip=CKV_GCP_83: messages are ids only (no user content), Google-managed encryption is sufficient.
  project                    = var.project_id
  name                       = var.dead_letter_topic
  message_retention_duration = "604800s"

  depends_on = [google_project_service.enabled]
}

# Dead letters the worker could not process either (it answered 5xx
# PARKED_AFTER_ATTEMPTS times: Firestore down for that long, or a run
# document it cannot read). Nothing pushes them anywhere: they wait in the
# pull subscription below for an operator (docs/operations.md), while the
# sweep still fails their runs at the deadline.
resource "google_pubsub_topic" "parked" {
  # checkov:skip=CKV_GCP_83: messages are ids only (no user content), Google-managed encryption is sufficient.
  project                    = var.project_id
  name                       = local.parked_topic
  message_retention_duration = "604800s"

  depends_on = [google_project_service.enabled]
}

resource "google_pubsub_subscription" "parked" {
  project = var.project_id
  name    = local.parked_topic
  topic   = google_pubsub_topic.parked.id

  message_retention_duration = "604800s"

  expiration_policy {
    ttl = "" # never expires
  }
}

# Every terminal transition of a run, for the app's other services: they
# create their own subscriptions and dedupe by runId (a lost publish is
# retried by the sweep, so a result can arrive twice).
resource "google_pubsub_topic" "results" {
  # checkov:skip=CKV_GCP_83: results carry ids, statuses, error texts and token counts (no user content), Google-managed encryption is sufficient.
  project                    = var.project_id
  name                       = var.results_topic
  message_retention_duration = "604800s"

  depends_on = [google_project_service.enabled]
}

# Trigger events from backends (shared/triggers.py): {"name", "data", "id",
# "ts"?} with the tenant in attributes or data. Only var.trigger_publishers may
# publish here, which is what makes the worker trust the tenant an event names.
resource "google_pubsub_topic" "triggers" {
  # checkov:skip=CKV_GCP_83: events carry a workflow's input (a prompt, wizard answers), the same data the api stores in Firestore under Google-managed encryption.
  project                    = var.project_id
  name                       = var.triggers_topic
  message_retention_duration = "604800s"

  depends_on = [google_project_service.enabled]
}

locals {
  worker_uri = google_cloudfunctions2_function.worker.service_config[0].uri

  # functions-framework derives the CloudEvent's source topic from the request
  # path, so each subscription pushes to .../projects/<p>/topics/<topic>.
  events_push_endpoint      = "${local.worker_uri}/projects/${var.project_id}/topics/${var.events_topic}"
  dead_letter_push_endpoint = "${local.worker_uri}/projects/${var.project_id}/topics/${var.dead_letter_topic}"
  triggers_push_endpoint    = "${local.worker_uri}/projects/${var.project_id}/topics/${var.triggers_topic}"

  # Where dead letters the worker could not fail either wait for an operator
  # (devtools/provision.py names it the same: parked_topic), after Pub/Sub's
  # minimum of attempts.
  parked_topic          = "${var.dead_letter_topic}-parked"
  parked_after_attempts = 5

  # Pub/Sub waits this long for the worker's answer before it redelivers:
  # the worker's own timeout plus slack, within Pub/Sub's 600 s cap.
  push_ack_deadline_seconds = min(600, var.worker_timeout_seconds + 30)
}

# Run events -> worker. A failing delivery comes back with exponential
# backoff; after max_delivery_attempts it goes to the dead-letter topic.
resource "google_pubsub_subscription" "events_to_worker" {
  project = var.project_id
  name    = "${var.events_topic}-worker"
  topic   = google_pubsub_topic.events.id

  ack_deadline_seconds       = local.push_ack_deadline_seconds
  message_retention_duration = "604800s"

  push_config {
    push_endpoint = local.events_push_endpoint

    oidc_token {
      service_account_email = google_service_account.push.email
      audience              = local.worker_uri
    }
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }

  expiration_policy {
    ttl = "" # never expires
  }

  depends_on = [google_pubsub_topic_iam_member.pubsub_agent_dead_letters]
}

# Trigger events -> worker, with the events subscription's policies: an event
# over its tenant's TENANT_CREATES_PER_MINUTE is answered 500 and comes back
# after the backoff; one that exhausts max_delivery_attempts is dead-lettered
# and the worker publishes its REJECTED result.
resource "google_pubsub_subscription" "triggers_to_worker" {
  project = var.project_id
  name    = "${var.triggers_topic}-worker"
  topic   = google_pubsub_topic.triggers.id

  ack_deadline_seconds       = local.push_ack_deadline_seconds
  message_retention_duration = "604800s"

  push_config {
    push_endpoint = local.triggers_push_endpoint

    oidc_token {
      service_account_email = google_service_account.push.email
      audience              = local.worker_uri
    }
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }

  expiration_policy {
    ttl = "" # never expires
  }

  depends_on = [google_pubsub_topic_iam_member.pubsub_agent_dead_letters]
}

# Dead-lettered events -> worker, which marks their runs FAILED. Its own
# dead-letter policy bounds a message the worker cannot even fail: after
# parked_after_attempts deliveries it is parked instead of coming back.
resource "google_pubsub_subscription" "dead_letter_to_worker" {
  project = var.project_id
  name    = "${var.dead_letter_topic}-worker"
  topic   = google_pubsub_topic.dead_letter.id

  ack_deadline_seconds       = local.push_ack_deadline_seconds
  message_retention_duration = "604800s"

  push_config {
    push_endpoint = local.dead_letter_push_endpoint

    oidc_token {
      service_account_email = google_service_account.push.email
      audience              = local.worker_uri
    }
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.parked.id
    max_delivery_attempts = local.parked_after_attempts
  }

  expiration_policy {
    ttl = "" # never expires
  }

  depends_on = [google_pubsub_topic_iam_member.pubsub_agent_dead_letters]
}

# --- who may publish -------------------------------------------------------

resource "google_pubsub_topic_iam_member" "api_publishes_events" {
  project = var.project_id
  topic   = google_pubsub_topic.events.name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_service_account.api.email}"
}

# The sweep re-publishes runs whose lease expired.
resource "google_pubsub_topic_iam_member" "worker_publishes_events" {
  project = var.project_id
  topic   = google_pubsub_topic.events.name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_service_account.worker.email}"
}

# The backends that start runs with trigger events: publish on that topic and
# nothing else. Each may start runs for any tenant an event names (narrow it
# with trigger_tenants, or give each publisher its own deployment's topic).
resource "google_pubsub_topic_iam_member" "trigger_publishers" {
  for_each = toset(var.trigger_publishers)

  project = var.project_id
  topic   = google_pubsub_topic.triggers.name
  role    = "roles/pubsub.publisher"
  member  = each.value
}

# Cloud Scheduler publishes Pub/Sub targets as its service agent (Pub/Sub
# targets take no custom service account): allow it on this topic only.
resource "google_pubsub_topic_iam_member" "scheduler_publishes_sweep" {
  project = var.project_id
  topic   = google_pubsub_topic.events.name
  role    = "roles/pubsub.publisher"
  member  = local.scheduler_service_agent

  depends_on = [google_project_service.enabled]
}

# --- dead-lettering by the Pub/Sub service agent ---------------------------

# The events and triggers subscriptions dead-letter to the dead-letter topic,
# and the dead-letter subscription parks to the parked topic: the Pub/Sub
# service agent publishes to each target and acknowledges on each source.
resource "google_pubsub_topic_iam_member" "pubsub_agent_dead_letters" {
  for_each = {
    dead_letter = google_pubsub_topic.dead_letter.name
    parked      = google_pubsub_topic.parked.name
  }

  project = var.project_id
  topic   = each.value
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_service_agent

  depends_on = [google_project_service.enabled]
}

resource "google_pubsub_subscription_iam_member" "pubsub_agent_acks_dead_lettered" {
  for_each = {
    events      = google_pubsub_subscription.events_to_worker.name
    dead_letter = google_pubsub_subscription.dead_letter_to_worker.name
    triggers    = google_pubsub_subscription.triggers_to_worker.name
  }

  project      = var.project_id
  subscription = each.value
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

# Terminal transitions happen in the worker (runs, sweep, dead letters) and
# in the api (cancel): both publish results.
resource "google_pubsub_topic_iam_member" "publishes_results" {
  for_each = {
    api    = google_service_account.api.email
    worker = google_service_account.worker.email
  }

  project = var.project_id
  topic   = google_pubsub_topic.results.name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${each.value}"
}

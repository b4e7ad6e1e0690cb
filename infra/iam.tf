# One identity per job, each with only what it needs. Topic-, secret- and
# service-scoped grants live next to the resource they are on (pubsub.tf,
# secrets.tf, functions.tf); this file holds the accounts and the few
# project-level roles that have no narrower scope.

resource "google_service_account" "api" {
  project      = var.project_id
  account_id   = "genjobs-api"
  display_name = "genjobs api function"
  description  = "Runtime identity of the api function: Firestore read/write, publish run events."

  depends_on = [google_project_service.enabled]
}

resource "google_service_account" "worker" {
  project      = var.project_id
  account_id   = "genjobs-worker"
  display_name = "genjobs worker function"
  description  = "Runtime identity of the worker function: Firestore read/write, the OpenAI key secret, re-publish run events."

  depends_on = [google_project_service.enabled]
}

resource "google_service_account" "push" {
  project      = var.project_id
  account_id   = "genjobs-push-invoker"
  display_name = "genjobs Pub/Sub push invoker"
  description  = "Identity in the OIDC token of the push subscriptions; may only invoke the worker."

  depends_on = [google_project_service.enabled]
}

resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "genjobs-build"
  display_name = "genjobs function builds"
  description  = "Cloud Build identity that turns the function bundles into images."

  depends_on = [google_project_service.enabled]
}

locals {
  # Firestore has no per-collection IAM: datastore.user on the project is the
  # narrowest role that reads and writes documents.
  project_roles = {
    api_datastore    = { member = "serviceAccount:${google_service_account.api.email}", role = "roles/datastore.user" }
    api_logging      = { member = "serviceAccount:${google_service_account.api.email}", role = "roles/logging.logWriter" }
    worker_datastore = { member = "serviceAccount:${google_service_account.worker.email}", role = "roles/datastore.user" }
    worker_logging   = { member = "serviceAccount:${google_service_account.worker.email}", role = "roles/logging.logWriter" }
    # Both functions export their spans to Cloud Trace (shared/tracing.py).
    api_traces    = { member = "serviceAccount:${google_service_account.api.email}", role = "roles/cloudtrace.agent" }
    worker_traces = { member = "serviceAccount:${google_service_account.worker.email}", role = "roles/cloudtrace.agent" }
    # The build pushes images to the gcf-artifacts repository, which Cloud
    # Functions creates itself, and writes build logs.
    build_logging   = { member = "serviceAccount:${google_service_account.build.email}", role = "roles/logging.logWriter" }
    build_artifacts = { member = "serviceAccount:${google_service_account.build.email}", role = "roles/artifactregistry.writer" }
  }
}

resource "google_project_iam_member" "runtime" {
  for_each = local.project_roles

  project = var.project_id
  role    = each.value.role
  member  = each.value.member
}

# The build reads the bundles from the source bucket, nothing else there.
resource "google_storage_bucket_iam_member" "build_source_reader" {
  bucket = google_storage_bucket.source.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.build.email}"
}

# Pub/Sub mints the push subscriptions' OIDC tokens as the push account. Only
# needed for projects whose Pub/Sub agent predates April 2021, harmless after.
resource "google_service_account_iam_member" "pubsub_mints_push_tokens" {
  service_account_id = google_service_account.push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent

  depends_on = [google_project_service.enabled]
}

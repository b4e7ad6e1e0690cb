locals {
  # serviceusage and cloudresourcemanager are enabled by hand before the first
  # apply (DEPLOY.md): Terraform needs them to enable the others.
  required_apis = [
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudscheduler.googleapis.com",
    # Spans of every request and run (TRACE_EXPORTER=cloud, shared/tracing.py).
    "cloudtrace.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ]
}

resource "google_project_service" "enabled" {
  for_each = toset(local.required_apis)

  project = var.project_id
  service = each.value

  # Destroying this configuration must not switch off APIs other things use.
  disable_on_destroy         = false
  disable_dependent_services = false
}

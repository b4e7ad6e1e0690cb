# The secret only: its value is added with gcloud (DEPLOY.md) and never
# enters Terraform state. Deliberately no google_secret_manager_secret_version.
resource "google_secret_manager_secret" "openai_api_key" {
  project   = var.project_id
  secret_id = var.openai_secret_id

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}

# Only the worker can read it, and only this secret.
resource "google_secret_manager_secret_iam_member" "worker_reads_openai_key" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.openai_api_key.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.worker.email}"
}

# One secret per fallback model that has a key of its own (var.llm_fallbacks'
# secret_id), created like the primary's: no version, the value is added with
# gcloud and never enters Terraform state.
resource "google_secret_manager_secret" "fallback_keys" {
  for_each = toset([for f in var.llm_fallbacks : f.secret_id if f.secret_id != null])

  project   = var.project_id
  secret_id = each.value

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}

# The worker reads each of them, and only them.
resource "google_secret_manager_secret_iam_member" "worker_reads_fallback_keys" {
  for_each = google_secret_manager_secret.fallback_keys

  project   = var.project_id
  secret_id = each.value.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.worker.email}"
}

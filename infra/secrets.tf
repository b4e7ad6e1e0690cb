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

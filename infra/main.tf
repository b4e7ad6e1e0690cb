provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = {
    app        = "genjobs"
    managed-by = "terraform"
  }
}

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  # Google-managed service agents (they exist once the API is enabled).
  pubsub_service_agent    = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
  scheduler_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-cloudscheduler.iam.gserviceaccount.com"
}

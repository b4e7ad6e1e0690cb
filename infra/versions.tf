terraform {
  required_version = ">= 1.5"

  required_providers {
    google = {
      source = "hashicorp/google"
      # 7.x: service_config.service is an output attribute, google_project_service
      # no longer disables APIs on destroy by default.
      version = "~> 7.0"
    }
  }
}

locals {
  # Built by `python -m devtools.bundle` (make bundle) before plan/apply.
  bundle_dir = "${path.module}/../dist"
  bundles = {
    api    = "${local.bundle_dir}/api.zip"
    worker = "${local.bundle_dir}/worker.zip"
  }
}

resource "google_storage_bucket" "source" {
  # checkov:skip=CKV_GCP_62: holds only the function bundles built by CI; reads and writes are covered by Cloud Audit Logs, a separate access-log bucket adds nothing.
  name     = "${var.project_id}-genjobs-source"
  project  = var.project_id
  location = var.region

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  versioning {
    enabled = true
  }

  # Bundles are content-addressed (md5 in the name): a new bundle replaces the
  # old object, which versioning keeps as noncurrent for a rollback, for a
  # few weeks.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 30
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.enabled]
}

resource "google_storage_bucket_object" "bundle" {
  for_each = local.bundles

  # The md5 of the zip is part of the name: a changed bundle is a new object,
  # which changes the function's source and redeploys it; an unchanged one
  # plans no change.
  name   = "${each.key}-${filemd5(each.value)}.zip"
  bucket = google_storage_bucket.source.name
  source = each.value
}

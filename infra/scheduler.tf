# Every minute (by default) a sweep message goes onto the events topic; the
# worker re-publishes runs whose lease expired and fails runs past their
# deadline. Published by the Cloud Scheduler service agent, which may publish
# to this topic only (pubsub.tf).
resource "google_cloud_scheduler_job" "sweep" {
  project     = var.project_id
  region      = var.region
  name        = "genjobs-sweep"
  description = "Publishes {\"type\":\"sweep\"} to ${var.events_topic}: the worker re-drives or fails stuck runs."
  schedule    = var.sweep_schedule
  time_zone   = "Etc/UTC"

  pubsub_target {
    topic_name = google_pubsub_topic.events.id
    data       = base64encode(jsonencode({ type = "sweep" }))
    attributes = {
      type = "sweep"
    }
  }

  depends_on = [google_pubsub_topic_iam_member.scheduler_publishes_sweep]
}

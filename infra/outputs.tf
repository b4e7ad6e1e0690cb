output "api_url" {
  description = "HTTPS URL of the api function."
  value       = google_cloudfunctions2_function.api.url
}

output "worker_service" {
  description = "Cloud Run service behind the worker function (the push subscriptions' target)."
  value       = google_cloudfunctions2_function.worker.service_config[0].service
}

output "events_topic" {
  description = "Pub/Sub topic carrying run events."
  value       = google_pubsub_topic.events.name
}

output "dead_letter_topic" {
  description = "Pub/Sub dead-letter topic."
  value       = google_pubsub_topic.dead_letter.name
}

output "results_topic" {
  description = "Pub/Sub topic receiving every run's terminal transition (subscribe to it; dedupe by runId)."
  value       = google_pubsub_topic.results.name
}

output "triggers_topic" {
  description = "Pub/Sub topic backends publish trigger events to (only trigger_publishers may); results arrive on results_topic with the event's id."
  value       = google_pubsub_topic.triggers.id
}

output "dashboard_id" {
  description = "Cloud Monitoring dashboard of runs by status, failures, step durations and tokens (Monitoring > Dashboards > genjobs runs)."
  value       = google_monitoring_dashboard.runs.id
}

output "openai_secret_id" {
  description = "Secret Manager secret to add the OpenAI API key to (gcloud secrets versions add)."
  value       = google_secret_manager_secret.openai_api_key.secret_id
}

output "source_bucket" {
  description = "Bucket holding the function bundles."
  value       = google_storage_bucket.source.name
}

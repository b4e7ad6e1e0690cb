# Log-based metrics from the worker's JSON log lines (shared/logs.py: every
# key of a line is a jsonPayload field), alert policies on them and one
# dashboard. The message texts and fields below are the ones the engine logs;
# tests/test_infra_monitoring.py keeps the two in step.

locals {
  # Every metric counts the worker's lines only (a gen2 function logs as its
  # Cloud Run revision).
  worker_log_filter = join(" AND ", [
    "resource.type=\"cloud_run_revision\"",
    "resource.labels.service_name=\"${google_cloudfunctions2_function.worker.name}\"",
  ])

  # Lines of both functions: admission runs in the api (HTTP creates) and in
  # the worker (trigger events).
  functions_log_filter = join(" AND ", [
    "resource.type=\"cloud_run_revision\"",
    "(resource.labels.service_name=\"${google_cloudfunctions2_function.api.name}\" OR resource.labels.service_name=\"${google_cloudfunctions2_function.worker.name}\")",
  ])

  # A run fails in one of three places: the runner (a step out of attempts or
  # non-retriable), the sweep (past its deadline) or the dead-letter handler.
  failed_run_filter = join(" OR ", [
    "(jsonPayload.message=\"run finished\" AND jsonPayload.status=\"FAILED\")",
    "jsonPayload.message=~\"^run failed by the sweep\"",
    "jsonPayload.message=\"run failed after dead-lettering\"",
  ])

  workflow_label = {
    key         = "workflow"
    value_type  = "STRING"
    description = "Workflow of the run (brainstorm, project, programme, ...)."
  }

  metric_prefix = "logging.googleapis.com/user/"
  notification_channels = [
    for channel in google_monitoring_notification_channel.email : channel.id
  ]
}

resource "google_logging_metric" "runs_finished" {
  project = var.project_id
  name    = "genjobs_runs_finished"
  filter  = "${local.worker_log_filter} AND jsonPayload.message=\"run finished\""

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "genjobs runs finished"
    labels {
      key         = "status"
      value_type  = "STRING"
      description = "Terminal status: COMPLETED, FAILED or CANCELLED."
    }
    labels {
      key         = local.workflow_label.key
      value_type  = local.workflow_label.value_type
      description = local.workflow_label.description
    }
  }

  label_extractors = {
    status   = "EXTRACT(jsonPayload.status)"
    workflow = "EXTRACT(jsonPayload.workflow)"
  }
}

resource "google_logging_metric" "runs_failed" {
  project = var.project_id
  name    = "genjobs_runs_failed"
  filter  = "${local.worker_log_filter} AND (${local.failed_run_filter})"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "genjobs runs failed"
    labels {
      key         = local.workflow_label.key
      value_type  = local.workflow_label.value_type
      description = local.workflow_label.description
    }
    labels {
      key         = "reason"
      value_type  = "STRING"
      description = "Reason class of the failure (step error, attempts exhausted, deadline, dead-lettered, ...)."
    }
    labels {
      key         = "source"
      value_type  = "STRING"
      description = "Which part ended the run: runner, sweep or dead letter."
    }
  }

  label_extractors = {
    workflow = "EXTRACT(jsonPayload.workflow)"
    reason   = "EXTRACT(jsonPayload.reason)"
    source   = "REGEXP_EXTRACT(jsonPayload.message, \"^run (finished|failed by the sweep|failed after dead-lettering)\")"
  }
}

resource "google_logging_metric" "runs_dead_lettered" {
  project = var.project_id
  name    = "genjobs_runs_dead_lettered"
  filter  = "${local.worker_log_filter} AND jsonPayload.message=\"run failed after dead-lettering\""

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "genjobs runs dead-lettered"
  }
}

resource "google_logging_metric" "runs_past_deadline" {
  project = var.project_id
  name    = "genjobs_runs_past_deadline"
  filter  = "${local.worker_log_filter} AND jsonPayload.message=~\"^run failed by the sweep: deadline exceeded\""

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "genjobs runs failed past their deadline"
  }
}

# A push the worker could never process (a malformed field or attribute):
# logged with which one (jsonPayload.problem) and acknowledged, so it is
# counted here rather than redelivered (shared/worker.py).
resource "google_logging_metric" "deliveries_malformed" {
  project = var.project_id
  name    = "genjobs_deliveries_malformed"
  filter  = "${local.worker_log_filter} AND jsonPayload.message=\"malformed Pub/Sub delivery acknowledged and dropped\""

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "genjobs malformed Pub/Sub deliveries dropped"
    labels {
      key         = "topic"
      value_type  = "STRING"
      description = "Topic the delivery came from (events, dead letter, ...)."
    }
  }

  label_extractors = {
    topic = "EXTRACT(jsonPayload.topic)"
  }
}

resource "google_logging_metric" "step_duration" {
  project         = var.project_id
  name            = "genjobs_step_duration"
  filter          = "${local.worker_log_filter} AND jsonPayload.message=\"step completed\""
  value_extractor = "EXTRACT(jsonPayload.durationMs)"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "ms"
    display_name = "genjobs step duration"
    labels {
      key         = "step"
      value_type  = "STRING"
      description = "Step id (generate-seeds, day-3, ...)."
    }
    labels {
      key         = local.workflow_label.key
      value_type  = local.workflow_label.value_type
      description = local.workflow_label.description
    }
  }

  label_extractors = {
    step     = "EXTRACT(jsonPayload.step)"
    workflow = "EXTRACT(jsonPayload.workflow)"
  }

  # 10 ms to about 20 minutes, each bucket 1.5x the previous.
  bucket_options {
    exponential_buckets {
      num_finite_buckets = 30
      growth_factor      = 1.5
      scale              = 10
    }
  }
}

resource "google_logging_metric" "llm_tokens" {
  project         = var.project_id
  name            = "genjobs_llm_tokens"
  filter          = "${local.worker_log_filter} AND jsonPayload.message=\"step completed\" AND jsonPayload.totalTokens>0"
  value_extractor = "EXTRACT(jsonPayload.totalTokens)"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "1"
    display_name = "genjobs LLM tokens per step"
    labels {
      key         = local.workflow_label.key
      value_type  = local.workflow_label.value_type
      description = local.workflow_label.description
    }
  }

  label_extractors = {
    workflow = "EXTRACT(jsonPayload.workflow)"
  }

  # 1 to about 1 billion tokens, doubling.
  bucket_options {
    exponential_buckets {
      num_finite_buckets = 30
      growth_factor      = 2
      scale              = 1
    }
  }
}

# Model failover (shared/llm/failover.py, breaker.py): answers that came from
# a fallback model, and breakers that opened, by model.
resource "google_logging_metric" "llm_fallback_answers" {
  project = var.project_id
  name    = "genjobs_llm_fallback_answers"
  filter  = "${local.worker_log_filter} AND jsonPayload.message=\"running on fallback\""

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "genjobs LLM calls answered by a fallback model"
    labels {
      key         = "model"
      value_type  = "STRING"
      description = "The fallback model that answered."
    }
    labels {
      key         = "fallback_from"
      value_type  = "STRING"
      description = "The models that failed (or were skipped) before it, comma-separated."
    }
  }

  label_extractors = {
    model         = "EXTRACT(jsonPayload.model)"
    fallback_from = "EXTRACT(jsonPayload.fallbackFrom)"
  }
}

resource "google_logging_metric" "llm_breaker_opened" {
  project = var.project_id
  name    = "genjobs_llm_breaker_opened"
  filter  = "${local.worker_log_filter} AND jsonPayload.message=\"model breaker opened\""

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "genjobs model breakers opened"
    labels {
      key         = "model"
      value_type  = "STRING"
      description = "The model's breaker key (model name and an endpoint hash)."
    }
  }

  label_extractors = {
    model = "EXTRACT(jsonPayload.model)"
  }
}

# Trigger events that started nothing (shared/triggers.py), by reason:
# unknown_event, invalid_data, invalid_tenant, quota_exceeded, dead_lettered, ...
resource "google_logging_metric" "trigger_events_rejected" {
  project = var.project_id
  name    = "genjobs_trigger_events_rejected"
  filter  = "${local.worker_log_filter} AND jsonPayload.message=\"trigger event rejected\""

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "genjobs trigger events rejected"
    labels {
      key         = "reason"
      value_type  = "STRING"
      description = "Why the event started nothing (unknown_event, invalid_data, invalid_tenant, quota_exceeded, ...)."
    }
    labels {
      key         = "event"
      value_type  = "STRING"
      description = "The event's name, when it had a readable one."
    }
  }

  label_extractors = {
    reason = "EXTRACT(jsonPayload.reason)"
    event  = "EXTRACT(jsonPayload.eventName)"
  }
}

# A tenant passed 80% of a daily limit (logged once per tenant, day, limit and
# instance by shared/admission.py, at the tenant's next create).
resource "google_logging_metric" "tenant_quota_warnings" {
  project = var.project_id
  name    = "genjobs_tenant_quota_warnings"
  filter  = "${local.functions_log_filter} AND jsonPayload.message=\"tenant daily quota nearly used\""

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "genjobs tenants past 80% of a daily limit"
    labels {
      key         = "limit"
      value_type  = "STRING"
      description = "TENANT_DAILY_TOKEN_LIMIT or TENANT_DAILY_COST_LIMIT_USD."
    }
  }

  label_extractors = {
    limit = "EXTRACT(jsonPayload.limit)"
  }
}

# --- alerts ------------------------------------------------------------------

resource "google_monitoring_notification_channel" "email" {
  for_each = toset(var.alert_emails)

  project      = var.project_id
  display_name = "genjobs alerts: ${each.value}"
  type         = "email"
  labels = {
    email_address = each.value
  }

  depends_on = [google_project_service.enabled]
}

locals {
  # Count alerts: more than `threshold` matching lines within `window`.
  count_alerts = {
    runs_failed = {
      display_name = "genjobs: runs failing"
      metric       = google_logging_metric.runs_failed.name
      threshold    = var.alert_failed_runs
      window       = "600s"
      doc          = "More than ${var.alert_failed_runs} runs failed within 10 minutes. Find them with GET /v1/runs?status=FAILED (docs/operations.md), read each run's error, fix the cause, then POST /v1/runs/bulk-resume."
    }
    runs_dead_lettered = {
      display_name = "genjobs: runs dead-lettered"
      metric       = google_logging_metric.runs_dead_lettered.name
      threshold    = 0
      window       = "300s"
      doc          = "A run event exhausted its Pub/Sub delivery attempts: the worker kept failing outside a step (crash, timeout, permission). Check the worker's errors in Cloud Logging and run `python -m devtools.doctor`."
    }
    trigger_events_rejected = {
      display_name = "genjobs: trigger events rejected"
      metric       = google_logging_metric.trigger_events_rejected.name
      threshold    = var.alert_rejected_events
      window       = "600s"
      doc          = "More than ${var.alert_rejected_events} trigger events started nothing within 10 minutes. The metric's reason label says why (unknown_event, invalid_data, invalid_tenant, tenant_not_allowed, payload_too_large, not_found, quota_exceeded, dead_lettered); each rejection is also a REJECTED message on the results topic with the eventId, and a log line (jsonPayload.message=\"trigger event rejected\") with the tenant and the problem. Usually a publisher sends events the API's models refuse: show it the REJECTED results (docs/api.md, Triggers)."
    }
    tenant_quota_warnings = {
      display_name = "genjobs: a tenant used 80% of a daily limit"
      metric       = google_logging_metric.tenant_quota_warnings.name
      threshold    = 0
      window       = "3600s"
      doc          = "A tenant's usage today (UTC) passed 80% of TENANT_DAILY_TOKEN_LIMIT or TENANT_DAILY_COST_LIMIT_USD: at 100% its creates are refused (429 quota_exceeded) until midnight UTC. The log line names the tenant (jsonPayload.tenantId) and the limit; GET /v1/usage with that tenant's token shows what is left. Raise tenant_daily_token_limit / tenant_daily_cost_limit_usd if the use is expected."
    }
    deliveries_malformed = {
      display_name = "genjobs: malformed Pub/Sub deliveries"
      metric       = google_logging_metric.deliveries_malformed.name
      threshold    = 0
      window       = "300s"
      doc          = "The worker acknowledged and dropped Pub/Sub messages it could never process. Each one's log line (jsonPayload.message=\"malformed Pub/Sub delivery acknowledged and dropped\") names the field and what was wrong (jsonPayload.problem) and its topic: find the publisher that sent it. A dropped run event loses nothing: the sweep publishes the run again (docs/operations.md)."
    }
    running_on_fallback = {
      display_name = "genjobs: running on a fallback model"
      metric       = google_logging_metric.llm_fallback_answers.name
      threshold    = 0
      window       = "300s"
      doc          = "Model calls were answered by a fallback model (LLM_FALLBACKS): the primary is failing or its breaker is open. Runs still complete, at the fallback's price and quality. The metric's labels name the models; the runs' steps carry failedModels with each error. Check the primary provider's status and `python -m devtools.doctor`."
    }
    runs_past_deadline = {
      display_name = "genjobs: runs past their deadline"
      metric       = google_logging_metric.runs_past_deadline.name
      threshold    = 0
      window       = "600s"
      doc          = "The sweep failed runs that did not finish before their deadline: the worker is down, overloaded (raise worker_max_instances) or the LLM is slow. The run's error names the step."
    }
  }
}

resource "google_monitoring_alert_policy" "count" {
  for_each = local.count_alerts

  project               = var.project_id
  display_name          = each.value.display_name
  combiner              = "OR"
  notification_channels = local.notification_channels

  conditions {
    display_name = "${each.value.display_name} (> ${each.value.threshold} in ${each.value.window})"
    condition_threshold {
      filter          = "metric.type=\"${local.metric_prefix}${each.value.metric}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = each.value.threshold
      duration        = "0s"
      aggregations {
        alignment_period     = each.value.window
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "1800s"
  }

  documentation {
    content   = each.value.doc
    mime_type = "text/markdown"
  }
}

# A dead letter the worker could not fail either was parked (infra/pubsub.tf):
# Pub/Sub's own metric, not a log line, sees it.
resource "google_monitoring_alert_policy" "parked" {
  project               = var.project_id
  display_name          = "genjobs: dead letters parked"
  combiner              = "OR"
  notification_channels = local.notification_channels

  conditions {
    display_name = "messages waiting on ${google_pubsub_subscription.parked.name}"
    condition_threshold {
      filter          = "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=\"${google_pubsub_subscription.parked.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }
      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "1800s"
  }

  documentation {
    content   = "A dead-lettered run event failed on the worker ${local.parked_after_attempts} times as well (Firestore unreachable for that long, or a run document the worker cannot read) and was parked on the pull subscription ${google_pubsub_subscription.parked.name}, where it is kept 7 days. The sweep still fails its run at its deadline. Read the worker's errors in Cloud Logging, fix the cause, then pull the parked messages (docs/operations.md, \"A message that cannot even be failed\") and resume their runs."
    mime_type = "text/markdown"
  }
}

# Token spend: only when a budget is set.
resource "google_monitoring_alert_policy" "tokens" {
  count = var.alert_tokens_per_hour == null ? 0 : 1

  project               = var.project_id
  display_name          = "genjobs: LLM tokens above budget"
  combiner              = "OR"
  notification_channels = local.notification_channels

  conditions {
    display_name = "tokens in the last hour > ${coalesce(var.alert_tokens_per_hour, 0)}"
    condition_prometheus_query_language {
      query    = "sum(increase(logging_googleapis_com:user_${google_logging_metric.llm_tokens.name}_sum[1h])) > ${coalesce(var.alert_tokens_per_hour, 0)}"
      duration = "0s"
    }
  }

  alert_strategy {
    auto_close = "3600s"
  }

  documentation {
    content   = "More than ${coalesce(var.alert_tokens_per_hour, 0)} LLM tokens in an hour. GET /v1/usage shows which workflow and day; LLM_TOKENS_PER_MINUTE (llm_tokens_per_minute) caps the rate."
    mime_type = "text/markdown"
  }
}

# --- dashboard -----------------------------------------------------------------

locals {
  dashboard_filter = {
    for name, metric in {
      finished = google_logging_metric.runs_finished.name
      failed   = google_logging_metric.runs_failed.name
      duration = google_logging_metric.step_duration.name
    } : name => "metric.type=\"${local.metric_prefix}${metric}\" AND resource.type=\"cloud_run_revision\""
  }

  step_percentiles = { p50 = "REDUCE_PERCENTILE_50", p95 = "REDUCE_PERCENTILE_95" }
}

resource "google_monitoring_dashboard" "runs" {
  project = var.project_id
  dashboard_json = jsonencode({
    displayName = "genjobs runs"
    mosaicLayout = {
      columns = 12
      tiles = [
        {
          xPos = 0, yPos = 0, width = 6, height = 4
          widget = {
            title = "Runs finished per hour, by status"
            xyChart = {
              dataSets = [{
                plotType = "STACKED_BAR"
                timeSeriesQuery = {
                  timeSeriesFilter = {
                    filter = local.dashboard_filter.finished
                    aggregation = {
                      alignmentPeriod    = "3600s"
                      perSeriesAligner   = "ALIGN_SUM"
                      crossSeriesReducer = "REDUCE_SUM"
                      groupByFields      = ["metric.label.status"]
                    }
                  }
                }
              }]
            }
          }
        },
        {
          xPos = 6, yPos = 0, width = 6, height = 4
          widget = {
            title = "Runs failed per hour, by workflow and reason"
            xyChart = {
              dataSets = [{
                plotType = "STACKED_BAR"
                timeSeriesQuery = {
                  timeSeriesFilter = {
                    filter = local.dashboard_filter.failed
                    aggregation = {
                      alignmentPeriod    = "3600s"
                      perSeriesAligner   = "ALIGN_SUM"
                      crossSeriesReducer = "REDUCE_SUM"
                      groupByFields      = ["metric.label.workflow", "metric.label.reason", "metric.label.source"]
                    }
                  }
                }
              }]
            }
          }
        },
        {
          xPos = 0, yPos = 4, width = 6, height = 4
          widget = {
            title = "Step duration p50 and p95 (ms), by step"
            xyChart = {
              dataSets = [
                for name, reducer in local.step_percentiles : {
                  plotType       = "LINE"
                  legendTemplate = "${name} $${metric.labels.step}"
                  timeSeriesQuery = {
                    timeSeriesFilter = {
                      filter = local.dashboard_filter.duration
                      aggregation = {
                        alignmentPeriod    = "300s"
                        perSeriesAligner   = "ALIGN_DELTA"
                        crossSeriesReducer = reducer
                        groupByFields      = ["metric.label.step"]
                      }
                    }
                  }
                }
              ]
            }
          }
        },
        {
          xPos = 6, yPos = 4, width = 6, height = 4
          widget = {
            title = "LLM tokens per day, by workflow"
            xyChart = {
              dataSets = [{
                plotType = "STACKED_BAR"
                timeSeriesQuery = {
                  prometheusQuery = "sum by (workflow) (increase(logging_googleapis_com:user_${google_logging_metric.llm_tokens.name}_sum[1d]))"
                }
              }]
            }
          }
        },
      ]
    }
  })
}

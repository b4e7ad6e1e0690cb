# State lives in a GCS bucket created once per project, outside this
# configuration (see DEPLOY.md). Bucket (and optionally prefix) are given at
# init time:
#   terraform init -backend-config=bucket=<state bucket> -backend-config=prefix=genjobs
terraform {
  backend "gcs" {}
}

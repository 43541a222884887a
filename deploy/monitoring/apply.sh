#!/usr/bin/env bash
# Applies this folder's Cloud Monitoring configuration with gcloud:
#   uptime-healthz.json  HTTPS uptime check on /healthz (created from flags
#                        that mirror the file; gcloud has no file input for it)
#   alerts/*.json        alert policies (created, or updated in place)
#   dashboard.json       the service dashboard (replaced)
# Re-running it is safe: resources are found by display name.
#
# Environment:
#   PROJECT   Google Cloud project (default: gcloud config get-value project)
#   SERVICE   Cloud Run service name (default: example-function)
#   HOST      host the uptime check calls, e.g. example-function-abc-ew.a.run.app;
#             when unset, read from the service's URL (needs REGION)
#   REGION    Cloud Run region, only used to look HOST up
#   NOTIFICATION_CHANNELS  comma-separated channel names for new alert policies
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SERVICE="${SERVICE:-example-function}"
PROJECT="${PROJECT:-$(gcloud config get-value project 2>/dev/null || true)}"
if [[ -z "$PROJECT" ]]; then
  echo "apply.sh: set PROJECT (or gcloud config set project ...)" >&2
  exit 2
fi
if [[ -z "${HOST:-}" ]]; then
  if [[ -z "${REGION:-}" ]]; then
    echo "apply.sh: set HOST (the service's run.app host) or REGION to look it up" >&2
    exit 2
  fi
  url="$(gcloud run services describe "$SERVICE" --project="$PROJECT" --region="$REGION" --format='value(status.url)')"
  HOST="${url#https://}"
  HOST="${HOST%%/*}"
fi

# The values are substituted into JSON and gcloud filters: refuse anything
# that could break out of a quoted string.
[[ "$PROJECT" =~ ^[a-z][a-z0-9.:-]*$ ]] || { echo "apply.sh: bad PROJECT '$PROJECT'" >&2; exit 2; }
[[ "$SERVICE" =~ ^[a-z][a-z0-9-]*$ ]] || { echo "apply.sh: bad SERVICE '$SERVICE'" >&2; exit 2; }
[[ "$HOST" =~ ^[A-Za-z0-9.-]+$ ]] || { echo "apply.sh: bad HOST '$HOST'" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# render FILE: writes FILE with ${PROJECT}, ${SERVICE} and ${HOST} filled in
# to the work folder and prints the new path.
render() {
  local out="$work/$(basename "$1")"
  sed -e "s|\${PROJECT}|$PROJECT|g" -e "s|\${SERVICE}|$SERVICE|g" -e "s|\${HOST}|$HOST|g" "$1" >"$out"
  echo "$out"
}

# display_name FILE: the top-level displayName of a rendered file.
display_name() {
  sed -n 's/^  "displayName": "\(.*\)",\{0,1\}$/\1/p' "$1" | head -n 1
}

# 1. Uptime check. The flags mirror uptime-healthz.json (a test keeps them in step).
uptime_name="$(display_name "$(render "$here/uptime-healthz.json")")"
existing="$(gcloud monitoring uptime list-configs --project="$PROJECT" \
  --filter="displayName=\"$uptime_name\"" --format='value(name)')"
if [[ -n "$existing" ]]; then
  echo "uptime check '$uptime_name' exists ($existing); delete it to re-create"
else
  gcloud monitoring uptime create "$uptime_name" --project="$PROJECT" \
    --resource-type=uptime-url --resource-labels="host=$HOST,project_id=$PROJECT" \
    --protocol=https --port=443 --path=/healthz --request-method=get \
    --validate-ssl=true --status-classes=2xx --period=1 --timeout=10
fi

# 2. Alert policies.
for f in "$here"/alerts/*.json; do
  file="$(render "$f")"
  name="$(display_name "$file")"
  existing="$(gcloud alpha monitoring policies list --project="$PROJECT" \
    --filter="displayName=\"$name\"" --format='value(name)')"
  if [[ -n "$existing" ]]; then
    while read -r policy; do
      gcloud alpha monitoring policies update "$policy" --project="$PROJECT" --policy-from-file="$file"
    done <<<"$existing"
  else
    args=(--project="$PROJECT" --policy-from-file="$file")
    if [[ -n "${NOTIFICATION_CHANNELS:-}" ]]; then
      args+=(--notification-channels="$NOTIFICATION_CHANNELS")
    fi
    gcloud alpha monitoring policies create "${args[@]}"
  fi
done

# 3. Dashboard: replaced, because updates need the current etag.
file="$(render "$here/dashboard.json")"
name="$(display_name "$file")"
existing="$(gcloud monitoring dashboards list --project="$PROJECT" \
  --filter="displayName=\"$name\"" --format='value(name)')"
if [[ -n "$existing" ]]; then
  while read -r dash; do
    gcloud monitoring dashboards delete "$dash" --project="$PROJECT" --quiet
  done <<<"$existing"
fi
gcloud monitoring dashboards create --project="$PROJECT" --config-from-file="$file"

echo "applied: uptime check, $(ls "$here"/alerts/*.json | wc -l) alert policies, dashboard '$name' in $PROJECT"

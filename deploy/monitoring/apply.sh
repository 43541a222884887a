#!/usr/bin/env bash
# Applies this folder's Cloud Monitoring configuration with gcloud:
#   uptime-healthz.json  HTTPS uptime check on /healthz, authenticated as the
#                        Monitoring service agent (the service is private);
#                        created, or updated in place, from flags that mirror
#                        the file (gcloud has no file input for it)
#   the agent's roles/run.invoker on the service, so its requests get through
#   alerts/*.json        alert policies (created, or updated in place keeping
#                        their notification channels)
#   dashboard.json       the service dashboard (replaced)
# Re-running it is safe: resources are found by display name.
#
# Environment:
#   PROJECT   Google Cloud project (default: gcloud config get-value project)
#   SERVICE   Cloud Run service name (default: example-function)
#   REGION    Cloud Run region of the service (required: the invoker grant)
#   HOST      host the uptime check calls, e.g. example-function-abc-ew.a.run.app;
#             when unset, read from the service's URL
#   NOTIFICATION_CHANNELS  comma-separated channel names, added to every policy
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SERVICE="${SERVICE:-example-function}"
PROJECT="${PROJECT:-$(gcloud config get-value project 2>/dev/null || true)}"
if [[ -z "$PROJECT" ]]; then
  echo "apply.sh: set PROJECT (or gcloud config set project ...)" >&2
  exit 2
fi
if [[ -z "${REGION:-}" ]]; then
  echo "apply.sh: set REGION, the service's Cloud Run region (for the uptime check's invoker grant and the host)" >&2
  exit 2
fi

# The values are substituted into JSON, gcloud filters and IAM members:
# refuse anything that could break out of a quoted string.
[[ "$PROJECT" =~ ^[a-z][a-z0-9.:-]*$ ]] || { echo "apply.sh: bad PROJECT '$PROJECT'" >&2; exit 2; }
[[ "$SERVICE" =~ ^[a-z][a-z0-9-]*$ ]] || { echo "apply.sh: bad SERVICE '$SERVICE'" >&2; exit 2; }
[[ "$REGION" =~ ^[a-z][a-z0-9-]*$ ]] || { echo "apply.sh: bad REGION '$REGION'" >&2; exit 2; }
[[ -z "${HOST:-}" || "$HOST" =~ ^[A-Za-z0-9.-]+$ ]] || { echo "apply.sh: bad HOST '$HOST'" >&2; exit 2; }
[[ "${NOTIFICATION_CHANNELS:-}" =~ ^[A-Za-z0-9/_.,-]*$ ]] || { echo "apply.sh: bad NOTIFICATION_CHANNELS" >&2; exit 2; }

if [[ -z "${HOST:-}" ]]; then
  url="$(gcloud run services describe "$SERVICE" --project="$PROJECT" --region="$REGION" --format='value(status.url)')"
  HOST="${url#https://}"
  HOST="${HOST%%/*}"
  [[ "$HOST" =~ ^[A-Za-z0-9.-]+$ ]] || { echo "apply.sh: the service's URL gives no host: '$url'" >&2; exit 2; }
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# render FILE: writes FILE with ${PROJECT}, ${SERVICE} and ${HOST} filled in
# to the work folder and prints the new path.
render() {
  local out
  out="$work/$(basename "$1")"
  sed -e "s|\${PROJECT}|$PROJECT|g" -e "s|\${SERVICE}|$SERVICE|g" -e "s|\${HOST}|$HOST|g" "$1" >"$out"
  echo "$out"
}

# display_name FILE: the top-level displayName of a rendered file.
display_name() {
  sed -n 's/^  "displayName": "\(.*\)",\{0,1\}$/\1/p' "$1" | head -n 1
}

# 1. Uptime check. The flags mirror uptime-healthz.json (a test keeps them in
# step); update takes the same settings but not the monitored resource, so a
# check on another host (the service's URL changed) is replaced.
uptime_name="$(display_name "$(render "$here/uptime-healthz.json")")"
check=(--port=443 --path=/healthz --request-method=get --validate-ssl=true
  --period=1 --timeout=10 --service-agent-auth=oidc-token)
found="$(gcloud monitoring uptime list-configs --project="$PROJECT" \
  --filter="displayName=\"$uptime_name\"" --format='value(name,monitoredResource.labels.host)')"
keep=""
while IFS=$'\t' read -r name host; do
  [[ -n "$name" ]] || continue
  if [[ -z "$keep" && "$host" == "$HOST" ]]; then
    keep="$name"
  else
    echo "uptime check $name calls $host, not $HOST: deleting it"
    gcloud monitoring uptime delete "${name##*/}" --project="$PROJECT" --quiet
  fi
done <<<"$found"
if [[ -n "$keep" ]]; then
  gcloud monitoring uptime update "${keep##*/}" --project="$PROJECT" "${check[@]}" --set-status-classes=2xx
else
  gcloud monitoring uptime create "$uptime_name" --project="$PROJECT" \
    --resource-type=uptime-url --resource-labels="host=$HOST,project_id=$PROJECT" \
    --protocol=https "${check[@]}" --status-classes=2xx
fi

# 2. The check's requests carry an ID token of the Monitoring service agent;
# it may invoke this service and nothing else.
number="$(gcloud projects describe "$PROJECT" --project="$PROJECT" --format='value(projectNumber)')"
[[ "$number" =~ ^[0-9]+$ ]] || { echo "apply.sh: no project number for $PROJECT: '$number'" >&2; exit 1; }
gcloud run services add-iam-policy-binding "$SERVICE" --project="$PROJECT" --region="$REGION" \
  --member="serviceAccount:service-$number@gcp-sa-monitoring-notification.iam.gserviceaccount.com" \
  --role=roles/run.invoker --quiet

# 3. Alert policies. --policy-from-file replaces the whole policy and --fields
# can only name disabled and notificationChannels, so an update sets the
# policy's current channels again (plus NOTIFICATION_CHANNELS).
for f in "$here"/alerts/*.json; do
  file="$(render "$f")"
  name="$(display_name "$file")"
  existing="$(gcloud monitoring policies list --project="$PROJECT" \
    --filter="displayName=\"$name\"" --format='value(name)')"
  if [[ -n "$existing" ]]; then
    while read -r policy; do
      channels="$(gcloud monitoring policies describe "$policy" --project="$PROJECT" \
        --format='value(notificationChannels.list())')"
      channels="$(printf '%s,%s' "$channels" "${NOTIFICATION_CHANNELS:-}" | tr ',' '\n' | sed '/^$/d' | sort -u | paste -sd, -)"
      args=(--project="$PROJECT" --policy-from-file="$file")
      if [[ -n "$channels" ]]; then
        args+=(--set-notification-channels="$channels")
      fi
      gcloud monitoring policies update "$policy" "${args[@]}"
    done <<<"$existing"
  else
    args=(--project="$PROJECT" --policy-from-file="$file")
    if [[ -n "${NOTIFICATION_CHANNELS:-}" ]]; then
      args+=(--notification-channels="$NOTIFICATION_CHANNELS")
    fi
    gcloud monitoring policies create "${args[@]}"
  fi
done

# 4. Dashboard: replaced, because updates need the current etag.
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

policies=("$here"/alerts/*.json)
echo "applied: uptime check, invoker grant, ${#policies[@]} alert policies, dashboard '$name' in $PROJECT"

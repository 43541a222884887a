#!/usr/bin/env bash
# One-time setup of a Google Cloud project for example-function: APIs, Artifact
# Registry, Cloud SQL (PostgreSQL) with two database users (the owner that
# migrates, the app role the service runs as) and their passwords in Secret
# Manager, a runtime, a migration-job and a build service account, the Cloud
# Run service and migration job (placeholders until the first release, so the
# build account needs rights on those two only), a bucket for manual submits,
# least-privilege roles (deploy/permissions/calls.json says why each is needed;
# go test ./deploy/ checks it), and the Cloud Build trigger that releases every
# pushed tag v* (cloudbuild.yaml) once an approver approves the build.
#
# Run it as a principal holding the roles docs/deploy.md#who-needs-what lists
# for the deployer (Owner has them all).
#
# Idempotent: every resource is looked up first and created only when missing,
# so a re-run after a failure (or after authorizing GitHub) carries on.
# --dry-run prints what would be created and changes nothing (it still runs
# read-only lookups, so it shows what a real run would do right now).
#
# usage: deploy/setup.sh [--dry-run] [--project=ID] [--region=REGION]
#                        [--github=OWNER/REPO] [--help]
# Every name can be changed with an environment variable (defaults match the
# substitutions in cloudbuild.yaml):
#   REGION=us-central1 SERVICE=example-function REPOSITORY=example-function
#   RUNTIME_SA=example-function-run BUILD_SA=example-function-build
#   MIGRATE_SA=example-function-migrate MIGRATE_JOB=example-function-migrate
#   SQL_INSTANCE=example-function SQL_VERSION=POSTGRES_17 SQL_TIER=db-f1-micro
#   SQL_EDITION=ENTERPRISE DB_NAME=app DB_USER=app DB_OWNER=app_owner
#   DB_PASSWORD_SECRET=example-function-db-password
#   DB_OWNER_PASSWORD_SECRET=example-function-db-owner-password
#   GITHUB_CONNECTION=github TRIGGER_NAME=example-function-release TAG_PATTERN='^v.*$'
#   SOURCE_BUCKET=PROJECT-build-source (manual submits stage their source here)
#   ALLOW_UNAUTHENTICATED=false (true: a public URL; the build account then
#     holds Cloud Run Admin on the service, to add the allUsers binding)
#   REQUIRE_APPROVAL=true (false: tag builds start without an approver)
#   APPROVERS=user:you@example.org,group:... (default: the gcloud account)
set -euo pipefail

DRY_RUN=false
PROJECT_ID=${PROJECT_ID:-}
REGION=${REGION:-us-central1}
SERVICE=${SERVICE:-example-function}
REPOSITORY=${REPOSITORY:-example-function}
RUNTIME_SA=${RUNTIME_SA:-example-function-run}
BUILD_SA=${BUILD_SA:-example-function-build}
MIGRATE_SA=${MIGRATE_SA:-example-function-migrate}
MIGRATE_JOB=${MIGRATE_JOB:-example-function-migrate}
SQL_INSTANCE=${SQL_INSTANCE:-example-function}
SQL_VERSION=${SQL_VERSION:-POSTGRES_17}
SQL_TIER=${SQL_TIER:-db-f1-micro}
SQL_EDITION=${SQL_EDITION:-ENTERPRISE}
DB_NAME=${DB_NAME:-app}
DB_USER=${DB_USER:-app}
DB_OWNER=${DB_OWNER:-app_owner}
DB_PASSWORD_SECRET=${DB_PASSWORD_SECRET:-example-function-db-password}
DB_OWNER_PASSWORD_SECRET=${DB_OWNER_PASSWORD_SECRET:-example-function-db-owner-password}
GITHUB=${GITHUB:-}
GITHUB_CONNECTION=${GITHUB_CONNECTION:-github}
TRIGGER_NAME=${TRIGGER_NAME:-example-function-release}
TAG_PATTERN=${TAG_PATTERN:-'^v.*$'}
SOURCE_BUCKET=${SOURCE_BUCKET:-}
ALLOW_UNAUTHENTICATED=${ALLOW_UNAUTHENTICATED:-false}
REQUIRE_APPROVAL=${REQUIRE_APPROVAL:-true}
APPROVERS=${APPROVERS:-}
# Google's public sample images: a service and a job that do nothing harmful,
# replaced by the first release (github.com/GoogleCloudPlatform/cloud-run-hello).
PLACEHOLDER_SERVICE_IMAGE=us-docker.pkg.dev/cloudrun/container/placeholder
PLACEHOLDER_JOB_IMAGE=us-docker.pkg.dev/cloudrun/container/hello-job

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY_RUN=true ;;
    --project=*) PROJECT_ID=${arg#*=} ;;
    --region=*) REGION=${arg#*=} ;;
    --github=*) GITHUB=${arg#*=} ;;
    -h | --help) usage; exit 0 ;;
    *) echo "setup.sh: unknown argument: $arg" >&2; usage >&2; exit 2 ;;
  esac
done

if [[ -z "$PROJECT_ID" ]]; then
  PROJECT_ID=$(gcloud config get-value project 2>/dev/null || true)
fi
if [[ -z "$PROJECT_ID" ]]; then
  echo "setup.sh: no project: pass --project=ID or run 'gcloud config set project ID'" >&2
  exit 2
fi
if [[ -n "$GITHUB" && "$GITHUB" != */* ]]; then
  echo "setup.sh: --github must be OWNER/REPO, got '$GITHUB'" >&2
  exit 2
fi
for flag in ALLOW_UNAUTHENTICATED REQUIRE_APPROVAL; do
  case "${!flag}" in true | false) ;; *) echo "setup.sh: $flag must be true or false, got '${!flag}'" >&2; exit 2 ;; esac
done
# valid_members LIST: every comma-separated entry is an IAM member.
valid_members() {
  local m
  for m in ${1//,/ }; do
    case "$m" in
      user:?* | group:?* | serviceAccount:?* | domain:?*) ;;
      *) echo "setup.sh: APPROVERS: '$m' is not user:, group:, serviceAccount: or domain:" >&2; return 1 ;;
    esac
  done
}
valid_members "$APPROVERS" || exit 2
SOURCE_BUCKET=${SOURCE_BUCKET:-$PROJECT_ID-build-source}

RUNTIME_EMAIL="$RUNTIME_SA@$PROJECT_ID.iam.gserviceaccount.com"
BUILD_EMAIL="$BUILD_SA@$PROJECT_ID.iam.gserviceaccount.com"
MIGRATE_EMAIL="$MIGRATE_SA@$PROJECT_ID.iam.gserviceaccount.com"

# change runs a command that changes the project, or only prints it in a dry run.
change() {
  if $DRY_RUN; then
    printf 'would run:'
    printf ' %q' "$@"
    printf '\n'
    return 0
  fi
  printf '+'
  printf ' %q' "$@"
  printf '\n'
  "$@"
}

# exists runs a read-only lookup quietly; its status says whether the thing is there.
exists() { "$@" >/dev/null 2>&1; }

# grant WHERE MEMBER ROLE adds one IAM binding on the narrowest resource that
# works: WHERE is project, secret:NAME, repository:NAME, sa:EMAIL,
# service:NAME, job:NAME or bucket:NAME. One line per binding, so the
# permission test (deploy/permissions_test.go) can remove each in turn.
grant() {
  local where=$1 member=$2 role=$3 name=${1#*:}
  case "$where" in
    project) change gcloud projects add-iam-policy-binding "$PROJECT_ID" \
      --member="$member" --role="$role" --condition=None --quiet ;;
    secret:*) change gcloud secrets add-iam-policy-binding "$name" --project="$PROJECT_ID" \
      --member="$member" --role="$role" --quiet ;;
    repository:*) change gcloud artifacts repositories add-iam-policy-binding "$name" --project="$PROJECT_ID" \
      --location="$REGION" --member="$member" --role="$role" --quiet ;;
    sa:*) change gcloud iam service-accounts add-iam-policy-binding "$name" --project="$PROJECT_ID" \
      --member="$member" --role="$role" --quiet ;;
    service:*) change gcloud run services add-iam-policy-binding "$name" --project="$PROJECT_ID" \
      --region="$REGION" --member="$member" --role="$role" --quiet ;;
    job:*) change gcloud run jobs add-iam-policy-binding "$name" --project="$PROJECT_ID" \
      --region="$REGION" --member="$member" --role="$role" --quiet ;;
    bucket:*) change gcloud storage buckets add-iam-policy-binding "gs://$name" --project="$PROJECT_ID" \
      --member="$member" --role="$role" ;;
    *) echo "setup.sh: grant: unknown resource $where" >&2; exit 1 ;;
  esac
}

step() { printf '\n== %s\n' "$*"; }

step "APIs"
change gcloud services enable --project="$PROJECT_ID" \
  run.googleapis.com sqladmin.googleapis.com artifactregistry.googleapis.com \
  cloudbuild.googleapis.com secretmanager.googleapis.com iam.googleapis.com \
  iamcredentials.googleapis.com logging.googleapis.com monitoring.googleapis.com \
  cloudtrace.googleapis.com telemetry.googleapis.com

step "Artifact Registry repository $REPOSITORY"
if exists gcloud artifacts repositories describe "$REPOSITORY" --project="$PROJECT_ID" --location="$REGION"; then
  echo "exists"
else
  change gcloud artifacts repositories create "$REPOSITORY" --project="$PROJECT_ID" \
    --location="$REGION" --repository-format=docker \
    --description="example-function images (cloudbuild.yaml pushes here)"
fi

step "Service accounts"
for sa in "$RUNTIME_SA" "$BUILD_SA" "$MIGRATE_SA"; do
  if exists gcloud iam service-accounts describe "$sa@$PROJECT_ID.iam.gserviceaccount.com" --project="$PROJECT_ID"; then
    echo "$sa exists"
  else
    change gcloud iam service-accounts create "$sa" --project="$PROJECT_ID" \
      --display-name="example-function ${sa##*-}"
  fi
done

step "Cloud SQL instance $SQL_INSTANCE (creating one takes several minutes)"
if exists gcloud sql instances describe "$SQL_INSTANCE" --project="$PROJECT_ID"; then
  echo "exists"
else
  change gcloud sql instances create "$SQL_INSTANCE" --project="$PROJECT_ID" \
    --region="$REGION" --database-version="$SQL_VERSION" --edition="$SQL_EDITION" \
    --tier="$SQL_TIER" --database-flags=cloudsql.iam_authentication=on
fi
if exists gcloud sql databases describe "$DB_NAME" --instance="$SQL_INSTANCE" --project="$PROJECT_ID"; then
  echo "database $DB_NAME exists"
else
  change gcloud sql databases create "$DB_NAME" --instance="$SQL_INSTANCE" --project="$PROJECT_ID"
fi

# Two database users: the owner runs the migrations (the Cloud Run job), the
# app user is the service's and gets only row access from them (migration 2).
# Each password goes from /dev/urandom to Secret Manager on stdin, and from
# there to Cloud SQL in a flags file on stdin: never printed, never in argv.
for pair in "$DB_USER:$DB_PASSWORD_SECRET" "$DB_OWNER:$DB_OWNER_PASSWORD_SECRET"; do
  user=${pair%%:*} secret=${pair#*:}
  step "Database user $user, its password in Secret Manager ($secret)"
  if exists gcloud secrets describe "$secret" --project="$PROJECT_ID"; then
    echo "secret exists"
  elif $DRY_RUN; then
    echo "would create secret $secret holding a new random password"
  else
    head -c 32 /dev/urandom | base64 | tr -d '/+=\n' |
      change gcloud secrets create "$secret" --project="$PROJECT_ID" \
        --replication-policy=automatic --data-file=-
  fi
  if exists gcloud sql users describe "$user" --instance="$SQL_INSTANCE" --project="$PROJECT_ID"; then
    echo "database user $user exists"
  elif $DRY_RUN; then
    echo "would create database user $user with the password from $secret"
  else
    echo "+ gcloud sql users create $user --instance=$SQL_INSTANCE --flags-file=/dev/stdin (--password from $secret)"
    gcloud secrets versions access latest --secret="$secret" --project="$PROJECT_ID" |
      { IFS= read -r password; printf -- "--password: '%s'\n" "$password"; } |
      gcloud sql users create "$user" --instance="$SQL_INSTANCE" --project="$PROJECT_ID" --flags-file=/dev/stdin
  fi
done

step "Cloud Run service $SERVICE and migration job $MIGRATE_JOB"
# Created here, by you, so that the build account needs rights on these two
# resources only: creating a service or job is checked on the project. Both
# run a placeholder until the first release replaces it; the service is
# private (invokers only), as Cloud Run creates it.
if exists gcloud run services describe "$SERVICE" --project="$PROJECT_ID" --region="$REGION"; then
  echo "service exists"
else
  change gcloud run deploy "$SERVICE" --project="$PROJECT_ID" --region="$REGION" \
    --image="$PLACEHOLDER_SERVICE_IMAGE" --service-account="$RUNTIME_EMAIL" --no-allow-unauthenticated --quiet
fi
if exists gcloud run jobs describe "$MIGRATE_JOB" --project="$PROJECT_ID" --region="$REGION"; then
  echo "job exists"
else
  change gcloud run jobs create "$MIGRATE_JOB" --project="$PROJECT_ID" --region="$REGION" \
    --image="$PLACEHOLDER_JOB_IMAGE" --service-account="$MIGRATE_EMAIL" --quiet
fi

step "Bucket gs://$SOURCE_BUCKET for manual submits' source"
# gcloud builds submit --gcs-source-staging-dir stages the source here; the
# build account may read this bucket only (instead of the default
# gs://PROJECT_cloudbuild, which a user-managed build account cannot read).
if exists gcloud storage buckets describe "gs://$SOURCE_BUCKET" --project="$PROJECT_ID"; then
  echo "bucket exists"
else
  change gcloud storage buckets create "gs://$SOURCE_BUCKET" --project="$PROJECT_ID" --location="$REGION" \
    --uniform-bucket-level-access --public-access-prevention
fi

step "Roles of the runtime service account $RUNTIME_EMAIL"
# Connect to Cloud SQL, write logs, metrics and traces into the project
# (project-level roles); read the app's password only.
grant project "serviceAccount:$RUNTIME_EMAIL" roles/cloudsql.client
grant project "serviceAccount:$RUNTIME_EMAIL" roles/logging.logWriter
grant project "serviceAccount:$RUNTIME_EMAIL" roles/telemetry.metricsWriter
grant project "serviceAccount:$RUNTIME_EMAIL" roles/telemetry.tracesWriter
grant "secret:$DB_PASSWORD_SECRET" "serviceAccount:$RUNTIME_EMAIL" roles/secretmanager.secretAccessor

step "Roles of the migration job's service account $MIGRATE_EMAIL"
# Connect to Cloud SQL as the owner, write logs; read the owner's password only.
grant project "serviceAccount:$MIGRATE_EMAIL" roles/cloudsql.client
grant project "serviceAccount:$MIGRATE_EMAIL" roles/logging.logWriter
grant "secret:$DB_OWNER_PASSWORD_SECRET" "serviceAccount:$MIGRATE_EMAIL" roles/secretmanager.secretAccessor

step "Roles of the build service account $BUILD_EMAIL"
# Build logs go to the project. Everything else is on one resource: update
# and run this service and this job (Cloud Run Admin on the service only
# when it is public: adding allUsers needs setIamPolicy), push to this
# repository, act as the runtime and job accounts, mint ID tokens for itself
# (the smoke test), read manual submits' source.
grant project "serviceAccount:$BUILD_EMAIL" roles/logging.logWriter
if [[ "$ALLOW_UNAUTHENTICATED" == true ]]; then service_role=roles/run.admin; else service_role=roles/run.developer; fi
grant "service:$SERVICE" "serviceAccount:$BUILD_EMAIL" "$service_role"
grant "job:$MIGRATE_JOB" "serviceAccount:$BUILD_EMAIL" roles/run.developer
grant "repository:$REPOSITORY" "serviceAccount:$BUILD_EMAIL" roles/artifactregistry.writer
grant "sa:$RUNTIME_EMAIL" "serviceAccount:$BUILD_EMAIL" roles/iam.serviceAccountUser
grant "sa:$MIGRATE_EMAIL" "serviceAccount:$BUILD_EMAIL" roles/iam.serviceAccountUser
grant "sa:$BUILD_EMAIL" "serviceAccount:$BUILD_EMAIL" roles/iam.serviceAccountOpenIdTokenCreator
grant "bucket:$SOURCE_BUCKET" "serviceAccount:$BUILD_EMAIL" roles/storage.objectViewer

step "Release trigger"
if [[ -z "$GITHUB" ]]; then
  echo "skipped: pass --github=OWNER/REPO to create the tag trigger"
else
  owner=${GITHUB%%/*}
  repo=${GITHUB#*/}
  number=$(gcloud projects describe "$PROJECT_ID" --format='value(projectNumber)')
  # Cloud Build keeps the GitHub token of the connection in a secret it
  # creates, so its service agent needs Secret Manager on the project.
  grant project "serviceAccount:service-$number@gcp-sa-cloudbuild.iam.gserviceaccount.com" roles/secretmanager.admin
  # Who may approve a release build (approvals are checked on the project).
  if [[ -z "$APPROVERS" ]]; then
    account=$(gcloud config get-value account 2>/dev/null || true)
    case "$account" in
      "") ;;
      *.gserviceaccount.com) APPROVERS="serviceAccount:$account" ;;
      *) APPROVERS="user:$account" ;;
    esac
  fi
  if [[ "$REQUIRE_APPROVAL" == true && -z "$APPROVERS" ]]; then
    echo "no approver: set APPROVERS=user:you@example.org, or nobody can approve a release" >&2
  fi
  for member in ${APPROVERS//,/ }; do
    grant project "$member" roles/cloudbuild.builds.approver
  done
  if exists gcloud builds connections describe "$GITHUB_CONNECTION" --region="$REGION" --project="$PROJECT_ID"; then
    echo "connection $GITHUB_CONNECTION exists"
  else
    change gcloud builds connections create github "$GITHUB_CONNECTION" --region="$REGION" --project="$PROJECT_ID"
  fi
  stage=$(gcloud builds connections describe "$GITHUB_CONNECTION" --region="$REGION" --project="$PROJECT_ID" \
    --format='value(installationState.stage)' 2>/dev/null || true)
  if [[ "$stage" != COMPLETE ]]; then
    echo "The GitHub connection '$GITHUB_CONNECTION' is not authorized yet (stage: ${stage:-none})."
    echo "Open the link printed above, or Cloud Build > Repositories (2nd gen) in the console,"
    echo "install the Cloud Build GitHub App on $GITHUB, then run this script again."
  else
    if exists gcloud builds repositories describe "$repo" --connection="$GITHUB_CONNECTION" --region="$REGION" --project="$PROJECT_ID"; then
      echo "repository $repo exists"
    else
      change gcloud builds repositories create "$repo" --project="$PROJECT_ID" \
        --connection="$GITHUB_CONNECTION" --region="$REGION" \
        --remote-uri="https://github.com/$owner/$repo.git"
    fi
    if exists gcloud builds triggers describe "$TRIGGER_NAME" --region="$REGION" --project="$PROJECT_ID"; then
      echo "trigger $TRIGGER_NAME exists"
      # Approval is not changed on an existing trigger: say how, if it differs.
      required=$(gcloud builds triggers describe "$TRIGGER_NAME" --region="$REGION" --project="$PROJECT_ID" \
        --format='value(approvalConfig.approvalRequired)' 2>/dev/null || true)
      if [[ "${required,,}" != true ]]; then required=false; fi
      if [[ "$required" != "$REQUIRE_APPROVAL" ]]; then
        echo "trigger $TRIGGER_NAME has approvalRequired=$required, REQUIRE_APPROVAL=$REQUIRE_APPROVAL: change it with"
        echo "  gcloud builds triggers export $TRIGGER_NAME --region=$REGION --destination=trigger.yaml"
        echo "  (set approvalConfig.approvalRequired: $REQUIRE_APPROVAL in trigger.yaml)"
        echo "  gcloud builds triggers import --region=$REGION --source=trigger.yaml"
      fi
    else
      if [[ "$REQUIRE_APPROVAL" == true ]]; then approval=--require-approval; else approval=--no-require-approval; fi
      change gcloud builds triggers create github --name="$TRIGGER_NAME" --project="$PROJECT_ID" \
        --region="$REGION" \
        --repository="projects/$PROJECT_ID/locations/$REGION/connections/$GITHUB_CONNECTION/repositories/$repo" \
        --tag-pattern="$TAG_PATTERN" --build-config=cloudbuild.yaml \
        --service-account="projects/$PROJECT_ID/serviceAccounts/$BUILD_EMAIL" "$approval" \
        --substitutions="_REGION=$REGION,_REPOSITORY=$REPOSITORY,_SERVICE=$SERVICE,_RUNTIME_SA=$RUNTIME_SA,_SQL_INSTANCE=$SQL_INSTANCE,_DB_NAME=$DB_NAME,_DB_USER=$DB_USER,_DB_PASSWORD_SECRET=$DB_PASSWORD_SECRET,_DB_OWNER=$DB_OWNER,_DB_OWNER_PASSWORD_SECRET=$DB_OWNER_PASSWORD_SECRET,_MIGRATE_SA=$MIGRATE_SA,_MIGRATE_JOB=$MIGRATE_JOB,_ALLOW_UNAUTHENTICATED=$ALLOW_UNAUTHENTICATED"
    fi
  fi
fi

step "Done"
if $DRY_RUN; then
  echo "dry run: nothing was changed"
else
  echo "Release with: git tag v0.1.0 && git push --tags (then approve the build: docs/deploy.md#approval)"
  echo "or without a trigger, from a clean checkout (the same command as docs/deploy.md#manual-submit):"
  echo
  echo "PROJECT_ID=$PROJECT_ID"
  echo "gcloud builds submit --region=$REGION --config=cloudbuild.yaml \\"
  echo "  --service-account=\"projects/\$PROJECT_ID/serviceAccounts/$BUILD_SA@\$PROJECT_ID.iam.gserviceaccount.com\" \\"
  echo "  --gcs-source-staging-dir=\"gs://${SOURCE_BUCKET/#$PROJECT_ID/\$PROJECT_ID}/source\" \\"
  echo "  --substitutions=\"TAG_NAME=\$(git describe --always --tags),COMMIT_SHA=\$(git rev-parse HEAD)\""
fi

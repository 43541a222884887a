#!/usr/bin/env bash
# One-time setup of a Google Cloud project for example-function: APIs, Artifact
# Registry, Cloud SQL (PostgreSQL) with two database users (the owner that
# migrates, the app role the service runs as) and their passwords in Secret
# Manager, a runtime, a migration-job and a build service account with
# least-privilege roles, and the Cloud Build trigger that releases every
# pushed tag v* (cloudbuild.yaml).
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
#   MIGRATE_SA=example-function-migrate
#   SQL_INSTANCE=example-function SQL_VERSION=POSTGRES_17 SQL_TIER=db-f1-micro
#   SQL_EDITION=ENTERPRISE DB_NAME=app DB_USER=app DB_OWNER=app_owner
#   DB_PASSWORD_SECRET=example-function-db-password
#   DB_OWNER_PASSWORD_SECRET=example-function-db-owner-password
#   GITHUB_CONNECTION=github TRIGGER_NAME=example-function-release TAG_PATTERN='^v.*$'
set -euo pipefail

DRY_RUN=false
PROJECT_ID=${PROJECT_ID:-}
REGION=${REGION:-us-central1}
SERVICE=${SERVICE:-example-function}
REPOSITORY=${REPOSITORY:-example-function}
RUNTIME_SA=${RUNTIME_SA:-example-function-run}
BUILD_SA=${BUILD_SA:-example-function-build}
MIGRATE_SA=${MIGRATE_SA:-example-function-migrate}
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

step "Roles of the runtime service account $RUNTIME_EMAIL"
# Project-level: connect to Cloud SQL, write logs, metrics and traces.
for role in roles/cloudsql.client roles/cloudsql.instanceUser roles/logging.logWriter \
  roles/monitoring.metricWriter roles/cloudtrace.agent roles/telemetry.tracesWriter; do
  change gcloud projects add-iam-policy-binding "$PROJECT_ID" \
    --member="serviceAccount:$RUNTIME_EMAIL" --role="$role" --condition=None --quiet
done
# Resource-level: read this one secret, nothing else.
change gcloud secrets add-iam-policy-binding "$DB_PASSWORD_SECRET" --project="$PROJECT_ID" \
  --member="serviceAccount:$RUNTIME_EMAIL" --role=roles/secretmanager.secretAccessor --quiet

step "Roles of the migration job's service account $MIGRATE_EMAIL"
# Connect to Cloud SQL as the owner, write logs; read the owner's password only.
for role in roles/cloudsql.client roles/logging.logWriter; do
  change gcloud projects add-iam-policy-binding "$PROJECT_ID" \
    --member="serviceAccount:$MIGRATE_EMAIL" --role="$role" --condition=None --quiet
done
change gcloud secrets add-iam-policy-binding "$DB_OWNER_PASSWORD_SECRET" --project="$PROJECT_ID" \
  --member="serviceAccount:$MIGRATE_EMAIL" --role=roles/secretmanager.secretAccessor --quiet

step "Roles of the build service account $BUILD_EMAIL"
# Deploy the service and the migration job (run.admin: the deploy also sets
# the service's IAM policy for --[no-]allow-unauthenticated) and write build
# logs. The build never connects to the database: the job does.
for role in roles/run.admin roles/logging.logWriter; do
  change gcloud projects add-iam-policy-binding "$PROJECT_ID" \
    --member="serviceAccount:$BUILD_EMAIL" --role="$role" --condition=None --quiet
done
# Push to this repository only; act as the runtime and migration accounts
# only; mint ID tokens for itself only (the smoke test's token, through
# --impersonate-service-account: getOpenIdToken and nothing else).
change gcloud artifacts repositories add-iam-policy-binding "$REPOSITORY" --project="$PROJECT_ID" \
  --location="$REGION" --member="serviceAccount:$BUILD_EMAIL" --role=roles/artifactregistry.writer --quiet
for sa in "$RUNTIME_EMAIL" "$MIGRATE_EMAIL"; do
  change gcloud iam service-accounts add-iam-policy-binding "$sa" --project="$PROJECT_ID" \
    --member="serviceAccount:$BUILD_EMAIL" --role=roles/iam.serviceAccountUser --quiet
done
change gcloud iam service-accounts add-iam-policy-binding "$BUILD_EMAIL" --project="$PROJECT_ID" \
  --member="serviceAccount:$BUILD_EMAIL" --role=roles/iam.serviceAccountOpenIdTokenCreator --quiet

step "Release trigger"
if [[ -z "$GITHUB" ]]; then
  echo "skipped: pass --github=OWNER/REPO to create the tag trigger"
else
  owner=${GITHUB%%/*}
  repo=${GITHUB#*/}
  number=$(gcloud projects describe "$PROJECT_ID" --format='value(projectNumber)')
  # Cloud Build keeps the GitHub token of the connection in Secret Manager.
  change gcloud projects add-iam-policy-binding "$PROJECT_ID" \
    --member="serviceAccount:service-$number@gcp-sa-cloudbuild.iam.gserviceaccount.com" \
    --role=roles/secretmanager.admin --condition=None --quiet
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
    else
      change gcloud builds triggers create github --name="$TRIGGER_NAME" --project="$PROJECT_ID" \
        --region="$REGION" \
        --repository="projects/$PROJECT_ID/locations/$REGION/connections/$GITHUB_CONNECTION/repositories/$repo" \
        --tag-pattern="$TAG_PATTERN" --build-config=cloudbuild.yaml \
        --service-account="projects/$PROJECT_ID/serviceAccounts/$BUILD_EMAIL" \
        --substitutions="_REGION=$REGION,_REPOSITORY=$REPOSITORY,_SERVICE=$SERVICE,_RUNTIME_SA=$RUNTIME_SA,_SQL_INSTANCE=$SQL_INSTANCE,_DB_NAME=$DB_NAME,_DB_USER=$DB_USER,_DB_PASSWORD_SECRET=$DB_PASSWORD_SECRET,_DB_OWNER=$DB_OWNER,_DB_OWNER_PASSWORD_SECRET=$DB_OWNER_PASSWORD_SECRET,_MIGRATE_SA=$MIGRATE_SA"
    fi
  fi
fi

step "Done"
if $DRY_RUN; then
  echo "dry run: nothing was changed"
else
  echo "Release with: git tag v0.1.0 && git push --tags"
  echo "or without a trigger: gcloud builds submit --config=cloudbuild.yaml --service-account=projects/$PROJECT_ID/serviceAccounts/$BUILD_EMAIL \\"
  echo "  --substitutions=TAG_NAME=\$(git describe --always --tags),COMMIT_SHA=\$(git rev-parse HEAD)"
fi

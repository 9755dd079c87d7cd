#!/bin/sh
# One-shot MinIO setup for docker-compose.yml (run by the `minio-setup` service, image minio/mc).
# Idempotent: safe to run on every `docker compose up`.
#   1. the bucket;
#   2. the app's own user, limited to that bucket by a policy (the app never uses the root account)
#      that also forbids it to write or delete under the input prefix: sources are read-only to it;
#   3. the bucket notification: object created under the input prefix -> the webhook target
#      (configured on the server by the MINIO_NOTIFY_WEBHOOK_*_copydesk variables) -> listener.
set -eu

: "${MINIO_URL:?}" "${MINIO_ROOT_USER:?}" "${MINIO_ROOT_PASSWORD:?}"
: "${BUCKET_NAME:?}" "${INPUT_PREFIX:?}" "${WEBHOOK_ARN:?}"
: "${APP_S3_ACCESS_KEY:?}" "${APP_S3_SECRET_KEY:?}"

mc alias set local "$MINIO_URL" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null

mc mb --ignore-existing "local/$BUCKET_NAME"

policy_file=$(mktemp)
cat >"$policy_file" <<POLICY
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketVersions"],
      "Resource": ["arn:aws:s3:::$BUCKET_NAME"]
    },
    {
      "Effect": "Allow",
      "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject"],
      "Resource": ["arn:aws:s3:::$BUCKET_NAME/*"]
    },
    {
      "Effect": "Deny",
      "Action": ["s3:PutObject", "s3:DeleteObject"],
      "Resource": ["arn:aws:s3:::$BUCKET_NAME/$INPUT_PREFIX*"]
    }
  ]
}
POLICY
mc admin policy create local copydesk-app "$policy_file"
rm -f "$policy_file"

mc admin user add local "$APP_S3_ACCESS_KEY" "$APP_S3_SECRET_KEY"
if ! out=$(mc admin policy attach local copydesk-app --user "$APP_S3_ACCESS_KEY" 2>&1); then
    case "$out" in
        *"already in effect"*|*"already attached"*) ;;  # a re-run: nothing to do
        *) echo "$out" >&2; exit 1 ;;
    esac
fi

mc event add --ignore-existing --event put --prefix "$INPUT_PREFIX" "local/$BUCKET_NAME" "$WEBHOOK_ARN"
mc event ls "local/$BUCKET_NAME"
echo "minio-setup: bucket $BUCKET_NAME ready, notifications for $INPUT_PREFIX -> $WEBHOOK_ARN"

#!/bin/sh
# CodeDeploy ValidateService hook (EC2/on-premises): greenlight decides whether this
# instance's new revision may take traffic. The exit code is greenlight's: 0 promote,
# 1 rollback, 2 inconclusive, 3 invalid input, 4 an error — CodeDeploy fails the lifecycle
# event, and the deployment, on anything but 0.
#
# Settings (the instance's environment, e.g. /etc/greenlight/validate.env):
#   GREENLIGHT_SPEC      the analysis file            (default /etc/greenlight/analysis.yaml)
#   GREENLIGHT_BASELINE  the production fleet's URL   (the load balancer)
#   GREENLIGHT_CANDIDATE this instance's URL          (default http://127.0.0.1:8080)
#   GREENLIGHT_REPORTS   where reports are kept       (default /var/log/greenlight)
set -eu

[ -r /etc/greenlight/validate.env ] && . /etc/greenlight/validate.env

spec=${GREENLIGHT_SPEC:-/etc/greenlight/analysis.yaml}
baseline=${GREENLIGHT_BASELINE:?set GREENLIGHT_BASELINE to the production URL}
candidate=${GREENLIGHT_CANDIDATE:-http://127.0.0.1:8080}
reports=${GREENLIGHT_REPORTS:-/var/log/greenlight}

# CodeDeploy sets these for every hook script.
id=${DEPLOYMENT_ID:-manual}
echo "greenlight: ${APPLICATION_NAME:-?}/${DEPLOYMENT_GROUP_NAME:-?} deployment $id, ${LIFECYCLE_EVENT:-ValidateService}"

mkdir -p "$reports"
exec greenlight verify "$spec" \
  --env "blue=$baseline" --env "green=$candidate" \
  --baseline blue --candidate green \
  --report "json=$reports/$id.json" --report "junit=$reports/$id.xml"

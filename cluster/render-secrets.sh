#!/usr/bin/env bash
# Renders the deployable copies of cluster/ with secrets into OUT_DIR (mode 0600):
# users.acl (password hashes) and redis-cluster.conf + `masterauth`. The same
# renderer as sentinel/, run on this folder.
#
# usage: SECRETS_DIR=/run/secrets/redis OUT_DIR=/etc/redis cluster/render-secrets.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REDSCOPE_RENDER_DIR="$here" exec "$here/../sentinel/render-secrets.sh"

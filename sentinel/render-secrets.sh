#!/usr/bin/env bash
# Renders the deployable copies of the configs in this folder, with secrets,
# into OUT_DIR (mode 0600, owner: whoever runs this; chown them to redis):
#
#   users.acl            users.acl.template with {{sha256:NAME}} -> SHA-256 of NAME's password
#   redis-master.conf    + `masterauth <replica password>`
#   redis-replica.conf   + `masterauth <replica password>`
#   sentinel.conf        + `sentinel auth-pass <master> <sentinel password>`
#
# Passwords come from SECRETS_DIR/<user>.password (admin, app, exporter,
# replica, sentinel), e.g. mounted from your secret store. Nothing is echoed.
# The launcher (stack/acl.ts) renders users.acl the same way; a test checks it.
#
# usage: SECRETS_DIR=/run/secrets/redis OUT_DIR=/etc/redis sentinel/render-secrets.sh
# cluster/render-secrets.sh runs this script on cluster/ (REDSCOPE_RENDER_DIR): users.acl
# and redis-cluster.conf + `masterauth`.
set -euo pipefail

here="${REDSCOPE_RENDER_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"
: "${SECRETS_DIR:?set SECRETS_DIR to the folder holding admin.password, app.password, ...}"
: "${OUT_DIR:?set OUT_DIR to the folder the rendered configs go to}"
umask 077
mkdir -p "$OUT_DIR"

password_of() {
  local file="$SECRETS_DIR/$1.password"
  [[ -s "$file" ]] || { echo "render-secrets: missing or empty $file" >&2; exit 2; }
  local value
  value="$(tr -d '\n' <"$file")"
  # Written unquoted into redis.conf: keep to a safe alphabet (same rule as stack/acl.ts).
  [[ "$value" =~ ^[A-Za-z0-9._~+/=-]{16,}$ ]] || {
    echo "render-secrets: $file must hold at least 16 characters of [A-Za-z0-9._~+/=-]" >&2
    exit 2
  }
  printf '%s' "$value"
}

# users.acl: drop comments (Redis' ACL files have none), replace each placeholder by the hash.
acl="$(grep -v '^[[:space:]]*#' "$here/users.acl.template" | cat -s)"
while [[ "$acl" =~ \{\{sha256:([a-zA-Z0-9_-]+)\}\} ]]; do
  user="${BASH_REMATCH[1]}"
  hash="$(password_of "$user" | sha256sum | cut -d' ' -f1)"
  acl="${acl//"{{sha256:$user}}"/$hash}"
done
printf '%s\n' "$(printf '%s' "$acl" | sed -e '/./,$!d')" >"$OUT_DIR/users.acl"

replica_password="$(password_of replica)"
written=(users.acl)
for conf in redis-master.conf redis-replica.conf redis-cluster.conf; do
  [[ -f "$here/$conf" ]] || continue
  { cat "$here/$conf"; printf '\n# rendered by render-secrets.sh\nmasterauth %s\n' "$replica_password"; } \
    >"$OUT_DIR/$conf"
  written+=("$conf")
done

if [[ ! -f "$here/sentinel.conf" ]]; then
  echo "render-secrets: wrote ${written[*]} to $OUT_DIR"
  exit 0
fi
master_name="$(awk '$1 == "sentinel" && $2 == "monitor" { print $3; exit }' "$here/sentinel.conf")"
{
  cat "$here/sentinel.conf"
  printf '\n# rendered by render-secrets.sh\nsentinel auth-pass %s %s\n' "$master_name" "$(password_of sentinel)"
} >"$OUT_DIR/sentinel.conf"
echo "render-secrets: wrote users.acl, redis-master.conf, redis-replica.conf, sentinel.conf to $OUT_DIR"

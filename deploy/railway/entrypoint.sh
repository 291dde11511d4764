#!/bin/sh
# redscope on Railway: one image for every Redis node and Sentinel. This script
# renders the production configs of sentinel/ for this service from its Railway
# variables, then runs redis-server or redis-sentinel in its place (exec), so
# Railway's SIGTERM reaches Redis directly and it shuts down cleanly.
#
# deploy/railway/README.md lists the variables and the steps; docs/railway.md
# explains the layout. POSIX sh on purpose: the Redis image has no Node.
#
# Variables (Railway provides RAILWAY_PRIVATE_DOMAIN and RAILWAY_VOLUME_MOUNT_PATH):
#   REDSCOPE_ROLE                master | replica | sentinel (first boot; see "Role")
#   REDSCOPE_MASTER_HOST         the initial master's private domain (replicas, Sentinels)
#   REDSCOPE_ANNOUNCE_HOST       the name others reach this node by (default RAILWAY_PRIVATE_DOMAIN)
#   REDSCOPE_PASSWORD_<USER>     ADMIN APP EXPORTER REPLICA SENTINEL (data nodes: all; Sentinels: SENTINEL)
#   REDSCOPE_TLS_SOURCE          variables (default): REDSCOPE_TLS_{CA,CERT,KEY}_B64, base64 PEM
#                                volume: ca.crt, redis.crt, redis.key in REDSCOPE_TLS_DIR (default <volume>/tls)
#   REDSCOPE_MIN_REPLICAS_TO_WRITE  overrides the template's 1 (0 for a single node)
#   REDSCOPE_PORT, REDSCOPE_MASTER_PORT, REDSCOPE_QUORUM, REDSCOPE_BIND  rarely changed
#   REDSCOPE_RENDER_ONLY=1       write the configs, print the command, do not start
set -eu

die() {
  echo "redscope-railway: $*" >&2
  exit 2
}
say() { echo "redscope-railway: $*" >&2; }

templates=${REDSCOPE_TEMPLATES:-/etc/redscope/sentinel}
data=${REDSCOPE_DATA_DIR:-${RAILWAY_VOLUME_MOUNT_PATH:-/data}}
run=${REDSCOPE_RUN_DIR:-/run/redscope}
role=${REDSCOPE_ROLE:-}
announce=${REDSCOPE_ANNOUNCE_HOST:-${RAILWAY_PRIVATE_DOMAIN:-}}
bind=${REDSCOPE_BIND:-* -::*}

# --- checks: every message names the variable to fix -------------------------

case $role in
master | replica) default_port=6379 ;;
sentinel) default_port=26379 ;;
'') die "REDSCOPE_ROLE is not set: give master, replica or sentinel" ;;
*) die "REDSCOPE_ROLE=$role is not a role: give master, replica or sentinel" ;;
esac
port=${REDSCOPE_PORT:-$default_port}
master_port=${REDSCOPE_MASTER_PORT:-6379}
quorum=${REDSCOPE_QUORUM:-2}

is_port() { case $1 in '' | *[!0-9]*) return 1 ;; *) [ "$1" -ge 1 ] && [ "$1" -le 65535 ] ;; esac }
is_port "$port" || die "REDSCOPE_PORT=$port is not a port number"
is_port "$master_port" || die "REDSCOPE_MASTER_PORT=$master_port is not a port number"
case $quorum in '' | *[!0-9]*) die "REDSCOPE_QUORUM=$quorum is not a number" ;; esac

# A host name (Railway's <service>.railway.internal) or an IP address: written
# unquoted into the configs, so nothing else may pass.
is_host() {
  case $1 in '' | *[!A-Za-z0-9.:_-]*) return 1 ;; esac
}
[ -n "$announce" ] || die "neither REDSCOPE_ANNOUNCE_HOST nor RAILWAY_PRIVATE_DOMAIN is set: the name other services reach this one by"
is_host "$announce" || die "REDSCOPE_ANNOUNCE_HOST=$announce is not a host name"
case $data in /*) ;; *) die "the data folder $data must be an absolute path (REDSCOPE_DATA_DIR or the volume's mount path)" ;; esac
case $data$run in *[[:space:]]*) die "the data folder $data and run folder $run must not contain spaces" ;; esac
[ -d "$templates" ] || die "no templates in $templates (REDSCOPE_TEMPLATES): the image copies sentinel/ there"

master_host=${REDSCOPE_MASTER_HOST:-}
if [ "$role" != master ]; then
  [ -n "$master_host" ] || die "REDSCOPE_MASTER_HOST is not set: the initial master's private domain, e.g. \${{redis-1.RAILWAY_PRIVATE_DOMAIN}}"
  is_host "$master_host" || die "REDSCOPE_MASTER_HOST=$master_host is not a host name"
fi

umask 077
mkdir -p "$data/redscope" "$run"

# --- editing a redis.conf / sentinel.conf ------------------------------------

# set_directive FILE KEY [VALUE]: replaces the directive KEY (one word, or two for
# `sentinel <sub>`, as stack/redis-config.ts reads them) with "KEY VALUE", or
# appends it; without VALUE removes it. Values go through the environment, not
# awk -v, so nothing in them is interpreted.
set_directive() {
  file=$1
  key=$2
  if [ $# -ge 3 ]; then has_value=1 value=$3; else has_value=0 value=; fi
  KEY=$key VALUE=$value HAS_VALUE=$has_value awk '
    function keyof(   first) {
      first = tolower($1)
      if (first ~ /^#/ || NF == 0) return ""
      if (first == "sentinel" && NF > 1) return "sentinel " tolower($2)
      return first
    }
    BEGIN { key = tolower(ENVIRON["KEY"]); done = 0 }
    keyof() == key {
      if (ENVIRON["HAS_VALUE"] == "1" && !done) print ENVIRON["KEY"] " " ENVIRON["VALUE"]
      done = 1
      next
    }
    { print }
    END {
      if (ENVIRON["HAS_VALUE"] == "1" && !done) print ENVIRON["KEY"] " " ENVIRON["VALUE"]
    }
  ' "$file" >"$file.edit"
  mv "$file.edit" "$file"
}

# directive_of FILE KEY: the arguments of the last KEY directive in FILE, if any.
directive_of() {
  KEY=$2 awk '
    BEGIN { key = tolower(ENVIRON["KEY"]); n = split(key, parts, " ") }
    {
      first = tolower($1)
      if (n == 2 && first == parts[1] && tolower($2) == parts[2]) { $1 = ""; $2 = ""; found = $0 }
      else if (n == 1 && first == key) { $1 = ""; found = $0 }
    }
    END { sub(/^ +/, "", found); print found }
  ' "$1"
}

# --- TLS files ---------------------------------------------------------------

tls_source=${REDSCOPE_TLS_SOURCE:-variables}
case $tls_source in
variables)
  tls_dir=$run/tls
  mkdir -p "$tls_dir"
  # write_pem VARIABLE FILE: a base64 PEM variable into FILE (mode 0600).
  write_pem() {
    eval "encoded=\${$1:-}"
    [ -n "$encoded" ] || die "$1 is not set (base64 of the PEM file; or set REDSCOPE_TLS_SOURCE=volume)"
    printf '%s' "$encoded" | base64 -d >"$2" 2>/dev/null || die "$1 is not valid base64"
    grep -q -e '-----BEGIN ' "$2" || die "$1 does not decode to a PEM file (encode the .crt/.key file itself)"
  }
  write_pem REDSCOPE_TLS_CA_B64 "$tls_dir/ca.crt"
  write_pem REDSCOPE_TLS_CERT_B64 "$tls_dir/redis.crt"
  write_pem REDSCOPE_TLS_KEY_B64 "$tls_dir/redis.key"
  ;;
volume)
  tls_dir=${REDSCOPE_TLS_DIR:-$data/tls}
  for file in ca.crt redis.crt redis.key; do
    [ -s "$tls_dir/$file" ] || die "REDSCOPE_TLS_SOURCE=volume but $tls_dir/$file is missing or empty (copy it there first, see docs/railway.md)"
  done
  ;;
*) die "REDSCOPE_TLS_SOURCE=$tls_source: give variables or volume" ;;
esac

apply_tls() {
  set_directive "$1" port 0
  set_directive "$1" tls-port "$port"
  set_directive "$1" tls-cert-file "$tls_dir/redis.crt"
  set_directive "$1" tls-key-file "$tls_dir/redis.key"
  set_directive "$1" tls-ca-cert-file "$tls_dir/ca.crt"
  set_directive "$1" bind "$bind"
}

# password_of USER: REDSCOPE_PASSWORD_<USER>, checked like render-secrets.sh does.
password_of() {
  name=REDSCOPE_PASSWORD_$(echo "$1" | tr '[:lower:]' '[:upper:]')
  eval "value=\${$name:-}"
  [ -n "$value" ] || die "$name is not set (the $1 user's password, 16+ characters of [A-Za-z0-9._~+/=-])"
  case $value in *[!A-Za-z0-9._~+/=-]*) die "$name has characters outside [A-Za-z0-9._~+/=-]" ;; esac
  [ "${#value}" -ge 16 ] || die "$name is shorter than 16 characters"
  printf '%s' "$value"
}

# --- Sentinel ----------------------------------------------------------------

# epoch_of FILE KIND MASTER: N of the `sentinel KIND MASTER N` line (config-epoch,
# leader-epoch), if FILE has one for MASTER and N is a number.
epoch_of() {
  line=$(directive_of "$1" "sentinel $2")
  case $line in
  "$3 "*) epoch=${line#"$3 "} ;;
  *) return 0 ;;
  esac
  case $epoch in '' | *[!0-9]*) return 0 ;; esac
  printf '%s' "$epoch"
}

render_sentinel() {
  conf=$data/redscope/sentinel.conf
  master_name=$(directive_of "$templates/sentinel.conf" 'sentinel monitor' | cut -d' ' -f1)
  [ -n "$master_name" ] || die "$templates/sentinel.conf has no 'sentinel monitor' line"
  # Checked before anything is written: inside $(...) a failure would only end
  # the subshell, and the file would get an empty password.
  sentinel_password=$(password_of sentinel) || exit 2
  # Sentinel rewrites its config with what it learns. Re-rendered at each boot
  # (so new variables and templates apply), it keeps what must survive a
  # restart: its id (peers know it by that), the master it last knew (after a
  # failover not the initial one; a stale one is corrected by the other
  # Sentinels' hellos), and its epochs: current-epoch, and the master's
  # config-epoch and leader-epoch. Back at epoch 0, a Sentinel would vote again
  # in an election it already voted in, and two leaders could fail over at once.
  myid=
  current_epoch=
  config_epoch=
  leader_epoch=
  monitor="$master_host $master_port"
  if [ -s "$conf" ]; then
    myid=$(directive_of "$conf" 'sentinel myid')
    last=$(directive_of "$conf" 'sentinel monitor' | cut -d' ' -f2,3)
    if [ -n "$last" ]; then monitor=$last; fi
    current_epoch=$(directive_of "$conf" 'sentinel current-epoch')
    config_epoch=$(epoch_of "$conf" config-epoch "$master_name")
    leader_epoch=$(epoch_of "$conf" leader-epoch "$master_name")
  fi
  cp "$templates/sentinel.conf" "$conf.new"
  apply_tls "$conf.new"
  set_directive "$conf.new" dir "$data"
  set_directive "$conf.new" 'sentinel resolve-hostnames' yes
  set_directive "$conf.new" 'sentinel announce-hostnames' yes
  set_directive "$conf.new" 'sentinel announce-ip' "$announce"
  set_directive "$conf.new" 'sentinel announce-port' "$port"
  set_directive "$conf.new" 'sentinel monitor' "$master_name $monitor $quorum"
  set_directive "$conf.new" 'sentinel auth-pass' "$master_name $sentinel_password"
  if [ -n "$myid" ]; then set_directive "$conf.new" 'sentinel myid' "$myid"; fi
  if [ -n "$current_epoch" ]; then set_directive "$conf.new" 'sentinel current-epoch' "$current_epoch"; fi
  if [ -n "$config_epoch" ]; then set_directive "$conf.new" 'sentinel config-epoch' "$master_name $config_epoch"; fi
  if [ -n "$leader_epoch" ]; then set_directive "$conf.new" 'sentinel leader-epoch' "$master_name $leader_epoch"; fi
  mv "$conf.new" "$conf"
  say "Sentinel $announce:$port monitors $master_name at ${monitor% *}:${monitor#* } (quorum $quorum)"
  command_line="redis-sentinel $conf"
}

# --- data nodes --------------------------------------------------------------

render_data_node() {
  conf=$data/redscope/redis.conf
  # The users and the replication password through render-secrets.sh, exactly
  # as on any other host; the passwords only live in a folder removed at once.
  secrets=$run/secrets
  rm -rf "$secrets" "$run/rendered"
  mkdir -p "$secrets"
  for user in admin app exporter replica sentinel; do
    password_of "$user" >"$secrets/$user.password"
  done
  SECRETS_DIR=$secrets OUT_DIR=$run/rendered bash "$templates/render-secrets.sh" >/dev/null ||
    { rm -rf "$secrets"; die "render-secrets.sh failed (its message is above)"; }
  rm -rf "$secrets"

  # Role: REDSCOPE_ROLE decides the first boot. Afterwards a node keeps the role
  # its config last had, because Sentinel records what it tells a node there
  # (CONFIG REWRITE): a master that Sentinel demoted, or a replica it pointed at
  # a new master, restarts that way. Nothing here can know of a failover the
  # node missed: the initial master, killed before the failover and redeployed,
  # still has no replicaof line and comes back as a master, until Sentinel
  # demotes it (about 11 s in docs/railway.md's measurement; it takes no writes
  # meanwhile, having no replica for min-replicas-to-write).
  from="REDSCOPE_ROLE=$role"
  replicaof=
  if [ "$role" = replica ]; then replicaof="$master_host $master_port"; fi
  if [ -s "$conf" ]; then
    replicaof=$(directive_of "$conf" replicaof)
    from="its config from the last boot (REDSCOPE_ROLE applies to a first boot)"
  fi
  if [ -n "$replicaof" ]; then template=redis-replica.conf; else template=redis-master.conf; fi

  cp "$run/rendered/$template" "$conf.new"
  apply_tls "$conf.new"
  set_directive "$conf.new" aclfile "$run/rendered/users.acl"
  set_directive "$conf.new" dir "$data"
  set_directive "$conf.new" replica-announce-ip "$announce"
  set_directive "$conf.new" replica-announce-port "$port"
  if [ -n "$replicaof" ]; then
    set_directive "$conf.new" replicaof "$replicaof"
  else
    set_directive "$conf.new" replicaof
  fi
  if [ -n "${REDSCOPE_MIN_REPLICAS_TO_WRITE:-}" ]; then
    case $REDSCOPE_MIN_REPLICAS_TO_WRITE in *[!0-9]*) die "REDSCOPE_MIN_REPLICAS_TO_WRITE=$REDSCOPE_MIN_REPLICAS_TO_WRITE is not a number" ;; esac
    set_directive "$conf.new" min-replicas-to-write "$REDSCOPE_MIN_REPLICAS_TO_WRITE"
  fi
  mv "$conf.new" "$conf"
  if [ -n "$replicaof" ]; then
    say "$announce:$port starts as a replica of ${replicaof% *}:${replicaof#* }, from $from"
  else
    say "$announce:$port starts as a master, from $from"
  fi
  command_line="redis-server $conf"
}

if [ "$role" = sentinel ]; then render_sentinel; else render_data_node; fi

# Redis gets none of the secrets in its environment: they are in the files now.
unset REDSCOPE_PASSWORD_ADMIN REDSCOPE_PASSWORD_APP REDSCOPE_PASSWORD_EXPORTER \
  REDSCOPE_PASSWORD_REPLICA REDSCOPE_PASSWORD_SENTINEL REDSCOPE_TLS_KEY_B64

if [ "${REDSCOPE_RENDER_ONLY:-}" = 1 ]; then
  echo "$command_line"
  exit 0
fi

# As root (Railway's default for this image), hand the files to the redis user
# and drop privileges the way the official image's entrypoint does.
if [ "$(id -u)" = 0 ] && command -v gosu >/dev/null 2>&1; then
  find "$data" "$run" \! -user redis -exec chown redis:redis '{}' +
  # shellcheck disable=SC2086 # the command line is two words without spaces
  exec gosu redis $command_line
fi
# shellcheck disable=SC2086
exec $command_line

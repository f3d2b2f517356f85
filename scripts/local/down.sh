#!/usr/bin/env bash
# make down: destroy what `make up` provisioned (the services; their data
# stays in the host's store folder), then stop the host it started.
set -euo pipefail

# Colour codes only for a terminal: a log or a pipe gets plain text.
NO_COLOR_FLAG=()
[[ -t 1 ]] || NO_COLOR_FLAG=(-no-color)

: "${PROVIDER_DIR:?}" "${TOFU:?}" "${STATE_DIR:?}" "${DATA_DIR:?}" "${ADDR:?}"
PID_FILE="$STATE_DIR/host.pid"
TF_STATE="$STATE_DIR/local.tfstate"
STOP_TIMEOUT_S=20
EXAMPLE="$(cd "$(dirname "$0")/../../examples/local" && pwd)"

running() { [[ -f "$PID_FILE" ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; }

if [[ -f "$TF_STATE" ]] && running; then
  export ACQUIRE_HOST_TOKEN ACQUIRE_ADMIN_PASSWORD=unused-on-destroy
  ACQUIRE_HOST_TOKEN=$(cat "$DATA_DIR/admin.token")
  export TF_CLI_CONFIG_FILE="$STATE_DIR/tofurc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
  "$TOFU" -chdir="$EXAMPLE" destroy -auto-approve -input=false -compact-warnings "${NO_COLOR_FLAG[@]}" -state="$TF_STATE" -var "host_url=http://$ADDR"
fi

if running; then
  pid=$(cat "$PID_FILE")
  kill -TERM "$pid" # graceful: calls in flight finish
  for ((i = 0; i < STOP_TIMEOUT_S * 10; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then echo "acquire host (pid $pid) did not stop in ${STOP_TIMEOUT_S}s" >&2; exit 1; fi
  echo "acquire host stopped"
fi
rm -f "$PID_FILE" "$STATE_DIR/cli.env" # the services it pointed at are gone

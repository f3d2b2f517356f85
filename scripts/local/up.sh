#!/usr/bin/env bash
# make up: start `acquire host` in the background with no fixed services, then
# provision examples/local on it through the provider and OpenTofu, and print
# what to try next. Idempotent: a running host is reused, a second apply
# changes nothing. `make down` (down.sh) undoes it.
#
# Inputs (from the GNUmakefile): ACQUIRE (binary), PROVIDER_DIR (folder of the
# built provider), TOFU, STATE_DIR (.acquire), DATA_DIR, ADDR.
set -euo pipefail

# Colour codes only for a terminal: a log or a pipe gets plain text.
NO_COLOR_FLAG=()
[[ -t 1 ]] || NO_COLOR_FLAG=(-no-color)

: "${ACQUIRE:?}" "${PROVIDER_DIR:?}" "${TOFU:?}" "${STATE_DIR:?}" "${DATA_DIR:?}" "${ADDR:?}"
HOST_URL="http://$ADDR"
PID_FILE="$STATE_DIR/host.pid"
LOG_FILE="$STATE_DIR/host.log"
READY_TIMEOUT_S=30

mkdir -p "$STATE_DIR" "$DATA_DIR"
chmod 700 "$STATE_DIR"

running() { [[ -f "$PID_FILE" ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; }

if running; then
  echo "acquire host already running (pid $(cat "$PID_FILE")) at $HOST_URL"
else
  # setsid: the host outlives make; it stops with `make down`.
  setsid "$ACQUIRE" host --services none --store "file://$DATA_DIR" --addr "$ADDR" >"$LOG_FILE" 2>&1 </dev/null &
  echo $! >"$PID_FILE"
  for ((i = 0; i < READY_TIMEOUT_S * 10; i++)); do
    grep -q '^ready' "$LOG_FILE" 2>/dev/null && break
    if ! running; then echo "acquire host exited; its log:" >&2; cat "$LOG_FILE" >&2; exit 1; fi
    sleep 0.1
  done
  grep -q '^ready' "$LOG_FILE" || { echo "acquire host not ready after ${READY_TIMEOUT_S}s; see $LOG_FILE" >&2; exit 1; }
  echo "acquire host started (pid $(cat "$PID_FILE")) at $HOST_URL, log in $LOG_FILE"
fi

# The admin's password: ACQUIRE_ADMIN_PASSWORD, else one made once and kept (0600).
PW_FILE="$STATE_DIR/admin.password"
PW_FROM_FILE=
if [[ -z "${ACQUIRE_ADMIN_PASSWORD:-}" ]]; then
  PW_FROM_FILE=1
  if [[ ! -f "$PW_FILE" ]]; then
    (umask 077 && head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$PW_FILE")
  fi
  ACQUIRE_ADMIN_PASSWORD=$(cat "$PW_FILE")
fi
export ACQUIRE_ADMIN_PASSWORD
ACQUIRE_HOST_TOKEN=$(cat "$DATA_DIR/admin.token")
export ACQUIRE_HOST_TOKEN

# The locally built provider, through dev_overrides: no registry is reached.
RC="$STATE_DIR/tofurc"
printf 'provider_installation {\n  dev_overrides {\n    "openacquire/acquire" = "%s"\n  }\n  direct {}\n}\n' "$PROVIDER_DIR" >"$RC"
export TF_CLI_CONFIG_FILE="$RC" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
TF_STATE="$STATE_DIR/local.tfstate"
EXAMPLE="$(cd "$(dirname "$0")/../../examples/local" && pwd)"

"$TOFU" -chdir="$EXAMPLE" apply -auto-approve -input=false -compact-warnings "${NO_COLOR_FLAG[@]}" -state="$TF_STATE" -var "host_url=$HOST_URL" \
  -var "admin_enrolment_file=$STATE_DIR/admin-enrolment.json"
OUT() { "$TOFU" -chdir="$EXAMPLE" output -state="$TF_STATE" -raw "$1"; }

# The CLI's environment, kept for `. .acquire/cli.env` (README): sourcing a
# file that down.sh removes fails cleanly, where eval of `tofu output` after
# a destroy would run tofu's warning as commands.
CLI_ENV="$STATE_DIR/cli.env"
OUT cli_env >"$CLI_ENV.tmp" && mv "$CLI_ENV.tmp" "$CLI_ENV"

# The admin's authenticator URI is known only to the apply that created the
# admin, which wrote it (0600) to admin-enrolment.json, never to state; keep
# the URI alone in admin-otp.uri so a later `make up` after `make down`
# still shows it.
OTP_FILE="$STATE_DIR/admin-otp.uri"
if uri=$(sed -nE 's/.*"otp_uri": "([^"]*)".*/\1/p' "$STATE_DIR/admin-enrolment.json" 2>/dev/null) && [[ "$uri" == otpauth://* ]]; then
  (umask 077 && printf '%s\n' "$uri" >"$OTP_FILE")
fi

if [[ -n "$PW_FROM_FILE" ]]; then
  ADMIN_PW_HINT="  export ACQUIRE_PASSWORD=\$(cat $PW_FILE)"
else
  ADMIN_PW_HINT="  export ACQUIRE_PASSWORD=\"\$ACQUIRE_ADMIN_PASSWORD\"   # the one you gave make up"
fi

cat <<EOT

Acquire is up at $HOST_URL (examples/local, applied with OpenTofu; state in $TF_STATE).
Try it:

  export PATH=\$PWD/bin:\$PATH
  . $CLI_ENV                 # points the CLI at the services (ACQUIRE_*_URL)
  acquire user register --username alice          # password twice, then a QR code for your authenticator
  acquire user login --username alice
  acquire account create savings && acquire account list
  acquire drive create docs && acquire file upload README.md docs && acquire file ls docs

The admin "$(OUT admin_username)": the CLI reads a password from \$ACQUIRE_PASSWORD (or asks for it);
$ADMIN_PW_HINT
  SECRET=\$(sed -nE 's/.*secret=([A-Z2-7]+).*/\1/p' $OTP_FILE)   # its authenticator URI
  acquire user login --username $(OUT admin_username) --otp "\$(acquire otp code --secret "\$SECRET")"
  unset ACQUIRE_PASSWORD
  acquire account create bank && acquire account deposit bank --amount 100
  acquire user switch alice       # back to alice (or -u alice on one command); see README.md

make down destroys the services (their data stays in $DATA_DIR) and stops the host.
EOT

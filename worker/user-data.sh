#!/bin/bash
# spotfarm worker user data: installs Node 22 and the spotfarm worker agent, then runs it under
# systemd with the farm's command. Paste it as the launch template's user data, or let the stack
# fill in the settings below with Fn::Sub: below the settings block the script has no dollar-brace
# sequences, so Fn::Sub touches nothing else.
set -euo pipefail

# --- settings ------------------------------------------------------------------------------------
QUEUE_URL='${QueueUrl}'               # https://sqs.<region>.amazonaws.com/<account>/<queue>
WORKER_COMMAND='${WorkerCommand}'     # run once per message, body on stdin, e.g. python3 /opt/ml/train.py
WORKER_SLOTS='${WorkerSlots}'         # jobs at once per instance, e.g. 1
WORKER_BUNDLE='${WorkerBundle}'       # s3:// or https:// URL of spotfarm-worker.cjs; empty = build from git
SPOTFARM_GIT='${SpotfarmGit}'         # used when WORKER_BUNDLE is empty, e.g. https://github.com/<you>/spotfarm.git
SPOTFARM_REF='${SpotfarmRef}'         # branch or tag, e.g. main
NODE_VERSION='22.12.0'            # Node 20 is end of life; the agent runs on 20 or later
# -------------------------------------------------------------------------------------------------

for setting in QUEUE_URL WORKER_COMMAND WORKER_SLOTS; do
  value=$(eval "printf %s \"\$$setting\"")
  case "$value" in
    '' | '$'*) echo "spotfarm user data: set $setting at the top of the script" >&2; exit 1 ;;
  esac
done
case "$WORKER_BUNDLE" in '$'*) WORKER_BUNDLE='' ;; esac

# Node from nodejs.org: the same on every distribution and architecture.
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "spotfarm user data: unsupported architecture $(uname -m)" >&2; exit 1 ;;
esac
if [ "$(/opt/node/bin/node --version 2>/dev/null)" != "v$NODE_VERSION" ]; then
  rm -rf /opt/node
  mkdir -p /opt/node
  curl -fsSL "https://nodejs.org/dist/v$NODE_VERSION/node-v$NODE_VERSION-linux-$arch.tar.xz" |
    tar -xJ -C /opt/node --strip-components=1
fi

# The agent: a prebuilt single-file bundle (fast boot), or a checkout built on the instance.
mkdir -p /opt/spotfarm
if [ -n "$WORKER_BUNDLE" ]; then
  case "$WORKER_BUNDLE" in
    s3://*) aws s3 cp "$WORKER_BUNDLE" /opt/spotfarm/spotfarm-worker.cjs ;;
    *) curl -fsSL "$WORKER_BUNDLE" -o /opt/spotfarm/spotfarm-worker.cjs ;;
  esac
else
  command -v git >/dev/null || dnf install -y git || yum install -y git || apt-get install -y git
  rm -rf /opt/spotfarm/src
  git clone --depth 1 --branch "$SPOTFARM_REF" "$SPOTFARM_GIT" /opt/spotfarm/src
  (cd /opt/spotfarm/src && PATH="/opt/node/bin:$PATH" npm ci --no-audit --no-fund &&
    PATH="/opt/node/bin:$PATH" npx tsx worker/build.ts --outfile /opt/spotfarm/spotfarm-worker.cjs)
fi

# The farm's command, verbatim in a script of its own (no quoting rules in between; pipelines work).
printf '#!/bin/sh\n%s\n' "$WORKER_COMMAND" > /opt/spotfarm/job.sh
printf 'QUEUE_URL=%s\nWORKER_SLOTS=%s\n' "$QUEUE_URL" "$WORKER_SLOTS" > /opt/spotfarm/worker.env
chmod 755 /opt/spotfarm/job.sh

# systemd: SIGTERM drains like an interruption notice (hand back what cannot finish, exit 0), so
# the stop timeout covers the 120 s notice. Exit 2 is bad configuration: restarting will not help.
cat > /etc/systemd/system/spotfarm-worker.service <<'EOF'
[Unit]
Description=spotfarm worker agent
Wants=network-online.target
After=network-online.target

[Service]
EnvironmentFile=/opt/spotfarm/worker.env
Environment=PATH=/opt/node/bin:/usr/local/bin:/usr/bin:/bin
ExecStart=/opt/node/bin/node /opt/spotfarm/spotfarm-worker.cjs --queue-url $QUEUE_URL --slots $WORKER_SLOTS -- /opt/spotfarm/job.sh
Restart=on-failure
RestartSec=5
RestartPreventExitStatus=2
KillSignal=SIGTERM
KillMode=mixed
TimeoutStopSec=150

[Install]
WantedBy=multi-user.target
EOF
systemctl daemon-reload
systemctl enable --now spotfarm-worker.service

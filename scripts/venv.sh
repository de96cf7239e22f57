#!/usr/bin/env bash
# Creates (or refreshes) the project-local Python virtualenv in .venv from requirements-dev.txt.
# Idempotent: a stamp file holding the requirements' hash skips the install when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
STAMP="$VENV/.requirements.sha256"
WANT="$(sha256sum requirements-dev.txt | cut -d' ' -f1)"
if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then
  exit 0
fi
echo "spotfarm: creating Python virtualenv in $VENV (moto server, cfn-lint)" >&2
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r requirements-dev.txt
echo "$WANT" > "$STAMP"

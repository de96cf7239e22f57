#!/usr/bin/env bash
# `npm test`: the whole test ladder from a fresh clone (after `npm ci`).
#   1. the project-local Python virtualenv (moto server, cfn-lint), created if missing
#   2. type check
#   3. vitest: unit, aws-sdk-client-mock, moto integration, packaged stack + cfn-lint, backtest, report in Chromium
# Ends with a plain "N passed, N failed" line so CI can read the count.
set -euo pipefail
cd "$(dirname "$0")/.."
export SLS_TELEMETRY_DISABLED=1
# The SDK's Node 20 end-of-support notice, printed by every process that loads it (Lambda runs nodejs22.x).
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
bash scripts/venv.sh
echo "spotfarm: type check"
npx tsc --noEmit
mkdir -p .test-results
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json=.test-results/vitest.json "$@" || status=$?
node -e '
  const r = require("./.test-results/vitest.json");
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
' || true
exit "$status"

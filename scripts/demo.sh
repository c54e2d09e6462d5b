#!/usr/bin/env bash
# The whole product on one machine with no AWS account: installs what it needs (moto's
# S3+SQS server), builds bedguard, and runs `bedguard demo`, which starts the local
# endpoint, creates the trail bucket -> queue -> DLQ, uploads three weeks of a simulated
# organisation's CloudTrail with one LLMjacking attack, runs `bedguard run` against it,
# prints the findings as a person reads them, and stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-deps.sh
cargo build --release --locked -p bedguard
exec target/release/bedguard demo "$@"

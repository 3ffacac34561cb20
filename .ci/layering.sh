#!/usr/bin/env bash
# The layering rules, checked by grep so that a wrong-way import fails CI. Called by .ci/run; run it alone with
# `bash .ci/layering.sh`. Comment lines (doc links included) are ignored: only code creates a dependency.
set -uo pipefail
cd "$(dirname "$0")/.."
failures=0

fail() {
  echo "layering: $*" >&2
  failures=$((failures + 1))
}

# Code lines of the Rust files under the given paths that match a pattern, as file:line: text.
code_matching() {
  local pattern=$1
  shift
  grep -rHnE --include='*.rs' "$pattern" "$@" 2>/dev/null | grep -vE '^[^:]+:[0-9]+:\s*//'
}

# Paths of a crate's top-level module: its directory (MODULE/) or its file (MODULE.rs).
module_paths() {
  local root=$1 module=$2
  [ -d "$root/$module" ] && echo "$root/$module"
  [ -f "$root/$module.rs" ] && echo "$root/$module.rs"
}

# check_layers ROOT M1 M2 ...: each top-level module of the crate at ROOT may use (`crate::X`) only modules
# listed before it. lib.rs and main.rs wire everything together and are exempt.
check_layers() {
  local root=$1
  shift
  local layers=("$@") i j
  for ((i = 0; i < ${#layers[@]}; i++)); do
    local module=${layers[i]}
    local paths
    mapfile -t paths < <(module_paths "$root" "$module")
    [ ${#paths[@]} -eq 0 ] && { fail "$root/$module is listed in a layer table but does not exist"; continue; }
    for ((j = i + 1; j < ${#layers[@]}; j++)); do
      local later=${layers[j]} hits
      hits=$(code_matching "crate::$later\b" "${paths[@]}")
      [ -n "$hits" ] && fail "$root/$module must not use crate::$later (a later layer):"$'\n'"$hits"
    done
  done
  # Every top-level module must be placed in the table, so a new one cannot slip past the check.
  local entry name
  for entry in "$root"/*; do
    name=$(basename "$entry" .rs)
    case $name in lib | main) continue ;; esac
    [[ $entry == *.rs || -d $entry ]] || continue
    printf '%s\n' "${layers[@]}" | grep -x "$name" >/dev/null || fail "$root/$name is not in the layer table of .ci/layering.sh"
  done
}

# no_cycles DIR: the sibling modules of DIR (`super::x` or `crate::<dir>::x` in code) form no import cycle, of
# any length (tsort finds the loops).
no_cycles() {
  local dir=$1 parent file module other edges=""
  parent=$(basename "$dir")
  for file in "$dir"/*.rs; do
    module=$(basename "$file" .rs)
    [ "$module" = mod ] && continue
    for other in "$dir"/*.rs; do
      other=$(basename "$other" .rs)
      [[ $other == mod || $other == "$module" ]] && continue
      [ -n "$(code_matching "(super|crate::$parent)::$other\b" "$file")" ] && edges+="$module $other"$'\n'
    done
  done
  local loops
  loops=$(printf '%s' "$edges" | tsort 2>&1 >/dev/null)
  [ -n "$loops" ] && fail "the modules of $dir import each other in a loop:"$'\n'"$loops"
}

# The emulator: the engine knows no wire format, the protocol layer no queue, and each layer uses only the ones
# above it in this table.
hits=$(code_matching '^\s*use (axum|hyper|serde_json|quick_xml)|(axum|hyper|serde_json|quick_xml)::' emulator/src/engine)
[ -n "$hits" ] && fail "emulator/src/engine must not use HTTP, JSON or XML types:"$'\n'"$hits"
hits=$(code_matching 'crate::engine\b' emulator/src/protocol)
[ -n "$hits" ] && fail "emulator/src/protocol must not touch the engine:"$'\n'"$hits"
check_layers emulator/src process error documents action engine storage protocol auth faults metrics actions dashboard config http
for dir in emulator/src/engine emulator/src/engine/queue emulator/src/actions emulator/src/storage emulator/src/http emulator/src/auth \
  emulator/src/dashboard src/backend src/producer; do
  no_cycles "$dir"
done

# The client crate: one direction from the message types to the producer, consumer and monitor; the AWS SDK and
# the emulator's engine are reached only through their backends.
check_layers src types telemetry trace_context error retry flow codec envelope idempotency backend otel offload producer consumer monitor stores lambda
hits=$(code_matching 'aws_sdk_sqs' src | grep -v '^src/backend/aws.rs:')
[ -n "$hits" ] && fail "only src/backend/aws.rs may use the SQS SDK:"$'\n'"$hits"
hits=$(code_matching 'aws_sdk_dynamodb' src | grep -v '^src/stores/dynamodb_store')
[ -n "$hits" ] && fail "only src/stores/dynamodb_store may use the DynamoDB SDK:"$'\n'"$hits"
hits=$(code_matching 'aws_config' src | grep -vE '^src/(backend/aws.rs|stores/dynamodb_store)')
[ -n "$hits" ] && fail "only src/backend/aws.rs and src/stores/dynamodb_store may use aws-config:"$'\n'"$hits"
hits=$(code_matching 'aws_sdk_s3' src | grep -v '^src/offload/s3.rs:')
[ -n "$hits" ] && fail "only src/offload/s3.rs may use the S3 SDK:"$'\n'"$hits"
hits=$(code_matching '\bredis::' src | grep -v '^src/stores/redis_store.rs:')
[ -n "$hits" ] && fail "only src/stores/redis_store.rs may use the redis crate:"$'\n'"$hits"
hits=$(code_matching '\b(opentelemetry|opentelemetry_sdk|opentelemetry_aws|tracing_opentelemetry)::' src | grep -v '^src/otel/')
[ -n "$hits" ] && fail "only src/otel may use the OpenTelemetry crates:"$'\n'"$hits"
hits=$(code_matching 'sqskit_emulator' src | grep -v '^src/backend/embedded.rs:')
[ -n "$hits" ] && fail "only src/backend/embedded.rs may use the emulator:"$'\n'"$hits"

if [ "$failures" -gt 0 ]; then
  echo "layering: $failures rule(s) broken" >&2
  exit 1
fi
echo "layering: all rules hold"

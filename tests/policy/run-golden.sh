#!/usr/bin/env bash
# run-golden.sh SESAME CASE.in - one golden policy case through the real binary.
#
# CASE.in holds, in order:
#   # comments
#   @conf LINE          appended to the case's configuration file (TOML)
#   sesame ARGS...      commands run in order against a scratch store; each
#                       must exit 0. The last one's standard output is the
#                       result; it usually is `sesame policy test ... --json`.
#   --- message         everything after this line is the last command's stdin
# The result must equal CASE.ref byte for byte. SESAME_UPDATE_GOLDEN=1
# rewrites CASE.ref instead (review the diff before committing it).
# SESAME_GOLDEN_DYNAMODB=URL runs the case against the DynamoDB store at URL
# (dynalite; run-golden-dynamodb.sh starts one) instead of sqlite, in tables
# named after the case: the same .ref must come out.
set -euo pipefail
sesame=$1
case_in=$2
ref=${case_in%.in}.ref
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

conf=$tmp/sesame.conf
if [ -n "${SESAME_GOLDEN_DYNAMODB:-}" ]; then
    t=golden-$(basename "$case_in" .in)
    {
        printf '[store]\nbackend = "dynamodb"\n[store.dynamodb]\nendpoint = "%s"\n' "$SESAME_GOLDEN_DYNAMODB"
        for table in rules blocked_senders outbound policy reply_state ingest_state; do
            printf '%s_table = "%s-%s"\n' "$table" "$t" "${table//_/-}"
        done
    } >"$conf"
else
    printf '[store]\nsqlite = "%s/policy.db"\n' "$tmp" >"$conf"
fi
commands=()
: >"$tmp/message"
in_message=0
while IFS= read -r line || [ -n "$line" ]; do
    if [ $in_message = 1 ]; then
        printf '%s\n' "$line" >>"$tmp/message"
        continue
    fi
    case $line in
    '--- message') in_message=1 ;;
    '@conf '*) printf '%s\n' "${line#@conf }" >>"$conf" ;;
    'sesame '*) commands+=("${line#sesame }") ;;
    '#'* | '') ;;
    *) echo "$case_in: cannot read line: $line" >&2; exit 2 ;;
    esac
done <"$case_in"
[ ${#commands[@]} -gt 0 ] || { echo "$case_in: no sesame command" >&2; exit 2; }

"$sesame" --config "$conf" db init >/dev/null
last=$((${#commands[@]} - 1))
for i in "${!commands[@]}"; do
    eval "set -- ${commands[$i]}"
    if [ "$i" -lt $last ]; then
        "$sesame" --config "$conf" "$@" >/dev/null
    else
        "$sesame" --config "$conf" "$@" <"$tmp/message" >"$tmp/got"
    fi
done

if [ "${SESAME_UPDATE_GOLDEN:-0}" = 1 ]; then
    cp "$tmp/got" "$ref"
    echo "updated $ref"
    exit 0
fi
[ -f "$ref" ] || { echo "$ref is missing (run with SESAME_UPDATE_GOLDEN=1 and review it)" >&2; exit 1; }
diff -u "$ref" "$tmp/got"

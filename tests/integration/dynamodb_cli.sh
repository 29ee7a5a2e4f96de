#!/usr/bin/env bash
# dynamodb_cli.sh SESAME - `sesame` against the DynamoDB store in a real
# dynalite (npm) on a loopback port picked at run time:
#   1. items written the older workers' way, with raw requests (curl, not
#      Sesame), are honoured by `sesame policy test` and `block list`, and
#      `block remove` takes a pattern out of the older list;
#   2. `sesame store copy` moves a store of 100,000 patterns (with domains,
#      forwards and out-of-office rules) from sqlite to DynamoDB and back,
#      unchanged.
# dynalite is stopped by its PID whatever happens. Exit 77 (skipped) only
# when Node or dynalite cannot be had.
set -uo pipefail
SESAME=$1
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../scripts/emulators.sh
source "$ROOT/scripts/emulators.sh"
dynalite_session dynamodb-cli
start_dynalite "$WORK" || exit 1
ENDPOINT=http://127.0.0.1:$DYNALITE_PORT
echo "dynalite on $ENDPOINT (pid $DYNALITE_PID)"
unset SESAME_CONFIG

failures=0
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}
ok() { echo "ok: $*"; }

# config FILE PREFIX [SQLITE]: a configuration on the DynamoDB tables PREFIX-*.
config() {
    {
        printf '[store]\nbackend = "dynamodb"\nsqlite = "%s"\n' "${3:-$WORK/unused.db}"
        printf '[store.dynamodb]\nendpoint = "%s"\n' "$ENDPOINT"
        for t in rules blocked_senders outbound policy reply_state ingest_state; do
            printf '%s_table = "%s-%s"\n' "$t" "$2" "${t//_/-}"
        done
        printf '[policy]\ndomains = ["example.com"]\n'
    } >"$1"
}

# --- 1. the older workers' items -------------------------------------------
conf=$WORK/legacy.conf
config "$conf" legacy
init_out=$("$SESAME" --config "$conf" db init) || fail "db init"
[ "$(grep -c ': created (key ' <<<"$init_out")" = 6 ] && ok "db init creates six tables" ||
    fail "db init said: $init_out"
dynalite_call PutItem '{"TableName":"legacy-blocked-senders","Item":{"email":{"S":"bob@example.com"},
  "blocked_patterns":{"L":[{"S":"*@Spam.Example"},{"S":"boss@corp.example"}]}}}' >/dev/null
dynalite_call PutItem '{"TableName":"legacy-rules","Item":{"email":{"S":"carol@example.com"},
  "forwards":{"L":[{"S":"carol@home.example"}]}}}' >/dev/null
dynalite_call PutItem '{"TableName":"legacy-rules","Item":{"email":{"S":"dave@example.com"},
  "ooo_active":{"BOOL":true},"ooo_message":{"S":"Dave is away."},"content_type":{"S":"text/plain"}}}' >/dev/null

out=$("$SESAME" --config "$conf" policy test --from offers@spam.example --to bob@example.com --json)
grep -Eq '"verdict": ?"reject"' <<<"$out" && grep -q '\*@spam.example' <<<"$out" &&
    ok "an older blocked_patterns list blocks" || fail "older blocklist not honoured: $out"
out=$("$SESAME" --config "$conf" policy test --from friend@else.example --to bob@example.com --json)
grep -Eq '"verdict": ?"deliver"' <<<"$out" && ok "other senders still reach bob" || fail "bob: $out"
out=$("$SESAME" --config "$conf" policy test --from friend@else.example --to carol@example.com --json)
grep -Eq '"type": ?"forward"' <<<"$out" && grep -q 'carol@home.example' <<<"$out" &&
    ok "an older forwards list forwards" || fail "older forward not honoured: $out"
out=$("$SESAME" --config "$conf" policy test --from friend@else.example --to dave@example.com --json)
grep -Eq '"type": ?"autoreply"' <<<"$out" && ok "an older ooo_message replies" || fail "older ooo not honoured: $out"
[ "$("$SESAME" --config "$conf" block list bob@example.com)" = $'bob@example.com\t*@spam.example\nbob@example.com\tboss@corp.example' ] &&
    ok "block list shows the older patterns" || fail "block list: $("$SESAME" --config "$conf" block list)"
"$SESAME" --config "$conf" block remove bob@example.com '*@spam.example' >/dev/null || fail "block remove"
item=$(dynalite_call GetItem '{"TableName":"legacy-blocked-senders","Key":{"email":{"S":"bob@example.com"}}}')
grep -q 'boss@corp.example' <<<"$item" && ! grep -qi 'spam.example' <<<"$item" &&
    ok "block remove takes the pattern out of the older list, keeping the rest" || fail "older item now: $item"
out=$("$SESAME" --config "$conf" policy test --from offers@spam.example --to bob@example.com --json)
grep -Eq '"verdict": ?"deliver"' <<<"$out" && ok "the removed pattern no longer blocks" || fail "after remove: $out"

# --- 2. store copy, 100,000 patterns, sqlite -> dynamodb -> sqlite ----------
a=$WORK/a.conf b=$WORK/b.conf d=$WORK/copy.conf
printf '[store]\nsqlite = "%s/a.db"\n' "$WORK" >"$a"
printf '[store]\nsqlite = "%s/b.db"\n' "$WORK" >"$b"
config "$d" copy
"$SESAME" --config "$a" db init >/dev/null && "$SESAME" --config "$b" db init >/dev/null &&
    "$SESAME" --config "$d" db init >/dev/null || fail "db init for the copy"
"$SESAME" --config "$a" domain add example.com >/dev/null
"$SESAME" --config "$a" domain add example.org >/dev/null
"$SESAME" --config "$a" forward set carol@example.com carol@home.example --mode resend >/dev/null
"$SESAME" --config "$a" ooo set dave@example.com --subject Away --text 'Back soon.' --html '<p>Back</p>' \
    --start 2026-01-01 --until 2026-12-31 --interval 3 >/dev/null
seq 1 60000 | sed 's/^/*@spam-/; s/$/.example/' | "$SESAME" --config "$a" block import '*' - >/dev/null
seq 1 30000 | sed 's/^/news@list-/; s/$/.example/' | "$SESAME" --config "$a" block import @example.com - >/dev/null
seq 1 10000 | sed 's/^/*@[a-c]ad-/; s/$/.example/' | "$SESAME" --config "$a" block import bob@example.com - >/dev/null
"$SESAME" --config "$a" block list >"$WORK/a.blocks"
[ "$(wc -l <"$WORK/a.blocks")" = 100000 ] || fail "the sqlite source holds $(wc -l <"$WORK/a.blocks") patterns"

start=$(date +%s)
if "$SESAME" --config "$d" store copy --from "sqlite:$WORK/a.db" --to dynamodb; then
    ok "copied 100,000 patterns to dynamodb in $(($(date +%s) - start)) s"
else
    fail "store copy to dynamodb"
fi
"$SESAME" --config "$d" block list >"$WORK/d.blocks"
cmp -s "$WORK/a.blocks" "$WORK/d.blocks" && ok "dynamodb holds the same 100,000 patterns" ||
    fail "dynamodb block list differs: $(diff "$WORK/a.blocks" "$WORK/d.blocks" | head -5)"
start=$(date +%s)
if "$SESAME" --config "$d" store copy --from dynamodb --to "sqlite:$WORK/b.db"; then
    ok "copied back to sqlite in $(($(date +%s) - start)) s"
else
    fail "store copy back to sqlite"
fi
"$SESAME" --config "$b" block list >"$WORK/b.blocks"
cmp -s "$WORK/a.blocks" "$WORK/b.blocks" && ok "the round trip keeps every pattern" ||
    fail "round-trip block list differs: $(diff "$WORK/a.blocks" "$WORK/b.blocks" | head -5)"
[ "$("$SESAME" --config "$a" domain list)" = "$("$SESAME" --config "$b" domain list)" ] &&
    ok "domains round-trip" || fail "domains differ"
for probe in "offers@spam-77.example bob@example.com" "news@list-5.example alice@example.com" \
    "x@bad-9.example bob@example.com" "friend@else.example carol@example.com" \
    "friend@else.example dave@example.com"; do
    set -- $probe
    ra=$("$SESAME" --config "$a" policy test --from "$1" --to "$2" --at 2026-06-01 --json)
    rd=$("$SESAME" --config "$d" policy test --from "$1" --to "$2" --at 2026-06-01 --json)
    rb=$("$SESAME" --config "$b" policy test --from "$1" --to "$2" --at 2026-06-01 --json)
    [ "$ra" = "$rd" ] && [ "$ra" = "$rb" ] && ok "same decision everywhere: $1 -> $2" ||
        fail "decisions differ for $1 -> $2: sqlite $ra / dynamodb $rd / back $rb"
done

echo "dynamodb_cli: $failures failure(s)"
[ "$failures" -eq 0 ]

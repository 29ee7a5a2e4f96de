#!/usr/bin/env bash
# bad-input.sh SESAME - every kind of bad input gets exit status 2, exactly
# one line on stderr saying why, and leaves the store exactly as it was
# (compared with `sqlite3 .dump`, which includes the policy version row that
# every change bumps).
set -uo pipefail
sesame=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
conf=$tmp/sesame.conf
printf '[store]\nsqlite = "%s/policy.db"\n' "$tmp" >"$conf"
"$sesame" --config "$conf" db init >/dev/null
"$sesame" --config "$conf" domain add example.com >/dev/null
"$sesame" --config "$conf" block add @example.com '*@spam.example' >/dev/null
dump() { sqlite3 "$tmp/policy.db" .dump; }
before=$(dump)
failures=0

# expect_bad WANT-IN-MESSAGE ARGS... (runs sesame --config CONF ARGS...)
expect_bad() {
    local want=$1
    shift
    "$sesame" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
    local rc=$? lines
    lines=$(wc -l <"$tmp/err")
    local problem=""
    [ $rc -eq 2 ] || problem="exit status $rc, want 2"
    [ "$lines" -eq 1 ] || problem="$problem; $lines lines on stderr, want 1"
    grep -qF -- "$want" "$tmp/err" || problem="$problem; stderr lacks \"$want\""
    [ "$(dump)" = "$before" ] || problem="$problem; the store changed"
    if [ -n "$problem" ]; then
        echo "FAIL: sesame $*: $problem"
        sed 's/^/  stderr: /' "$tmp/err"
        failures=$((failures + 1))
    else
        echo "ok: sesame $* -> $(cat "$tmp/err")"
    fi
}

c=(--config "$conf")
expect_bad 'unknown subcommand "frobnicate"' "${c[@]}" frobnicate
expect_bad 'unknown subcommand "frob"' "${c[@]}" block frob
expect_bad '--from: address "not-an-address" has no' "${c[@]}" policy test --from not-an-address --to bob@example.com
expect_bad '--to: address "bob@": empty domain' "${c[@]}" policy test --from a@b.example --to bob@
expect_bad 'did you mean "*@spam.com"' "${c[@]}" block add @example.com spam.com
expect_bad "unclosed '['" "${c[@]}" block add @example.com '[abc@x.example'
expect_bad 'unknown character class' "${c[@]}" block add @example.com '[[:nope:]]@x.example'
expect_bad 'is not an address, @domain or *' "${c[@]}" block add 'bob@@example.com' '*@x.example'
expect_bad 'domain "bad domain!"' "${c[@]}" domain add 'bad domain!'
expect_bad 'forward target: address "nobody" has no' "${c[@]}" forward set bob@example.com nobody
expect_bad '--mode' "${c[@]}" forward set bob@example.com a@b.example --mode sideways
expect_bad '--start "2026-13-45"' "${c[@]}" ooo set bob@example.com --text away --start 2026-13-45
expect_bad '--interval' "${c[@]}" ooo set bob@example.com --text away --interval 0
expect_bad '--until is not after --start' "${c[@]}" ooo set bob@example.com --text away --start 2026-12-10 --until 2026-12-01
expect_bad "$tmp/missing.eml: cannot read" "${c[@]}" policy test --from a@b.example --to bob@example.com --message "$tmp/missing.eml"
expect_bad "$tmp/missing.txt: cannot read" "${c[@]}" block import @example.com "$tmp/missing.txt"

# A list with one bad line imports nothing, and says which line.
printf '*@one.example\n# a comment\n\nspam.example\n*@two.example\n' >"$tmp/list.txt"
expect_bad "$tmp/list.txt:4: " "${c[@]}" block import @example.com "$tmp/list.txt"

# Unusable configuration or store.
printf '[policy]\nmax_hops = "many"\n' >"$tmp/bad.conf"
expect_bad "$tmp/bad.conf:2:" --config "$tmp/bad.conf" block list
expect_bad "$tmp/none.conf: cannot read" --config "$tmp/none.conf" block list
printf '[store]\nsqlite = "%s/nowhere/policy.db"\n' "$tmp" >"$tmp/nowhere.conf"
expect_bad "$tmp/nowhere/policy.db" --config "$tmp/nowhere.conf" block add @example.com '*@x.example'
head -c 4096 /dev/urandom >"$tmp/garbage.db"
printf '[store]\nsqlite = "%s/garbage.db"\n' "$tmp" >"$tmp/garbage.conf"
expect_bad "$tmp/garbage.db" --config "$tmp/garbage.conf" policy test --from a@b.example --to bob@example.com
garbage_sum=$(sha256sum <"$tmp/garbage.db")
expect_bad "$tmp/garbage.db" --config "$tmp/garbage.conf" block add @example.com '*@x.example'
[ "$(sha256sum <"$tmp/garbage.db")" = "$garbage_sum" ] || { echo "FAIL: the garbage store file was modified"; failures=$((failures + 1)); }

# And the good path still works on the untouched store.
"$sesame" "${c[@]}" policy test --from x@spam.example --to bob@example.com --json | grep -q '"verdict": "reject"' ||
    { echo "FAIL: the store no longer blocks *@spam.example"; failures=$((failures + 1)); }

echo "$failures failed"
[ $failures -eq 0 ]

#!/usr/bin/env bash
# store-copy.sh SESAME - `sesame store copy` from one sqlite store into
# another: the domains, the blocks of every key, the forward and
# out-of-office rules arrive, so `block list` and `policy test --json` say
# the same on both; copying a store onto itself, or into a file that does
# not exist, is refused with exit status 2 and one line on stderr, and
# changes nothing (no file is created).
set -uo pipefail
sesame=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
conf=$tmp/sesame.conf
printf '[store]\nsqlite = "%s/a.db"\n' "$tmp" >"$conf"
failures=0
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}
# on STORE ARGS...: sesame with STORE (a.db or b.db) as the configured store.
on() {
    local db=$1
    shift
    printf '[store]\nsqlite = "%s/%s"\n' "$tmp" "$db" >"$tmp/$db.conf"
    "$sesame" --config "$tmp/$db.conf" "$@"
}

# The source: two domains, blocks under three keys, a forward, an ooo rule.
on a.db db init >/dev/null || fail "db init a.db"
on a.db domain add example.com >/dev/null
on a.db domain add example.org >/dev/null
on a.db block add '*' '*@spam.example' >/dev/null
on a.db block add @example.com 'noreply@*.example' >/dev/null
on a.db block add @example.com '<>' >/dev/null
printf '*@one.example\n*@two.example\nnews@*\n' | on a.db block import bob@example.com - >/dev/null
on a.db forward set alice@example.com alice@elsewhere.example --mode resend --no-keep-copy >/dev/null
on a.db ooo set carol@example.org --subject 'Away' --text 'Back on Monday' --interval 3 >/dev/null
# The target: initialised, with one pattern of its own already there.
on b.db db init >/dev/null || fail "db init b.db"
on b.db block add '*' '*@spam.example' >/dev/null

out=$("$sesame" --config "$conf" store copy --from "sqlite:$tmp/a.db" --to "sqlite:$tmp/b.db" 2>"$tmp/err")
rc=$?
want="copied 2 domains, 6 block patterns (5 new), 1 forwards, 1 out-of-office rules from store $tmp/a.db to store $tmp/b.db"
[ $rc -eq 0 ] || fail "store copy: exit status $rc: $(cat "$tmp/err")"
[ "$out" = "$want" ] || fail "store copy printed \"$out\", want \"$want\""
[ -s "$tmp/err" ] && fail "store copy wrote on stderr: $(cat "$tmp/err")"

# The same policy on both sides.
[ "$(on a.db block list)" = "$(on b.db block list)" ] ||
    fail "block list differs: $(on a.db block list | tr '\n' ' ') / $(on b.db block list | tr '\n' ' ')"
[ "$(on a.db domain list)" = "$(on b.db domain list)" ] || fail "domain list differs"
# same_verdict ARGS...: `policy test --json ARGS` on both; sets GOT (b.db's).
same_verdict() {
    local a
    a=$(on a.db policy test --json --at 2026-06-01T12:00Z "$@")
    got=$(on b.db policy test --json --at 2026-06-01T12:00Z "$@")
    [ -n "$a" ] && [ "$a" = "$got" ] || fail "policy test $* differs: a: $a b: $got"
}
same_verdict --from x@one.example --to bob@example.com
grep -q '"verdict": "reject"' <<<"$got" || fail "bob@example.com from x@one.example not rejected in b.db: $got"
same_verdict --from someone@friend.example --to alice@example.com
grep -q '"type": "forward"' <<<"$got" || fail "alice@example.com not forwarded in b.db: $got"
same_verdict --from someone@friend.example --to carol@example.org
grep -q '"type": "autoreply"' <<<"$got" || fail "carol@example.org has no out-of-office reply in b.db: $got"

# Copying again adds nothing new.
out=$("$sesame" --config "$conf" store copy --from "sqlite:$tmp/a.db" --to "sqlite:$tmp/b.db" 2>&1)
grep -q "6 block patterns (0 new)" <<<"$out" || fail "a second copy: \"$out\""

# expect_bad WANT-IN-MESSAGE ARGS...: exit 2, one line on stderr, b.db unchanged.
expect_bad() {
    local want=$1
    shift
    local before
    before=$(sqlite3 "$tmp/b.db" .dump)
    "$sesame" --config "$conf" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
    local rc=$? problem=""
    [ $rc -eq 2 ] || problem="exit status $rc, want 2"
    [ "$(wc -l <"$tmp/err")" -eq 1 ] || problem="$problem; $(wc -l <"$tmp/err") lines on stderr, want 1"
    grep -qF -- "$want" "$tmp/err" || problem="$problem; stderr lacks \"$want\""
    [ "$(sqlite3 "$tmp/b.db" .dump)" = "$before" ] || problem="$problem; b.db changed"
    if [ -n "$problem" ]; then
        fail "sesame $*: $problem"
        sed 's/^/  stderr: /' "$tmp/err"
    else
        echo "ok: sesame $* -> $(cat "$tmp/err")"
    fi
}
expect_bad "same store" store copy --from "sqlite:$tmp/b.db" --to "sqlite:$tmp/b.db"
# The configured store (a.db) named two ways is still the same store.
expect_bad "same store" store copy --from sqlite --to "sqlite:$tmp/a.db"
expect_bad "$tmp/missing.db" store copy --from "sqlite:$tmp/b.db" --to "sqlite:$tmp/missing.db"
[ -e "$tmp/missing.db" ] && fail "copying into a missing file created it"
expect_bad "$tmp/missing.db" store copy --from "sqlite:$tmp/missing.db" --to "sqlite:$tmp/b.db"
[ -e "$tmp/missing.db" ] && fail "copying from a missing file created it"
expect_bad 'expected sqlite:PATH, sqlite or dynamodb' store copy --from "mysql:$tmp/b.db" --to "sqlite:$tmp/a.db"

echo "$failures failed"
[ $failures -eq 0 ]

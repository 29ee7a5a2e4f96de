#!/usr/bin/env bash
# demo.sh - Sesame's main job on this machine, as far as it exists today:
# set up and build; create a scratch policy store with example rules; ask
# `sesame policy test` what happens to a few sample mails, and why; then
# start a throwaway Postfix on loopback wired to sesame-milter and send mail
# through it with swaks, so the same rules act on real SMTP.
#
# The scratch store lives in .demo/ (recreated on every run); Postfix, the
# milter and the smtp-sink "mailboxes" live in a temporary folder and are
# stopped when the demo ends (Ctrl-C when it waits on a terminal). Nothing is
# installed outside the build tree. Read along in README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
install_packages
build build

sesame=$PWD/build/policy/cli/sesame
demo=$PWD/.demo
rm -rf "$demo"
mkdir -p "$demo"
cat >"$demo/sesame.conf" <<CONF
# The demo's configuration: everything else keeps its built-in default.
[store]
sqlite = "$demo/policy.db"

[policy]
domains = ["example.com"]
CONF
export SESAME_CONFIG=$demo/sesame.conf

# run CMD...: print a command the way a postmaster would type it, then run it.
run() {
    local shown=() a
    for a in "$@"; do
        case $a in *[!A-Za-z0-9@._+/:=-]* | '') shown+=("'$a'") ;; *) shown+=("$a") ;; esac
    done
    printf '\n$ sesame %s\n' "${shown[*]}"
    "$sesame" "$@"
}

echo "== A scratch store with example rules ($demo)"
run check-config
run db init
run domain add example.net
run block add @example.com '*@casino.example'
run block add '*' 'promo*@*.example'
run block add bob@example.com '<>'
run forward set sales@example.com sales-team@example.net crm@vendor.example --mode redirect
run ooo set carol@example.com --subject 'Out of office' --text 'I am away until Monday.' --interval 7
run block list

echo
echo "== What happens to these mails?"
run policy test --from promo@casino.example --to bob@example.com --message scripts/demo/newsletter.eml
run policy test --from anna@partner.example --to bob@example.com --to sales@example.com \
    --to carol@example.com --message scripts/demo/colleague.eml
run policy test --from dev-digest@lists.example --to carol@example.com --message scripts/demo/mailing-list.eml
run policy test --from anna@partner.example --to sales@example.com --message scripts/demo/looped.eml
run policy test --from '<>' --to bob@example.com --to friend@elsewhere.example
echo
echo "== The same decision as JSON, for scripts"
run policy test --from promo@casino.example --to bob+news@example.com --json

echo
echo "Try your own: SESAME_CONFIG=$demo/sesame.conf $sesame policy test --from YOU@x.example --to bob@example.com"

echo
echo "== The same rules inside Postfix: sesame-milter on a throwaway instance"
if [ "$(id -u)" -ne 0 ]; then
    echo "(skipped: a throwaway Postfix needs root)"
    exit 0
fi
SESAME=$sesame
SESAME_MILTER=$PWD/build/milter/sesame-milter
source tests/integration/lib.sh
e2e_setup demo
cp "$demo/policy.db" "$E2E/policy.db"  # the rules above
e2e_start_postfix && e2e_start_milter || exit 1
swaks_demo() {
    printf '\n$ swaks --server 127.0.0.1:%s %s\n' "$SMTP_PORT" "$*"
    e2e_send "$@" || true
    grep -E '^(<-  250 2.0.0|<\*\*)' "$E2E/swaks.last" || true
}
swaks_demo --from promo@casino.example --to bob@example.com,carol@example.com
swaks_demo --from anna@partner.example --to sales@example.com --header "Subject: offer"
swaks_demo --from anna@partner.example --to carol@example.com --header "Subject: meeting"
sleep 2
echo
echo "What the milter logged:"
sed 's/^/  /' "$E2E/milter.log"
echo
echo "Delivered to local mailboxes (smtp-sink dumps in $E2E/local):"
grep -h '^X-Rcpt-Args' "$E2E"/local/* 2>/dev/null | sed 's/^/  /'
echo "Sent out to remote hosts (smtp-sink dumps in $E2E/remote):"
grep -h '^X-\(Mail\|Rcpt\)-Args' "$E2E"/remote/* 2>/dev/null | sed 's/^/  /'
if [ -t 0 ]; then
    echo
    echo "Postfix with sesame-milter listens on 127.0.0.1:$SMTP_PORT. In another terminal:"
    echo "  swaks --server 127.0.0.1:$SMTP_PORT --from you@casino.example --to bob@example.com"
    echo "  SESAME_CONFIG=$E2E/sesame.conf $sesame block add bob@example.com '*@you.example'"
    echo "Milter log: $E2E/milter.log. Press Ctrl-C to stop everything."
    while sleep 3600; do :; done
fi

#!/usr/bin/env bash
# demo.sh - Sesame's main job on this machine, as far as it exists today:
# set up and build, create a scratch policy store with example rules, and
# ask `sesame policy test` what happens to a few sample mails, and why.
#
# The scratch store lives in .demo/ (recreated on every run); nothing is
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
run domain add example.org
run block add @example.com '*@casino.example'
run block add '*' 'promo*@*.example'
run block add bob@example.com '<>'
run forward set sales@example.com sales-team@example.org crm@vendor.example --mode redirect
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

#!/usr/bin/env bash
# dms.sh SRC_DIR [SESAME] - the docker-mailserver add-on against a Postfix
# configuration laid out as DMS's.
#
# contrib/docker-mailserver/user-patches.sh is run, with package install and
# daemon start switched off and every path pointed into a scratch folder,
# against a Postfix configuration folder built from Debian's postfix package
# (/etc/postfix/main.cf and master.cf, else /usr/share/postfix/*.dist) with
# what DMS does to it before user-patches.sh runs: its milters in
# smtpd_milters (OpenDKIM + OpenDMARC, DMS's default; rspamd; none), the
# global milter_default_action = accept, an empty mynetworks
# (PERMIT_DOCKER=none), chroot off, postscreen on port 25, then
# config/postfix-master.cf applied line by line with `postconf -P` and
# config/postfix-main.cf appended and rewritten with `postconf -n`, as DMS's
# setup.d/postfix.sh does. The result is read back with `postconf -h`, `-M`
# and `-P`; a second run must change no byte; `postfix -c DIR check` (as
# root) must pass. Then the variants: an [[ingest.queue]], an SRS domain, a
# unix socket, a user's master.cf line that would loop mail through Sesame,
# SESAME_DMS_ENABLE=0, SESAME_DMS_MILTER_ORDER=first, and the package install
# step with stand-ins for dpkg-deb, dpkg-query and apt-get. SESAME, the admin
# command, when given, checks the sesame.conf files (`check-config`).
# A few seconds; no daemon, no port, nothing outside a scratch folder.
#
# One `ok:` or `FAIL:` line per check; exit status 1 if any failed.
# KEEP=1 keeps the scratch folder.
#
# shellcheck disable=SC2016 # '$dkim_milter' and the like are Postfix's
set -uo pipefail

src=${1:?usage: dms.sh SRC_DIR [SESAME]}
sesame=${2:-}
addon=$src/contrib/docker-mailserver
[[ -f $addon/user-patches.sh ]] || { echo "FAIL: no $addon/user-patches.sh"; exit 1; }
command -v postconf >/dev/null || { echo "skipped: no postconf (Debian package postfix)"; exit 77; }

T=$(mktemp -d "${TMPDIR:-/tmp}/sesame-dms.XXXXXX")
trap 'if [[ ${KEEP:-0} == 1 ]]; then echo "kept $T"; else rm -rf "$T"; fi' EXIT
failures=0
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# check WHAT COMMAND...: ok when the command succeeds.
check() {
    local what=$1
    shift
    if "$@"; then ok "$what"; else fail "$what"; fi
}
# equal WHAT GOT WANT
equal() {
    if [[ $2 == "$3" ]]; then ok "$1: $2"; else fail "$1: got '$2', want '$3'"; fi
}
indent() { sed 's/^/    /' "$@"; }

# mtime_back DIR: Postfix waits before reading a main.cf changed less than
# 2 s ago; DMS dates it back after its edits (so does user-patches.sh).
mtime_back() { touch -d '2 seconds ago' "$1/main.cf"; }

dist() {  # dist FILE: Debian's copy of a Postfix configuration file
    if [[ -f /etc/postfix/$1 ]]; then echo "/etc/postfix/$1"; else echo "/usr/share/postfix/$1.dist"; fi
}

# dms_postfix NAME MILTERS: $T/NAME/postfix as DMS leaves it before
# user-patches.sh, and $T/NAME/config as DMS's config folder with the
# add-on's files in it.
dms_postfix() {
    local d=$T/$1 pf=$T/$1/postfix
    mkdir -p "$pf" "$d/config/sesame" "$d/state" "$d/queue" "$d/data"
    cp "$(dist main.cf)" "$pf/main.cf"
    cp "$(dist master.cf)" "$pf/master.cf"
    local pc=(postconf -c "$pf")
    # What Debian's postinst fills in; DMS's main.cf, the parts that matter
    # here; a scratch queue.
    "${pc[@]}" -e 'setgid_group = postdrop' 'sendmail_path = /usr/sbin/sendmail' \
        'newaliases_path = /usr/bin/newaliases' 'mailq_path = /usr/bin/mailq' \
        'html_directory = no' 'manpage_directory = /usr/share/man' 'sample_directory = no' 'readme_directory = no'
    "${pc[@]}" -e "queue_directory = $d/queue" "data_directory = $d/data" \
        'compatibility_level = 3.6' 'myhostname = mail.example.com' 'mydomain = example.com' \
        'mydestination = $myhostname, localhost.$mydomain, localhost' \
        'mynetworks =' 'recipient_delimiter = +' 'inet_interfaces = all' \
        'smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated defer_unauth_destination' \
        'milter_protocol = 6' 'milter_default_action = accept' 'smtpd_milters =' 'non_smtpd_milters ='
    # The milters DMS's setup adds (setup.d/dmarc_dkim_spf.sh,
    # security/rspamd.sh): a parameter each, appended to smtpd_milters.
    case $2 in
        dkim+dmarc)
            "${pc[@]}" -e 'dkim_milter = inet:localhost:8891' 'dmarc_milter = inet:localhost:8893' \
                'smtpd_milters = $dkim_milter $dmarc_milter' 'non_smtpd_milters = $dkim_milter' ;;
        rspamd)
            "${pc[@]}" -e 'rspamd_milter = inet:localhost:11332' 'smtpd_milters = $rspamd_milter' ;;
        none) ;;
    esac
    # DMS's master.cf: no chroot, postscreen in front of smtpd on port 25.
    "${pc[@]}" -F '*/*/chroot = n'
    "${pc[@]}" -M 'smtp/inet=smtp inet n - n - 1 postscreen' \
        'smtpd/pass=smtpd pass - - n - - smtpd' \
        'submission/inet=submission inet n - n - - smtpd'
    "${pc[@]}" -P 'submission/inet/smtpd_sasl_auth_enable=yes' 'submission/inet/milter_macro_daemon_name=ORIGINATING'
    mtime_back "$pf"
    cp "$addon/postfix-main.cf" "$addon/postfix-master.cf" "$addon/user-patches.sh" "$d/config/"
    cp "$addon/sesame/sesame.conf" "$d/config/sesame/sesame.conf"
}

# dms_overrides NAME: what DMS's setup does with config/postfix-master.cf
# and config/postfix-main.cf (setup.d/postfix.sh), in its order.
dms_overrides() {
    local d=$T/$1 pf=$T/$1/postfix line
    while IFS= read -r line; do
        [[ $line =~ ^[0-9a-z] ]] && postconf -c "$pf" -P "$line" 2>/dev/null
    done < <(grep -Ev '^\s*$|^\s*#' "$d/config/postfix-master.cf")
    cat "$d/config/postfix-main.cf" >>"$pf/main.cf"
    mtime_back "$pf"
    postconf -c "$pf" -n >"$d/main.cf.new" 2>/dev/null && mv "$d/main.cf.new" "$pf/main.cf"
    mtime_back "$pf"
}

# run_patches NAME: user-patches.sh as DMS runs it, everything in $T/NAME;
# its output in $T/NAME/patches.log.
run_patches() {
    local d=$T/$1
    SESAME_DMS_CONFIG_DIR=$d/config SESAME_DMS_POSTFIX_DIR=$d/postfix \
        SESAME_DMS_ETC_DIR=$d/etc SESAME_DMS_LIB_DIR=$d/lib SESAME_DMS_STATE_DIR=$d/state \
        SESAME_DMS_SUPERVISOR_DIR=$d/supervisor SESAME_DMS_LOG_DIR=$d/log \
        SESAME_DMS_INSTALL=${TEST_INSTALL:-0} SESAME_DMS_START=0 \
        /bin/bash "$d/config/user-patches.sh" >"$d/patches.log" 2>&1
}

# snapshot NAME TAG: every file the add-on writes, to compare two runs.
snapshot() {
    local d=$T/$1
    mkdir -p "$d/$2"
    cp "$d/postfix/main.cf" "$d/postfix/master.cf" "$d/etc/sesame.conf" "$d/$2/"
    cp "$d/supervisor/sesame.conf" "$d/$2/supervisor.conf"
    stat -c '%A %N' "$d/lib" "$d/lib/"* >"$d/$2/lib.stat" 2>/dev/null
}

# The entry user-patches.sh writes for the sample sesame.conf, and the
# reinjection service.
want_milter='{ inet:127.0.0.1:8895, default_action=tempfail, command_timeout=30s, protocol=6 }'
svc=127.0.0.1:2525/inet
# postconf -P's answer for one parameter of the reinjection service.
svc_param() { postconf -c "$1" -P "$svc/$2" 2>&1; }

for scenario in dkim+dmarc rspamd none; do
    case $scenario in
        dkim+dmarc) before='$dkim_milter $dmarc_milter ' ;;
        rspamd) before='$rspamd_milter ' ;;
        none) before='' ;;
    esac
    dms_postfix "$scenario" "$scenario"
    d=$T/$scenario pf=$T/$scenario/postfix
    if [[ $scenario == dkim+dmarc ]]; then
        # A user's line for the reinjection service, to be applied after
        # the add-on's own settings.
        echo "$svc/syslog_name=postfix/sesame-test" >>"$d/config/postfix-master.cf"
    fi
    dms_overrides "$scenario"

    if ! run_patches "$scenario"; then
        fail "$scenario: user-patches.sh exits non-zero:"
        indent "$d/patches.log"
        continue
    fi
    ok "$scenario: user-patches.sh exits 0"
    # main.cf: DMS's milters kept, in their order, Sesame's last.
    equal "$scenario: smtpd_milters" "$(postconf -c "$pf" -h smtpd_milters)" "$before\$sesame_milter"
    equal "$scenario: sesame_milter" "$(postconf -c "$pf" -h sesame_milter)" "$want_milter"
    equal "$scenario: DMS's milter_default_action" "$(postconf -c "$pf" -h milter_default_action)" accept
    [[ $scenario == dkim+dmarc ]] &&
        equal "$scenario: non_smtpd_milters" "$(postconf -c "$pf" -h non_smtpd_milters)" '$dkim_milter'
    warnings=$(postconf -c "$pf" -n 2>&1 >/dev/null | grep -i sesame)
    if [[ -z $warnings ]]; then ok "$scenario: no postconf warning about Sesame's settings"; else
        fail "$scenario: postconf warns: $warnings"
    fi

    # master.cf: one loopback service without chroot and without milter.
    entry=$(postconf -c "$pf" -M "$svc")
    check "$scenario: master.cf: $(tr -s ' ' <<<"$entry")" \
        grep -Eq '^127\.0\.0\.1:2525 +inet +n +- +n +- +- +smtpd ' <<<"$entry"
    equal "$scenario: reinjection services" "$(grep -c '^127\.0\.0\.1:2525 ' "$pf/master.cf")" 1
    for p in smtpd_milters= mynetworks=127.0.0.0/8 smtpd_client_restrictions=permit_mynetworks,reject \
        smtpd_relay_restrictions=permit_mynetworks,reject smtpd_recipient_restrictions=permit_mynetworks,reject; do
        want="$svc/${p%%=*} =${p#*=}"
        [[ -n ${p#*=} ]] && want="$svc/${p%%=*} = ${p#*=}"
        equal "$scenario: master.cf" "$(svc_param "$pf" "${p%%=*}")" "$want"
    done
    [[ $scenario == dkim+dmarc ]] &&
        equal "$scenario: the user's config/postfix-master.cf line" \
            "$(svc_param "$pf" syslog_name)" "$svc/syslog_name = postfix/sesame-test"

    # The daemons, the configuration, the state.
    check "$scenario: supervisord program sesame-milter with $d/etc/sesame.conf" \
        grep -qx "command=/.*/sesame-milter --config $d/etc/sesame.conf" "$d/supervisor/sesame.conf"
    check "$scenario: no sesame-ingest program without [[ingest.queue]]" \
        eval '! grep -q sesame-ingest "$d/supervisor/sesame.conf"'
    check "$scenario: sesame.conf copied to the etc folder" cmp -s "$d/config/sesame/sesame.conf" "$d/etc/sesame.conf"
    equal "$scenario: lib folder on the state volume" "$(readlink "$d/lib")" "$d/state/lib-sesame"

    # Again: DMS may run it again (by hand, or older releases at each start).
    snapshot "$scenario" run1
    check "$scenario: second run exits 0" run_patches "$scenario" || indent "$d/patches.log"
    snapshot "$scenario" run2
    if diff -r "$d/run1" "$d/run2" >"$d/diff"; then ok "$scenario: second run changed nothing"; else
        fail "$scenario: second run changed:"
        indent "$d/diff"
    fi
    if [[ $(id -u) == 0 ]]; then
        if out=$(script -qec "postfix -c $pf check" /dev/null 2>&1); then ok "$scenario: postfix -c DIR check"; else
            fail "$scenario: postfix -c DIR check:"
            indent <<<"$out"
        fi
    fi
done

# Variants, in the first folder: a queue, an SRS domain, a unix socket.
d=$T/dkim+dmarc pf=$d/postfix
cat >>"$d/config/sesame/sesame.conf" <<'EOF'

[[ingest.queue]]
domain = "example.com"
url = "https://sqs.eu-west-1.amazonaws.com/123456789012/example-com-inbound"
EOF
sed -i -e 's|^domain = ""|domain = "example.com"|' -e 's|^socket = .*|socket = "unix:/run/sesame/milter.sock"|' \
    -e "s|^secret_file = .*|secret_file = \"$d/lib/srs.secret\"|" "$d/config/sesame/sesame.conf"
check "variants: user-patches.sh exits 0" run_patches dkim+dmarc || indent "$d/patches.log"
check "ingest: supervisord program sesame-ingest with the same sesame.conf" \
    grep -qx "command=/.*/sesame-ingest --config $d/etc/sesame.conf" "$d/supervisor/sesame.conf"
if [[ -n $sesame ]]; then
    for f in "$addon/sesame/sesame.conf" "$d/etc/sesame.conf"; do
        equal "sesame check-config ${f#"$T"/}" "$("$sesame" --config "$f" check-config 2>&1)" 'configuration OK'
    done
fi
equal "unix socket: sesame_milter" "$(postconf -c "$pf" -h sesame_milter)" \
    '{ unix:/run/sesame/milter.sock, default_action=tempfail, command_timeout=30s, protocol=6 }'
check "unix socket: the milter's command makes /run/sesame (group postfix) first" \
    grep -q 'command=/bin/sh -c "install -d -m 0750 -o [a-z]* -g postfix /run/sesame && exec ' "$d/supervisor/sesame.conf"
secret=$d/state/lib-sesame/srs.secret
equal "srs: secret created on the state volume, mode" "$(stat -c %a "$secret" 2>&1)" 640
cp "$secret" "$d/secret.before"
run_patches dkim+dmarc
check "srs: an existing secret is kept" cmp -s "$secret" "$d/secret.before"
# Back to the sample: the ingest program goes, smtpd_milters stays.
cp "$addon/sesame/sesame.conf" "$d/config/sesame/sesame.conf"
run_patches dkim+dmarc
check "ingest: queue removed, program removed" eval '! grep -q sesame-ingest "$d/supervisor/sesame.conf"'
equal "variants: smtpd_milters after all that" "$(postconf -c "$pf" -h smtpd_milters)" '$dkim_milter $dmarc_milter $sesame_milter'
equal "variants: sesame_milter back to inet" "$(postconf -c "$pf" -h sesame_milter)" "$want_milter"

# A user's config/postfix-master.cf line that would send reinjected mail
# through Sesame again: refused, reset, said.
echo "$svc/smtpd_milters=\$dkim_milter,\$sesame_milter" >>"$d/config/postfix-master.cf"
check "loop guard: user-patches.sh exits non-zero" eval '! run_patches dkim+dmarc'
check "loop guard: an ERROR line says why" grep -q "ERROR.*must not pass mail to Sesame again" "$d/patches.log"
equal "loop guard: reset" "$(svc_param "$pf" smtpd_milters)" "$svc/smtpd_milters ="
sed -i '$ d' "$d/config/postfix-master.cf"

# SESAME_DMS_ENABLE=0 changes nothing; SESAME_DMS_MILTER_ORDER=first.
cp "$pf/main.cf" "$d/main.cf.before"
SESAME_DMS_ENABLE=0 run_patches dkim+dmarc
check "SESAME_DMS_ENABLE=0 changes nothing" cmp -s "$pf/main.cf" "$d/main.cf.before"
dms_postfix first dkim+dmarc
dms_overrides first
SESAME_DMS_MILTER_ORDER=first run_patches first
equal "SESAME_DMS_MILTER_ORDER=first: smtpd_milters" "$(postconf -c "$T/first/postfix" -h smtpd_milters)" \
    '$sesame_milter $dkim_milter $dmarc_milter'

# Package install, with stand-ins for dpkg-deb, dpkg-query and apt-get that
# log their calls: the .deb files are installed once, not again.
stub=$T/stub
mkdir -p "$stub"
cat >"$stub/dpkg-deb" <<'EOF'
#!/bin/bash
# dpkg-deb -f FILE FIELD, for FILE named NAME_VERSION_ARCH.deb
base=${2##*/}; base=${base%.deb}
case $3 in Package) echo "${base%%_*}" ;; Version) v=${base#*_}; echo "${v%_*}" ;; esac
EOF
cat >"$stub/dpkg-query" <<'EOF'
#!/bin/bash
# installed once apt-get install was called
if grep -q '^apt-get install' "$STUB_LOG" 2>/dev/null; then printf 'install ok installed 1.0-1'; else exit 1; fi
EOF
cat >"$stub/apt-get" <<'EOF'
#!/bin/bash
echo "apt-get $*" >>"$STUB_LOG"
EOF
chmod +x "$stub"/*
for p in sesame sesame-milter sesame-ingest; do : >"$d/config/sesame/${p}_1.0-1_amd64.deb"; done
export STUB_LOG=$T/stub.log
PATH=$stub:$PATH TEST_INSTALL=1 run_patches dkim+dmarc
PATH=$stub:$PATH TEST_INSTALL=1 run_patches dkim+dmarc
debs=$d/config/sesame/sesame-ingest_1.0-1_amd64.deb" $d/config/sesame/sesame-milter_1.0-1_amd64.deb $d/config/sesame/sesame_1.0-1_amd64.deb"
equal "install: apt-get calls over two runs" "$(grep '^apt-get install' "$STUB_LOG" | sed 's/.*--force-confold //')" "$debs"
check "install: second run says so" grep -q 'already installed' "$d/patches.log"

echo
if ((failures)); then
    echo "docker-mailserver add-on: $failures check(s) failed"
    exit 1
fi
echo "docker-mailserver add-on: all checks passed"

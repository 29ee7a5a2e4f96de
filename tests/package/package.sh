#!/usr/bin/env bash
# package.sh SRC_DIR - the Debian packages, built, linted, installed, run
# and purged on this machine (ctest: package.deb, label package).
#
# 1. Copies SRC_DIR's files (git's view of them: tracked and untracked, not
#    ignored; without git, everything but build*/, node_modules/, .git/) to
#    a temporary directory and runs `dpkg-buildpackage -us -uc -b` there,
#    never in the checkout.
# 2. lintian on the .changes: any error fails.
# 3. Purges packages left by an earlier run, then `dpkg -i` the three.
# 4. Checks the sesame user and group, /var/lib/sesame and the store, the
#    conffile, the SRS secret, the milter's socket directory, the units
#    (systemd-analyze verify), and that `sesame check-config` accepts the
#    shipped configuration. Under systemd: sesame-milter enabled,
#    sesame-ingest neither enabled nor started.
# 5. Starts sesame-milter exactly as its installed unit's ExecStart= says
#    (without systemd), waits for its socket, checks the socket's mode and
#    group and, from /proc/PID/status, that it runs as the sesame user and
#    group; then stops it by PID (SIGTERM) and checks its exit status.
# 6. `dpkg --purge`: the user, the group, the directories and the conffile
#    are gone.
# Every failed check prints one "FAIL: ..." line; the exit status is 1 if
# any failed, 77 (skipped) when not root or not on Debian. Whatever
# happens, the trap stops the milter it started (by PID), purges the
# packages it installed, and removes its temporary directory.
set -uo pipefail

if [ $# -ne 1 ] || [ ! -f "$1/debian/control" ]; then
    echo "usage: $0 SRC_DIR (a Sesame source tree with debian/)" >&2
    exit 2
fi
SRC=$(cd "$1" && pwd)
PACKAGES=(sesame sesame-milter sesame-ingest)
START=$(date +%s)

if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: needs root (dpkg -i, a system user, a daemon started as root)"
    exit 77
fi
if ! command -v dpkg >/dev/null; then
    echo "SKIP: not a Debian system"
    exit 77
fi

failures=0
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}
ok() { echo "ok: $*"; }
step() { echo "== $* ($(($(date +%s) - START)) s)"; }

WORK=$(mktemp -d /tmp/sesame-package.XXXXXX)
MILTER_PID=
INSTALLED=0

installed_packages() {
    local p status
    for p in "${PACKAGES[@]}"; do
        status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null) || continue
        [ -n "$status" ] && [ "$status" != not-installed ] && echo "$p"
    done
}

purge() {
    local present
    present=$(installed_packages)
    [ -z "$present" ] && return 0
    # shellcheck disable=SC2086
    dpkg --purge $present >"$WORK/purge.log" 2>&1
}

# shellcheck disable=SC2317 # (run by the EXIT trap)
cleanup() {
    local rc=$?
    if [ -n "$MILTER_PID" ] && kill -0 "$MILTER_PID" 2>/dev/null; then
        kill -TERM "$MILTER_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$MILTER_PID" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$MILTER_PID" 2>/dev/null
        wait "$MILTER_PID" 2>/dev/null
    fi
    if [ "$INSTALLED" = 1 ] && ! purge; then
        echo "FAIL: cleanup: dpkg --purge failed:"
        cat "$WORK/purge.log"
        rc=1
    fi
    rm -rf "$WORK"
    echo "package.sh: $(($(date +%s) - START)) s"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

finish() {
    if [ "$failures" -gt 0 ]; then
        echo "$failures check(s) failed"
        exit 1
    fi
    echo "all checks passed"
    exit 0
}

missing=()
for tool in dpkg-buildpackage dh lintian; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
    fail "missing ${missing[*]}: apt-get install dpkg-dev debhelper lintian (scripts/lib.sh lists them)"
    finish
fi

# --- 1. build, in a copy ----------------------------------------------------
step "copying $SRC"
mkdir "$WORK/src"
if [ -d "$SRC/.git" ] && command -v git >/dev/null; then
    # Read-only use of git: which files the tree has (tracked or new, not
    # ignored); files deleted in the work tree are skipped.
    git -C "$SRC" ls-files -z --cached --others --exclude-standard |
        (cd "$SRC" && while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done) |
        tar -C "$SRC" --null -T - -cf - | tar -C "$WORK/src" -xf -
else
    tar -C "$SRC" --exclude='./build*' --exclude=./node_modules --exclude=./.git \
        --exclude=./.demo --exclude='./obj-*' -cf - . | tar -C "$WORK/src" -xf -
fi
if [ ! -f "$WORK/src/debian/rules" ]; then
    fail "copying the source: no debian/rules in the copy"
    finish
fi

step "dpkg-buildpackage -us -uc -b"
if ! (cd "$WORK/src" && nice -n 10 dpkg-buildpackage -us -uc -b -j"$(nproc)") >"$WORK/build.log" 2>&1; then
    tail -n 40 "$WORK/build.log"
    fail "dpkg-buildpackage failed (last lines above)"
    finish
fi
shopt -s nullglob
found=("$WORK"/sesame_*.changes)
CHANGES=${found[0]:-}
debs=()
for p in "${PACKAGES[@]}"; do
    found=("$WORK/${p}"_*.deb)
    deb=${found[0]:-}
    if [ -z "$deb" ]; then
        fail "dpkg-buildpackage made no ${p}_*.deb"
    else
        debs+=("$deb")
    fi
done
[ -n "$CHANGES" ] || fail "dpkg-buildpackage made no .changes"
[ "$failures" -eq 0 ] || finish
ok "built $(cd "$WORK" && echo ./*.deb)"

# --- 2. lintian ---------------------------------------------------------------
step "lintian"
lintian --fail-on error "$CHANGES" >"$WORK/lintian.log" 2>&1
lintian_rc=$?
grep -v 'running with root privileges' "$WORK/lintian.log"
if [ "$lintian_rc" -ne 0 ] || grep -q '^E: ' "$WORK/lintian.log"; then
    fail "lintian reports errors (E: lines above)"
else
    ok "lintian: no errors ($(grep -c '^W: ' "$WORK/lintian.log") warnings)"
fi

# --- 3. install ---------------------------------------------------------------
step "installing"
present=$(installed_packages)
if [ -n "$present" ]; then
    echo "purging what an earlier installation left: $present"
    INSTALLED=1
    if ! purge; then
        cat "$WORK/purge.log"
        fail "dpkg --purge of the packages already installed failed"
        finish
    fi
    INSTALLED=0
fi
if getent passwd sesame >/dev/null; then
    fail "a user 'sesame' exists that no Sesame package owns: the purge at the end would delete it; remove it first (deluser --system sesame)"
    finish
fi
INSTALLED=1
if ! dpkg -i "${debs[@]}" >"$WORK/install.log" 2>&1; then
    cat "$WORK/install.log"
    fail "dpkg -i failed"
    finish
fi
ok "dpkg -i ${PACKAGES[*]}"

# Under systemd, the postinst enabled and started sesame-milter: check it,
# then stop it so that the milter below is the one this test starts.
if [ -d /run/systemd/system ]; then
    [ "$(systemctl is-enabled sesame-milter.service 2>/dev/null)" = enabled ] ||
        fail "sesame-milter.service is not enabled after installation"
    [ "$(systemctl is-enabled sesame-ingest.service 2>/dev/null)" = disabled ] ||
        fail "sesame-ingest.service is not disabled after installation"
    systemctl is-active --quiet sesame-ingest.service && fail "sesame-ingest.service was started"
    ok "systemd: sesame-milter.service $(systemctl is-enabled sesame-milter.service 2>&1)," \
        "sesame-ingest.service $(systemctl is-enabled sesame-ingest.service 2>&1)" \
        "and $(systemctl is-active sesame-ingest.service 2>&1)"
    systemctl stop sesame-milter.service
fi

# --- 4. what the packages set up ------------------------------------------------
step "checking the installation"
if pw=$(getent passwd sesame); then
    IFS=: read -r _ _ uid gid _ home shell <<<"$pw"
    [ "$uid" -lt 1000 ] || fail "user sesame: uid $uid is not a system uid"
    [ "$home" = /var/lib/sesame ] || fail "user sesame: home is $home, not /var/lib/sesame"
    case "$shell" in */nologin | */false) ;; *) fail "user sesame: login shell $shell" ;; esac
    ok "user sesame ($uid), home $home, shell $shell"
else
    fail "no user sesame after installation"
    uid='' gid=''
fi
if gr=$(getent group sesame); then
    sgid=$(cut -d: -f3 <<<"$gr")
    [ -z "$gid" ] || [ "$sgid" = "$gid" ] || fail "user sesame's primary group $gid is not the group sesame ($sgid)"
    ok "group sesame ($sgid)"
else
    fail "no group sesame after installation"
fi

if [ -d /var/lib/sesame ]; then
    got=$(stat -c '%U:%G %a' /var/lib/sesame)
    [ "$got" = "sesame:sesame 750" ] || fail "/var/lib/sesame is $got, not sesame:sesame 750"
    ok "/var/lib/sesame $got"
else
    fail "no /var/lib/sesame"
fi
if [ -f /var/lib/sesame/policy.db ]; then
    owner=$(stat -c '%U' /var/lib/sesame/policy.db)
    [ "$owner" = sesame ] || fail "/var/lib/sesame/policy.db belongs to $owner, not sesame"
    if out=$(runuser -u sesame -- sesame domain list 2>&1); then
        ok "the store answers the sesame user (sesame domain list)"
    else
        fail "sesame domain list as the sesame user: $out"
    fi
else
    fail "the postinst did not create /var/lib/sesame/policy.db"
fi

conffiles=$(dpkg-query -W -f='${Conffiles}' sesame 2>/dev/null)
if grep -q '^ /etc/sesame/sesame.conf ' <<<"$conffiles"; then
    ok "conffile /etc/sesame/sesame.conf"
else
    fail "/etc/sesame/sesame.conf is not a conffile of sesame (Conffiles: $conffiles)"
fi
if [ -f /etc/sesame/srs.secret ]; then
    got=$(stat -c '%U:%G %a' /etc/sesame/srs.secret)
    [ "$got" = "root:sesame 640" ] || fail "/etc/sesame/srs.secret is $got, not root:sesame 640"
    [ -s /etc/sesame/srs.secret ] || fail "/etc/sesame/srs.secret is empty"
else
    fail "the postinst did not create /etc/sesame/srs.secret"
fi

if out=$(sesame check-config 2>&1) && [ "$out" = "configuration OK" ]; then
    ok "sesame check-config: $out"
else
    fail "sesame check-config on the shipped configuration: $out"
fi
if out=$(sesame-milter --config /etc/sesame/sesame.conf --check-config 2>&1); then
    ok "sesame-milter --check-config: $out"
else
    fail "sesame-milter --check-config on the shipped configuration: $out"
fi

for f in /usr/share/man/man1/sesame.1.gz /usr/share/man/man8/sesame-milter.8.gz \
    /usr/share/man/man8/sesame-ingest.8.gz /lib/systemd/system/sesame-milter.service \
    /lib/systemd/system/sesame-ingest.service; do
    [ -f "$f" ] || fail "not installed: $f"
done

if command -v systemd-analyze >/dev/null; then
    if out=$(systemd-analyze verify /lib/systemd/system/sesame-milter.service \
        /lib/systemd/system/sesame-ingest.service 2>&1) && [ -z "$out" ]; then
        ok "systemd-analyze verify: both units clean"
    else
        fail "systemd-analyze verify of the units: $out"
    fi
fi

SOCKET=$(sed -n 's/^[[:space:]]*socket[[:space:]]*=[[:space:]]*"unix:\(.*\)".*/\1/p' /etc/sesame/sesame.conf | head -n1)
if [ -z "$SOCKET" ]; then
    fail "no unix [milter] socket in the shipped /etc/sesame/sesame.conf"
    SOCKET=/run/sesame/milter.sock
fi
HAVE_POSTFIX=0
getent group postfix >/dev/null && [ -d /var/spool/postfix ] && HAVE_POSTFIX=1
if [ "$HAVE_POSTFIX" = 1 ]; then
    dir=$(dirname "$SOCKET")
    got=$(stat -c '%U:%G %a' "$dir" 2>/dev/null)
    [ "$got" = "sesame:postfix 750" ] || fail "socket directory $dir is '$got', not sesame:postfix 750"
    ok "socket directory $dir $got"
fi

# --- 5. the milter, as its unit starts it ------------------------------------------
step "starting sesame-milter as the unit's ExecStart= says"
UNIT=/lib/systemd/system/sesame-milter.service
EXEC=$(sed -n 's/^ExecStart=//p' "$UNIT" | head -n1)
read -r -a argv <<<"$EXEC"
if [ ${#argv[@]} -eq 0 ] || [ ! -x "${argv[0]}" ]; then
    fail "ExecStart= of $UNIT is '$EXEC': not a program"
    finish
fi
echo "$EXEC"
http_free=1
ss -Hltn 'sport = :9187' 2>/dev/null | grep -q . && http_free=0
"${argv[@]}" >"$WORK/milter.log" 2>&1 </dev/null &
MILTER_PID=$!

listening() {
    # /proc/net/unix: a listening socket (flags 00010000) at that path.
    awk -v p="$1" '$8 == p && $4 == "00010000" { found = 1 } END { exit !found }' /proc/net/unix
}
up=0
for _ in $(seq 150); do
    kill -0 "$MILTER_PID" 2>/dev/null || break
    if listening "$SOCKET"; then
        up=1
        break
    fi
    sleep 0.2
done
if [ "$up" = 1 ]; then
    ok "sesame-milter (pid $MILTER_PID) listens on $SOCKET"
    got=$(stat -c '%a %G' "$SOCKET")
    if [ "$HAVE_POSTFIX" = 1 ]; then
        [ "$got" = "660 postfix" ] || fail "socket $SOCKET is mode/group '$got', not '660 postfix'"
    fi

    # The privilege drop follows the bind: give it a moment.
    want_uid=$(id -u sesame 2>/dev/null) want_gid=$(id -g sesame 2>/dev/null)
    dropped=0
    for _ in $(seq 25); do
        u=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$MILTER_PID/status" 2>/dev/null)
        g=$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "/proc/$MILTER_PID/status" 2>/dev/null)
        groups=$(awk '/^Groups:/ { $1 = ""; print substr($0, 2) }' "/proc/$MILTER_PID/status" 2>/dev/null)
        if [ "$u" = "$want_uid $want_uid $want_uid $want_uid" ] && [ "$g" = "$want_gid $want_gid $want_gid $want_gid" ]; then
            dropped=1
            break
        fi
        sleep 0.2
    done
    if [ "$dropped" = 1 ]; then
        ok "sesame-milter runs as sesame:sesame (Uid $u, Gid $g, Groups ${groups:-none})"
        [ -z "$groups" ] || [ "$groups" = "$want_gid" ] ||
            fail "sesame-milter keeps supplementary groups: $groups (want only $want_gid)"
    else
        fail "sesame-milter started as root does not run as sesame ($want_uid:$want_gid): /proc/$MILTER_PID/status has Uid $u, Gid $g"
    fi

    if [ "$http_free" = 1 ] && command -v curl >/dev/null; then
        body=$(curl -s -m 5 http://127.0.0.1:9187/readyz)
        if [[ "$body" == policy:\ ok* ]]; then
            ok "GET /readyz: ${body%%$'\n'*}"
        else
            fail "GET http://127.0.0.1:9187/readyz: '$body' (the store as the sesame user?)"
        fi
    else
        echo "note: 127.0.0.1:9187 was in use already (or no curl): /readyz not checked"
    fi
else
    if kill -0 "$MILTER_PID" 2>/dev/null; then
        fail "sesame-milter (pid $MILTER_PID) does not listen on $SOCKET after 30 s"
    else
        wait "$MILTER_PID"
        fail "sesame-milter exited with status $? before listening: $(tr '\n' ' ' <"$WORK/milter.log")"
        MILTER_PID=
    fi
fi

if [ -n "$MILTER_PID" ]; then
    step "stopping sesame-milter (pid $MILTER_PID)"
    kill -TERM "$MILTER_PID"
    stopped=0
    for _ in $(seq 450); do
        if ! kill -0 "$MILTER_PID" 2>/dev/null; then
            stopped=1
            break
        fi
        sleep 0.2
    done
    if [ "$stopped" = 1 ]; then
        wait "$MILTER_PID"
        status=$?
        MILTER_PID=
        if [ "$status" -eq 0 ]; then
            ok "sesame-milter stopped on SIGTERM (status 0)"
        else
            fail "sesame-milter exited with status $status on SIGTERM: $(tr '\n' ' ' <"$WORK/milter.log")"
        fi
    else
        fail "sesame-milter (pid $MILTER_PID) still runs 90 s after SIGTERM"
    fi
fi

# --- 6. purge ----------------------------------------------------------------------
step "dpkg --purge"
if purge; then
    INSTALLED=0
    ok "dpkg --purge ${PACKAGES[*]}"
else
    cat "$WORK/purge.log"
    fail "dpkg --purge failed"
fi
left=$(installed_packages)
[ -z "$left" ] || fail "still known to dpkg after the purge: $left"
getent passwd sesame >/dev/null && fail "user sesame still exists after the purge"
getent group sesame >/dev/null && fail "group sesame still exists after the purge"
for d in /var/lib/sesame /etc/sesame /var/spool/postfix/sesame /run/sesame; do
    [ -e "$d" ] && fail "$d still exists after the purge"
done
dpkg-query -W -f='${Conffiles}' sesame 2>/dev/null | grep -q sesame.conf &&
    fail "dpkg still lists the conffile /etc/sesame/sesame.conf after the purge"
[ "$failures" -eq 0 ] && ok "user, group, directories and conffile are gone"

finish

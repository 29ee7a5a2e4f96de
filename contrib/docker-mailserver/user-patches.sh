#!/bin/bash
# user-patches.sh - Sesame inside docker-mailserver (DMS).
#
# DMS runs config/user-patches.sh (/tmp/docker-mailserver/user-patches.sh in
# the container) as root once its own set-up is done and before it starts
# Postfix: on the first start of a new container, not on `docker restart`
# (DMS keeps the container's configuration then, and so does this add-on:
# supervisord starts the daemons again by itself). Every step can run any
# number of times with the same result. In order:
#
#   1. install the Sesame packages found in config/sesame/*.deb (apt-get, so
#      that their dependencies come along), unless already installed;
#   2. copy config/sesame/sesame.conf to /etc/sesame/sesame.conf;
#   3. keep /var/lib/sesame (the sqlite store, the SRS secret) on DMS's
#      /var/mail-state volume, as DMS does with its own state; create the
#      SRS secret when [srs] domain is set and the secret does not exist;
#   4. main.cf: define `sesame_milter` (the endpoint of [milter] socket, with
#      per-milter settings: default_action=tempfail) and add `$sesame_milter`
#      to smtpd_milters, after DMS's own milters (OpenDKIM, OpenDMARC,
#      rspamd), which stay as they are;
#   5. master.cf: the milter-less reinjection service on 127.0.0.1:2525, plus
#      the lines of config/postfix-master.cf that name it;
#   6. supervisord: programs sesame-milter and (when sesame.conf has an
#      [[ingest.queue]]) sesame-ingest, started now and at every container
#      start; `sesame db init` first.
#
# Every path and step can be changed with an environment variable (set them
# in the compose file; docs/docker-mailserver.md lists them all):
# SESAME_DMS_ENABLE=0 does nothing; SESAME_DMS_INSTALL=0 skips step 1;
# SESAME_DMS_START=0 writes the supervisord file but starts nothing.
#
# Already have a user-patches.sh? Append this file to it: everything runs in
# a bash process of its own, so its settings (set -e, variables) stay there.
# Messages go to standard output in DMS's log format; a failed step says
# ERROR, and the script then ends with status 1 (DMS starts anyway: a
# milter that does not answer makes Postfix defer mail, 4xx, never accept it
# unchecked).

sesame_dms_main() {
    set -euo pipefail
    shopt -s nullglob

    local enable=${SESAME_DMS_ENABLE:-1}
    local config_dir=${SESAME_DMS_CONFIG_DIR:-/tmp/docker-mailserver}
    local sesame_dir=${SESAME_DMS_SESAME_DIR:-$config_dir/sesame}
    local postfix_dir=${SESAME_DMS_POSTFIX_DIR:-/etc/postfix}
    local etc_dir=${SESAME_DMS_ETC_DIR:-/etc/sesame}
    local lib_dir=${SESAME_DMS_LIB_DIR:-/var/lib/sesame}
    local state_dir=${SESAME_DMS_STATE_DIR:-/var/mail-state}
    local supervisor_dir=${SESAME_DMS_SUPERVISOR_DIR:-/etc/supervisor/conf.d}
    local supervisorctl=${SESAME_DMS_SUPERVISORCTL:-supervisorctl}
    local log_dir=${SESAME_DMS_LOG_DIR:-/var/log/supervisor}
    local do_install=${SESAME_DMS_INSTALL:-1}
    local do_start=${SESAME_DMS_START:-1}
    local milter_endpoint=${SESAME_DMS_MILTER:-}
    local milter_order=${SESAME_DMS_MILTER_ORDER:-last}
    local default_action=${SESAME_DMS_DEFAULT_ACTION:-tempfail}
    local reinject=${SESAME_DMS_REINJECT:-127.0.0.1:2525}
    local failed=0

    log() { printf '%s %-5s sesame-user-patches: %s\n' "$(date -Iseconds)" "$1" "$2"; }
    fail() { log ERROR "$1"; failed=1; }
    pc() { postconf -c "$postfix_dir" "$@"; }
    # pc_set 'NAME = VALUE'...: edit main.cf. Postfix waits before reading a
    # main.cf changed less than 2 s ago (every postconf after an edit would
    # take 2 s): make it older, as DMS does (_adjust_mtime_for_postfix_maincf).
    pc_set() {
        pc -e "$@"
        touch -d '2 seconds ago' "$postfix_dir/main.cf"
    }

    if [[ $enable == 0 ]]; then
        log INFO 'SESAME_DMS_ENABLE=0: Sesame left out'
        return 0
    fi
    case $milter_order in first | last) ;; *)
        log ERROR "SESAME_DMS_MILTER_ORDER must be first or last, not '$milter_order'"
        return 1 ;;
    esac
    case $default_action in accept | reject | tempfail | quarantine) ;; *)
        log ERROR "SESAME_DMS_DEFAULT_ACTION must be tempfail, accept, reject or quarantine, not '$default_action'"
        return 1 ;;
    esac
    if [[ ! $reinject =~ ^[0-9.]+:[0-9]+$ ]]; then
        log ERROR "SESAME_DMS_REINJECT must be IPV4:PORT (e.g. 127.0.0.1:2525), not '$reinject'"
        return 1
    fi
    if [[ ! -f $postfix_dir/main.cf || ! -f $postfix_dir/master.cf ]]; then
        log ERROR "no Postfix configuration in $postfix_dir (main.cf, master.cf)"
        return 1
    fi

    # toml_get FILE SECTION KEY: the value of a string key of a [SECTION]
    # table, quotes removed; nothing when the file or the key is not there.
    # Enough for the keys read here, not a TOML parser.
    toml_get() {
        [[ -f $1 ]] || return 0
        awk -v want="$2" -v key="$3" '
            /^[[:space:]]*\[/ {
                s = $0; arr = ($0 ~ /^[[:space:]]*\[\[/)
                sub(/^[[:space:]]*\[+[[:space:]]*/, "", s); sub(/[[:space:]]*\].*$/, "", s)
                sec = s; next
            }
            !arr && sec == want && $0 ~ ("^[[:space:]]*" key "[[:space:]]*=") {
                v = $0; sub(/^[^=]*=[[:space:]]*/, "", v)
                if (v ~ /^"/) { sub(/^"/, "", v); sub(/".*$/, "", v) }
                else if (v ~ /^\047/) { sub(/^\047/, "", v); sub(/\047.*$/, "", v) }
                else sub(/[[:space:]]*(#.*)?$/, "", v)
                print v; exit
            }' "$1"
    }
    has_ingest_queue() { [[ -f $1 ]] && grep -Eq '^[[:space:]]*\[\[[[:space:]]*ingest\.queue[[:space:]]*\]\]' "$1"; }
    user_exists() { id -u "$1" >/dev/null 2>&1; }
    group_exists() { getent group "$1" >/dev/null 2>&1; }
    binary() { command -v "$1" 2>/dev/null || echo "/usr/sbin/$1"; }

    # --- 1. packages -------------------------------------------------------
    install_packages() {
        local debs=("$sesame_dir"/*.deb) deb name version installed needed=0
        if ((${#debs[@]} == 0)); then
            log INFO "no .deb in $sesame_dir: using the Sesame already installed, if any"
            return 0
        fi
        for deb in "${debs[@]}"; do
            if ! name=$(dpkg-deb -f "$deb" Package) || ! version=$(dpkg-deb -f "$deb" Version); then
                fail "$deb: not a Debian package"
                return 0
            fi
            installed=$(dpkg-query -W -f='${Status} ${Version}' "$name" 2>/dev/null || true)
            [[ $installed == "install ok installed $version" ]] || needed=1
        done
        if ((needed == 0)); then
            log INFO "packages in $sesame_dir already installed"
            return 0
        fi
        log INFO "installing ${debs[*]##*/}"
        export DEBIAN_FRONTEND=noninteractive
        local apt_opts=(-y -q --no-install-recommends
            -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
        # DMS's image ships without package lists; apt-get needs them to
        # bring in the libraries Sesame links (gmime, libmicrohttpd...).
        # Offline, put those .deb files into the same folder instead.
        if ! apt-get install "${apt_opts[@]}" "${debs[@]}"; then
            log WARN 'apt-get could not install the packages as they are: updating the package lists and trying again'
            apt-get update -q || true
            apt-get install "${apt_opts[@]}" "${debs[@]}" ||
                fail "installing ${debs[*]##*/} failed (put missing dependencies as .deb files into $sesame_dir when the container has no network)"
        fi
    }
    if [[ $do_install == 1 ]]; then install_packages; else log INFO 'SESAME_DMS_INSTALL=0: packages not installed'; fi

    # --- 2. configuration --------------------------------------------------
    local conf=$etc_dir/sesame.conf conf_changed=0
    if [[ -f $sesame_dir/sesame.conf ]]; then
        mkdir -p "$etc_dir"
        if ! cmp -s "$sesame_dir/sesame.conf" "$conf"; then
            # Through a temporary file: never a half-written configuration.
            tr -d '\r' <"$sesame_dir/sesame.conf" >"$conf.new"
            chmod 0640 "$conf.new"
            group_exists sesame && chgrp sesame "$conf.new"
            cmp -s "$conf.new" "$conf" || conf_changed=1
            mv -f "$conf.new" "$conf"
        fi
        log INFO "configuration: $conf (from $sesame_dir/sesame.conf)"
    elif [[ -f $conf ]]; then
        log INFO "configuration: $conf (no $sesame_dir/sesame.conf)"
    else
        log WARN "no $sesame_dir/sesame.conf and no $conf: every key at its default"
    fi

    local ingest=0
    if has_ingest_queue "$conf"; then
        ingest=1
        log INFO '[[ingest.queue]] configured: sesame-ingest runs too'
    fi

    local reinject_conf
    reinject_conf=$(toml_get "$conf" milter reinject)
    if [[ -n $reinject_conf && $reinject_conf != "smtp:$reinject" ]]; then
        log WARN "[milter] reinject is '$reinject_conf' but the reinjection service is $reinject: mail Sesame hands back may pass the milter again"
    fi

    # --- 3. state ----------------------------------------------------------
    if [[ -d $state_dir ]]; then
        local dest=$state_dir/lib-sesame
        if [[ -L $lib_dir && $(readlink "$lib_dir") == "$dest" ]]; then
            mkdir -p "$dest"
        elif [[ -d $dest ]]; then
            # The volume's copy wins, as in DMS's own consolidation.
            rm -rf "$lib_dir"
            ln -s "$dest" "$lib_dir"
        elif [[ -d $lib_dir && ! -L $lib_dir ]]; then
            mv "$lib_dir" "$dest"
            ln -s "$dest" "$lib_dir"
        else
            mkdir -p "$dest"
            rm -f "$lib_dir"
            ln -s "$dest" "$lib_dir"
        fi
        log INFO "state: $lib_dir -> $dest"
    else
        mkdir -p "$lib_dir"
        log WARN "no $state_dir volume: $lib_dir (the sqlite store, the SRS secret) is lost when the container is re-created"
    fi
    # The sesame user's, as the package makes it; its id may differ from
    # the one the volume's files were made with (another DMS image).
    if user_exists sesame; then
        chown -R sesame:sesame "$(readlink -f "$lib_dir")"
        chmod 0750 "$(readlink -f "$lib_dir")"
    fi

    local srs_domain srs_secret
    srs_domain=$(toml_get "$conf" srs domain)
    srs_secret=$(toml_get "$conf" srs secret_file)
    srs_secret=${srs_secret:-/etc/sesame/srs.secret}
    if [[ -n $srs_domain && ! -s $srs_secret ]]; then
        mkdir -p "$(dirname "$srs_secret")"
        # Readable by root and sesame only, as the package's own.
        (umask 027 && head -c 24 /dev/urandom | base64 >"$srs_secret")
        user_exists sesame && chown sesame:sesame "$srs_secret"
        log INFO "SRS secret created: $srs_secret"
        case $srs_secret in "$lib_dir"/*) ;; *)
            log WARN "$srs_secret is not under $lib_dir: a re-created container gets a new secret and bounces to older SRS addresses are refused" ;;
        esac
    fi

    # --- 4. main.cf ----------------------------------------------------------
    # The endpoint in Postfix's syntax, from [milter] socket (libmilter's).
    if [[ -z $milter_endpoint ]]; then
        local socket
        socket=$(toml_get "$conf" milter socket)
        socket=${socket:-unix:/run/sesame/milter.sock}
        local where=${socket#*:}
        case $socket in
            unix:* | local:*) milter_endpoint=unix:$where ;;
            inet:*@*) milter_endpoint=inet:${where#*@}:${where%@*} ;;
            inet:*) milter_endpoint=inet:127.0.0.1:$where ;;
            inet6:*@*) milter_endpoint="inet:[${where#*@}]:${where%@*}" ;;
            *) fail "[milter] socket '$socket' is not unix:PATH, inet:PORT@HOST or inet:PORT; set SESAME_DMS_MILTER" ;;
        esac
    fi
    if [[ -n $milter_endpoint ]]; then
        # Per-milter settings: DMS keeps milter_default_action = accept for
        # its own milters; Sesame's trouble is a 4xx, never mail let through.
        pc_set "sesame_milter = { $milter_endpoint, default_action=$default_action, command_timeout=30s, protocol=6 }"
        local milters
        milters=$(pc -h smtpd_milters 2>/dev/null)
        if [[ " ${milters//,/ } " =~ [[:space:]]\$\{?sesame_milter\}?[[:space:]] ]]; then
            : # already there, wherever the first run put it
        elif [[ -z ${milters//[[:space:],]/} ]]; then
            # shellcheck disable=SC2016 # a Postfix parameter, not the shell's
            pc_set 'smtpd_milters = $sesame_milter'
        elif [[ $milter_order == first ]]; then
            pc_set "smtpd_milters = \$sesame_milter $milters"
        else
            pc_set "smtpd_milters = $milters \$sesame_milter"
        fi
        log INFO "main.cf: smtpd_milters = $(pc -h smtpd_milters); sesame_milter = $(pc -h sesame_milter)"
    fi

    # --- 5. master.cf --------------------------------------------------------
    # Sesame's forwards and replies and sesame-ingest's deliveries come back
    # here: loopback only, no milter (Sesame must not see its own mail again,
    # and OpenDKIM/rspamd would sign any mail from loopback whose From: is one
    # of your domains, SES mail included), relaying allowed from 127.0.0.0/8
    # whatever PERMIT_DOCKER made of mynetworks. Unknown mailboxes are still
    # refused (smtpd_reject_unlisted_recipient).
    local svc=$reinject/inet
    pc -M "$svc=$reinject inet n - n - - smtpd"
    pc -P "$svc/syslog_name=postfix/sesame-reinject" \
        "$svc/smtpd_milters=" \
        "$svc/mynetworks=127.0.0.0/8" \
        "$svc/smtpd_upstream_proxy_protocol=" \
        "$svc/smtpd_client_restrictions=permit_mynetworks,reject" \
        "$svc/smtpd_relay_restrictions=permit_mynetworks,reject" \
        "$svc/smtpd_recipient_restrictions=permit_mynetworks,reject"
    # config/postfix-master.cf lines for this service: DMS applied them
    # before the service existed (and warned "unmatched service_name/type").
    local line
    if [[ -f $config_dir/postfix-master.cf ]]; then
        while IFS= read -r line || [[ -n $line ]]; do
            line=${line%$'\r'}
            [[ $line == "$svc/"* ]] || continue
            pc -P "$line" || fail "config/postfix-master.cf: cannot apply '$line'"
            log INFO "master.cf: applied '$line' from config/postfix-master.cf"
        done <"$config_dir/postfix-master.cf"
    fi
    if pc -P "$svc/smtpd_milters" | grep -q 'sesame_milter'; then
        pc -P "$svc/smtpd_milters="
        fail "$svc must not pass mail to Sesame again (smtpd_milters named \$sesame_milter): reset to no milter"
    fi
    log INFO "master.cf: $(pc -M "$svc" | tr -s ' ')"

    # --- 6. daemons ----------------------------------------------------------
    local milter_bin ingest_bin sesame_bin
    milter_bin=$(binary sesame-milter)
    ingest_bin=$(binary sesame-ingest)
    sesame_bin=$(command -v sesame 2>/dev/null || echo /usr/bin/sesame)
    local milter_cmd="$milter_bin --config $conf"
    if [[ $milter_endpoint == unix:* ]]; then
        # The socket's folder: reachable by Postfix (group postfix) only.
        # Made at each start: /run may be a tmpfs.
        local sockdir owner=root
        sockdir=$(dirname "${milter_endpoint#unix:}")
        user_exists sesame && owner=sesame
        milter_cmd="/bin/sh -c \"install -d -m 0750 -o $owner -g postfix $sockdir && exec $milter_cmd\""
    fi
    mkdir -p "$supervisor_dir" "$log_dir"
    {
        echo '; Sesame for docker-mailserver: written by user-patches.sh at each run; edits are lost.'
        echo '; autostart: supervisord starts these at every container start, when'
        echo "; user-patches.sh does not run. Logs: syslog (DMS's mail.log) as sesame.conf"
        echo "; says; start-up errors in $log_dir/<program>.log."
        echo
        echo '[program:sesame-milter]'
        echo "command=$milter_cmd"
        echo '; as the packaged systemd unit: AWS shared files in ~/.aws, on the state volume'
        echo "environment=HOME=\"$lib_dir\""
        echo 'autostart=true'
        echo 'autorestart=true'
        echo 'startsecs=2'
        echo 'startretries=10'
        echo '; messages in flight get a minute to finish after SIGTERM'
        echo 'stopwaitsecs=70'
        echo "stdout_logfile=$log_dir/%(program_name)s.log"
        echo "stderr_logfile=$log_dir/%(program_name)s.log"
        if ((ingest)); then
            echo
            echo '[program:sesame-ingest]'
            echo "command=$ingest_bin --config $conf"
            echo "environment=HOME=\"$lib_dir\""
            echo 'autostart=true'
            echo 'autorestart=true'
            echo 'startsecs=2'
            echo 'startretries=10'
            echo 'stopwaitsecs=70'
            echo "stdout_logfile=$log_dir/%(program_name)s.log"
            echo "stderr_logfile=$log_dir/%(program_name)s.log"
        fi
    } >"$supervisor_dir/sesame.conf.new"
    mv -f "$supervisor_dir/sesame.conf.new" "$supervisor_dir/sesame.conf"
    log INFO "supervisord: $supervisor_dir/sesame.conf (sesame-milter$( ((ingest)) && echo ', sesame-ingest'))"

    if [[ $do_start != 1 ]]; then
        log INFO 'SESAME_DMS_START=0: daemons not started'
        return $failed
    fi
    [[ -x $milter_bin ]] || fail "$milter_bin is missing: put the Sesame packages into $sesame_dir (Postfix defers mail until sesame-milter answers)"
    ((ingest == 0)) || [[ -x $ingest_bin ]] || fail "$ingest_bin is missing: install the sesame-ingest package"
    # Create or migrate the sqlite store, as its owner (the package does so
    # too, but on the store it found before step 3 put the volume's there).
    if [[ -x $sesame_bin && $(toml_get "$conf" store backend) =~ ^(sqlite)?$ ]]; then
        local as=()
        user_exists sesame && as=(runuser -u sesame --)
        "${as[@]}" "$sesame_bin" --config "$conf" db init || fail "sesame db init failed"
    fi
    if [[ -x $milter_bin ]] && ! "$milter_bin" --config "$conf" --check-config >/dev/null; then
        fail "$conf is refused by sesame-milter (above); fix config/sesame/sesame.conf"
    fi
    if ((ingest)) && [[ -x $ingest_bin ]] && ! "$ingest_bin" --config "$conf" --check-config >/dev/null; then
        fail "$conf is refused by sesame-ingest (above); fix config/sesame/sesame.conf"
    fi

    if ! $supervisorctl pid >/dev/null 2>&1; then
        fail "supervisord does not answer ($supervisorctl): the daemons were not started"
        return $failed
    fi
    local running_before
    running_before=$($supervisorctl status sesame-milter sesame-ingest 2>/dev/null | awk '$2 == "RUNNING" { print $1 }' || true)
    $supervisorctl reread >/dev/null || fail 'supervisorctl reread failed'
    # Adds, changes or removes the programs of sesame.conf (and starts them).
    $supervisorctl update || fail 'supervisorctl update failed'
    if ((conf_changed)) && [[ -n $running_before ]]; then
        log INFO "configuration changed: restarting ${running_before//$'\n'/ }"
        # shellcheck disable=SC2086 # one program name a word
        $supervisorctl restart $running_before || fail 'restarting the daemons failed'
    fi
    local programs=sesame-milter
    ((ingest)) && programs+=' sesame-ingest'
    # shellcheck disable=SC2086 # one program name a word
    $supervisorctl status $programs 2>&1 | while IFS= read -r line; do log INFO "supervisord: $line"; done || true
    # A running Postfix (user-patches.sh run again by hand) reads the new
    # main.cf/master.cf; at DMS's start-up Postfix is not running yet.
    if postfix -c "$postfix_dir" status >/dev/null 2>&1; then
        postfix -c "$postfix_dir" reload || fail 'postfix reload failed'
    fi
    return $failed
}

# A bash of its own: `set -e` inside holds even when this file was appended
# to a user-patches.sh whose own settings differ.
if ! bash -c "$(declare -f sesame_dms_main); sesame_dms_main"; then
    printf '%s %-5s sesame-user-patches: %s\n' "$(date -Iseconds)" ERROR 'Sesame set-up incomplete (see above)'
    false
fi

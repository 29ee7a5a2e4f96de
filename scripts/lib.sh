# lib.sh - shared by the README's commands: install missing Debian packages
# and the pinned npm emulators (scripts/emulators.sh), build with CMake.
# Sourced, never run.
source "$(dirname "${BASH_SOURCE[0]}")/emulators.sh"

packages=(
    build-essential cmake ninja-build pkg-config python3 sqlite3
    clang clang-format libclang-rt-14-dev
    libsqlite3-dev libtoml11-dev libcli11-dev nlohmann-json3-dev libgmime-3.0-dev libidn2-dev
    libgtest-dev libgmock-dev googletest libbenchmark-dev
    libssl-dev libmilter-dev libcurl4-openssl-dev libxml2-dev libmicrohttpd-dev libsystemd-dev
    postfix swaks miltertest
    prometheus debhelper dpkg-dev lintian fakeroot
    curl
)
# Node.js and npm are not listed: install_emulators installs Debian's only
# when the commands are missing (a machine may have NodeSource's, which
# Debian's npm package conflicts with).

install_packages() {
    local missing=()
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    echo "setup: installing ${missing[*]}"
    # Postfix: install only, no system instance (tests start their own).
    echo "postfix postfix/main_mailer_type select No configuration" | "${sudo[@]}" debconf-set-selections
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# build DIR [CMAKE OPTIONS...] [-- BUILD OPTIONS...]: configure once, then
# build incrementally (everything, or what BUILD OPTIONS such as --target say).
build() {
    local dir=$1 configure=() target=()
    shift
    while [ $# -gt 0 ] && [ "$1" != -- ]; do configure+=("$1"); shift; done
    [ $# -gt 0 ] && shift && target=("$@")
    if [ ! -f "$dir/build.ninja" ]; then
        cmake -S . -B "$dir" -G Ninja "${configure[@]}" >/dev/null
    fi
    cmake --build "$dir" -j "$(nproc)" "${target[@]}"
}


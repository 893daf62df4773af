#!/bin/sh
# Installs every build, test and benchmark dependency of securechat from
# Debian packages.  Idempotent: quiet and quick when everything is there.
# mandoc lints the manuals (tests/integration/test_install.py).  systemd is
# not installed for its systemd-analyze (a container has no use for it): the
# test of the tracker's unit runs where it is there and says it skipped.
set -eu

PKGS="build-essential make pkg-config
libsodium-dev libzmq3-dev libmsgpack-dev libxxhash-dev
libavformat-dev libavcodec-dev libavutil-dev libseccomp-dev
libjansson-dev libreadline-dev
clang libclang-rt-14-dev
ffmpeg tcpdump iproute2 nftables procps tmux python3 python3-zmq
mandoc"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
        echo "install-deps: missing packages:$missing" >&2
        echo "install-deps: run this script as root (or install sudo) to install them" >&2
        exit 1
    fi
else
    SUDO=""
fi
echo "install-deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null

#!/usr/bin/env bash
# Install the system tools the test suite and the demo drive the stack with, only when missing.
# Debian/Ubuntu, non-interactive. Needs root (CI is root); without root it says what is missing.
set -euo pipefail
need=()
command -v ip      >/dev/null || need+=(iproute2)
command -v socat   >/dev/null || need+=(socat)
command -v tshark  >/dev/null || need+=(tshark)
command -v ping    >/dev/null || need+=(iputils-ping)
command -v nc      >/dev/null || need+=(netcat-openbsd)
command -v curl    >/dev/null || need+=(curl)
command -v dig     >/dev/null || need+=(dnsutils)
command -v hping3  >/dev/null || need+=(hping3)
command -v python3 >/dev/null || need+=(python3)
command -v sha256sum >/dev/null || need+=(coreutils)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing ${need[*]}; run as root (or: sudo apt-get install ${need[*]})" >&2
    exit 0
fi
echo "install-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null

#!/bin/sh
# Installs Debian packages that are missing (and only those): a second run
# changes nothing and takes a second.  Usage: install-packages.sh PKG...
set -eu
missing=""
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# Package lists are needed on a fresh machine; refresh them at most once a day.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -n1)" ]; then
  apt-get update -qq
fi
# Debian's postinst scripts try to start services via invoke-rc.d; without an
# init system that fails harmlessly, and scripts/services.sh starts them.
apt-get install -y -qq --no-install-recommends $missing >/dev/null

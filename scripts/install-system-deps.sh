#!/bin/sh
# Installs the system programs the tests run for real (haproxy, keepalived, MariaDB, network namespaces, ...),
# so that `npm test` passes on a fresh Debian machine as root with nothing else typed. `npm test` runs this first
# (the `pretest` script) and .ci/run calls the same command.
#
# - Everything present: prints nothing and exits 0 (no apt-get, no network).
# - Something missing, running as root on Debian/Ubuntu: apt-get update, then apt-get install of what is missing.
# - Something missing and not root (or no apt-get): exits 1 naming what is missing and the command that installs it.
#
# Set RF_SYSTEM_DEPS_DRY_RUN=1 to print what would be installed without installing it (used by the tests).
set -eu

# ---- THE LIST: Debian package, then the program on PATH that proves it is installed. --------------------------
# One entry per line. Add what your tests need here (and nowhere else); keep the package name first. A program
# given as an absolute path must be that file (pyenv shims on PATH named aws or pip3 are not the Debian packages).
REQUIRED="
haproxy:haproxy
keepalived:keepalived
mariadb-server:mariadbd
iproute2:ip
curl:curl
shellcheck:shellcheck
iptables:iptables
nftables:nft
procps:pgrep
util-linux:nsenter
unzip:unzip
awscli:/usr/bin/aws
zip:zip
openssl:openssl
python3-pip:/usr/bin/pip3
"
# ---- end of the list ------------------------------------------------------------------------------------------

# Programs in sbin are not on a non-login user's PATH on Debian; look there too.
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
export PATH

missing=""
for entry in $REQUIRED; do
  pkg="${entry%%:*}"
  prog="${entry#*:}"
  if ! command -v "$prog" >/dev/null 2>&1; then
    case " $missing " in *" $pkg "*) ;; *) missing="${missing:+$missing }$pkg" ;; esac
  fi
done

[ -z "$missing" ] && exit 0

install_cmd="apt-get update && apt-get install -y --no-install-recommends $missing"

if [ "${RF_SYSTEM_DEPS_DRY_RUN:-}" = "1" ]; then
  echo "install-system-deps: would install: $missing"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-system-deps: the tests need these Debian packages, which are not installed: $missing" >&2
  echo "install-system-deps: run as root (or with sudo):  $install_cmd" >&2
  echo "install-system-deps: the system tests also need root for network namespaces; 'npm run test:unit' runs everything else." >&2
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-system-deps: missing $missing, and this is not a Debian-like system (no apt-get)." >&2
  echo "install-system-deps: install the equivalent packages with your package manager, then run npm test again." >&2
  exit 1
fi

echo "install-system-deps: installing $missing"
export DEBIAN_FRONTEND=noninteractive
# Wait for another apt/dpkg run to finish instead of failing on its lock.
apt-get -o DPkg::Lock::Timeout=300 update -qq
# shellcheck disable=SC2086 # one word per package, on purpose
apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends $missing >/dev/null

still=""
for entry in $REQUIRED; do
  command -v "${entry#*:}" >/dev/null 2>&1 || still="${still:+$still }${entry%%:*}"
done
if [ -n "$still" ]; then
  echo "install-system-deps: apt-get finished, but these are still missing: $still" >&2
  exit 1
fi
echo "install-system-deps: done"

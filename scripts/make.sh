#!/bin/sh
# The README's entry point, for a bare Debian 12 machine that has no make
# and no compiler yet:
#
#   sh scripts/make.sh [TARGET...]
#
# installs what building and testing need (scripts/deps.sh: as root it runs
# apt-get for what is missing, otherwise it prints the apt-get line and
# exits 1), then hands over to make. On a machine that has everything it
# costs one dpkg query per package and runs `make TARGET...`.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
exec make "$@"

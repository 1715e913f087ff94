#!/usr/bin/env bash
# Install the Debian packages ctid needs (build, tests, benchmarks), only those missing.
set -euo pipefail
# dahdi-dkms only for its user-space header (include/dahdi/user.h under /usr/src) used by the OpenR2 fake DAHDI peer
PKGS=(gcc libspandsp-dev libss7-dev libopenr2-dev dahdi-dkms espeak-ng sox tshark postgresql)
missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "ctid needs these Debian packages: ${missing[*]} (run: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null

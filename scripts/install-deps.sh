#!/usr/bin/env bash
# Install the Debian packages ctid needs (build, tests, benchmarks), only those missing, and DAHDI's user-space
# header (dahdi/user.h) for the OpenR2 interop peer's fake DAHDI channel.
set -euo pipefail
PKGS=(gcc libspandsp-dev libss7-dev libopenr2-dev espeak-ng sox tshark postgresql)
missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
have_dahdi_header() {
  [ -f /usr/include/dahdi/user.h ] || compgen -G "/usr/src/dahdi-*/include/dahdi/user.h" >/dev/null
}
if [ ${#missing[@]} -eq 0 ] && have_dahdi_header; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "ctid needs these Debian packages: ${missing[*]:-none} and dahdi/user.h (run: sudo apt-get install" \
       "${missing[*]} dahdi-dkms)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! have_dahdi_header; then
  # Only the header is needed: take it from the dahdi-dkms package without installing it (installing would make
  # DKMS build kernel modules for the running kernel).
  echo "installing dahdi/user.h from the dahdi-dkms package"
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -qq dahdi-dkms >/dev/null && dpkg-deb -x dahdi-dkms_*.deb root)
  header=$(find "$tmp/root/usr/src" -path "*/include/dahdi/user.h" | head -n 1)
  if [ -z "$header" ]; then
    echo "dahdi/user.h not found in the dahdi-dkms package" >&2
    exit 1
  fi
  mkdir -p /usr/include/dahdi
  cp "$(dirname "$header")"/*.h /usr/include/dahdi/      # user.h includes dahdi_config.h
  rm -rf "$tmp"
fi

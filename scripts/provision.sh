# shellcheck shell=bash
# Sourced by scripts/test.sh (and .ci/run): makes sure everything the test suite needs is on
# this machine, installing what is missing where it can, and exports PROTOC.
#
#   etcd      the real etcd the etcd tests start on loopback      (Debian: etcd-server)
#   protoc    etcd-client's build script compiles etcd's .proto files with it; taken from
#             the protoc-bin-vendored crate (a registry package, so no system install and
#             no root needed), else from the PATH, else Debian's protobuf-compiler
#   kubectl   the real Kubernetes client the watch-server tests drive (Debian: kubernetes-client)
#   python3 + the official Kubernetes Python client                (PyPI: kubernetes)
#
# Where something is missing and cannot be installed (not root, or no apt-get), it prints one
# line naming exactly what to install and returns non-zero.

provision_main() {
  local apt_need=() missing=()

  # etcd: $ETCD_BIN wins (the harness reads it too), else `etcd` on the PATH.
  if [ -n "${ETCD_BIN:-}" ]; then
    [ -x "$ETCD_BIN" ] || { echo "provision: ETCD_BIN=$ETCD_BIN is not an executable" >&2; return 1; }
  elif ! command -v etcd >/dev/null 2>&1; then
    apt_need+=(etcd-server); missing+=("etcd")
  fi

  command -v kubectl >/dev/null 2>&1 || { apt_need+=(kubernetes-client); missing+=("kubectl"); }

  # protoc: an explicit PROTOC, else the vendored one, else the PATH, else Debian's.
  if [ -z "${PROTOC:-}" ]; then
    local vendored
    vendored=$(provision_vendored_protoc || true)
    if [ -n "$vendored" ]; then
      export PROTOC="$vendored"
    elif command -v protoc >/dev/null 2>&1; then
      export PROTOC="$(command -v protoc)"
    else
      apt_need+=(protobuf-compiler libprotobuf-dev); missing+=("protoc")
    fi
  fi

  local py_ok=1
  if command -v python3 >/dev/null 2>&1; then
    if ! python3 -c 'import kubernetes' >/dev/null 2>&1; then
      # pip first (the user's own python, e.g. pyenv); Debian's package where pip may not install
      if ! python3 -m pip install --quiet --disable-pip-version-check kubernetes >/dev/null 2>&1; then
        apt_need+=(python3-kubernetes); missing+=("the Python kubernetes client"); py_ok=0
      fi
    fi
  else
    apt_need+=(python3 python3-kubernetes); missing+=("python3 with the kubernetes client"); py_ok=0
  fi

  if [ ${#apt_need[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "provision: installing ${apt_need[*]}"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_need[@]}" >/dev/null
      if [ -z "${PROTOC:-}" ] && command -v protoc >/dev/null 2>&1; then
        export PROTOC="$(command -v protoc)"
      fi
    else
      echo "provision: missing ${missing[*]}: install them (Debian: sudo apt-get install ${apt_need[*]}) and run again" >&2
      return 1
    fi
  fi
  if [ $py_ok -eq 0 ] && ! python3 -c 'import kubernetes' >/dev/null 2>&1; then
    echo "provision: the Python kubernetes client did not install: run 'python3 -m pip install kubernetes' and run again" >&2
    return 1
  fi
  return 0
}

# The protoc binary shipped inside the protoc-bin-vendored crate for this platform (a dev
# dependency of the `tests` package, so cargo has it once the workspace's crates are fetched).
provision_vendored_protoc() {
  local platform
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) platform=linux-x86_64 ;;
    Linux-aarch64) platform=linux-aarch_64 ;;
    Linux-i686) platform=linux-x86_32 ;;
    Linux-ppc64le) platform=linux-ppcle_64 ;;
    Linux-s390x) platform=linux-s390_64 ;;
    Darwin-x86_64) platform=macos-x86_64 ;;
    Darwin-arm64) platform=macos-aarch_64 ;;
    *) return 1 ;;
  esac
  local manifest
  manifest=$(cargo metadata --format-version 1 --quiet 2>/dev/null \
    | grep -o "\"manifest_path\":\"[^\"]*protoc-bin-vendored-$platform-[^\"]*Cargo.toml\"" \
    | head -1 | sed 's/^"manifest_path":"//; s/"$//') || return 1
  [ -n "$manifest" ] || return 1
  local bin
  bin="$(dirname "$manifest")/bin/protoc"
  [ -x "$bin" ] || chmod +x "$bin" 2>/dev/null || true
  [ -x "$bin" ] && "$bin" --version >/dev/null 2>&1 && echo "$bin"
}

provision_main

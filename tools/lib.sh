# Shared by tools/*.sh. Source, don't run.

# Prints a visible step header, and how long the previous step took, so a
# log shows where the time goes.
step() {
  local now=$SECONDS
  if [[ -n "${VAULTCA_STEP_NAME:-}" ]]; then
    printf '(%s: %d s)\n' "$VAULTCA_STEP_NAME" $((now - VAULTCA_STEP_START))
  fi
  VAULTCA_STEP_NAME="$*"
  VAULTCA_STEP_START=$now
  printf '\n\033[1m### %s\033[0m\n' "$*"
}

# Ends the last step's timing (call once at the end of a script).
step_done() {
  if [[ -n "${VAULTCA_STEP_NAME:-}" ]]; then
    printf '(%s: %d s)\n' "$VAULTCA_STEP_NAME" $((SECONDS - VAULTCA_STEP_START))
    VAULTCA_STEP_NAME=""
  fi
}

# Where vaultca keeps build caches that must survive a fresh clone.
VAULTCA_CACHE="${VAULTCA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vaultca}"
export VAULTCA_CACHE

# Builds (or reuses) the real Vault binary and prints its path.
vaultca_vault_bin() {
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  [[ -x "$root/tools/vault/build.sh" || -f "$root/tools/vault/build.sh" ]] || return 1
  local out
  out="$(bash "$root/tools/vault/build.sh" | tail -1)" || return 1
  [[ -x "$out" ]] || return 1
  printf '%s\n' "$out"
}

# Builds (or reuses) the real kube-apiserver, etcd and kube-testbed and
# prints the directory that holds them.
vaultca_kube_bin_dir() {
  local root out
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  out="$(bash "$root/tools/kube/build.sh" | tail -1)" || return 1
  [[ -x "$out/kube-testbed" && -x "$out/kube-apiserver" && -x "$out/etcd" ]] || return 1
  printf '%s\n' "$out"
}

# Shared by tools/*.sh. Source, don't run.

# Prints a visible step header.
step() { printf '\n\033[1m### %s\033[0m\n' "$*"; }

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

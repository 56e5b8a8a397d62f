#!/usr/bin/env bash
# hack/vm/ssh.sh [CMD...]: runs CMD as root in this checkout's running guest (a login shell without CMD), in the
# current directory when the guest has it (the checkout is shared at its own path). stdin, stdout and stderr
# stream through; the exit status is CMD's (255: ssh failed).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
vm_pid >/dev/null || vm_die "this checkout's guest is not running (hack/vm/boot.sh)"
if [ $# -eq 0 ]; then vm_ssh -tt -- bash -l; exit; fi
vm_ssh -- "cd $(printf %q "$PWD") 2>/dev/null || cd; $(printf '%q ' "$@")"

// Set-up file of the vitest project `vm`: its tests need the VM tier's guest (cgroup v2, systemd, AppArmor, swap)
// and change machine-wide state there (hugepage reservations, AppArmor profiles), so they refuse to run anywhere else.
if (process.env.FUNE_VM_GUEST !== '1') {
  throw new Error('test/vm/ runs inside the VM tier\'s guest: use `npm run test:vm` (hack/vm/test.sh), not vitest on the host');
}

import type { Seccomp, SeccompSyscall } from './spec.js';

/**
 * The RuntimeDefault seccomp profile, as containerd generates it (contrib/seccomp/seccomp_default.go, see
 * ../shared/reference/protocols.md §4.1): deny with EPERM by default, allow a fixed list, widen it for the
 * capabilities in the container's bounding set, and without CAP_SYS_ADMIN allow clone only without
 * namespace flags and make clone3 fail with ENOSYS so that libc falls back to clone.
 * Names unknown to the host's libseccomp are skipped by runc, so the list may be ahead of the host.
 */

const words = (text: string): string[] => text.split(/\s+/).filter(Boolean);

/** Allowed for every container, on every architecture. */
const ALWAYS = words(`
  accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32
  clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64
  clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3
  epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old
  eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate
  fanotify_mark fchdir fchmod fchmodat fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr
  flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64
  futex futex_time64 futex_waitv futimesat getcpu getcwd getdents getdents64 getegid getegid32 geteuid
  geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid getppid
  getpriority getrandom getresgid getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage
  getsid getsockname getsockopt get_thread_area gettid gettimeofday getuid getuid32 getxattr
  inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents
  io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit io_uring_enter
  io_uring_register io_uring_setup ipc kill landlock_add_rule landlock_create_ruleset landlock_restrict_self
  lchown lchown32 lgetxattr link linkat listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr
  lstat lstat64 madvise membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2
  mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64
  mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock munlockall
  munmap nanosleep newfstatat _newselect open openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2
  poll ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6 pselect6_time64
  pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64
  recvmsg remap_file_pages removexattr rename renameat renameat2 restart_syscall rmdir rseq rt_sigaction
  rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait
  rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam
  sched_get_priority_max sched_get_priority_min sched_getscheduler sched_rr_get_interval
  sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam sched_setscheduler sched_yield
  seccomp select semctl semget semop semtimedop semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg
  sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid
  setpriority setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32 setrlimit
  set_robust_list setsid setsockopt set_thread_area set_tid_address setuid setuid32 setxattr shmat shmctl
  shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask sigreturn socket socketcall socketpair
  splice stat stat64 statfs statfs64 statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill
  time timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime
  timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64 times
  tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat utime utimensat utimensat_time64 utimes
  vfork vmsplice wait4 waitid waitpid write writev
`);

/** personality(2) is allowed only with these personas (Linux, and the 32-bit and uname26 variants). */
const PERSONALITIES = [0x0, 0x0008, 0x20000, 0x20008, 0xffffffff];

/** Allowed only with the capability that guards them. */
const BY_CAPABILITY: Record<string, string[]> = {
  CAP_DAC_READ_SEARCH: ['open_by_handle_at'],
  CAP_SYS_ADMIN: words(`
    bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount mount_setattr move_mount
    name_to_handle_at open_tree perf_event_open quotactl quotactl_fd setdomainname sethostname setns syslog
    umount umount2 unshare`),
  CAP_SYS_BOOT: ['reboot'],
  CAP_SYS_CHROOT: ['chroot'],
  CAP_SYS_MODULE: ['delete_module', 'init_module', 'finit_module'],
  CAP_SYS_PACCT: ['acct'],
  CAP_SYS_PTRACE: ['kcmp', 'pidfd_getfd', 'process_madvise', 'process_vm_readv', 'process_vm_writev', 'ptrace'],
  CAP_SYS_RAWIO: ['iopl', 'ioperm'],
  CAP_SYS_TIME: ['settimeofday', 'stime', 'clock_settime', 'clock_settime64'],
  CAP_SYS_TTY_CONFIG: ['vhangup'],
  CAP_SYSLOG: ['syslog'],
  CAP_BPF: ['bpf'],
  CAP_PERFMON: ['perf_event_open'],
};

interface ArchInfo {
  /** libseccomp architecture names the filter covers (native plus compat ABIs). */
  scmp: string[];
  /** syscalls that exist only there. */
  extra: string[];
  /** argument index of clone's flags (s390 swaps the first two). */
  cloneFlagsArg: number;
}

/** Per-architecture facts, keyed by `uname -m` names (and Go's GOARCH names as aliases). */
const ARCHES: Record<string, ArchInfo> = {
  x86_64: { scmp: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'], extra: ['arch_prctl', 'modify_ldt'], cloneFlagsArg: 0 },
  i686: { scmp: [], extra: ['modify_ldt'], cloneFlagsArg: 0 },
  aarch64: {
    scmp: ['SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64'],
    extra: ['arm_fadvise64_64', 'arm_sync_file_range', 'sync_file_range2', 'breakpoint', 'cacheflush', 'set_tls'],
    cloneFlagsArg: 0,
  },
  armv7l: { scmp: [], extra: ['arm_fadvise64_64', 'arm_sync_file_range', 'sync_file_range2', 'breakpoint', 'cacheflush', 'set_tls'], cloneFlagsArg: 0 },
  ppc64le: { scmp: [], extra: ['sync_file_range2', 'swapcontext'], cloneFlagsArg: 0 },
  s390x: { scmp: ['SCMP_ARCH_S390', 'SCMP_ARCH_S390X'], extra: ['s390_pci_mmio_read', 's390_pci_mmio_write', 's390_runtime_instr'], cloneFlagsArg: 1 },
  riscv64: { scmp: ['SCMP_ARCH_RISCV64'], extra: ['riscv_flush_icache'], cloneFlagsArg: 0 },
  mips64: { scmp: ['SCMP_ARCH_MIPS', 'SCMP_ARCH_MIPS64', 'SCMP_ARCH_MIPS64N32'], extra: [], cloneFlagsArg: 0 },
  mips64el: { scmp: ['SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64', 'SCMP_ARCH_MIPSEL64N32'], extra: [], cloneFlagsArg: 0 },
};
const ALIASES: Record<string, string> = { amd64: 'x86_64', arm64: 'aarch64', '386': 'i686', i386: 'i686', arm: 'armv7l' };

/** CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET. */
export const CLONE_NAMESPACE_FLAGS = 0x7e020000;

const ENOSYS = 38;

function archInfo(arch: string): ArchInfo {
  return ARCHES[ALIASES[arch] ?? arch] ?? { scmp: [], extra: [], cloneFlagsArg: 0 };
}

const allow = (names: string[]): SeccompSyscall => ({ names, action: 'SCMP_ACT_ALLOW' });

/**
 * runtimeDefaultProfile builds the RuntimeDefault profile for a container whose bounding set is `bounding`, on
 * the host architecture `arch` (`uname -m` form). ptrace is in the base list since every kernel fune supports
 * is >= 4.8.
 */
export function runtimeDefaultProfile(bounding: readonly string[], arch: string): Seccomp {
  const info = archInfo(arch);
  const syscalls: SeccompSyscall[] = [allow(ALWAYS)];
  for (const persona of PERSONALITIES) {
    syscalls.push({ ...allow(['personality']), args: [{ index: 0, value: persona, op: 'SCMP_CMP_EQ' }] });
  }
  syscalls.push(allow(['ptrace']));
  if (info.extra.length > 0) syscalls.push(allow(info.extra));
  for (const [cap, names] of Object.entries(BY_CAPABILITY)) {
    if (bounding.includes(cap)) syscalls.push(allow(names));
  }
  if (!bounding.includes('CAP_SYS_ADMIN')) {
    syscalls.push({
      ...allow(['clone']),
      args: [{ index: info.cloneFlagsArg, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
    });
    syscalls.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS });
  }
  return { defaultAction: 'SCMP_ACT_ERRNO', architectures: info.scmp, syscalls };
}

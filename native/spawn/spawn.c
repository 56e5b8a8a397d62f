/*
 * fune_spawn: start a program with posix_spawn(3) instead of libuv's fork(2).
 *
 * Node's child_process.spawn forks the whole daemon (its page tables are copied) and holds the event loop until the
 * child has exec'd. glibc's posix_spawn uses clone(CLONE_VM|CLONE_VFORK): the child borrows the parent's memory
 * until it execs, so the cost no longer grows with the daemon's size.
 *
 * The exit is learnt without threads: a pidfd (pidfd_open, Linux >= 5.3) is watched with a uv_poll on Node's loop,
 * and the child is reaped with waitid(P_PIDFD). libuv's SIGCHLD handler waitpid()s only the pids of its own
 * process handles, so it never reaps these children.
 *
 * JS side: src/sys/fast-spawn.ts. Exports:
 *   probe() -> 0 | -errno                 whether pidfds work here
 *   spawn(file, argv, envp|null, cwd|null, stdio, setsid, onexit)
 *        -> [handle, pid, parentFd0, parentFd1, ...] | -errno
 *        stdio[i]: -1 = /dev/null (fds 0-2; higher fds are left closed), -2 = a pipe (the child reads fd 0 and
 *        writes the others; the parent's end, close-on-exec, is returned at its index, else -1), n >= 0 = fd n.
 *        The child has those fds and no other: every fd above them is closed before the exec, so what the daemon
 *        itself inherited without close-on-exec (a caller's lock or pipe) never reaches conmon, runc or a plugin.
 *        onexit(code, signo) is called once, after the child was reaped.
 *   kill(handle, signo) -> 0 | -errno     (-ESRCH once reaped)
 *   ref(handle, bool)                     whether the watch keeps the loop alive
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

extern char **environ;

typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref onexit;
  napi_async_context actx;
  pid_t pid;
  int pidfd;
  int reaped;
  int closed;  /* the uv handle is closed */
  int js_gone; /* the JS handle was collected */
  int started; /* spawnAsync: the child runs and the poll watches it (always 1 for spawn) */
  int unref;   /* spawnAsync: ref(false) came before the child was started */
} child_t;

static int pidfd_open_(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }
static int pidfd_send_signal_(int fd, int sig) { return (int)syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0); }

#define CHECK(call)                                                                                                \
  do {                                                                                                             \
    if ((call) != napi_ok) {                                                                                       \
      napi_throw_error(env, NULL, "fune_spawn: " #call " failed");                                                \
      return NULL;                                                                                                 \
    }                                                                                                              \
  } while (0)

/*
 * spawn_prepare initialises the file actions and attributes both spawn paths use: fd i of the child is src[i]
 * (0-2 from /dev/null where src[i] < 0) and every fd above them closed, the cwd, an empty signal mask, every
 * catchable signal at its default, and a new session when asked. Returns 0 or an errno; fa and at are initialised either way (the caller destroys them).
 */
static int spawn_prepare(posix_spawn_file_actions_t *fa, posix_spawnattr_t *at, const int *src, uint32_t n,
                         const char *cwd, int setsid_) {
  int err = 0;
  posix_spawn_file_actions_init(fa);
  posix_spawnattr_init(at);
  for (uint32_t i = 0; i < n && !err; i++) {
    if (src[i] >= 0) err = posix_spawn_file_actions_adddup2(fa, src[i], (int)i);
    else if (i < 3) err = posix_spawn_file_actions_addopen(fa, (int)i, "/dev/null", i == 0 ? O_RDONLY : O_RDWR, 0);
  }
  /* After the dup2s (actions run in order): whatever else is open in the daemon without close-on-exec. */
  if (!err) err = posix_spawn_file_actions_addclosefrom_np(fa, n > 3 ? (int)n : 3);
  if (!err && cwd) err = posix_spawn_file_actions_addchdir_np(fa, cwd);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  if (!err) err = posix_spawnattr_setsigmask(at, &none);
  if (!err) err = posix_spawnattr_setsigdefault(at, &all);
  if (!err) err = posix_spawnattr_setflags(at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | (setsid_ ? POSIX_SPAWN_SETSID : 0));
  return err;
}

static void maybe_free(child_t *c) {
  if (c->closed && c->js_gone) free(c);
}

static void on_close(uv_handle_t *h) {
  child_t *c = (child_t *)h;
  if (c->pidfd >= 0) close(c->pidfd);
  c->pidfd = -1;
  c->closed = 1;
  maybe_free(c);
}

static void handle_finalize(napi_env env, void *data, void *hint) {
  child_t *c = data;
  c->js_gone = 1;
  maybe_free(c);
}

static void on_readable(uv_poll_t *h, int status, int events) {
  child_t *c = (child_t *)h;
  siginfo_t si;
  int r;
  memset(&si, 0, sizeof si);
  do r = waitid((idtype_t)P_PIDFD, (id_t)c->pidfd, &si, WEXITED | WNOHANG);
  while (r < 0 && errno == EINTR);
  if (r == 0 && si.si_pid == 0) return; /* not exited yet */
  int code = -1, signo = 0;
  if (r == 0) {
    if (si.si_code == CLD_EXITED) code = si.si_status;
    else signo = si.si_status;
  }
  c->reaped = 1;
  uv_poll_stop(&c->poll);
  uv_close((uv_handle_t *)&c->poll, on_close);

  napi_env env = c->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, argv[2], result;
  if (napi_get_reference_value(env, c->onexit, &cb) == napi_ok && cb != NULL) {
    napi_get_global(env, &recv);
    napi_create_int32(env, code, &argv[0]);
    napi_create_int32(env, signo, &argv[1]);
    if (napi_make_callback(env, c->actx, recv, cb, 2, argv, &result) != napi_ok) {
      bool pending = false;
      napi_is_exception_pending(env, &pending);
      if (pending) {
        napi_value err;
        napi_get_and_clear_last_exception(env, &err);
        napi_fatal_exception(env, err);
      }
    }
  }
  napi_delete_reference(env, c->onexit);
  c->onexit = NULL;
  napi_async_destroy(env, c->actx);
  c->actx = NULL;
  napi_close_handle_scope(env, scope);
}

/* utf8 copies a JS string into a malloc'd C string (NULL on failure). */
static char *utf8(napi_env env, napi_value v) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (s && napi_get_value_string_utf8(env, v, s, len + 1, &len) != napi_ok) {
    free(s);
    return NULL;
  }
  return s;
}

static void free_strv(char **v) {
  if (!v) return;
  for (char **p = v; *p; p++) free(*p);
  free(v);
}

/* strv copies a JS array of strings into a NULL-terminated vector. */
static char **strv(napi_env env, napi_value arr) {
  uint32_t n;
  if (napi_get_array_length(env, arr, &n) != napi_ok) return NULL;
  char **v = calloc(n + 1, sizeof *v);
  if (!v) return NULL;
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    if (napi_get_element(env, arr, i, &e) != napi_ok || !(v[i] = utf8(env, e))) {
      free_strv(v);
      return NULL;
    }
  }
  return v;
}

/*
 * spawn_search is execvp's search over PATH, done here because the PATH that counts is the child's (as libuv does),
 * which posix_spawnp would not use.
 */
static int spawn_search(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *at,
                        char **argv, char **envp) {
  if (strchr(file, '/')) return posix_spawn(pid, file, fa, at, argv, envp);
  const char *path = NULL;
  for (char **e = envp; *e; e++)
    if (strncmp(*e, "PATH=", 5) == 0) {
      path = *e + 5;
      break;
    }
  if (!path) path = "/usr/bin:/bin";
  size_t flen = strlen(file);
  char *buf = malloc(strlen(path) + flen + 3);
  if (!buf) return ENOMEM;
  int err = ENOENT;
  const char *p = path;
  for (;;) {
    const char *end = strchr(p, ':');
    size_t dlen = end ? (size_t)(end - p) : strlen(p);
    if (dlen == 0) {
      memcpy(buf, file, flen + 1);
    } else {
      memcpy(buf, p, dlen);
      buf[dlen] = '/';
      memcpy(buf + dlen + 1, file, flen + 1);
    }
    int r;
    if (access(buf, X_OK) != 0) r = errno;
    else r = posix_spawn(pid, buf, fa, at, argv, envp);
    if (r == 0) {
      free(buf);
      return 0;
    }
    if (r == EACCES) err = EACCES;
    else if (r != ENOENT && r != ENOTDIR) {
      free(buf);
      return r;
    }
    if (!end) break;
    p = end + 1;
  }
  free(buf);
  return err;
}

#define MAX_FDS 64

static napi_value js_spawn(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value a[7];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  if (argc < 7) {
    napi_throw_type_error(env, NULL, "fune_spawn.spawn: 7 arguments expected");
    return NULL;
  }
  napi_valuetype t;
  char *file = utf8(env, a[0]);
  char **argv = strv(env, a[1]);
  char **envp = NULL, *cwd = NULL;
  CHECK(napi_typeof(env, a[2], &t));
  if (t != napi_null && t != napi_undefined) envp = strv(env, a[2]);
  CHECK(napi_typeof(env, a[3], &t));
  if (t == napi_string) cwd = utf8(env, a[3]);
  uint32_t n = 0;
  int spec[MAX_FDS];
  napi_get_array_length(env, a[4], &n);
  bool setsid_ = false;
  napi_get_value_bool(env, a[5], &setsid_);
  napi_value result = NULL;
  int err = 0;
  if (!file || !argv || n > MAX_FDS) {
    err = EINVAL;
    goto out_strings;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    napi_get_element(env, a[4], i, &e);
    if (napi_get_value_int32(env, e, &spec[i]) != napi_ok) {
      err = EINVAL;
      goto out_strings;
    }
  }

  int parent[MAX_FDS], src[MAX_FDS], owned[MAX_FDS];
  for (uint32_t i = 0; i < n; i++) parent[i] = src[i] = owned[i] = -1;
  for (uint32_t i = 0; i < n && !err; i++) {
    if (spec[i] == -2) {
      int p[2];
      if (pipe2(p, O_CLOEXEC) < 0) {
        err = errno;
        break;
      }
      parent[i] = i == 0 ? p[1] : p[0];
      src[i] = owned[i] = i == 0 ? p[0] : p[1];
    } else if (spec[i] >= 0) {
      src[i] = spec[i];
    }
    /* A source below n could be overwritten by the dup2 to a lower target before it is read: move it up. */
    if (src[i] >= 0 && src[i] < (int)n) {
      int hi = fcntl(src[i], F_DUPFD_CLOEXEC, (int)n);
      if (hi < 0) {
        err = errno;
        break;
      }
      if (owned[i] >= 0) close(owned[i]);
      src[i] = owned[i] = hi;
    }
  }

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  pid_t pid = 0;
  if (!err) {
    err = spawn_prepare(&fa, &at, src, n, cwd, setsid_);
    if (!err) err = spawn_search(&pid, file, &fa, &at, argv, envp ? envp : environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
  }
  for (uint32_t i = 0; i < n; i++)
    if (owned[i] >= 0) close(owned[i]);

  int pidfd = -1;
  if (!err) {
    pidfd = pidfd_open_(pid);
    if (pidfd < 0) {
      /* Cannot watch it: do not leave it running unwatched. */
      err = errno;
      kill(pid, SIGKILL);
      while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
      }
    }
  }
  if (err) {
    for (uint32_t i = 0; i < n; i++)
      if (parent[i] >= 0) close(parent[i]);
    napi_create_int32(env, -err, &result);
    goto out_strings;
  }

  child_t *c = calloc(1, sizeof *c);
  if (c) c->started = 1;
  uv_loop_t *loop = NULL;
  napi_value handle, name, v;
  int uverr = !c ? UV_ENOMEM : napi_get_uv_event_loop(env, &loop) != napi_ok ? UV_EINVAL : uv_poll_init(loop, &c->poll, pidfd);
  if (uverr == 0 && (uverr = uv_poll_start(&c->poll, UV_READABLE, on_readable)) != 0) {
    /* Initialised but not started: close it; the close callback closes the pidfd and frees c. */
    c->js_gone = 1;
    c->pidfd = -1;
    uv_close((uv_handle_t *)&c->poll, on_close);
    c = NULL;
  } else if (uverr != 0) {
    free(c);
  }
  if (uverr != 0) {
    /* The child cannot be watched: do not leave it running unreaped. */
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    close(pidfd);
    for (uint32_t i = 0; i < n; i++)
      if (parent[i] >= 0) close(parent[i]);
    napi_create_int32(env, uverr, &result);
    goto out_strings;
  }
  c->env = env;
  c->pid = pid;
  c->pidfd = pidfd;
  napi_create_reference(env, a[6], 1, &c->onexit);
  napi_create_string_utf8(env, "funeSpawn", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &c->actx);
  napi_create_external(env, c, handle_finalize, NULL, &handle);
  napi_create_array_with_length(env, n + 2, &result);
  napi_set_element(env, result, 0, handle);
  napi_create_int32(env, pid, &v);
  napi_set_element(env, result, 1, v);
  for (uint32_t i = 0; i < n; i++) {
    napi_create_int32(env, parent[i], &v);
    napi_set_element(env, result, i + 2, v);
  }

out_strings:
  free(file);
  free(cwd);
  free_strv(argv);
  free_strv(envp);
  return result;
}

/*
 * spawnAsync(file, argv, envp|null, cwd|null, stdio, setsid, onexit, onspawn) -> [handle, parentFd0, ...] | -errno
 *
 * The same as spawn, except that posix_spawn runs on a thread of its own and onspawn(pid | -errno) comes later on
 * the loop. posix_spawn's vfork holds the calling thread until the child has exec'd, and on a busy node the child
 * may wait many milliseconds for a CPU before it does: on Node's thread that stalls every other call the daemon
 * serves. The pipes are made here, at once (their parent ends are returned); every fd to pass on is duplicated
 * here too, so the caller may close its own as soon as this returns; envp null copies the daemon's environ now.
 * Until onspawn the handle takes no signal (kill gives -EAGAIN) and ref(false) is remembered.
 */
typedef struct {
  child_t *c;
  char *file, *cwd;
  char **argv, **envp;
  uint32_t n;
  int src[MAX_FDS];
  bool setsid_;
  int err;
  pid_t pid;
  int pidfd;
  napi_ref onspawn;
  napi_threadsafe_function tsfn;
} job_t;

static char **copy_environ(void) {
  size_t n = 0;
  while (environ[n]) n++;
  char **v = calloc(n + 1, sizeof *v);
  if (!v) return NULL;
  for (size_t i = 0; i < n; i++)
    if (!(v[i] = strdup(environ[i]))) {
      free_strv(v);
      return NULL;
    }
  return v;
}

static void job_free(job_t *j) {
  for (uint32_t i = 0; i < j->n; i++)
    if (j->src[i] >= 0) close(j->src[i]);
  free(j->file);
  free(j->cwd);
  free_strv(j->argv);
  free_strv(j->envp);
  free(j);
}

static void *spawn_thread(void *arg) {
  job_t *j = arg;
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  int err = 0;
  pid_t pid = 0;
  err = spawn_prepare(&fa, &at, j->src, j->n, j->cwd, j->setsid_);
  if (!err) err = spawn_search(&pid, j->file, &fa, &at, j->argv, j->envp);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  /* The child has its copies: the pipes' child ends and the duplicates close now. */
  for (uint32_t i = 0; i < j->n; i++)
    if (j->src[i] >= 0) {
      close(j->src[i]);
      j->src[i] = -1;
    }
  j->pidfd = -1;
  if (!err) {
    j->pidfd = pidfd_open_(pid);
    if (j->pidfd < 0) {
      err = errno;
      kill(pid, SIGKILL);
      while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
      }
    }
  }
  j->err = err;
  j->pid = pid;
  napi_threadsafe_function tsfn = j->tsfn;
  napi_call_threadsafe_function(tsfn, j, napi_tsfn_blocking);
  napi_release_threadsafe_function(tsfn, napi_tsfn_release);
  return NULL;
}

/* spawned runs on the loop once the thread is done: the child is watched, then onspawn hears of it. */
static void spawned(napi_env env, napi_value js_cb, void *context, void *data) {
  job_t *j = data;
  child_t *c = j->c;
  int err = j->err;
  int closing = 0; /* the poll was initialised and is being closed: on_close marks the handle closed */
  if (!err) {
    uv_loop_t *loop = NULL;
    int uverr = env == NULL || napi_get_uv_event_loop(env, &loop) != napi_ok ? UV_EINVAL : uv_poll_init(loop, &c->poll, j->pidfd);
    if (uverr == 0 && (uverr = uv_poll_start(&c->poll, UV_READABLE, on_readable)) != 0) {
      c->pidfd = -1; /* closed below, not by on_close */
      uv_close((uv_handle_t *)&c->poll, on_close);
      closing = 1;
    }
    if (uverr != 0) {
      /* The child cannot be watched: do not leave it running unreaped. */
      kill(j->pid, SIGKILL);
      while (waitpid(j->pid, NULL, 0) < 0 && errno == EINTR) {
      }
      close(j->pidfd);
      err = uverr < 0 ? -uverr : EINVAL;
    } else {
      c->pid = j->pid;
      c->pidfd = j->pidfd;
      c->started = 1;
      if (c->unref) uv_unref((uv_handle_t *)&c->poll);
    }
  }
  if (err) {
    /* Never watched: nothing will call onexit; the handle is freed once JS lets go of it (and the poll closed). */
    c->reaped = 1;
    if (!closing) c->closed = 1;
    if (env) {
      napi_delete_reference(env, c->onexit);
      napi_async_destroy(env, c->actx);
    }
    c->onexit = NULL;
    c->actx = NULL;
  }
  if (env) {
    napi_value cb, recv, v, result;
    if (napi_get_reference_value(env, j->onspawn, &cb) == napi_ok && cb != NULL) {
      napi_get_global(env, &recv);
      napi_create_int32(env, err ? -err : j->pid, &v);
      napi_call_function(env, recv, cb, 1, &v, &result);
    }
    napi_delete_reference(env, j->onspawn);
  }
  job_free(j);
}

static napi_value js_spawn_async(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value a[8];
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  if (argc < 8) {
    napi_throw_type_error(env, NULL, "fune_spawn.spawnAsync: 8 arguments expected");
    return NULL;
  }
  napi_value result = NULL;
  job_t *j = calloc(1, sizeof *j);
  if (!j) {
    napi_create_int32(env, -ENOMEM, &result);
    return result;
  }
  for (uint32_t i = 0; i < MAX_FDS; i++) j->src[i] = -1;
  napi_valuetype t;
  int err = 0;
  j->file = utf8(env, a[0]);
  j->argv = strv(env, a[1]);
  CHECK(napi_typeof(env, a[2], &t));
  j->envp = t != napi_null && t != napi_undefined ? strv(env, a[2]) : copy_environ();
  CHECK(napi_typeof(env, a[3], &t));
  if (t == napi_string) j->cwd = utf8(env, a[3]);
  napi_get_array_length(env, a[4], &j->n);
  napi_get_value_bool(env, a[5], &j->setsid_);
  int spec[MAX_FDS];
  if (!j->file || !j->argv || !j->envp || j->n > MAX_FDS) err = EINVAL;
  for (uint32_t i = 0; i < j->n && !err; i++) {
    napi_value e;
    napi_get_element(env, a[4], i, &e);
    if (napi_get_value_int32(env, e, &spec[i]) != napi_ok) err = EINVAL;
  }
  int parent[MAX_FDS];
  for (uint32_t i = 0; i < MAX_FDS; i++) parent[i] = -1;
  for (uint32_t i = 0; i < j->n && !err; i++) {
    if (spec[i] == -2) {
      int p[2];
      if (pipe2(p, O_CLOEXEC) < 0) {
        err = errno;
        break;
      }
      parent[i] = i == 0 ? p[1] : p[0];
      int child_end = i == 0 ? p[0] : p[1];
      /* Above n, so that no dup2 to a lower target overwrites it before it is read. */
      if (child_end < (int)j->n) {
        int hi = fcntl(child_end, F_DUPFD_CLOEXEC, (int)j->n);
        close(child_end);
        if (hi < 0) {
          err = errno;
          break;
        }
        child_end = hi;
      }
      j->src[i] = child_end;
    } else if (spec[i] >= 0) {
      /* The caller's fd may close once this returns: the thread uses a duplicate of its own. */
      int hi = fcntl(spec[i], F_DUPFD_CLOEXEC, (int)j->n);
      if (hi < 0) {
        err = errno;
        break;
      }
      j->src[i] = hi;
    }
  }
  child_t *c = NULL;
  napi_value name;
  if (!err && !(c = calloc(1, sizeof *c))) err = ENOMEM;
  if (!err) {
    c->env = env;
    c->pidfd = -1;
    j->c = c;
    napi_create_string_utf8(env, "funeSpawn", NAPI_AUTO_LENGTH, &name);
    if (napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, NULL, NULL, NULL, spawned, &j->tsfn) != napi_ok) err = EAGAIN;
  }
  pthread_t th;
  pthread_attr_t pa;
  if (!err) {
    napi_create_reference(env, a[6], 1, &c->onexit);
    napi_create_reference(env, a[7], 1, &j->onspawn);
    napi_async_init(env, NULL, name, &c->actx);
    pthread_attr_init(&pa);
    pthread_attr_setdetachstate(&pa, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&pa, 256 * 1024);
    err = pthread_create(&th, &pa, spawn_thread, j);
    pthread_attr_destroy(&pa);
    if (err) {
      napi_release_threadsafe_function(j->tsfn, napi_tsfn_abort);
      napi_delete_reference(env, c->onexit);
      napi_delete_reference(env, j->onspawn);
      napi_async_destroy(env, c->actx);
    }
  }
  if (err) {
    for (uint32_t i = 0; i < j->n; i++)
      if (parent[i] >= 0) close(parent[i]);
    free(c);
    job_free(j);
    napi_create_int32(env, -err, &result);
    return result;
  }
  napi_value handle, v;
  napi_create_external(env, c, handle_finalize, NULL, &handle);
  napi_create_array_with_length(env, j->n + 1, &result);
  napi_set_element(env, result, 0, handle);
  for (uint32_t i = 0; i < j->n; i++) {
    napi_create_int32(env, parent[i], &v);
    napi_set_element(env, result, i + 1, v);
  }
  return result;
}

static child_t *unwrap(napi_env env, napi_value v) {
  void *p = NULL;
  napi_get_value_external(env, v, &p);
  return p;
}

static napi_value js_kill(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value a[2], r;
  int32_t sig = SIGTERM;
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  child_t *c = argc > 0 ? unwrap(env, a[0]) : NULL;
  if (argc > 1) napi_get_value_int32(env, a[1], &sig);
  int res = -ESRCH;
  if (c && c->started && !c->reaped) res = pidfd_send_signal_(c->pidfd, sig) == 0 ? 0 : -errno;
  else if (c && !c->started && !c->closed) res = -EAGAIN; /* spawnAsync: not started yet (the caller keeps the signal) */
  napi_create_int32(env, res, &r);
  return r;
}

static napi_value js_ref(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value a[2];
  bool on = true;
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  child_t *c = argc > 0 ? unwrap(env, a[0]) : NULL;
  if (argc > 1) napi_get_value_bool(env, a[1], &on);
  if (c && !c->started) {
    c->unref = !on;
  } else if (c && !c->reaped) {
    if (on) uv_ref((uv_handle_t *)&c->poll);
    else uv_unref((uv_handle_t *)&c->poll);
  }
  return NULL;
}

static napi_value js_probe(napi_env env, napi_callback_info info) {
  napi_value r;
  int fd = pidfd_open_(getpid());
  int res = fd < 0 ? -errno : 0;
  if (fd >= 0) close(fd);
  napi_create_int32(env, res, &r);
  return r;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"probe", NULL, js_probe, NULL, NULL, NULL, napi_default, NULL},
      {"spawn", NULL, js_spawn, NULL, NULL, NULL, napi_default, NULL},
      {"spawnAsync", NULL, js_spawn_async, NULL, NULL, NULL, napi_default, NULL},
      {"kill", NULL, js_kill, NULL, NULL, NULL, napi_default, NULL},
      {"ref", NULL, js_ref, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

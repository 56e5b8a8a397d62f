/*
 * fune_netns: open a TCP connection from inside another network namespace, the way containerd's port-forward does
 * (a goroutine locked to an OS thread that has setns'd into the pod's netns), without a helper process.
 *
 * A socket belongs to the namespace of the thread that created it, wherever its fd goes afterwards. So each call
 * starts a short-lived pthread that opens the namespace file, setns(CLONE_NEWNET)s into it, creates the socket,
 * connects (blocking), and exits. No thread of Node's (the event loop, libuv's pool) ever changes namespace, so
 * nothing has to be switched back, and a thread that dies half-way takes its namespace with it.
 *
 * The thread reports back through a thread-safe function (a uv_async on Node's loop), not through libuv's pool:
 * a connect to a listener whose accept queue is full waits on SYN retries (up to ~2 min), and that must not hold
 * one of the pool's four threads, which also serve fs calls. The thread runs with every signal blocked (no EINTR
 * in connect, no signal meant for the loop delivered here) and a small stack.
 *
 * JS side: src/sys/netns-connect.ts. Exports:
 *   connect(netnsPath, hosts, port, cb) -> 0 | -errno (the thread could not be started)
 *     hosts: numeric IPv4/IPv6 addresses, tried in order while the first attempt was refused (ECONNREFUSED);
 *     cb(rc, stage, host) is called once on the loop: rc is the connected fd (close-on-exec, blocking mode) or
 *     -errno of the first failure, stage says where it failed (0 open, 1 setns, 2 socket, 3 connect) and host
 *     which address answered (or failed first). The caller owns the fd.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <node_api.h>

#define MAX_HOSTS 4
#define STACK_SIZE (128 * 1024)

enum { STAGE_OPEN = 0, STAGE_SETNS = 1, STAGE_SOCKET = 2, STAGE_CONNECT = 3 };

typedef struct {
  napi_threadsafe_function tsfn;
  char *path;
  int nhosts;
  struct sockaddr_storage addr[MAX_HOSTS];
  socklen_t len[MAX_HOSTS];
  int rc;    /* fd, or -errno */
  int stage; /* where rc < 0 came from */
  int host;  /* index of the address rc is about */
} dial_t;

#define CHECK(call)                                                                                                \
  do {                                                                                                             \
    if ((call) != napi_ok) {                                                                                       \
      napi_throw_error(env, NULL, "fune_netns: " #call " failed");                                                \
      goto fail;                                                                                                   \
    }                                                                                                              \
  } while (0)

static void dial_free(dial_t *d) {
  if (!d) return;
  free(d->path);
  free(d);
}

/* attempt connects one socket to d->addr[i]: the fd, or -errno with *stage set. */
static int attempt(dial_t *d, int i, int *stage) {
  int s = socket(d->addr[i].ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) {
    *stage = STAGE_SOCKET;
    return -errno;
  }
  int r;
  do r = connect(s, (struct sockaddr *)&d->addr[i], d->len[i]);
  while (r < 0 && errno == EINTR); /* signals are blocked here; kept for safety */
  if (r < 0) {
    int e = errno;
    close(s);
    *stage = STAGE_CONNECT;
    return -e;
  }
  return s;
}

static void dial(dial_t *d) {
  int ns = open(d->path, O_RDONLY | O_CLOEXEC);
  if (ns < 0) {
    d->rc = -errno;
    d->stage = STAGE_OPEN;
    return;
  }
  int r = setns(ns, CLONE_NEWNET);
  int e = errno;
  close(ns);
  if (r < 0) {
    d->rc = -e;
    d->stage = STAGE_SETNS;
    return;
  }
  d->host = 0;
  d->rc = attempt(d, 0, &d->stage);
  /* As the helper did: the next address (::1) only when the first was refused; a later failure reports the first. */
  for (int i = 1; d->rc == -ECONNREFUSED && i < d->nhosts; i++) {
    int stage;
    int fd = attempt(d, i, &stage);
    if (fd >= 0) {
      d->rc = fd;
      d->host = i;
      break;
    }
  }
}

static void *dial_thread(void *arg) {
  dial_t *d = arg;
  dial(d);
  napi_threadsafe_function tsfn = d->tsfn;
  if (napi_call_threadsafe_function(tsfn, d, napi_tsfn_blocking) != napi_ok) {
    /* The environment is going away: nobody will take the fd. */
    if (d->rc >= 0) close(d->rc);
    dial_free(d);
    return NULL;
  }
  napi_release_threadsafe_function(tsfn, napi_tsfn_release);
  return NULL;
}

/* call_js runs on the loop with the thread's result; env is NULL when the environment is being torn down. */
static void call_js(napi_env env, napi_value cb, void *context, void *data) {
  dial_t *d = data;
  if (env == NULL || cb == NULL) {
    if (d->rc >= 0) close(d->rc);
    dial_free(d);
    return;
  }
  napi_value argv[3], undef, result;
  napi_create_int32(env, d->rc, &argv[0]);
  napi_create_int32(env, d->rc < 0 ? d->stage : -1, &argv[1]);
  napi_create_int32(env, d->host, &argv[2]);
  napi_get_undefined(env, &undef);
  dial_free(d);
  /* From here the fd is the callback's (it wraps or closes it and does not throw). */
  if (napi_call_function(env, undef, cb, 3, argv, &result) != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err);
    }
  }
}

/* utf8 copies a JS string into a malloc'd C string (NULL on failure, or when it holds a NUL). */
static char *utf8(napi_env env, napi_value v) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (s && (napi_get_value_string_utf8(env, v, s, len + 1, &len) != napi_ok || strlen(s) != len)) {
    free(s);
    return NULL;
  }
  return s;
}

/* parse_host fills d->addr[i] from a numeric address and the port; 0 on success. */
static int parse_host(dial_t *d, int i, const char *host, int port) {
  memset(&d->addr[i], 0, sizeof d->addr[i]);
  struct sockaddr_in *a4 = (struct sockaddr_in *)&d->addr[i];
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&d->addr[i];
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    d->len[i] = sizeof *a4;
    return 0;
  }
  if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    d->len[i] = sizeof *a6;
    return 0;
  }
  return -1;
}

static napi_value js_connect(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value a[4], result, name;
  dial_t *d = NULL;
  char *host = NULL;
  uint32_t nhosts = 0;
  int32_t port = 0;
  napi_valuetype t;
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  if (argc < 4 || napi_typeof(env, a[3], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, NULL, "fune_netns: connect(netnsPath, hosts, port, cb)");
    goto fail;
  }
  d = calloc(1, sizeof *d);
  if (!d) {
    napi_throw_error(env, NULL, "fune_netns: out of memory");
    goto fail;
  }
  d->rc = -EIO;
  d->path = utf8(env, a[0]);
  if (!d->path || d->path[0] == '\0') {
    napi_throw_type_error(env, NULL, "fune_netns: netnsPath must be a non-empty string without NUL");
    goto fail;
  }
  if (napi_get_value_int32(env, a[2], &port) != napi_ok || port < 1 || port > 65535) {
    napi_throw_range_error(env, NULL, "fune_netns: port must be 1-65535");
    goto fail;
  }
  if (napi_get_array_length(env, a[1], &nhosts) != napi_ok || nhosts < 1 || nhosts > MAX_HOSTS) {
    napi_throw_type_error(env, NULL, "fune_netns: hosts must be an array of 1-4 numeric addresses");
    goto fail;
  }
  d->nhosts = (int)nhosts;
  for (uint32_t i = 0; i < nhosts; i++) {
    napi_value v;
    CHECK(napi_get_element(env, a[1], i, &v));
    host = utf8(env, v);
    if (!host || parse_host(d, (int)i, host, port) != 0) {
      napi_throw_type_error(env, NULL, "fune_netns: hosts must be numeric IPv4 or IPv6 addresses");
      goto fail;
    }
    free(host);
    host = NULL;
  }
  CHECK(napi_create_string_utf8(env, "fune_netns.connect", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_create_threadsafe_function(env, a[3], NULL, name, 0, 1, NULL, NULL, NULL, call_js, &d->tsfn));

  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, STACK_SIZE);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old); /* the thread starts with every signal blocked */
  pthread_t th;
  int err = pthread_create(&th, &attr, dial_thread, d);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  if (err != 0) {
    napi_release_threadsafe_function(d->tsfn, napi_tsfn_abort);
    dial_free(d);
    napi_create_int32(env, -err, &result);
    return result;
  }
  napi_create_int32(env, 0, &result);
  return result;

fail:
  free(host);
  dial_free(d);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"connect", NULL, js_connect, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

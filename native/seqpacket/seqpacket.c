/*
 * fune_seqpacket: a SOCK_SEQPACKET unix socket (conmon's attach socket) whose reading can be paused. Node's net
 * module does not take SEQPACKET descriptors, and the npm binding fune used reads for ever, whether or not the
 * client of an attach reads what it is sent; with this one, fune stops reading while the client's connection is
 * full, conmon's write blocks, and the container's output waits (as with CRI-O and containerd).
 *
 * The socket is non-blocking; a uv_poll on Node's loop says when it is readable or writable, and only while the
 * JS side asks (pausing = not asking for readable). recv and send are plain calls that return -EAGAIN.
 *
 * JS side: src/sys/seqpacket.ts. Exports:
 *   connect(path) -> fd | -errno                 socket + connect, close-on-exec, non-blocking
 *   recv(fd, buf) -> bytes | 0 (EOF) | -errno    one packet (MSG_DONTWAIT)
 *   send(fd, buf) -> bytes | -errno              one packet (MSG_DONTWAIT | MSG_NOSIGNAL)
 *   shutdown(fd) -> 0 | -errno                   SHUT_WR (conmon then closes the container's stdin)
 *   watch(fd, cb) -> handle                      cb(status, readable, writable) on the loop
 *   want(handle, readable, writable)             which events to wait for (none: the poll stops)
 *   close(handle)                                stops the poll and closes fd once libuv let go of it
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref cb;
  napi_async_context ctx;
  int fd;
  int closed;
} watch_t;

static int32_t arg_int(napi_env env, napi_value v) {
  int32_t n = -1;
  napi_get_value_int32(env, v, &n);
  return n;
}

static napi_value num(napi_env env, int32_t n) {
  napi_value r;
  napi_create_int32(env, n, &r);
  return r;
}

static napi_value js_connect(napi_env env, napi_callback_info info) {
  size_t argc = 1, len = 0;
  napi_value a[1];
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  if (argc < 1 || napi_get_value_string_utf8(env, a[0], addr.sun_path, sizeof addr.sun_path, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "fune_seqpacket: connect(path)");
    return NULL;
  }
  if (len == 0 || len >= sizeof addr.sun_path - 1 || strlen(addr.sun_path) != len) return num(env, -ENAMETOOLONG);
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return num(env, -errno);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    int e = errno;
    close(fd);
    return num(env, -e);
  }
  return num(env, fd);
}

static int buffer_arg(napi_env env, napi_value v, void **data, size_t *len) {
  bool is;
  if (napi_is_buffer(env, v, &is) != napi_ok || !is) return -1;
  return napi_get_buffer_info(env, v, data, len) == napi_ok ? 0 : -1;
}

static napi_value js_recv(napi_env env, napi_callback_info info) {
  size_t argc = 2, len;
  napi_value a[2];
  void *data;
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  if (argc < 2 || buffer_arg(env, a[1], &data, &len) != 0) {
    napi_throw_type_error(env, NULL, "fune_seqpacket: recv(fd, buffer)");
    return NULL;
  }
  ssize_t n;
  do n = recv(arg_int(env, a[0]), data, len, MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  return num(env, n < 0 ? -errno : (int32_t)n);
}

static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 2, len;
  napi_value a[2];
  void *data;
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  if (argc < 2 || buffer_arg(env, a[1], &data, &len) != 0) {
    napi_throw_type_error(env, NULL, "fune_seqpacket: send(fd, buffer)");
    return NULL;
  }
  ssize_t n;
  do n = send(arg_int(env, a[0]), data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return num(env, n < 0 ? -errno : (int32_t)n);
}

static napi_value js_shutdown(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value a[1];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  if (argc < 1) return num(env, -EINVAL);
  return num(env, shutdown(arg_int(env, a[0]), SHUT_WR) < 0 ? -errno : 0);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  watch_t *w = (watch_t *)h->data;
  if (w->closed) return;
  napi_env env = w->env;
  napi_handle_scope scope;
  napi_value fn, recv, argv[3], result;
  napi_open_handle_scope(env, &scope);
  napi_get_reference_value(env, w->cb, &fn);
  napi_get_global(env, &recv);
  napi_create_int32(env, status, &argv[0]);
  napi_get_boolean(env, status == 0 && (events & UV_READABLE), &argv[1]);
  napi_get_boolean(env, status == 0 && (events & UV_WRITABLE), &argv[2]);
  if (napi_make_callback(env, w->ctx, recv, fn, 3, argv, &result) == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
  napi_close_handle_scope(env, scope);
}

static napi_value js_watch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value a[2], ext, name;
  napi_valuetype t;
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  if (argc < 2 || napi_typeof(env, a[1], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, NULL, "fune_seqpacket: watch(fd, cb)");
    return NULL;
  }
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    napi_throw_error(env, NULL, "fune_seqpacket: no event loop");
    return NULL;
  }
  watch_t *w = calloc(1, sizeof *w);
  if (!w) {
    napi_throw_error(env, NULL, "fune_seqpacket: out of memory");
    return NULL;
  }
  w->env = env;
  w->fd = arg_int(env, a[0]);
  int rc = uv_poll_init(loop, &w->poll, w->fd);
  if (rc != 0) {
    free(w);
    napi_throw_error(env, NULL, uv_strerror(rc));
    return NULL;
  }
  w->poll.data = w;
  napi_create_reference(env, a[1], 1, &w->cb);
  napi_create_string_utf8(env, "fune_seqpacket", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &w->ctx);
  napi_create_external(env, w, NULL, NULL, &ext);
  return ext;
}

static watch_t *watch_arg(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok) return NULL;
  return (watch_t *)p;
}

static napi_value js_want(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value a[3];
  bool r = false, wr = false;
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  watch_t *w = argc == 3 ? watch_arg(env, a[0]) : NULL;
  if (!w) {
    napi_throw_type_error(env, NULL, "fune_seqpacket: want(handle, readable, writable)");
    return NULL;
  }
  if (w->closed) return NULL;
  napi_get_value_bool(env, a[1], &r);
  napi_get_value_bool(env, a[2], &wr);
  int events = (r ? UV_READABLE : 0) | (wr ? UV_WRITABLE : 0);
  if (events == 0) uv_poll_stop(&w->poll);
  else uv_poll_start(&w->poll, events, on_poll);
  return NULL;
}

static void on_closed(uv_handle_t *h) {
  watch_t *w = (watch_t *)h->data;
  close(w->fd);
  free(w);
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value a[1];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  watch_t *w = argc == 1 ? watch_arg(env, a[0]) : NULL;
  if (!w) {
    napi_throw_type_error(env, NULL, "fune_seqpacket: close(handle)");
    return NULL;
  }
  if (w->closed) return NULL;
  w->closed = 1;
  uv_poll_stop(&w->poll);
  napi_delete_reference(env, w->cb);
  napi_async_destroy(env, w->ctx);
  uv_close((uv_handle_t *)&w->poll, on_closed);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"connect", NULL, js_connect, NULL, NULL, NULL, napi_default, NULL},
      {"recv", NULL, js_recv, NULL, NULL, NULL, napi_default, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_default, NULL},
      {"shutdown", NULL, js_shutdown, NULL, NULL, NULL, napi_default, NULL},
      {"watch", NULL, js_watch, NULL, NULL, NULL, napi_default, NULL},
      {"want", NULL, js_want, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

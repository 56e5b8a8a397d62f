// fune_mount: mount(2) and umount2(2) without starting mount(8) or umount(8) (each start execs a program that links
// libmount, which parses /proc/self/mountinfo: on a node with 250 pods, thousands of lines per call), and a mount-root
// test by statx(2) instead of a read of mountinfo.
//
//   mount(source, target, fstype, flags, data|null, cwd|null, cb)  cb(0 | -errno) on the loop; the syscall runs on
//        libuv's threadpool. With cwd, relative paths in data (overlay's short lowerdirs) resolve against cwd: the
//        call runs on a thread of its own that has unshared its filesystem context (CLONE_FS) and changed into cwd,
//        so neither the daemon's cwd nor any other thread's changes.
//   umount(target, flags, cb)  cb(0 | -errno); flags as umount2 (MNT_DETACH = 2).
//   isMountPoint(path) -> 1 | 0 | -errno  whether path (not followed if a symlink) is the root of a mount
//        (statx STATX_ATTR_MOUNT_ROOT, Linux >= 5.8; -ENOSYS/-EOPNOTSUPP when the kernel does not say).
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x00002000
#endif

typedef struct {
  napi_async_work work;
  napi_ref cb;
  int umount;
  char *source, *target, *fstype, *data, *cwd;
  unsigned long flags;
  int err;
} job_t;

static char *utf8(napi_env env, napi_value v) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) return NULL;
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (s && napi_get_value_string_utf8(env, v, s, len + 1, &len) != napi_ok) {
    free(s);
    return NULL;
  }
  if (s && strlen(s) != len) { /* an embedded NUL */
    free(s);
    return NULL;
  }
  return s;
}

static int do_mount(job_t *j) {
  return mount(j->source, j->target, j->fstype, j->flags, j->data) == 0 ? 0 : errno;
}

static void *in_cwd(void *arg) {
  job_t *j = arg;
  if (unshare(CLONE_FS) != 0 || chdir(j->cwd) != 0) j->err = errno;
  else j->err = do_mount(j);
  return NULL;
}

static void execute(napi_env env, void *data) {
  job_t *j = data;
  if (j->umount) {
    j->err = umount2(j->target, (int)j->flags) == 0 ? 0 : errno;
  } else if (j->cwd) {
    pthread_t th;
    int r = pthread_create(&th, NULL, in_cwd, j);
    if (r != 0) j->err = r;
    else pthread_join(th, NULL);
  } else {
    j->err = do_mount(j);
  }
}

static void complete(napi_env env, napi_status status, void *data) {
  job_t *j = data;
  napi_value cb, recv, v, result;
  if (napi_get_reference_value(env, j->cb, &cb) == napi_ok && cb != NULL) {
    napi_get_global(env, &recv);
    napi_create_int32(env, status == napi_ok ? -j->err : -ECANCELED, &v);
    napi_call_function(env, recv, cb, 1, &v, &result);
  }
  napi_delete_reference(env, j->cb);
  napi_delete_async_work(env, j->work);
  free(j->source);
  free(j->target);
  free(j->fstype);
  free(j->data);
  free(j->cwd);
  free(j);
}

static napi_value queue(napi_env env, job_t *j, napi_value cb) {
  napi_value name;
  napi_create_string_utf8(env, "funeMount", NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, cb, 1, &j->cb);
  napi_create_async_work(env, NULL, name, execute, complete, j, &j->work);
  napi_queue_async_work(env, j->work);
  return NULL;
}

static napi_value js_mount(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value a[7];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  job_t *j = calloc(1, sizeof *j);
  if (!j) {
    napi_throw_error(env, "ENOMEM", "fune_mount: out of memory");
    return NULL;
  }
  double flags = 0;
  napi_valuetype t5 = napi_null, t6 = napi_null;
  if (argc == 7) {
    napi_typeof(env, a[4], &t5);
    napi_typeof(env, a[5], &t6);
  }
  if (argc < 7 || !(j->source = utf8(env, a[0])) || !(j->target = utf8(env, a[1])) || !(j->fstype = utf8(env, a[2])) ||
      napi_get_value_double(env, a[3], &flags) != napi_ok || (t5 != napi_null && !(j->data = utf8(env, a[4]))) ||
      (t6 != napi_null && !(j->cwd = utf8(env, a[5])))) {
    free(j->source);
    free(j->target);
    free(j->fstype);
    free(j->data);
    free(j);
    napi_throw_type_error(env, NULL, "fune_mount: mount(source, target, fstype, flags, data|null, cwd|null, cb)");
    return NULL;
  }
  j->flags = (unsigned long)flags;
  return queue(env, j, a[6]);
}

static napi_value js_umount(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value a[3];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  job_t *j = calloc(1, sizeof *j);
  int32_t flags = 0;
  if (!j || argc < 3 || !(j->target = utf8(env, a[0])) || napi_get_value_int32(env, a[1], &flags) != napi_ok) {
    if (j) free(j->target);
    free(j);
    napi_throw_type_error(env, NULL, "fune_mount: umount(target, flags, cb)");
    return NULL;
  }
  j->umount = 1;
  j->flags = (unsigned long)flags;
  return queue(env, j, a[2]);
}

static napi_value js_is_mount_point(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value a[1], r;
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  char *path = argc ? utf8(env, a[0]) : NULL;
  if (!path) {
    napi_throw_type_error(env, NULL, "fune_mount: isMountPoint(path)");
    return NULL;
  }
  struct statx st;
  int res;
  if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, 0, &st) != 0) res = -errno;
  else if (!(st.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)) res = -EOPNOTSUPP;
  else res = (st.stx_attributes & STATX_ATTR_MOUNT_ROOT) ? 1 : 0;
  free(path);
  napi_create_int32(env, res, &r);
  return r;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"mount", NULL, js_mount, NULL, NULL, NULL, napi_default, NULL},
      {"umount", NULL, js_umount, NULL, NULL, NULL, napi_default, NULL},
      {"isMountPoint", NULL, js_is_mount_point, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

// fune_idmap: idmapped mounts for user-namespaced pods (runc 1.1.5 has none). idmapMount(source, target, usernsPath)
// clones the mount at `source` (open_tree OPEN_TREE_CLONE, recursive when asked), marks the clone idmapped with the
// user namespace at `usernsPath` (mount_setattr MOUNT_ATTR_IDMAP) and attaches it at `target` (move_mount). A file
// owned by host id H then shows as H minus the mapping's host start inside the namespace. Synchronous: three
// syscalls, no I/O on the tree. Errors are Error objects with `code` (errno name), `errno` and `syscall`.
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/mount.h>
#include <linux/mount.h>

#ifndef MOUNT_ATTR_IDMAP
#define MOUNT_ATTR_IDMAP 0x00100000
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

struct fune_mount_attr {
  uint64_t attr_set, attr_clr, propagation, userns_fd;
};

static napi_value throw_errno(napi_env env, const char *call, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", call, strerror(err));
  napi_value m, e, code, no, sc;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_error(env, NULL, m, &e);
  const char *name = err == EPERM ? "EPERM" : err == EINVAL ? "EINVAL" : err == ENOENT ? "ENOENT" : err == ENOSYS ? "ENOSYS" : err == EBADF ? "EBADF" : "EIO";
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_int32(env, -err, &no);
  napi_create_string_utf8(env, call, NAPI_AUTO_LENGTH, &sc);
  napi_set_named_property(env, e, "code", code);
  napi_set_named_property(env, e, "errno", no);
  napi_set_named_property(env, e, "syscall", sc);
  napi_throw(env, e);
  return NULL;
}

static int str_arg(napi_env env, napi_value v, char *buf, size_t n) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, buf, n, &len) != napi_ok || len == 0 || len >= n - 1 || strlen(buf) != len) return -1;
  return 0;
}

static napi_value js_idmap_mount(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char src[4096], dst[4096], ns[4096];
  bool recursive = false;
  if (argc < 3 || str_arg(env, argv[0], src, sizeof src) || str_arg(env, argv[1], dst, sizeof dst) || str_arg(env, argv[2], ns, sizeof ns)) {
    napi_throw_type_error(env, NULL, "fune_idmap: idmapMount(source, target, usernsPath[, recursive]) takes non-empty paths");
    return NULL;
  }
  if (argc > 3) napi_get_value_bool(env, argv[3], &recursive);
  int nsfd = open(ns, O_RDONLY | O_CLOEXEC);
  if (nsfd < 0) return throw_errno(env, "open", errno);
  unsigned int flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0);
  int tree = (int)syscall(SYS_open_tree, AT_FDCWD, src, flags);
  if (tree < 0) {
    int e = errno;
    close(nsfd);
    return throw_errno(env, "open_tree", e);
  }
  struct fune_mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)nsfd};
  if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof attr) < 0) {
    int e = errno;
    close(tree);
    close(nsfd);
    return throw_errno(env, "mount_setattr", e);
  }
  close(nsfd);
  if (syscall(SYS_move_mount, tree, "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
    int e = errno;
    close(tree);
    return throw_errno(env, "move_mount", e);
  }
  close(tree);
  return NULL;
}

// detachMount(target): umount2(target, MNT_DETACH), for the idmapped layer views once overlayfs holds its own
// private clones of them.
static napi_value js_detach_mount(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char dst[4096];
  if (argc < 1 || str_arg(env, argv[0], dst, sizeof dst)) {
    napi_throw_type_error(env, NULL, "fune_idmap: detachMount(target) takes a non-empty path");
    return NULL;
  }
  if (umount2(dst, MNT_DETACH) < 0) return throw_errno(env, "umount2", errno);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "detachMount", NAPI_AUTO_LENGTH, js_detach_mount, NULL, &fn);
  napi_set_named_property(env, exports, "detachMount", fn);
  napi_create_function(env, "idmapMount", NAPI_AUTO_LENGTH, js_idmap_mount, NULL, &fn);
  napi_set_named_property(env, exports, "idmapMount", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

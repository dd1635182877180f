// Fault injection for tests: an LD_PRELOAD library that makes chosen
// fsync/fdatasync/write/pwrite/pwritev/fallocate calls fail, the way a failing disk
// does, under the real addon and the real Node process.
//
// Built by the tests (`cc -shared -fPIC`, see test/fault-shim.ts and
// native/store/tests/faults.rs) into a temporary directory; never shipped.
//
// FJORD_FAULTS names a control file, read at every intercepted call (so a
// test arms and disarms faults while the process runs). One rule a line:
//
//   <calls> <path> <errno> <skip> <times>
//
//   calls      comma-separated: fsync, fdatasync, write, pwrite, pwritev, fallocate
//   path       a glob (fnmatch, `*` spans `/` too) the file's whole path must match
//   errno      EIO, ENOSPC, EDQUOT, EFBIG or EROFS
//   skip       matching calls let through first
//   times      failures injected after that (0: every later matching call)
//
// e.g. `fdatasync,fsync /data/t-0/*.log EIO 0 1` fails the next
// sync of a segment of t-0 once, as Linux reports a lost writeback once per file.
// Counters restart whenever the file's text changes. Each injected failure
// appends `<call> <errno> <path>` to `<control file>.hits`.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_RULES 16
#define MAX_TEXT 4096

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char last_text[MAX_TEXT];
static unsigned long counts[MAX_RULES];
// Calls the shim makes itself (reading the control file, logging a hit) pass.
static __thread int inside;

static int errno_of(const char *name) {
  if (strcmp(name, "EIO") == 0) return EIO;
  if (strcmp(name, "ENOSPC") == 0) return ENOSPC;
  if (strcmp(name, "EDQUOT") == 0) return EDQUOT;
  if (strcmp(name, "EFBIG") == 0) return EFBIG;
  if (strcmp(name, "EROFS") == 0) return EROFS;
  return EIO;
}

static int lists(const char *calls, const char *call) {
  size_t n = strlen(call);
  for (const char *p = calls; (p = strstr(p, call)) != NULL; p += n) {
    int starts = p == calls || p[-1] == ',';
    int ends = p[n] == '\0' || p[n] == ',';
    if (starts && ends) return 1;
  }
  return 0;
}

static void log_hit(const char *control, const char *call, const char *err, const char *path) {
  char name[4200];
  snprintf(name, sizeof name, "%s.hits", control);
  int fd = open(name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  char line[4400];
  int len = snprintf(line, sizeof line, "%s %s %s\n", call, err, path);
  if (len > 0) (void)!write(fd, line, (size_t)len);
  close(fd);
}

// The errno to fail this call with, or 0 to let it through.
static int fault_for(const char *call, int fd) {
  const char *control = getenv("FJORD_FAULTS");
  if (control == NULL || inside) return 0;
  inside = 1;
  int result = 0;
  char text[MAX_TEXT] = {0};
  int cfd = open(control, O_RDONLY | O_CLOEXEC);
  if (cfd >= 0) {
    ssize_t n = read(cfd, text, sizeof text - 1);
    close(cfd);
    if (n < 0) text[0] = '\0';
  }
  if (text[0] != '\0') {
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t plen = readlink(link, path, sizeof path - 1);
    path[plen < 0 ? 0 : plen] = '\0';
    pthread_mutex_lock(&lock);
    if (strcmp(text, last_text) != 0) {
      memcpy(last_text, text, sizeof text);
      memset(counts, 0, sizeof counts);
    }
    int rule = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line != NULL && rule < MAX_RULES; line = strtok_r(NULL, "\n", &save), rule++) {
      char calls[256], glob[1024], err[32];
      unsigned long skip, times;
      if (sscanf(line, "%255s %1023s %31s %lu %lu", calls, glob, err, &skip, &times) != 5) continue;
      if (!lists(calls, call) || fnmatch(glob, path, 0) != 0) continue;
      unsigned long seen = ++counts[rule];
      if (seen > skip && (times == 0 || seen <= skip + times)) {
        result = errno_of(err);
        log_hit(control, call, err, path);
        break;
      }
    }
    pthread_mutex_unlock(&lock);
  }
  inside = 0;
  return result;
}

// The C library's own function of that name.
#define REAL(fn) \
  static __typeof__(&fn) real = NULL; \
  if (real == NULL) real = (__typeof__(&fn))dlsym(RTLD_NEXT, #fn)

int fsync(int fd) {
  REAL(fsync);
  int e = fault_for("fsync", fd);
  if (e != 0) return errno = e, -1;
  return real(fd);
}

int fdatasync(int fd) {
  REAL(fdatasync);
  int e = fault_for("fdatasync", fd);
  if (e != 0) return errno = e, -1;
  return real(fd);
}

ssize_t write(int fd, const void *buf, size_t count) {
  REAL(write);
  int e = fault_for("write", fd);
  if (e != 0) return errno = e, -1;
  return real(fd, buf, count);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
  REAL(pwrite);
  int e = fault_for("pwrite", fd);
  if (e != 0) return errno = e, -1;
  return real(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off64_t offset) {
  REAL(pwrite64);
  int e = fault_for("pwrite", fd);
  if (e != 0) return errno = e, -1;
  return real(fd, buf, count, offset);
}

ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t offset) {
  REAL(pwritev);
  int e = fault_for("pwritev", fd);
  if (e != 0) return errno = e, -1;
  return real(fd, iov, iovcnt, offset);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int iovcnt, off64_t offset) {
  REAL(pwritev64);
  int e = fault_for("pwritev", fd);
  if (e != 0) return errno = e, -1;
  return real(fd, iov, iovcnt, offset);
}

ssize_t pwritev2(int fd, const struct iovec *iov, int iovcnt, off_t offset, int flags) {
  REAL(pwritev2);
  int e = fault_for("pwritev", fd);
  if (e != 0) return errno = e, -1;
  return real(fd, iov, iovcnt, offset, flags);
}

int fallocate(int fd, int mode, off_t offset, off_t len) {
  REAL(fallocate);
  int e = fault_for("fallocate", fd);
  if (e != 0) return errno = e, -1;
  return real(fd, mode, offset, len);
}

int fallocate64(int fd, int mode, off64_t offset, off64_t len) {
  REAL(fallocate64);
  int e = fault_for("fallocate", fd);
  if (e != 0) return errno = e, -1;
  return real(fd, mode, offset, len);
}

/* Flushing files and directories to disk (see durable_file.h). */
#include "durable_file.h"
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fsync_retry(int fd) {
    int rc;
    do rc = fsync(fd); while (rc != 0 && errno == EINTR);
    return rc;
}

int fdatasync_retry(int fd) {
    int rc;
    do rc = fdatasync(fd); while (rc != 0 && errno == EINTR);
    return rc;
}

int fsync_dir(const char *dir) {
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return -1;
    int rc = fsync_retry(dfd);
    int saved = errno;
    close(dfd);
    errno = saved;
    return rc;
}

int fsync_parent_dir(const char *path) {
    char *copy = strdup(path);
    if (!copy) {
        errno = ENOMEM;
        return -1;
    }
    int rc = fsync_dir(dirname(copy)); /* dirname may modify copy or return a static "." */
    int saved = errno;
    free(copy);
    errno = saved;
    return rc;
}

/* Flushing files and directories to disk, retrying on EINTR: the steps that
 * make a write or a rename survive a power cut. Shared by the journal, the
 * keystore and the IPFS archive writer. */
#ifndef G1RELAY_DURABLE_FILE_H
#define G1RELAY_DURABLE_FILE_H

/* fsync / fdatasync, again while interrupted. 0 or -1 with errno. */
int fsync_retry(int fd);
int fdatasync_retry(int fd);
/* fsyncs directory dir, so that a file created or renamed in it stays. 0 or -1 with errno. */
int fsync_dir(const char *dir);
/* fsyncs the directory holding path. 0 or -1 with errno. */
int fsync_parent_dir(const char *path);

#endif

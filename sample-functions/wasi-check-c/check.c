/*
 * wasi-check-c: the C counterpart of wasi-check, an unmodified WASI preview 1
 * command built with clang and wasi-libc (POSIX calls only). It checks files,
 * seek, directories, symlinks (and an escape refused), rights (a read-only
 * folder refuses writes), clocks, random bytes and poll, in the folder given
 * as argv[1] (default /tmp), with argv[2] a read-only folder to check rights.
 * One line per check on stderr; {"passed":N} on stdout; exit 0 when all pass.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[512];
static int passed = 0;

#define CHECK(cond, what)                                                      \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "FAIL %s (errno %d: %s)\n", what, errno,           \
                    strerror(errno));                                          \
            printf("{\"passed\":%d,\"failed\":\"%s\"}\n", passed, what);       \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

static const char *at(const char *name) {
    static char buf[4][600];
    static int i = 0;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
    return buf[i];
}

static void files(void) {
    int fd = open(at("f.txt"), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    CHECK(fd >= 0, "open for writing");
    CHECK(write(fd, "hello", 5) == 5, "write");
    CHECK(close(fd) == 0, "close");
    fd = open(at("f.txt"), O_WRONLY | O_APPEND);
    CHECK(fd >= 0 && write(fd, ", world", 7) == 7, "append");
    close(fd);
    char buf[32] = {0};
    fd = open(at("f.txt"), O_RDONLY);
    CHECK(fd >= 0 && read(fd, buf, sizeof buf) == 12, "read back");
    CHECK(strcmp(buf, "hello, world") == 0, "read what was written");
    close(fd);
    struct stat st;
    CHECK(stat(at("f.txt"), &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 12, "stat");
    CHECK(truncate(at("f.txt"), 100) == 0, "truncate up");
    CHECK(stat(at("f.txt"), &st) == 0 && st.st_size == 100, "size after truncate");
    errno = 0;
    CHECK(open(at("f.txt"), O_CREAT | O_EXCL | O_WRONLY, 0644) < 0 && errno == EEXIST, "O_EXCL on an existing file is EEXIST");
    errno = 0;
    CHECK(open(at("missing"), O_RDONLY) < 0 && errno == ENOENT, "a missing file is ENOENT");
    CHECK(unlink(at("f.txt")) == 0, "unlink");
    CHECK(access(at("f.txt"), F_OK) != 0, "unlinked file is gone");
    fprintf(stderr, "ok files\n");
    passed++;
}

static void seeking(void) {
    int fd = open(at("s.bin"), O_CREAT | O_RDWR | O_TRUNC, 0644);
    CHECK(fd >= 0 && write(fd, "0123456789", 10) == 10, "write");
    CHECK(lseek(fd, 3, SEEK_SET) == 3, "SEEK_SET");
    char two[2];
    CHECK(read(fd, two, 2) == 2 && two[0] == '3' && two[1] == '4', "read after seek");
    CHECK(lseek(fd, -1, SEEK_CUR) == 4, "SEEK_CUR");
    CHECK(lseek(fd, -2, SEEK_END) == 8, "SEEK_END");
    CHECK(lseek(fd, 5, SEEK_END) == 15 && write(fd, "X", 1) == 1, "write past the end");
    struct stat st;
    CHECK(fstat(fd, &st) == 0 && st.st_size == 16, "a write past the end extends the file");
    errno = 0;
    CHECK(lseek(fd, -100, SEEK_CUR) < 0 && errno == EINVAL, "seeking before the start is EINVAL");
    CHECK(pwrite(fd, "ab", 2, 0) == 2 && pread(fd, two, 2, 0) == 2 && two[0] == 'a', "pwrite/pread");
    close(fd);
    unlink(at("s.bin"));
    fprintf(stderr, "ok seek\n");
    passed++;
}

static void directories(void) {
    CHECK(mkdir(at("d"), 0755) == 0, "mkdir");
    CHECK(mkdir(at("d/sub"), 0755) == 0, "mkdir nested");
    errno = 0;
    CHECK(mkdir(at("d"), 0755) < 0 && errno == EEXIST, "mkdir of an existing folder is EEXIST");
    int fd = open(at("d/a"), O_CREAT | O_WRONLY, 0644);
    close(fd);
    DIR *d = opendir(at("d"));
    CHECK(d != NULL, "opendir");
    int seen = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, "sub") == 0 || strcmp(e->d_name, "a") == 0) seen++;
    }
    closedir(d);
    CHECK(seen == 2, "readdir lists every entry");
    errno = 0;
    CHECK(rmdir(at("d")) < 0 && errno == ENOTEMPTY, "rmdir of a non-empty folder is ENOTEMPTY");
    CHECK(rename(at("d/a"), at("d/sub/b")) == 0, "rename a file");
    CHECK(rename(at("d/sub"), at("d2")) == 0, "rename a folder");
    CHECK(access(at("d2/b"), F_OK) == 0, "renamed folder keeps its children");
    CHECK(unlink(at("d2/b")) == 0 && rmdir(at("d2")) == 0 && rmdir(at("d")) == 0, "remove the tree");
    fprintf(stderr, "ok directories\n");
    passed++;
}

static void symlinks(void) {
    int fd = open(at("target"), O_CREAT | O_WRONLY, 0644);
    CHECK(fd >= 0 && write(fd, "linked", 6) == 6, "write target");
    close(fd);
    CHECK(symlink("target", at("link")) == 0, "symlink");
    char buf[64] = {0};
    CHECK(readlink(at("link"), buf, sizeof buf) == 6 && strcmp(buf, "target") == 0, "readlink");
    struct stat st;
    CHECK(lstat(at("link"), &st) == 0 && S_ISLNK(st.st_mode), "lstat sees a link");
    CHECK(stat(at("link"), &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 6, "stat follows the link");
    CHECK(symlink("../../../../../etc/passwd", at("escape")) == 0, "symlink out");
    CHECK(open(at("escape"), O_RDONLY) < 0, "a link out of the sandbox cannot be followed");
    CHECK(open("/../../etc/passwd", O_RDONLY) < 0, "`..` cannot leave the root");
    unlink(at("escape"));
    unlink(at("link"));
    CHECK(access(at("target"), F_OK) == 0, "removing a link keeps its target");
    unlink(at("target"));
    fprintf(stderr, "ok symlinks\n");
    passed++;
}

static void rights(const char *ro) {
    char path[600];
    snprintf(path, sizeof path, "%s/new.txt", ro);
    CHECK(open(path, O_CREAT | O_WRONLY, 0644) < 0, "a read-only folder refuses a new file");
    snprintf(path, sizeof path, "%s/newdir", ro);
    CHECK(mkdir(path, 0755) < 0, "a read-only folder refuses mkdir");
    snprintf(path, sizeof path, "%s/keep.txt", ro);
    CHECK(open(path, O_RDONLY) >= 0, "a read-only folder's file can be read");
    CHECK(open(path, O_WRONLY) < 0, "a read-only folder's file cannot be written");
    CHECK(unlink(path) < 0, "a read-only folder refuses unlink");
    fprintf(stderr, "ok rights\n");
    passed++;
}

static void clocks(void) {
    struct timespec a, b, res;
    CHECK(clock_getres(CLOCK_MONOTONIC, &res) == 0 && res.tv_sec == 0 && res.tv_nsec > 0, "clock_getres");
    CHECK(clock_gettime(CLOCK_MONOTONIC, &a) == 0 && clock_gettime(CLOCK_MONOTONIC, &b) == 0, "clock_gettime");
    CHECK(b.tv_sec > a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec >= a.tv_nsec), "monotonic never goes back");
    CHECK(clock_gettime(CLOCK_REALTIME, &a) == 0 && a.tv_sec > 1700000000, "realtime is after 2023");
    CHECK(time(NULL) > 1700000000, "time()");
    fprintf(stderr, "ok clocks\n");
    passed++;
}

static void random_bytes(void) {
    unsigned char a[32], b[32];
    CHECK(getentropy(a, sizeof a) == 0 && getentropy(b, sizeof b) == 0, "getentropy");
    CHECK(memcmp(a, b, sizeof a) != 0, "random bytes differ between calls");
    fprintf(stderr, "ok random\n");
    passed++;
}

static void polling(void) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    struct timespec nap = {0, 30 * 1000 * 1000};
    CHECK(nanosleep(&nap, NULL) == 0, "nanosleep");
    clock_gettime(CLOCK_MONOTONIC, &b);
    long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
    CHECK(ms >= 30 && ms < 2000, "poll_oneoff sleeps 30 ms");
    fprintf(stderr, "ok poll\n");
    passed++;
}

int main(int argc, char **argv) {
    const char *base = argc > 1 ? argv[1] : "/tmp";
    unsigned char tag[4];
    getentropy(tag, sizeof tag);
    snprintf(dir, sizeof dir, "%s%swasi-check-c-%02x%02x%02x%02x", base,
             base[strlen(base) - 1] == '/' ? "" : "/", tag[0], tag[1], tag[2], tag[3]);
    CHECK(mkdir(dir, 0755) == 0, "setup");
    files();
    seeking();
    directories();
    symlinks();
    clocks();
    random_bytes();
    polling();
    if (argc > 2) rights(argv[2]);
    rmdir(dir);
    printf("{\"passed\":%d}\n", passed);
    return 0;
}

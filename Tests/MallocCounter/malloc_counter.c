// malloc_counter: an LD_PRELOAD library that counts heap allocations (malloc, calloc, realloc,
// posix_memalign, aligned_alloc) and writes the count to $MALLOC_COUNT_FILE when the process exits.
// With $MALLOC_COUNT_SNAPSHOT_FILE set, each SIGUSR2 appends the count so far to that file as one
// line, so a test can count the allocations of one phase of a running process.
// Built by the allocation test with the system C compiler; not part of the package.
#define _GNU_SOURCE 1
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_ulong allocations;

void *malloc(size_t n) {
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size) {
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n) {
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return __libc_realloc(p, n);
}

int posix_memalign(void **out, size_t alignment, size_t n) {
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    void *p = __libc_memalign(alignment, n);
    if (p == NULL) return 12;  // ENOMEM
    *out = p;
    return 0;
}

void *aligned_alloc(size_t alignment, size_t n) {
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return __libc_memalign(alignment, n);
}

static char snapshot_path[4096];

// Async-signal-safe: open, write and close, and digits formatted by hand.
static void snapshot(int sig) {
    (void)sig;
    char line[32];
    int n = sizeof line;
    line[--n] = '\n';
    unsigned long v = atomic_load(&allocations);
    do {
        line[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    int fd = open(snapshot_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return;
    ssize_t ignored = write(fd, line + n, sizeof line - (size_t)n);
    (void)ignored;
    close(fd);
}

__attribute__((constructor)) static void install(void) {
    const char *path = getenv("MALLOC_COUNT_SNAPSHOT_FILE");
    if (path == NULL || strlen(path) >= sizeof snapshot_path) return;
    strcpy(snapshot_path, path);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = snapshot;
    action.sa_flags = SA_RESTART;
    sigaction(SIGUSR2, &action, NULL);
}

__attribute__((destructor)) static void report(void) {
    const char *path = getenv("MALLOC_COUNT_FILE");
    if (path == NULL) return;
    FILE *f = fopen(path, "w");
    if (f == NULL) return;
    fprintf(f, "%lu\n", atomic_load(&allocations));
    fclose(f);
}

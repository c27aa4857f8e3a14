// CSluice: the wrappers that need GNU extensions (the header, imported into Swift, must not define
// _GNU_SOURCE), and static checks of the layout assumptions the Swift side makes.
#define _GNU_SOURCE 1
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include "CSluice.h"

// The Swift side reads events only through sl_epoll_event_* and steps with the imported type's
// stride, so either layout works; these pin down which one each supported architecture has.
#if defined(__x86_64__)
_Static_assert(sizeof(struct epoll_event) == 12, "epoll_event is packed on x86_64");
#elif defined(__aarch64__)
_Static_assert(sizeof(struct epoll_event) == 16, "epoll_event is naturally aligned on arm64");
#else
#error "Sluice supports x86_64 and arm64 Linux"
#endif
_Static_assert(sizeof(struct sockaddr_storage) >= sizeof(struct sockaddr_in6), "storage holds in6");

int sl_accept(int fd) { return accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC); }

int sl_accept4(int fd, struct sockaddr_storage *addr, socklen_t *len) {
    return accept4(fd, (struct sockaddr *)addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

int sl_pipe(int fds[2]) { return pipe2(fds, O_NONBLOCK | O_CLOEXEC); }

ssize_t sl_splice(int fd_in, int fd_out, size_t len) {
    return splice(fd_in, NULL, fd_out, NULL, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
}

int sl_set_pipe_size(int fd, int size) { return fcntl(fd, F_SETPIPE_SZ, size); }

void sl_set_thread_name(pthread_t thread, const char *name) { pthread_setname_np(thread, name); }

int sl_sched_getaffinity(size_t size, void *mask) { return sched_getaffinity(0, size, (cpu_set_t *)mask); }

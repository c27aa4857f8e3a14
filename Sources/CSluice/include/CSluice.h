// CSluice: thin wrappers and constants for the Glibc calls Swift cannot import or call directly.
// No logic lives here: every function is one syscall (or one libc call) with a Swift-friendly shape.
#ifndef CSLUICE_H
#define CSLUICE_H

// This header is imported into Swift next to Glibc, so it must not define _GNU_SOURCE (clang
// would then see two different `fd_set`s). Calls that need GNU extensions (accept4, pipe2, splice,
// F_SETPIPE_SZ, pthread_setname_np, sched_getaffinity) are declared here and defined in shim.c,
// which defines it.

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// MARK: epoll

static inline int sl_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

/// Registers `fd` with `events`, carrying `token` back in `epoll_data.u64`.
static inline int sl_epoll_add(int epfd, int fd, uint32_t events, uint64_t token) {
    struct epoll_event ev;
    ev.events = events;
    ev.data.u64 = token;
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static inline int sl_epoll_mod(int epfd, int fd, uint32_t events, uint64_t token) {
    struct epoll_event ev;
    ev.events = events;
    ev.data.u64 = token;
    return epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
}

static inline int sl_epoll_del(int epfd, int fd) { return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL); }

static inline int sl_epoll_wait(int epfd, struct epoll_event *events, int max, int timeout_ms) {
    return epoll_wait(epfd, events, max, timeout_ms);
}

/// `epoll_event` is packed (12 bytes); read its fields through these instead of mirroring the layout.
static inline uint32_t sl_epoll_event_events(const struct epoll_event *ev) { return ev->events; }
static inline uint64_t sl_epoll_event_token(const struct epoll_event *ev) { return ev->data.u64; }
static inline size_t sl_epoll_event_size(void) { return sizeof(struct epoll_event); }

static const uint32_t SL_EPOLLIN = EPOLLIN;
static const uint32_t SL_EPOLLOUT = EPOLLOUT;
static const uint32_t SL_EPOLLERR = EPOLLERR;
static const uint32_t SL_EPOLLHUP = EPOLLHUP;
static const uint32_t SL_EPOLLRDHUP = EPOLLRDHUP;
static const uint32_t SL_EPOLLET = EPOLLET;
static const uint32_t SL_EPOLLEXCLUSIVE = EPOLLEXCLUSIVE;

// MARK: GNU extensions (defined in shim.c)

/// `accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)`.
int sl_accept(int fd);
/// `accept4` with the peer address, non-blocking and close-on-exec.
int sl_accept4(int fd, struct sockaddr_storage *addr, socklen_t *len);
/// `pipe2(fds, O_NONBLOCK | O_CLOEXEC)`.
int sl_pipe(int fds[2]);
/// `splice(fd_in, NULL, fd_out, NULL, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK)`.
ssize_t sl_splice(int fd_in, int fd_out, size_t len);
/// `fcntl(fd, F_SETPIPE_SZ, size)`.
int sl_set_pipe_size(int fd, int size);
/// `pthread_setname_np`.
void sl_set_thread_name(pthread_t thread, const char *name);
/// `sched_getaffinity(0, size, mask)`: this thread's CPU mask, `size` bytes of bits (a
/// `cpu_set_t` is 128 bytes; the kernel answers EINVAL when its mask does not fit).
int sl_sched_getaffinity(size_t size, void *mask);

// MARK: sockets

static inline int sl_socket(int domain, int type) {
    return socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

static inline int sl_socket_blocking(int domain, int type) { return socket(domain, type | SOCK_CLOEXEC, 0); }



static inline int sl_bind(int fd, const struct sockaddr_storage *addr, socklen_t len) {
    return bind(fd, (const struct sockaddr *)addr, len);
}

static inline int sl_connect(int fd, const struct sockaddr_storage *addr, socklen_t len) {
    return connect(fd, (const struct sockaddr *)addr, len);
}

static inline int sl_getsockname(int fd, struct sockaddr_storage *addr, socklen_t *len) {
    return getsockname(fd, (struct sockaddr *)addr, len);
}

static inline int sl_getpeername(int fd, struct sockaddr_storage *addr, socklen_t *len) {
    return getpeername(fd, (struct sockaddr *)addr, len);
}

static inline int sl_setsockopt_int(int fd, int level, int name, int value) {
    return setsockopt(fd, level, name, &value, sizeof(value));
}

static inline int sl_getsockopt_int(int fd, int level, int name, int *value) {
    socklen_t len = sizeof(*value);
    return getsockopt(fd, level, name, value, &len);
}

/// `SO_LINGER {1, 0}`: the next close sends RST instead of FIN.
static inline int sl_set_linger_reset(int fd) {
    struct linger l = {1, 0};
    return setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

static inline int sl_set_timeouts(int fd, int64_t ms) {
    struct timeval tv;
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    int r = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (r == -1) return r;
    return setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static inline ssize_t sl_send(int fd, const void *buf, size_t len) {
    return send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/// As `sl_send`, with `MSG_MORE`: the bytes may wait in the socket for what follows (a FIN from
/// `shutdown` or `close` joins them in one segment).
static inline ssize_t sl_send_more(int fd, const void *buf, size_t len) {
    return send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT | MSG_MORE);
}

static inline ssize_t sl_send_blocking(int fd, const void *buf, size_t len) {
    return send(fd, buf, len, MSG_NOSIGNAL);
}

static inline ssize_t sl_recv(int fd, void *buf, size_t len) { return recv(fd, buf, len, MSG_DONTWAIT); }

// TCP: MSG_TRUNC drops up to len received bytes without copying them anywhere (tcp(7)).
static inline ssize_t sl_recv_discard(int fd, size_t len) {
    return recv(fd, NULL, len, MSG_TRUNC | MSG_DONTWAIT);
}

static inline ssize_t sl_recv_blocking(int fd, void *buf, size_t len) { return recv(fd, buf, len, 0); }

// MARK: pipes and splice




static inline int sl_set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags == -1) return -1;
    return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

static inline int sl_open_readonly(const char *path) { return open(path, O_RDONLY | O_CLOEXEC); }

static inline int sl_open_append(const char *path) {
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

// MARK: eventfd, signals, threads, time

static inline int sl_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

/// A signalfd reporting the signals in `set` (which the caller has blocked).
static inline int sl_signalfd(const sigset_t *set) { return signalfd(-1, set, SFD_CLOEXEC); }

/// Reads one signal number from a signalfd, or -1.
static inline int sl_read_signal(int fd) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof(info));
    if (n != (ssize_t)sizeof(info)) return -1;
    return (int)info.ssi_signo;
}

static inline int64_t sl_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int64_t sl_realtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int sl_errno(void) { return errno; }

static inline long sl_online_cpus(void) { return sysconf(_SC_NPROCESSORS_ONLN); }

static inline int sl_get_nofile(uint64_t *soft, uint64_t *hard) {
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) == -1) return -1;
    *soft = r.rlim_cur;
    *hard = r.rlim_max;
    return 0;
}

static inline int sl_set_nofile_soft(uint64_t soft) {
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) == -1) return -1;
    r.rlim_cur = soft;
    return setrlimit(RLIMIT_NOFILE, &r);
}

#endif

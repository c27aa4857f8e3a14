// loadgen.h: what scripts/bench's C load generators (echoload.c, proxyload.c) share: the clock, latency
// samples and percentiles, error counts, non-blocking loopback clients on an epoll set, the client loop, JSON.
//
// Included after the including file has defined `enum state` (with S_IDLE, S_CONNECTING), `enum err_kind`
// (with E_CONNECT, E_TIMEOUT, E_KINDS), `err_names[E_KINDS]` and `struct conn` (with `int fd`, `enum state
// state`, `uint64_t t0, deadline, retry_at`); that file also defines start(), advance() and fail() below.
#ifndef LOADGEN_H
#define LOADGEN_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int epfd;
static uint64_t *lat;
static size_t lat_len, lat_cap;
static long completed, errors, err_count[E_KINDS];
static char first_error[200];

// Defined by the including file: (re)starts a client, drives it on epoll events, counts a failure and
// idles the client (to be restarted at its `retry_at`).
static void start(struct conn *c);
static void advance(struct conn *c, uint32_t events);
static void fail(struct conn *c, enum err_kind kind, const char *what, int err);

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

// One latency sample, in nanoseconds.
static void record(uint64_t ns) {
    if (lat_len == lat_cap) {
        size_t cap = lat_cap ? lat_cap * 2 : 65536;
        uint64_t *p = realloc(lat, cap * sizeof *p);
        if (!p) {
            fprintf(stderr, "%s: out of memory\n", program_invocation_short_name);
            exit(2);
        }
        lat = p;
        lat_cap = cap;
    }
    lat[lat_len++] = ns;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

// The `p` quantile (0...1) of the samples in microseconds, once they are sorted; -1 with none.
static double pct_us(double p) {
    if (!lat_len) return -1;
    size_t i = (size_t)(p * (double)(lat_len - 1) + 0.5);
    return (double)lat[i] / 1000.0;
}

static struct sockaddr_in loopback(int port) {
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sa;
}

// Counts an error of `kind`; the first one's text is kept for the JSON line.
static void note_error(enum err_kind kind, const char *what, int err) {
    errors++;
    err_count[kind]++;
    if (!first_error[0])
        snprintf(first_error, sizeof first_error, "%s%s%s", what, err ? ": " : "", err ? strerror(err) : "");
}

static void close_conn(struct conn *c) {
    if (c->fd >= 0) close(c->fd);  // close also takes the fd out of the epoll set
    c->fd = -1;
    c->state = S_IDLE;
}

// A non-blocking TCP_NODELAY socket in c->fd: 1, or 0 after fail().
static int client_socket(struct conn *c) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        fail(c, E_CONNECT, "socket", errno);
        return 0;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return 1;
}

// Starts c->fd connecting to 127.0.0.1:`port` and adds it to the epoll set (edge-triggered): S_CONNECTING,
// or fail().
static void client_connect(struct conn *c, int port) {
    struct sockaddr_in sa = loopback(port);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
        fail(c, E_CONNECT, "connect", errno);
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        fail(c, E_CONNECT, "epoll_ctl", errno);
        return;
    }
    c->state = S_CONNECTING;
}

// For a client in S_CONNECTING woken with `events`: 1 once its connect() has succeeded and it may send;
// 0 while it may not yet, or after fail() when the connect failed.
static int connected(struct conn *c, uint32_t events) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
        fail(c, E_CONNECT, "connect", err);
        return 0;
    }
    return (events & EPOLLOUT) != 0;
}

// Runs the `count` clients in `conns` from `begin` until `end`, `max_done` completions or too many errors:
// epoll events go to advance(), an idle client restarts once its retry time has come, and one past its
// deadline fails with `timeout_what` (looked at every 20 ms). Then closes them all. The seconds run, or -1
// when epoll_wait failed.
static double run_clients(struct conn *conns, int count, uint64_t begin, uint64_t end, long max_done,
                          const char *timeout_what) {
    uint64_t next_scan = begin;
    long max_errors = 1000 + max_done / 100;
    for (int i = 0; i < count; i++) {
        conns[i].fd = -1;
        start(&conns[i]);
    }
    struct epoll_event evs[256];
    uint64_t t = begin;
    while (t < end && completed < max_done && errors < max_errors) {
        int n = epoll_wait(epfd, evs, 256, 5);
        if (n < 0 && errno != EINTR) {
            perror("epoll_wait");
            return -1;
        }
        for (int i = 0; i < n; i++) advance(evs[i].data.ptr, evs[i].events);
        t = now_ns();
        int scan = t >= next_scan;
        if (scan) next_scan = t + 20000000;
        for (int i = 0; i < count && completed < max_done; i++) {
            struct conn *c = &conns[i];
            if (c->state == S_IDLE) {
                if (c->retry_at <= t) start(c);
            } else if (scan && t > c->deadline) {
                fail(c, E_TIMEOUT, timeout_what, 0);
            }
        }
    }
    double secs = (double)(now_ns() - begin) / 1e9;
    for (int i = 0; i < count; i++) close_conn(&conns[i]);
    return secs;
}

// Ends the JSON line after `"error_kinds": {`: the count of each kind, then the first error's text
// (quotes and backslashes dropped).
static void print_errors_and_end(void) {
    for (int k = 0; k < E_KINDS; k++) printf("%s\"%s\": %ld", k ? ", " : "", err_names[k], err_count[k]);
    printf("}, \"first_error\": \"");
    for (const char *p = first_error; *p; p++)
        if (*p != '"' && *p != '\\') putchar(*p);
    printf("\"}\n");
}

#endif

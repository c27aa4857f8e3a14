// echod: the C reference echo server of scripts/bench's echo-target workload (compiled by scripts/bench into
// .build/bench/echod). One thread, edge-triggered epoll, the loop Sluice's echo:// runs, written plainly in C.
//
//   echod PORT [-b buffer_bytes] [-d max_seconds]
//
// Listens on 127.0.0.1:PORT only. Per readable event: recv into one shared buffer, send the bytes straight
// back; a send that takes only part keeps the rest for that connection and stops reading it until EPOLLOUT
// has flushed it (a client that does not read is not read). A short recv means the socket is drained (no
// extra recv for its EAGAIN) unless the peer has half-closed. At the client's EOF, once everything is
// echoed, close() sends the FIN. The buffer defaults to 56 KiB, Sluice's scratch size: a 64 KiB send (with
// its headers) spills past one loopback GSO segment, so with equal buffers the comparison is the loop,
// not the buffer size. Ends after max_seconds (default 7200) or at SIGTERM.
#define _GNU_SOURCE
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

struct conn {
    int fd;
    int readable;      // an EPOLLIN edge not yet drained
    int writable;      // the send buffer had room at the last send (or no EAGAIN since EPOLLOUT)
    int half_closed;   // EPOLLRDHUP seen: read on to the EOF even after a short read
    char *pend;        // bytes a partial send left (owned); NULL when everything was echoed
    size_t pend_len, pend_off;
};

static char *buf;
static size_t buf_size = 56 * 1024;

static void drop(struct conn *c) {
    close(c->fd);  // also takes it out of the epoll set
    free(c->pend);
    free(c);
}

// Sends what a partial send left. 1: all of it went out, 0: blocked (wait for EPOLLOUT), -1: error.
static int flush(struct conn *c) {
    while (c->pend_off < c->pend_len) {
        ssize_t n = send(c->fd, c->pend + c->pend_off, c->pend_len - c->pend_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                c->writable = 0;
                return 0;
            }
            return -1;
        }
        c->pend_off += (size_t)n;
    }
    free(c->pend);
    c->pend = NULL;
    c->pend_len = c->pend_off = 0;
    return 1;
}

// Keeps bytes[off..len) of the shared buffer for a later EPOLLOUT. 0, or -1 when out of memory.
static int keep(struct conn *c, size_t off, size_t len) {
    c->pend = malloc(len - off);
    if (!c->pend) return -1;
    memcpy(c->pend, buf + off, len - off);
    c->pend_len = len - off;
    c->pend_off = 0;
    c->writable = 0;
    return 0;
}

// Drives one connection as far as it goes without blocking. 0, or -1 when it is finished (closed by the caller).
static int serve(struct conn *c, uint32_t events) {
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) c->readable = 1;
    if (events & (EPOLLRDHUP | EPOLLHUP)) c->half_closed = 1;
    if (events & EPOLLOUT) c->writable = 1;
    if (c->pend) {
        if (!c->writable) return 0;
        int r = flush(c);
        if (r <= 0) return r;
    }
    while (c->readable) {
        ssize_t n = recv(c->fd, buf, buf_size, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                c->readable = 0;
                return 0;
            }
            return -1;
        }
        if (n == 0) return -1;  // the client's EOF, everything echoed: close() sends ours
        if ((size_t)n < buf_size && !c->half_closed) c->readable = 0;  // drained: the next bytes are a new edge
        size_t sent = 0;
        while (sent < (size_t)n) {
            ssize_t w = send(c->fd, buf + sent, (size_t)n - sent, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN) break;
                return -1;
            }
            sent += (size_t)w;
        }
        if (sent < (size_t)n) return keep(c, sent, (size_t)n);  // no more reading until it is flushed
    }
    return 0;
}

static void usage(void) {
    fprintf(stderr, "usage: echod PORT [-b buffer_bytes] [-d max_seconds]\n");
    exit(2);
}

int main(int argc, char **argv) {
    double max_seconds = 7200;
    int opt;
    while ((opt = getopt(argc, argv, "b:d:")) != -1) {
        switch (opt) {
            case 'b': buf_size = (size_t)atol(optarg); break;
            case 'd': max_seconds = atof(optarg); break;
            default: usage();
        }
    }
    if (argc - optind != 1) usage();
    int port = atoi(argv[optind]);
    if (port < 1 || port > 65535 || buf_size < 1 || buf_size > (64u << 20) ||
        !(max_seconds > 0 && max_seconds <= 86400))
        usage();
    buf = malloc(buf_size);
    if (!buf) return 2;

    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, 4096) < 0) {
        perror("echod: listen");
        return 2;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN | EPOLLET, .data.ptr = NULL};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, ls, &lev) < 0) {
        perror("echod: epoll");
        return 2;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    time_t end = ts.tv_sec + (time_t)max_seconds;
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, 1000);
        if (n < 0 && errno != EINTR) {
            perror("echod: epoll_wait");
            return 2;
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c) {
                if (serve(c, evs[i].events) < 0) drop(c);
                continue;
            }
            for (;;) {  // the listener: accept until EAGAIN (edge-triggered)
                int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) {
                    if (errno == EINTR || errno == ECONNABORTED) continue;
                    break;  // EAGAIN; EMFILE and the like: the next connection is a new edge
                }
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                struct conn *nc = calloc(1, sizeof *nc);
                if (!nc) {
                    close(fd);
                    continue;
                }
                nc->fd = fd;
                nc->writable = 1;  // a socket just accepted has room to send
                // Bytes that arrived before the ADD are reported by it: no speculative recv here.
                struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = nc};
                if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) drop(nc);
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &ts);
        if (ts.tv_sec >= end) return 0;
    }
}

// floorfwd: the floor of connection churn for scripts/bench (peers c-floor and c-floor-smart): the least a
// correct non-blocking TCP forwarder does per connection, in plain C, one thread (built into .build/bench/).
//
//   floorfwd LISTEN_PORT TARGET_PORT [--smart] [--nodelay]
//
// Listens on 127.0.0.1:LISTEN_PORT (backlog 4096) and forwards each connection to 127.0.0.1:TARGET_PORT.
// Edge-triggered epoll, every socket registered once for EPOLLIN | EPOLLOUT | EPOLLRDHUP (no EPOLL_CTL_MOD
// ever); accept4 until EAGAIN; the upstream socket is created and connected (non-blocking) right after
// accept; one 16 KiB buffer per direction, read into only when empty. A short read means the socket is
// drained (the next bytes are a new edge) unless its peer's FIN is queued; a short write means the send
// buffer is full (EPOLLOUT is the next edge). EOF from one side: once its bytes are written, shutdown(SHUT_WR)
// on the other; when both directions are done, close both (a direction that finishes second needs no
// shutdown: close sends that FIN); any error closes both. No logging, no setsockopt, no getsockname: the
// point is what the kernel must do per connection, so this does nothing else.
//
// --smart: the upstream is dialled only once the client's first bytes (or its EOF) are read, with
// TCP_QUICKACK off on the upstream socket before connect: the handshake's last ACK is then delayed and
// leaves with the first data segment (one segment fewer per connection, one wake-up fewer for the target).
// This waits for the client, so it suits only protocols where the client speaks first (HTTP does).
// --nodelay (peer c-floor-nodelay, the keep-alive floor): TCP_NODELAY on both sockets, as every real forwarder
// sets it; without it Nagle holds a small response until the client's delayed ACK (40 ms per round trip).
// Runs until killed (the bench kills its process group), at most 2 hours.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { BUF_SIZE = 16 * 1024, MAX_EVENTS = 256 };

struct pair;

// One socket of a pair; its epoll registration points here.
struct end {
    struct pair *pair;
    int fd;        // -1 while the upstream is not dialled yet
    int open;      // may be written to and shut down: accepted, or the upstream's connect has finished
    int readable;  // an EPOLLIN edge not yet drained
    int writable;  // room in the send buffer (no short write or EAGAIN since the last EPOLLOUT)
    int rdhup;     // the peer's FIN is queued: read on to the EOF even after a short read
};

// One direction: bytes read from one end wait here until written to the other.
struct lane {
    size_t off, len;  // the unwritten bytes are buf[off, off + len)
    int eof;          // the source end reached EOF
    int done;         // EOF and every byte written: the destination end was shut (or the pair closes)
    char buf[BUF_SIZE];
};

struct pair {
    struct end client, upstream;
    struct lane up;    // client -> upstream
    struct lane down;  // upstream -> client
    int closed;        // both sockets closed; freed after the current batch of events
    struct pair *next_closed;
};

static int ep;
static int smart;
static int nodelay;
static struct sockaddr_in target;
static struct pair *closed_pairs;  // freed once no event of the current epoll_wait batch can name them

static void close_pair(struct pair *p) {
    close(p->client.fd);  // close also takes a socket out of the epoll set
    if (p->upstream.fd >= 0) close(p->upstream.fd);
    p->closed = 1;
    p->next_closed = closed_pairs;
    closed_pairs = p;
}

// Moves bytes of `l` from `from` to `to` until one of them blocks. 0: wait for the next event;
// 1: both directions are done (the caller closes the pair); -1: an error (the caller closes the pair).
static int pump(struct lane *l, struct lane *reverse, struct end *from, struct end *to) {
    for (;;) {
        if (l->len > 0) {
            if (!to->writable) return 0;
            ssize_t n = write(to->fd, l->buf + l->off, l->len);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN) {
                    to->writable = 0;
                    return 0;
                }
                return -1;
            }
            l->off += (size_t)n;
            l->len -= (size_t)n;
            if (l->len > 0) {  // the send buffer is full: EPOLLOUT says when it has room again
                to->writable = 0;
                return 0;
            }
            continue;
        }
        if (l->eof) {
            if (l->done || !to->open) return 0;  // a connecting upstream is shut once connected
            l->done = 1;
            if (reverse->done) return 1;  // close() sends this FIN: no shutdown first
            return shutdown(to->fd, SHUT_WR) < 0 ? -1 : 0;
        }
        if (!from->readable) return 0;
        ssize_t n = read(from->fd, l->buf, BUF_SIZE);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                from->readable = 0;
                return 0;
            }
            return -1;
        }
        if (n == 0) {
            l->eof = 1;
            from->readable = 0;
            continue;
        }
        l->off = 0;
        l->len = (size_t)n;
        if (n < BUF_SIZE && !from->rdhup) from->readable = 0;  // drained: the next bytes are a new edge
    }
}

// Creates the upstream socket, starts its connect and registers it. 0, or -1 (the caller closes the pair).
static int dial(struct pair *p) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    p->upstream.fd = fd;
    int one = 1;
    if (nodelay && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) return -1;
    if (smart) {
        // Data is in hand: let the handshake's last ACK wait for it rather than leave as its own segment.
        int zero = 0;
        if (setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &zero, sizeof zero) < 0) return -1;
    }
    if (connect(fd, (struct sockaddr *)&target, sizeof target) < 0 && errno != EINPROGRESS) return -1;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = &p->upstream};
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static void on_event(struct end *e, uint32_t events) {
    struct pair *p = e->pair;
    if (p->closed) return;
    // An error or hang-up is reported by the next read or write on the socket: let them run.
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) e->readable = 1;
    if (events & (EPOLLRDHUP | EPOLLHUP)) e->rdhup = 1;
    if (events & (EPOLLOUT | EPOLLERR)) e->writable = 1;
    if (events & EPOLLOUT) e->open = 1;  // the upstream's first EPOLLOUT: its connect has finished
    int r = pump(&p->up, &p->down, &p->client, &p->upstream);
    if (r == 0) r = pump(&p->down, &p->up, &p->upstream, &p->client);
    if (r == 0 && p->upstream.fd < 0 && (p->up.len > 0 || p->up.eof)) r = dial(p);  // --smart
    if (r != 0) close_pair(p);
}

static void on_accept(int listener) {
    for (;;) {
        int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            return;  // EAGAIN; EMFILE and the like: the next connection is a new edge
        }
        struct pair *p = malloc(sizeof *p);  // not calloc: the buffers need no zeroing
        if (!p) {
            close(fd);
            continue;
        }
        p->client = (struct end){.pair = p, .fd = fd, .open = 1, .writable = 1};
        p->upstream = (struct end){.pair = p, .fd = -1};
        p->up.off = p->up.len = 0;
        p->up.eof = p->up.done = 0;
        p->down.off = p->down.len = 0;
        p->down.eof = p->down.done = 0;
        p->closed = 0;
        // Bytes that arrived before the ADD are reported by it: no speculative read here.
        int one = 1;
        if (nodelay) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = &p->client};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 || (!smart && dial(p) < 0)) close_pair(p);
    }
}

static int port_arg(const char *s) {
    char *end;
    long v = strtol(s, &end, 10);
    return *s && !*end && v >= 1 && v <= 65535 ? (int)v : -1;
}

int main(int argc, char **argv) {
    int listen_port = argc >= 3 ? port_arg(argv[1]) : -1;
    int target_port = argc >= 3 ? port_arg(argv[2]) : -1;
    int bad = argc > 5;
    for (int i = 3; i < argc && !bad; i++) {
        if (strcmp(argv[i], "--smart") == 0) smart = 1;
        else if (strcmp(argv[i], "--nodelay") == 0) nodelay = 1;
        else bad = 1;
    }
    if (listen_port < 0 || target_port < 0 || bad) {
        fprintf(stderr, "usage: floorfwd LISTEN_PORT TARGET_PORT [--smart] [--nodelay]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);  // a write to a reset socket fails with EPIPE instead
    alarm(7200);               // a forgotten instance does not outlive the bench by much

    target = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)target_port)};
    target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)listen_port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // No SO_REUSEADDR (no setsockopt at all): the bench hands out ports it has just bound itself.
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(listener, 4096) < 0) {
        perror("floorfwd: listen");
        return 2;
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN | EPOLLET, .data.ptr = NULL};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, listener, &lev) < 0) {
        perror("floorfwd: epoll");
        return 2;
    }
    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(ep, events, MAX_EVENTS, -1);
        if (n < 0 && errno != EINTR) {
            perror("floorfwd: epoll_wait");
            return 2;
        }
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == NULL)
                on_accept(listener);
            else
                on_event(events[i].data.ptr, events[i].events);
        }
        while (closed_pairs) {
            struct pair *p = closed_pairs;
            closed_pairs = p->next_closed;
            free(p);
        }
    }
}

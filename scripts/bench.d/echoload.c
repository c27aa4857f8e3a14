// echoload: the client of scripts/bench's echo-target workload (compiled by scripts/bench into .build/bench/).
// Talks to an echo server on 127.0.0.1 (nothing else is ever dialled) and prints one JSON line.
//
//   echoload pingpong PORT [-n rounds] [-w warmup] [-s size] [-d max_seconds]
//       one connection, `rounds` round trips of `size` bytes (default 64) after `warmup`: p50/p99/p999 us
//   echoload bulk PORT [-b bytes] [-d max_seconds]
//       one connection sending `bytes` (default 1 GiB) while reading the echo back concurrently, then EOF;
//       every byte is checked; Gbit/s = bytes x 8 / (connect to the echo's EOF)
//   echoload churn PORT [-c concurrency] [-d seconds] [-s size] [-n max_connections] [-t timeout_ms]
//       `concurrency` clients, each in a loop: connect, send `size` bytes, read them back, close;
//       connections/s and latency from connect() to the last echoed byte
//
// C rather than netload.py: a Python client's own cost per round trip is several times an echo server's and
// would hide a 10 % difference between two servers. Every mode ends at its deadline.
#define _GNU_SOURCE
#include <poll.h>
#include <stdint.h>
#include <sys/resource.h>

// churn's clients
enum state { S_IDLE, S_CONNECTING, S_READING };
enum err_kind { E_CONNECT, E_EOF, E_RESET, E_TIMEOUT, E_MISMATCH, E_KINDS };
static const char *err_names[E_KINDS] = {"connect", "eof", "reset", "timeout", "mismatch"};

struct conn {
    int fd;
    enum state state;
    int have;
    uint64_t t0, deadline, retry_at;
    char got[4096];
};

#include "loadgen.h"

static int port, size = 64, concurrency = 64, timeout_ms = 2000;
static long rounds = 20000, warmup = 1000, max_conns = 100000000;
static long long bulk_bytes = 1LL << 30;
static double seconds = 60;

static double cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

static void fail_json(const char *mode, const char *what, int err) {
    printf("{\"mode\": \"%s\", \"error\": \"%s%s%s\"}\n", mode, what, err ? ": " : "", err ? strerror(err) : "");
    exit(1);
}

// A blocking, connected socket with TCP_NODELAY (pingpong, bulk).
static int dial(const char *mode) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = loopback(port);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) fail_json(mode, "connect", errno);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {.tv_sec = 5};  // a stuck server cannot hang the harness
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

static int pingpong(void) {
    int fd = dial("pingpong");
    char msg[65536], got[65536];
    for (int i = 0; i < size; i++) msg[i] = (char)('a' + i % 26);
    uint64_t end = now_ns() + (uint64_t)(seconds * 1e9);
    long done = 0;
    double c0 = cpu_s();
    for (long i = 0; i < warmup + rounds; i++) {
        uint64_t t0 = now_ns();
        if (send(fd, msg, (size_t)size, MSG_NOSIGNAL) != size) fail_json("pingpong", "send", errno);
        int have = 0;
        while (have < size) {
            ssize_t n = recv(fd, got + have, (size_t)(size - have), 0);
            if (n <= 0) fail_json("pingpong", n == 0 ? "EOF" : "recv", n == 0 ? 0 : errno);
            have += (int)n;
        }
        uint64_t t1 = now_ns();
        if (memcmp(msg, got, (size_t)size) != 0) fail_json("pingpong", "echo differs", 0);
        if (i >= warmup) {
            record(t1 - t0);
            done++;
        }
        if ((i & 1023) == 0 && t1 > end) break;
    }
    double client_cpu = cpu_s() - c0;
    close(fd);
    uint64_t sum = 0;
    for (size_t i = 0; i < lat_len; i++) sum += lat[i];
    qsort(lat, lat_len, sizeof *lat, cmp_u64);
    printf("{\"mode\": \"pingpong\", \"size\": %d, \"rounds\": %ld, \"p50_us\": %.2f, \"p99_us\": %.2f, "
           "\"p999_us\": %.2f, \"min_us\": %.2f, \"mean_us\": %.2f, \"client_cpu_s\": %.3f}\n",
           size, done, pct_us(0.5), pct_us(0.99), pct_us(0.999), pct_us(0.0),
           lat_len ? (double)sum / (double)lat_len / 1000.0 : -1.0, client_cpu);
    return 0;
}

// bulk: the byte at stream offset o is o % 251 (a prime: no alignment with any buffer size hides a slip).
#define CHUNK (256 * 1024)
#define PERIOD 251

static int bulk(void) {
    int fd = dial("bulk");
    static unsigned char pat[CHUNK + PERIOD], in[CHUNK];
    for (size_t i = 0; i < sizeof pat; i++) pat[i] = (unsigned char)(i % PERIOD);
    long long sent = 0, recvd = 0;
    int eof = 0, shut = 0;
    uint64_t t0 = now_ns(), end = t0 + (uint64_t)(seconds * 1e9);
    double c0 = cpu_s();
    while (!eof) {
        struct pollfd p = {.fd = fd, .events = POLLIN | (sent < bulk_bytes ? POLLOUT : 0)};
        int r = poll(&p, 1, 1000);
        if (r < 0 && errno != EINTR) fail_json("bulk", "poll", errno);
        if (now_ns() > end) fail_json("bulk", "deadline passed before the whole echo came back", 0);
        if (r <= 0) continue;
        if (p.revents & POLLOUT) {
            while (sent < bulk_bytes) {
                size_t n = (size_t)(bulk_bytes - sent < CHUNK ? bulk_bytes - sent : CHUNK);
                ssize_t w = send(fd, pat + sent % PERIOD, n, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (w < 0) {
                    if (errno == EAGAIN || errno == EINTR) break;
                    fail_json("bulk", "send", errno);
                }
                sent += w;
            }
            if (sent == bulk_bytes && !shut) {
                shutdown(fd, SHUT_WR);
                shut = 1;
            }
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            for (;;) {
                ssize_t n = recv(fd, in, sizeof in, MSG_DONTWAIT);
                if (n < 0) {
                    if (errno == EAGAIN || errno == EINTR) break;
                    fail_json("bulk", "recv", errno);
                }
                if (n == 0) {
                    eof = 1;
                    break;
                }
                if (recvd + n > sent || memcmp(in, pat + recvd % PERIOD, (size_t)n) != 0)
                    fail_json("bulk", "echo differs from what was sent", 0);
                recvd += n;
            }
        }
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    double client_cpu = cpu_s() - c0;
    close(fd);
    if (recvd != bulk_bytes) {
        char what[120];
        snprintf(what, sizeof what, "EOF after %lld of %lld bytes", recvd, bulk_bytes);
        fail_json("bulk", what, 0);
    }
    printf("{\"mode\": \"bulk\", \"bytes\": %lld, \"seconds\": %.4f, \"gbps\": %.3f, \"verified\": true, "
           "\"client_cpu_s\": %.3f}\n",
           recvd, secs, (double)recvd * 8 / secs / 1e9, client_cpu);
    return 0;
}

// churn
static char churn_msg[4096];

static void fail(struct conn *c, enum err_kind kind, const char *what, int err) {
    note_error(kind, what, err);
    close_conn(c);
    c->retry_at = now_ns() + 1000000;  // 1 ms: a refused or exhausted connect() must not spin
}

static void start(struct conn *c) {
    c->retry_at = 0;
    c->have = 0;
    if (!client_socket(c)) return;
    c->t0 = now_ns();
    c->deadline = c->t0 + (uint64_t)timeout_ms * 1000000u;
    client_connect(c, port);
}

static void advance(struct conn *c, uint32_t events) {
    if (c->state == S_CONNECTING) {
        if (!connected(c, events)) return;
        // `size` bytes into an empty send buffer: one send takes them all.
        ssize_t n = send(c->fd, churn_msg, (size_t)size, MSG_NOSIGNAL);
        if (n != size) {
            fail(c, E_RESET, "send", n < 0 ? errno : 0);
            return;
        }
        c->state = S_READING;
    }
    if (c->state != S_READING) return;
    for (;;) {
        ssize_t n = recv(c->fd, c->got + c->have, (size_t)(size - c->have), 0);
        if (n < 0) {
            if (errno == EAGAIN) return;
            fail(c, E_RESET, "recv", errno);
            return;
        }
        if (n == 0) {
            fail(c, E_EOF, "EOF before the whole echo", 0);
            return;
        }
        c->have += (int)n;
        if (c->have == size) {
            if (memcmp(c->got, churn_msg, (size_t)size) != 0) {
                fail(c, E_MISMATCH, "echo differs", 0);
                return;
            }
            record(now_ns() - c->t0);
            completed++;
            close_conn(c);
            return;
        }
    }
}

static int churn(void) {
    for (int i = 0; i < size; i++) churn_msg[i] = (char)('A' + i % 26);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    struct conn *conns = calloc((size_t)concurrency, sizeof *conns);
    if (epfd < 0 || !conns) return 2;
    uint64_t begin = now_ns(), end = begin + (uint64_t)(seconds * 1e9);
    double c0 = cpu_s();
    double secs = run_clients(conns, concurrency, begin, end, max_conns, "no echo within the timeout");
    if (secs < 0) return 2;
    double client_cpu = cpu_s() - c0;
    qsort(lat, lat_len, sizeof *lat, cmp_u64);
    printf("{\"mode\": \"churn\", \"concurrency\": %d, \"size\": %d, \"seconds\": %.3f, \"connections\": %ld, "
           "\"cps\": %.1f, \"errors\": %ld, \"p50_us\": %.1f, \"p90_us\": %.1f, \"p99_us\": %.1f, \"p999_us\": %.1f, "
           "\"max_us\": %.1f, \"client_cpu_s\": %.3f, \"error_kinds\": {",
           concurrency, size, secs, completed, (double)completed / secs, errors, pct_us(0.5), pct_us(0.9),
           pct_us(0.99), pct_us(0.999), pct_us(1.0), client_cpu);
    print_errors_and_end();
    return 0;
}

__attribute__((noreturn)) static void usage(void) {
    fprintf(stderr, "usage: echoload pingpong|bulk|churn PORT [-n rounds|max_connections] [-w warmup] [-s size] "
                    "[-b bytes] [-c concurrency] [-d seconds] [-t timeout_ms]\n");
    exit(2);
}

int main(int argc, char **argv) {
    if (argc < 3) usage();
    const char *mode = argv[1];
    port = atoi(argv[2]);
    int is_churn = !strcmp(mode, "churn");
    if (is_churn) seconds = 5;
    int opt;
    optind = 3;
    while ((opt = getopt(argc, argv, "n:w:s:b:c:d:t:")) != -1) {
        switch (opt) {
            case 'n':
                if (is_churn)
                    max_conns = atol(optarg);
                else
                    rounds = atol(optarg);
                break;
            case 'w': warmup = atol(optarg); break;
            case 's': size = atoi(optarg); break;
            case 'b': bulk_bytes = atoll(optarg); break;
            case 'c': concurrency = atoi(optarg); break;
            case 'd': seconds = atof(optarg); break;
            case 't': timeout_ms = atoi(optarg); break;
            default: usage();
        }
    }
    // Bounds: buffers and arrays are sized from these, and a bench run must end.
    if (optind != argc || port < 1 || port > 65535 || size < 1 || size > 4096 || rounds < 1 || rounds > 100000000 ||
        warmup < 0 || warmup > 10000000 || bulk_bytes < 1 || bulk_bytes > (1LL << 40) || concurrency < 1 ||
        concurrency > 10000 || !(seconds > 0 && seconds <= 3600) || max_conns < 1 || timeout_ms < 1 ||
        timeout_ms > 60000)
        usage();
    if (!strcmp(mode, "pingpong")) return pingpong();
    if (!strcmp(mode, "bulk")) return bulk();
    if (is_churn) return churn();
    usage();
}

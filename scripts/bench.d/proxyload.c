// proxyload: the load generator of scripts/bench's proxy-handlers workload (compiled by scripts/bench).
// One thread, epoll, C concurrent clients speaking HTTP CONNECT, SOCKS5 or absolute-URI GETs; one JSON line out.
//
//   proxyload MODE PROXY_PORT ORIGIN_PORT [-c concurrency] [-d seconds] [-n max_requests] [-t timeout_ms]
//             [-p path]
//
// MODE (every address is 127.0.0.1; nothing else is ever dialled):
//   connect  per request a new connection: CONNECT 127.0.0.1:ORIGIN -> 200 -> GET path (Connection: close)
//            through the tunnel -> the whole response -> close
//   socks5   per request a new connection: greeting (no auth) -> 05 00 -> CONNECT IPv4 127.0.0.1:ORIGIN
//            -> reply 00 -> GET path (Connection: close) -> the whole response -> close
//   get      keep-alive: GET http://127.0.0.1:ORIGIN/path HTTP/1.1 on persistent connections; a new
//            connection only when the proxy closes one (counted: "connections", "unannounced_closes")
//   plain    per request a new connection straight to PROXY_PORT: GET path (Connection: close) (the floor)
//
// Latency of a request: from connect() (get: from the request's first byte) to the last byte of the
// origin's response. The run ends at the deadline or after max_requests completed requests (requests
// still in flight then are not counted) or after too many errors.
#define _GNU_SOURCE
#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <strings.h>

enum mode { M_CONNECT, M_SOCKS5, M_GET, M_PLAIN };
enum state {
    S_IDLE,
    S_CONNECTING,
    S_PROXY_HEAD,     // writing the CONNECT request / SOCKS5 greeting, then reading its answer
    S_SOCKS_REQUEST,  // SOCKS5: writing the CONNECT request, then reading the reply
    S_REQUEST,        // writing the HTTP request, then reading the response
};
enum err_kind { E_CONNECT, E_PROXY_REFUSED, E_HTTP_STATUS, E_EOF, E_RESET, E_TIMEOUT, E_PROTOCOL, E_KINDS };
static const char *err_names[E_KINDS] = {"connect", "proxy_refused", "http_status", "eof", "reset", "timeout",
                                         "protocol"};

#define HEAD_MAX 8192

struct conn {
    int fd;
    enum state state;
    int writing;         // 1 while `out` still has bytes to send in this state
    const char *out;
    size_t out_len, out_sent;
    char head[HEAD_MAX]; // bytes read in this state (a response head, a SOCKS5 reply)
    size_t head_len;
    long long body_left; // after the response head: body bytes still to come (-1: until EOF)
    int head_done, keep_alive, status;
    uint64_t t0, deadline, retry_at;
    uint64_t retry_t0, retry_deadline;  // get: the first attempt of a request retried after an unannounced close
    long requests_on_conn;
};

#include "loadgen.h"

static enum mode mode;
static int proxy_port, origin_port, concurrency = 64, timeout_ms = 2000;
static double duration = 5.0;
static long max_requests = 10000000;
static const char *path = "/f128";
static char proxy_head[512], socks_greeting[3] = {5, 1, 0}, socks_request[10], http_request[512];
static size_t proxy_head_len, http_request_len;
static long connections, unannounced_closes;

static void fail(struct conn *c, enum err_kind kind, const char *what, int err) {
    note_error(kind, what, err);
    close_conn(c);
    c->retry_t0 = 0;
    c->retry_at = now_ns() + 1000000;  // 1 ms: a refused or exhausted connect() must not spin
}

static void set_out(struct conn *c, const char *p, size_t n) {
    c->out = p;
    c->out_len = n;
    c->out_sent = 0;
    c->writing = 1;
    c->head_len = 0;
    c->head_done = 0;
    c->body_left = 0;
}

static void begin_request(struct conn *c, uint64_t t) {
    c->state = S_REQUEST;
    if (mode == M_GET) {
        c->t0 = c->retry_t0 ? c->retry_t0 : t;
        c->deadline = c->retry_t0 ? c->retry_deadline : t + (uint64_t)timeout_ms * 1000000u;
        c->retry_t0 = 0;
    }
    set_out(c, http_request, http_request_len);
}

static void start(struct conn *c) {
    uint64_t t = now_ns();
    c->retry_at = 0;
    c->requests_on_conn = 0;
    if (!client_socket(c)) return;
    c->t0 = t;
    c->deadline = t + (uint64_t)timeout_ms * 1000000u;
    connections++;
    client_connect(c, proxy_port);
}

// Parses a response head in c->head (status, Content-Length, Connection). 1: complete head, 0: need more, -1: bad.
static int parse_head(struct conn *c, size_t *head_end) {
    char *end = memmem(c->head, c->head_len, "\r\n\r\n", 4);
    if (!end) return c->head_len >= HEAD_MAX ? -1 : 0;
    *head_end = (size_t)(end - c->head) + 4;
    if (c->head_len < 12 || memcmp(c->head, "HTTP/1.", 7) != 0) return -1;
    c->status = atoi(c->head + 9);
    int http11 = c->head[7] == '1';
    c->keep_alive = http11;
    c->body_left = -1;
    char *line = memmem(c->head, *head_end, "\r\n", 2) + 2;
    while (line < end) {
        char *eol = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
        if (!eol) break;
        size_t n = (size_t)(eol - line);
        if (n > 15 && strncasecmp(line, "content-length:", 15) == 0) c->body_left = atoll(line + 15);
        if (n > 11 && strncasecmp(line, "connection:", 11) == 0) {
            char *v = line + 11;
            while (*v == ' ') v++;
            if (strncasecmp(v, "close", 5) == 0) c->keep_alive = 0;
            if (strncasecmp(v, "keep-alive", 10) == 0) c->keep_alive = 1;
        }
        line = eol + 2;
    }
    if (c->status == 204 || c->status == 304) c->body_left = 0;
    if (c->body_left < 0) c->keep_alive = 0;  // the body ends with the connection
    return 1;
}

// One request finished (the whole response is in): record it, then the next one.
static void finish(struct conn *c) {
    uint64_t t = now_ns();
    if (c->status != 200) {
        char what[64];
        snprintf(what, sizeof what, "origin answered %d", c->status);
        fail(c, E_HTTP_STATUS, what, 0);
        return;
    }
    record(t - c->t0);
    completed++;
    c->requests_on_conn++;
    if (mode == M_GET && c->keep_alive) {
        begin_request(c, t);
        return;
    }
    close_conn(c);
}

// get: a kept-alive connection the proxy closed before answering the next request (the last
// response did not say `Connection: close`). The request goes again on a new connection; its
// latency keeps counting from its first attempt. 1 when that is what happened.
static int unannounced_close(struct conn *c) {
    if (mode != M_GET || c->state != S_REQUEST || c->requests_on_conn == 0 || c->head_len != 0) return 0;
    uint64_t t0 = c->t0, deadline = c->deadline;
    unannounced_closes++;
    close_conn(c);
    start(c);
    c->retry_t0 = t0;
    c->retry_deadline = deadline;
    return 1;
}

// Drives one connection as far as it goes without blocking (edge-triggered: until EAGAIN).
static void advance(struct conn *c, uint32_t events) {
    if (c->state == S_CONNECTING) {
        if (!connected(c, events)) return;
        if (mode == M_CONNECT) {
            c->state = S_PROXY_HEAD;
            set_out(c, proxy_head, proxy_head_len);
        } else if (mode == M_SOCKS5) {
            c->state = S_PROXY_HEAD;
            set_out(c, socks_greeting, sizeof socks_greeting);
        } else {
            begin_request(c, now_ns());
        }
    }
    for (;;) {
        if (c->state == S_IDLE) return;
        if (c->writing) {
            ssize_t n = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN) return;
                if (unannounced_close(c)) return;
                fail(c, E_RESET, "send", errno);
                return;
            }
            c->out_sent += (size_t)n;
            if (c->out_sent == c->out_len) c->writing = 0;
            continue;
        }
        // Reading. Response bodies are counted, not kept: only a head (or a SOCKS5 reply) is buffered.
        char scratch[16384];
        int in_head = !(c->state == S_REQUEST && c->head_done);
        char *dst = in_head ? c->head + c->head_len : scratch;
        size_t room = in_head ? HEAD_MAX - c->head_len : sizeof scratch;
        if (room == 0) {
            fail(c, E_PROTOCOL, "response head over 8 KiB", 0);
            return;
        }
        ssize_t n = recv(c->fd, dst, room, 0);
        if (n < 0) {
            if (errno == EAGAIN) return;
            if (unannounced_close(c)) return;
            fail(c, E_RESET, "recv", errno);
            return;
        }
        if (n == 0) {
            if (c->state == S_REQUEST && c->head_done && c->body_left < 0) {
                finish(c);  // a body delimited by the end of the connection
                return;
            }
            if (unannounced_close(c)) return;
            fail(c, E_EOF, c->state == S_REQUEST ? "EOF before the whole response" : "EOF during the proxy handshake",
                 0);
            return;
        }
        if (!in_head) {
            if (c->body_left >= 0) {
                c->body_left -= n;
                if (c->body_left < 0) {
                    fail(c, E_PROTOCOL, "bytes after the response body", 0);
                    return;
                }
                if (c->body_left == 0) finish(c);  // closes, or (keep-alive) starts the next request
            }
            continue;
        }
        c->head_len += (size_t)n;
        if (c->state == S_PROXY_HEAD && mode == M_SOCKS5) {
            if (c->head_len < 2) continue;
            if (c->head_len > 2 || c->head[0] != 5 || c->head[1] != 0) {
                fail(c, E_PROXY_REFUSED, "SOCKS5 method reply is not 05 00", 0);
                return;
            }
            c->state = S_SOCKS_REQUEST;
            set_out(c, socks_request, sizeof socks_request);
            continue;
        }
        if (c->state == S_SOCKS_REQUEST) {
            if (c->head_len < 5) continue;
            size_t want = c->head[3] == 1 ? 10 : c->head[3] == 4 ? 22 : 7 + (size_t)(unsigned char)c->head[4];
            if (c->head_len < want) continue;
            if (c->head_len > want || c->head[0] != 5 || c->head[1] != 0) {
                char what[64];
                snprintf(what, sizeof what, "SOCKS5 reply %d", c->head[1]);
                fail(c, E_PROXY_REFUSED, what, 0);
                return;
            }
            begin_request(c, now_ns());
            continue;
        }
        size_t head_end = 0;
        int r = parse_head(c, &head_end);
        if (r < 0) {
            fail(c, E_PROTOCOL, "malformed response head", 0);
            return;
        }
        if (r == 0) continue;
        if (c->state == S_PROXY_HEAD) {  // the CONNECT answer
            if (c->status != 200 || c->head_len != head_end) {
                char what[80];
                snprintf(what, sizeof what, "CONNECT answered %d%s", c->status,
                         c->head_len != head_end ? " with bytes after the head" : "");
                fail(c, E_PROXY_REFUSED, what, 0);
                return;
            }
            begin_request(c, now_ns());
            continue;
        }
        // The response head is in; what followed it is body.
        c->head_done = 1;
        long long extra = (long long)(c->head_len - head_end);
        if (c->body_left >= 0) {
            c->body_left -= extra;
            if (c->body_left < 0) {
                fail(c, E_PROTOCOL, "bytes after the response body", 0);
                return;
            }
            if (c->body_left == 0) finish(c);
        }
    }
}

static void usage(void) {
    fprintf(stderr, "usage: proxyload connect|socks5|get|plain PROXY_PORT ORIGIN_PORT [-c concurrency] "
                    "[-d seconds] [-n max_requests] [-t timeout_ms] [-p path]\n");
    exit(2);
}

int main(int argc, char **argv) {
    int opt;
    while ((opt = getopt(argc, argv, "c:d:n:t:p:")) != -1) {
        switch (opt) {
            case 'c': concurrency = atoi(optarg); break;
            case 'd': duration = atof(optarg); break;
            case 'n': max_requests = atol(optarg); break;
            case 't': timeout_ms = atoi(optarg); break;
            case 'p': path = optarg; break;
            default: usage();
        }
    }
    if (argc - optind != 3) usage();
    const char *m = argv[optind];
    mode = !strcmp(m, "connect") ? M_CONNECT : !strcmp(m, "socks5") ? M_SOCKS5 : !strcmp(m, "get") ? M_GET
         : !strcmp(m, "plain") ? M_PLAIN : (usage(), M_PLAIN);
    proxy_port = atoi(argv[optind + 1]);
    origin_port = atoi(argv[optind + 2]);
    // Bounds: everything below is sized from these, and a bench run must end.
    if (proxy_port < 1 || proxy_port > 65535 || origin_port < 1 || origin_port > 65535 || concurrency < 1 ||
        concurrency > 10000 || !(duration > 0 && duration <= 3600) || max_requests < 1 || timeout_ms < 1 ||
        timeout_ms > 60000 || strlen(path) > 200 || path[0] != '/')
        usage();

    proxy_head_len = (size_t)snprintf(proxy_head, sizeof proxy_head,
                                      "CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", origin_port,
                                      origin_port);
    unsigned char *q = (unsigned char *)socks_request;
    q[0] = 5, q[1] = 1, q[2] = 0, q[3] = 1, q[4] = 127, q[5] = 0, q[6] = 0, q[7] = 1;
    q[8] = (unsigned char)(origin_port >> 8), q[9] = (unsigned char)origin_port;
    if (mode == M_GET)
        http_request_len = (size_t)snprintf(http_request, sizeof http_request,
                                            "GET http://127.0.0.1:%d%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n",
                                            origin_port, path, origin_port);
    else
        http_request_len = (size_t)snprintf(http_request, sizeof http_request,
                                            "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n",
                                            path, origin_port);

    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) {
        perror("epoll_create1");
        return 2;
    }
    struct conn *conns = calloc((size_t)concurrency, sizeof *conns);
    if (!conns) return 2;
    uint64_t begin = now_ns(), end = begin + (uint64_t)(duration * 1e9);
    double secs = run_clients(conns, concurrency, begin, end, max_requests, "request timed out");
    if (secs < 0) return 2;
    qsort(lat, lat_len, sizeof *lat, cmp_u64);
    static const char *mode_names[] = {"connect", "socks5", "get", "plain"};
    printf("{\"mode\": \"%s\", \"concurrency\": %d, \"seconds\": %.3f, \"requests\": %ld, \"rps\": %.1f, "
           "\"errors\": %ld, \"connections\": %ld, \"unannounced_closes\": %ld, \"p50_us\": %.1f, "
           "\"p90_us\": %.1f, \"p99_us\": %.1f, \"p999_us\": %.1f, \"max_us\": %.1f, \"error_kinds\": {",
           mode_names[mode], concurrency, secs, completed, (double)completed / secs, errors, connections,
           unannounced_closes, pct_us(0.5), pct_us(0.9), pct_us(0.99), pct_us(0.999), pct_us(1.0));
    print_errors_and_end();
    return 0;
}

// CSluice: everything lives in include/CSluice.h as static inline wrappers; this file gives the
// target a translation unit of its own and checks the layout assumptions the Swift side makes.
#include "CSluice.h"

_Static_assert(sizeof(struct epoll_event) == 12, "epoll_event is packed on x86_64");
_Static_assert(sizeof(struct sockaddr_storage) >= sizeof(struct sockaddr_in6), "storage holds in6");

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "../crypto/base/err.h"
#include "udp.h"

int
udp_resolve (const char *host, int port, struct sockaddr_in *out)
{
    memset (out, 0, sizeof *out);
    out->sin_family = AF_INET;
    out->sin_port = htons ((uint16_t) port);
    if (strcmp (host, "*") == 0) {
        out->sin_addr.s_addr = htonl (INADDR_ANY);
        return 0;
    }
    if (inet_pton (AF_INET, host, &out->sin_addr) == 1)
        return 0;
    struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_DGRAM }, *res;
    if (getaddrinfo (host, NULL, &hints, &res) != 0)
        return SC_ENOENT;
    out->sin_addr = ((struct sockaddr_in *) res->ai_addr)->sin_addr;
    freeaddrinfo (res);
    return 0;
}

int
udp_open (const char *host, int port, bool shared)
{
    struct sockaddr_in addr;
    if (udp_resolve (host, port, &addr) != 0)
        return SC_ENOENT;
    int fd = socket (AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return SC_ENET;
    int one = 1;
    if (setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0
    ||  (shared && setsockopt (fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    ||  (shared && setsockopt (fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) != 0)) {
        close (fd);
        return SC_ENET;
    }
    if (bind (fd, (struct sockaddr *) &addr, sizeof addr) != 0) {
        int rc = errno == EADDRINUSE? SC_EEXIST: SC_ENET;
        close (fd);
        return rc;
    }
    return fd;
}

int
udp_send (int fd, const struct sockaddr_in *to, const void *buf, size_t len)
{
    ssize_t n = sendto (fd, buf, len, 0, (const struct sockaddr *) to, sizeof *to);
    return n == (ssize_t) len? 0: SC_ENET;
}

int
udp_recv (int fd, void *buf, size_t size, struct sockaddr_in *from)
{
    socklen_t alen = sizeof *from;
    ssize_t n = recvfrom (fd, buf, size, MSG_TRUNC, (struct sockaddr *) from, &alen);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR? SC_EAGAIN: SC_ENET;
    if ((size_t) n > size)
        return (int) size + 1;
    return (int) n;
}

void
udp_ntoa (const struct sockaddr_in *addr, char *out, size_t size)
{
    if (!inet_ntop (AF_INET, &addr->sin_addr, out, (socklen_t) size))
        out [0] = 0;
}

void
udp_first_host (char *out, size_t size)
{
    snprintf (out, size, "127.0.0.1");
    struct ifaddrs *ifs;
    if (getifaddrs (&ifs) != 0)
        return;
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next)
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET
        &&  (i->ifa_flags & IFF_UP) && !(i->ifa_flags & IFF_LOOPBACK)) {
            inet_ntop (AF_INET, &((struct sockaddr_in *) i->ifa_addr)->sin_addr, out, (socklen_t) size);
            break;
        }
    freeifaddrs (ifs);
}

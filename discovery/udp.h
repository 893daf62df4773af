/*  udp: the few socket calls discovery needs, with errors as SC_E* codes.
    IPv4 only for now.  */
#ifndef SC_UDP_H
#define SC_UDP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Opens a non-blocking UDP socket bound to host ("*" = any) and port, with
//  SO_REUSEADDR (and SO_REUSEPORT + SO_BROADCAST when shared is set, so that
//  several nodes on one host can listen for broadcasts).  Returns the fd or
//  a negative SC_E* code.
int udp_open (const char *host, int port, bool shared);

//  Resolves an IPv4 host name or address.  Returns 0 or SC_ENOENT.
int udp_resolve (const char *host, int port, struct sockaddr_in *out);

//  Sends one datagram; returns 0 or SC_ENET.
int udp_send (int fd, const struct sockaddr_in *to, const void *buf, size_t len);

//  Receives one datagram into buf; returns its length (a datagram larger than
//  size is reported as size + 1 and dropped), SC_EAGAIN when none waits.
int udp_recv (int fd, void *buf, size_t size, struct sockaddr_in *from);

//  Formats an address as "A.B.C.D" into out (at least 16 bytes).
void udp_ntoa (const struct sockaddr_in *addr, char *out, size_t size);

//  The first IPv4 address of an interface that is up and not loopback, or
//  127.0.0.1: what another machine would use to reach this one.
void udp_first_host (char *out, size_t size);

#endif

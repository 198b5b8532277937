/* Host (native gcc) port: the serial link is stdin/stdout, or, when the environment variable
 * TINYFLASH_HOST_TCP_PORT is set, one TCP client accepted on 127.0.0.1:<port> (so the host
 * side reaches it through pyserial's socket:// URL exactly as it reaches QEMU's -serial tcp:).
 * Ticks are microseconds of CLOCK_MONOTONIC. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tfl_port.h"

static int tfl_host_in_fd = 0;
static int tfl_host_out_fd = 1;

static int tfl_host_parse_port(const char *text, unsigned *port) {
  char *end = NULL;
  long value;
  errno = 0;
  value = strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value < 1 || value > 65535) {
    return -1;
  }
  *port = (unsigned)value;
  return 0;
}

static void tfl_host_listen(unsigned port) {
  struct sockaddr_in address;
  int one = 1;
  int server = socket(AF_INET, SOCK_STREAM, 0);
  int client;
  if (server < 0) {
    perror("tinyflash host port: socket");
    exit(70);
  }
  (void)setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  memset(&address, 0, sizeof address);
  address.sin_family = AF_INET;
  address.sin_port = htons((unsigned short)port);
  address.sin_addr.s_addr = htonl(0x7F000001u); /* 127.0.0.1 */
  if (bind(server, (struct sockaddr *)&address, sizeof address) != 0 || listen(server, 1) != 0) {
    fprintf(stderr, "tinyflash host port: cannot listen on 127.0.0.1:%u: %s\n", port,
            strerror(errno));
    exit(70);
  }
  /* The host side waits for this line (stderr is not part of the link). */
  fprintf(stderr, "tinyflash host port: waiting for connection on 127.0.0.1:%u\n", port);
  fflush(stderr);
  do {
    client = accept(server, NULL, NULL);
  } while (client < 0 && errno == EINTR);
  if (client < 0) {
    perror("tinyflash host port: accept");
    exit(70);
  }
  close(server);
  tfl_host_in_fd = client;
  tfl_host_out_fd = client;
}

void tfl_port_init(void) {
  const char *tcp = getenv("TINYFLASH_HOST_TCP_PORT");
  /* A vanished peer must end the program through read/write errors, not SIGPIPE. */
  signal(SIGPIPE, SIG_IGN);
  if (tcp != NULL && tcp[0] != '\0') {
    unsigned port = 0;
    if (tfl_host_parse_port(tcp, &port) != 0) {
      fprintf(stderr, "tinyflash host port: TINYFLASH_HOST_TCP_PORT=%s is not a port number\n",
              tcp);
      exit(64);
    }
    tfl_host_listen(port);
  }
}

void tfl_port_write(const uint8_t *data, size_t len) {
  size_t done = 0;
  if (data == NULL) {
    return;
  }
  fflush(stdout); /* keep printf() output and raw writes in order on stdout */
  while (done < len) {
    ssize_t n = write(tfl_host_out_fd, data + done, len - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return; /* the link has gone; reads will report its end */
    }
    done += (size_t)n;
  }
}

int tfl_port_read_byte(void) {
  unsigned char byte;
  for (;;) {
    ssize_t n = read(tfl_host_in_fd, &byte, 1);
    if (n == 1) {
      return (int)byte;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    return -1;
  }
}

uint32_t tfl_port_ticks(void) {
  struct timespec now;
  if (clock_gettime(CLOCK_MONOTONIC, &now) != 0) {
    return 0u;
  }
  return (uint32_t)((uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u);
}

uint32_t tfl_port_ticks_restart(void) { return tfl_port_ticks(); }

const char *tfl_port_tick_unit(void) { return "microsecond"; }

void tfl_port_exit(int code) {
  fflush(stdout);
  exit(code);
}

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The migration as tern-migrate and tern-bench both drive it, on libvfio's
 * migration helpers (<libvfio.h>): state changes that exit on failure, the
 * migration data moved from one data_fd to another as a VMM moves it
 * between two hosts, and the clock they are timed by. Include cli.h first.
 */
#ifndef TERN_TOOLS_MIG_H
#define TERN_TOOLS_MIG_H

#include <time.h>
#include <unistd.h>

#include <linux/sizes.h>

#include <libvfio.h>

#ifndef TERN_CLI_H
#error "include cli.h before mig.h"
#endif

/* The page both tools lay device memory and DMA buffers out in. */
#define PAGE		4096ull

/* Bytes asked for per read() of a data_fd, and written per write(). */
#define MIG_CHUNK	SZ_1M

static inline double monotonic_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Take @device to @state or exit, naming @what. The data_fd the arc
 * opens goes to *@data_fd if @data_fd is not NULL, and is closed if it is
 * (the arcs the tools take without one open none).
 */
static inline void mig_set_state(struct vfio_pci_device *device, u32 state,
				 int *data_fd, const char *what)
{
	int ret, fd;

	ret = __vfio_pci_mig_state_set(device, state, &fd);
	if (ret)
		cli_die(what, ret);
	if (data_fd)
		*data_fd = fd;
	else if (fd >= 0)
		close(fd);
}

/*
 * Move the migration data of @src_fd to the RESUMING @dst_fd (or drop it
 * if @dst_fd < 0), MIG_CHUNK bytes per read() through @buf, until @limit
 * bytes have moved or read() has no more. *@moved is set to the bytes
 * moved. Returns 0 at the end of the stream or at @limit, -ENOMSG at the
 * temporary end of a PRE_COPY session, or the -errno of the read() or
 * write() that failed.
 */
static inline int mig_pump(int src_fd, int dst_fd, struct vfio_mig_stream *buf,
			   u64 limit, u64 *moved)
{
	ssize_t n;
	int ret;

	for (*moved = 0; *moved < limit; *moved += n) {
		/* one chunk at a time: @buf never grows past it */
		buf->len = 0;
		n = __vfio_mig_read(src_fd, buf, MIG_CHUNK);
		if (n <= 0)
			return n;
		if (dst_fd >= 0) {
			ret = __vfio_mig_write(dst_fd, buf->data, n, n);
			if (ret)
				return ret;
		}
	}
	return 0;
}

#endif /* TERN_TOOLS_MIG_H */

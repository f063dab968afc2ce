// SPDX-License-Identifier: GPL-2.0
/*
 * Resume-stream fuzzer: damaged copies of a real save stream are written
 * to a VF in RESUMING and committed. Each must be refused (by a write(),
 * or by the commit, which leaves ERROR until VFIO_DEVICE_RESET), or be
 * accepted only if the VF then holds what the stream says:
 *
 * - byte-level mutations, which know nothing of the format (bit flips,
 *   random bytes, truncation, insertion, deletion, duplication): accepted
 *   only if device memory equals the source's;
 * - record-aware ones (records dropped, duplicated or swapped, with and
 *   without renumbering; length, type, flags, page range and header
 *   fields at their limits; contents changed with the CRCs made valid
 *   again): accepted only if device memory and context registers equal
 *   what the stream's records say. A stream with valid CRCs over other
 *   contents is a valid stream of other contents: the format protects
 *   against damage, not against a writer, so the oracle is the stream.
 *
 * Every 64 streams, and at the end, the VF is reset and must load the
 * good stream. TERN_FUZZ_ITERATIONS (default 1000) streams, from the seed
 * TERN_FUZZ_SEED (default: the time), printed: stream i is made from the
 * seed and i alone, so a failure names the stream that reproduces it.
 * Every VF of the PF but the source is a destination with a thread of its
 * own (a refused stream costs a VF reset, an FLR of 100 ms).
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <libvfio.h>

#include "kselftest_harness.h"
#include "tern_vf.h"

/*
 * The IOMMU mode the VFs are opened in, each in a container of its own:
 * the mode every kernel has (the stream format does not depend on it).
 */
#define IOMMU_MODE	MODE_VFIO_TYPE1V2_IOMMU

#define HDR_LEN		sizeof(struct tern_stream_hdr)
#define REC_LEN		sizeof(struct tern_rec_hdr)
#define MAX_RECS	256
#define GOOD_EVERY	64

/* xorshift64* over the state *@r: reproducible from the printed seed */
static uint64_t rnd(uint64_t *r)
{
	*r ^= *r >> 12;
	*r ^= *r << 25;
	*r ^= *r >> 27;
	return *r * 0x2545f4914f6cdd1dull;
}

static size_t rnd_below(uint64_t *r, size_t n)
{
	return n ? rnd(r) % n : 0;
}

/* stream @i's generator: any stream is reproducible on its own */
static uint64_t stream_rng(uint64_t seed, long i)
{
	uint64_t r = (seed + 1) * 0x9e3779b97f4a7c15ull ^ (uint64_t)i;

	r = (r ^ r >> 30) * 0xbf58476d1ce4e5b9ull;
	return (r ^ r >> 31) | 1;
}

/* a stream being mutated */
struct stream {
	uint8_t *p;
	size_t len, cap;
};

static void put(struct stream *s, const void *b, size_t n)
{
	if (s->len + n > s->cap) {
		s->cap = (s->len + n) * 2;
		s->p = realloc(s->p, s->cap);
		if (!s->p)
			abort();
	}
	memcpy(s->p + s->len, b, n);
	s->len += n;
}

/* the records of a stream, as offsets of their headers */
struct records {
	size_t off[MAX_RECS];
	size_t len[MAX_RECS];	/* header and payload */
	int n;
	size_t end;		/* where parsing stopped */
};

static void parse(const uint8_t *p, size_t len, struct records *r)
{
	size_t off = HDR_LEN;

	r->n = 0;
	while (r->n < MAX_RECS && off + REC_LEN <= len) {
		const struct tern_rec_hdr *h = (const void *)(p + off);
		size_t l = REC_LEN + le32toh(h->len);

		if (off + l > len)
			break;
		r->off[r->n] = off;
		r->len[r->n++] = l;
		off += l;
	}
	r->end = off;
}

static void rec_crc(uint8_t *rec)
{
	struct tern_rec_hdr *h = (void *)rec;
	uint32_t crc = crc32c(rec, 12);

	crc = crc32c_update(crc, rec + REC_LEN, le32toh(h->len));
	h->crc = htole32(crc);
}

static void hdr_crc(uint8_t *p)
{
	struct tern_stream_hdr *h = (void *)p;

	h->crc = htole32(crc32c(p, offsetof(struct tern_stream_hdr, crc)));
}

/* rebuild @s from its header and records @order[0..n) */
static void reassemble(struct stream *s, const struct records *r,
		       const int *order, int n, bool renumber)
{
	struct stream out = {};
	int i;

	put(&out, s->p, HDR_LEN);
	for (i = 0; i < n; i++) {
		size_t at = out.len;

		put(&out, s->p + r->off[order[i]], r->len[order[i]]);
		if (renumber) {
			((struct tern_rec_hdr *)(out.p + at))->seq = htole32(i);
			rec_crc(out.p + at);
		}
	}
	put(&out, s->p + r->end, s->len - r->end);
	free(s->p);
	*s = out;
}

static const uint32_t limits32[] = {
	0, 1, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
};

/* a damaged copy of @good; returns the mutation's name */
static const char *mutate(uint64_t *r, struct stream *s,
			  const struct vfio_mig_stream *good, bool *byte_level,
			  uint32_t devmem_pages)
{
	struct records rec_list, *rl = &rec_list;
	int order[MAX_RECS + 1], i, a, b, k;
	uint8_t *rec;
	struct tern_rec_hdr *h;
	size_t off, n;

	s->len = 0;
	put(s, good->data, good->len);
	*byte_level = rnd(r) & 1;
	if (*byte_level) {
		switch (rnd_below(r, 7)) {
		case 0:
			for (k = 1 + rnd_below(r, 8); k; k--)
				s->p[rnd_below(r, s->len)] ^= 1u << rnd_below(r, 8);
			return "bit flips";
		case 1:
			for (k = 1 + rnd_below(r, 4); k; k--)
				s->p[rnd_below(r, s->len)] = rnd(r);
			return "random bytes";
		case 2:
			s->len = rnd_below(r, s->len);
			return "truncated";
		case 3:
			for (k = 1 + rnd_below(r, 64); k; k--) {
				uint8_t c = rnd(r);

				put(s, &c, 1);
			}
			return "bytes appended";
		case 4:
			off = rnd_below(r, s->len);
			n = 1 + rnd_below(r, s->len - off);
			memmove(s->p + off, s->p + off + n, s->len - off - n);
			s->len -= n;
			return "range deleted";
		case 5: {
			uint8_t ins[16];

			for (k = 0; k < 16; k++)
				ins[k] = rnd(r);
			n = 1 + rnd_below(r, sizeof(ins));
			off = rnd_below(r, s->len);
			put(s, ins, n);	/* room */
			memmove(s->p + off + n, s->p + off, s->len - n - off);
			memcpy(s->p + off, ins, n);
			return "bytes inserted";
		}
		default:
			off = rnd_below(r, s->len);
			n = 1 + rnd_below(r, s->len - off < 4096 ? s->len - off : 4096);
			{
				uint8_t *dup = malloc(n);

				if (!dup)
					abort();
				memcpy(dup, s->p + off, n);
				put(s, dup, n);
				memmove(s->p + off + 2 * n, s->p + off + n,
					s->len - off - 2 * n);
				memcpy(s->p + off + n, dup, n);
				free(dup);
			}
			return "range duplicated";
		}
	}

	parse(s->p, s->len, rl);
	if (rl->n < 2)
		abort();	/* the good stream has records */
	for (i = 0; i < rl->n; i++)
		order[i] = i;
	a = rnd_below(r, rl->n);
	b = rnd_below(r, rl->n);
	rec = s->p + rl->off[a];
	h = (void *)rec;
	switch (rnd_below(r, 12)) {
	case 0:
	case 1:
		memmove(order + a, order + a + 1, (rl->n - a - 1) * sizeof(int));
		reassemble(s, rl, order, rl->n - 1, rnd(r) & 1);
		return "record dropped";
	case 2:
		memmove(order + a + 1, order + a, (rl->n - a) * sizeof(int));
		reassemble(s, rl, order, rl->n + 1, rnd(r) & 1);
		return "record duplicated";
	case 3:
		order[a] = b;
		order[b] = a;
		reassemble(s, rl, order, rl->n, rnd(r) & 1);
		return "records swapped";
	case 4:
		h->len = htole32(limits32[rnd_below(r, 6)] + (rnd(r) & 1 ? 0 :
			 le32toh(h->len)));
		if (rnd(r) & 1)
			h->crc = htole32(crc32c(rec, 12));
		return "length at a limit";
	case 5:
		h->type = htole16(rnd(r) & 1 ? 0 : 5 + rnd_below(r, 0xfffb));
		rec_crc(rec);
		return "unknown type, valid CRC";
	case 6:
		h->flags = htole16(1u << rnd_below(r, 16));
		rec_crc(rec);
		return "flags set, valid CRC";
	case 7:
	case 8:
		/* a PAGES record's range at and beyond device memory */
		for (i = 0; i < rl->n; i++) {
			h = (void *)(s->p + rl->off[i]);
			if (le16toh(h->type) == TERN_REC_PAGES)
				break;
		}
		if (i == rl->n)
			abort();
		{
			struct tern_rec_pages *pg = (void *)((uint8_t *)h + REC_LEN);
			const uint32_t firsts[] = {
				devmem_pages - 1, devmem_pages, 0xffffffff,
				le32toh(pg->first) + 1,
			};
			const uint32_t counts[] = {
				0, TERN_REC_MAX_PAGES + 1, 0xffffffff,
				le32toh(pg->count) - 1,
			};

			if (rnd(r) & 1)
				pg->first = htole32(firsts[rnd_below(r, 4)]);
			else
				pg->count = htole32(counts[rnd_below(r, 4)]);
			rec_crc((uint8_t *)h);
		}
		return "page range at a limit, valid CRC";
	case 9:
	case 10:
		/* other contents, CRC valid: a valid stream of something else */
		if (le32toh(h->len))
			rec[REC_LEN + rnd_below(r, le32toh(h->len))] ^=
				1u << rnd_below(r, 8);
		rec_crc(rec);
		return "contents changed, valid CRC";
	default: {
		struct tern_stream_hdr *sh = (void *)s->p;

		switch (rnd_below(r, 5)) {
		case 0:
			sh->devmem_size = htole64(le64toh(sh->devmem_size) * 2);
			break;
		case 1:
			sh->page_size = htole32(TERN_DEVMEM_PAGE_SIZE * 2);
			break;
		case 2:
			sh->version = htole16(TERN_STREAM_VERSION + 1);
			break;
		case 3:
			sh->ctx_regs = htole32(TERN_VF_CTX_REGS + 1);
			break;
		default:
			sh->flags = htole32(1);
			break;
		}
		hdr_crc(s->p);
		return "header field, valid CRC";
	}
	}
}

/*
 * What a VF that accepted @p holds: the PAGES and ZERO records applied in
 * order on zeroed device memory, and the last REGS record's context
 * registers.
 */
static void interpret(const uint8_t *p, size_t len, uint8_t *mem,
		      size_t memsize, uint64_t *ctx)
{
	struct records r;
	int i;

	memset(mem, 0, memsize);
	memset(ctx, 0, TERN_VF_CTX_REGS * sizeof(*ctx));
	parse(p, len, &r);
	for (i = 0; i < r.n; i++) {
		const struct tern_rec_hdr *h = (const void *)(p + r.off[i]);
		const uint8_t *pl = p + r.off[i] + REC_LEN;

		if (le16toh(h->type) == TERN_REC_PAGES) {
			const struct tern_rec_pages *pg = (const void *)pl;
			uint64_t first = le32toh(pg->first);
			uint64_t count = le32toh(pg->count);

			if ((first + count) * TERN_DEVMEM_PAGE_SIZE <= memsize)
				memcpy(mem + first * TERN_DEVMEM_PAGE_SIZE,
				       pl + sizeof(*pg),
				       count * TERN_DEVMEM_PAGE_SIZE);
		} else if (le16toh(h->type) == TERN_REC_ZERO) {
			const struct tern_rec_zero *z = (const void *)pl;
			uint64_t first = le32toh(z->first);
			uint64_t count = le32toh(z->count);

			if ((first + count) * TERN_DEVMEM_PAGE_SIZE <= memsize)
				memset(mem + first * TERN_DEVMEM_PAGE_SIZE, 0,
				       count * TERN_DEVMEM_PAGE_SIZE);
		} else if (le16toh(h->type) == TERN_REC_REGS) {
			const struct tern_rec_regs *rg = (const void *)pl;
			int c;

			for (c = 0; c < TERN_VF_CTX_REGS; c++)
				ctx[c] = le64toh(rg->ctx[c]);
		}
	}
}

#define MAX_DST		3	/* destinations fuzzed at once */

/* one destination VF, fuzzed by its own thread */
struct worker {
	pthread_t thread;
	struct vfio_pci_device *device;
	const struct vfio_mig_stream *good;
	const uint8_t *source;
	uint8_t *expect;	/* device memory as a stream says */
	uint64_t seed;
	long first, step, iterations;
	unsigned long accepted, refused, good_loads;
	char failure[256];	/* the first failure, "" if none */
};

/*
 * A VF in an address space of its own, as a VMM gives each guest: a
 * stream's engine registers point a destination at its own memory.
 */
struct fuzz_vf {
	struct iommu *iommu;
	struct tern_arena arena;
	struct vfio_pci_device *device;
};

static struct vfio_pci_device *fuzz_vf_init(struct fuzz_vf *vf,
					    const char *bdf)
{
	vf->iommu = iommu_init(IOMMU_MODE);
	tern_arena_init(&vf->arena, vf->iommu, TERN_DRIVER_REGION_SIZE);
	vf->device = tern_vf_init(bdf, vf->iommu, &vf->arena);

	return vf->device;
}

static void fuzz_vf_cleanup(struct fuzz_vf *vf)
{
	if (vf->device)
		tern_vf_cleanup(vf->device, &vf->arena);
	if (vf->iommu) {
		tern_arena_cleanup(&vf->arena, vf->iommu);
		iommu_cleanup(vf->iommu);
	}
}

/* A VF's device memory (BAR 2, mapped) and its size. */
static u8 *devmem(struct vfio_pci_device *device)
{
	return device->bars[TERN_VF_BAR_DEVMEM].vaddr;
}

static size_t devmem_size(struct vfio_pci_device *device)
{
	return device->bars[TERN_VF_BAR_DEVMEM].info.size;
}

#define WORKER_FAIL(w, fmt, ...)					\
	do {								\
		snprintf((w)->failure, sizeof((w)->failure), fmt,	\
			 ##__VA_ARGS__);				\
		return NULL;						\
	} while (0)

/*
 * Load @s into the destination in random pieces. Returns 0 when it was
 * accepted (the VF is RUNNING with it), or the errno that refused it (the
 * VF is reset to RUNNING then); -EBADF when the VF does not recover.
 */
static int load(uint64_t *r, struct vfio_pci_device *device, const uint8_t *p,
		size_t len)
{
	int fd, ret;
	size_t off = 0;

	ret = __vfio_pci_mig_state_set(device, VFIO_DEVICE_STATE_RESUMING, &fd);
	if (ret)
		return ret == -EINVAL ? -EBADF : ret;	/* not the stream's */
	while (!ret && off < len) {
		size_t n = 1 + rnd_below(r, len - off < 65536 ? len - off : 65536);
		ssize_t w = write(fd, p + off, n);

		if (w < 0)
			ret = -errno;
		else
			off += w;
	}
	if (!ret)
		ret = tern_mig_state_set(device, VFIO_DEVICE_STATE_RUNNING);
	close(fd);
	if (ret) {
		/* a refused stream leaves RESUMING or ERROR: reset recovers */
		if (__vfio_pci_device_reset(device))
			return -EBADF;
	}
	return ret;
}

/* the VF holds the good stream's contents: the source's */
static bool holds_source(struct worker *w)
{
	return !memcmp(devmem(w->device), w->source, devmem_size(w->device));
}

/* streams first, first + step, ... below iterations, then a good load */
static void *fuzz_worker(void *arg)
{
	struct worker *w = arg;
	size_t size = devmem_size(w->device);
	uint32_t devmem_pages = size / TERN_DEVMEM_PAGE_SIZE;
	uint64_t ctx[TERN_VF_CTX_REGS], r;
	struct stream s = {};
	const char *what;
	bool byte_level;
	long i, n = 0;
	int ret, c;

	for (i = w->first; ; i += w->step, n++) {
		if (n % GOOD_EVERY == 0 || i >= w->iterations) {
			/* the VF still loads a good stream, and holds it */
			r = stream_rng(w->seed, -1 - i);
			if (__vfio_pci_device_reset(w->device) ||
			    load(&r, w->device, w->good->data, w->good->len) ||
			    !holds_source(w))
				WORKER_FAIL(w, "before stream %ld: the good stream did not load", i);
			w->good_loads++;
			if (i >= w->iterations)
				break;
		}
		r = stream_rng(w->seed, i);
		what = mutate(&r, &s, w->good, &byte_level, devmem_pages);
		ret = load(&r, w->device, s.p, s.len);
		if (ret == -EBADF)
			WORKER_FAIL(w, "stream %ld (%s): the VF did not recover", i, what);
		if (ret) {
			w->refused++;
			continue;
		}
		w->accepted++;
		interpret(s.p, s.len, w->expect, size, ctx);
		if (byte_level && memcmp(w->expect, w->source, size))
			WORKER_FAIL(w, "stream %ld (%s) changed the contents and was accepted", i, what);
		if (memcmp(devmem(w->device), w->expect, size))
			WORKER_FAIL(w, "stream %ld (%s): device memory is not what the stream says", i, what);
		for (c = 0; c < TERN_VF_CTX_REGS; c++)
			if (ctx[c] != tern_readq(w->device, TERN_VF_REG_CTX_LO(c)))
				WORKER_FAIL(w, "stream %ld (%s): context register %d is not the stream's", i, what, c);
	}
	free(s.p);
	return NULL;
}

FIXTURE(tern_resume_fuzz_test)
{
	char bdf[1 + MAX_DST][16];
	struct fuzz_vf vf[1 + MAX_DST];	/* the source, the destinations */
	struct vfio_pci_device *src;
	struct worker dst[MAX_DST];
	int ndst;
	struct vfio_mig_stream good;
	uint8_t *source;	/* the source's device memory */
};

FIXTURE_SETUP(tern_resume_fuzz_test)
{
	size_t p, pages, size;
	uint64_t r = 0x5eed;
	int fd, i;

	SKIP_UNLESS_IOMMU_MODE(IOMMU_MODE);
	/* every VF the PF has but the source is a destination */
	self->ndst = tern_prepare_vfs(TERN_PF_DRIVER, TERN_VF_DRIVER,
				      1 + MAX_DST, self->bdf);
	if (self->ndst == -EPERM)
		SKIP(return, "%s", tern_setup_reason());
	ASSERT_LE(2, self->ndst) TH_LOG("%s", strerror(-self->ndst));
	self->ndst--;
	self->src = fuzz_vf_init(&self->vf[0], self->bdf[0]);
	size = devmem_size(self->src);
	ASSERT_NE(NULL, devmem(self->src));
	ASSERT_EQ(size, tern_readq(self->src, TERN_VF_REG_DEVMEM_SIZE_LO));
	for (i = 0; i < self->ndst; i++) {
		self->dst[i].device = fuzz_vf_init(&self->vf[1 + i],
						   self->bdf[1 + i]);
		ASSERT_NE(NULL, devmem(self->dst[i].device));
		ASSERT_EQ(size, devmem_size(self->dst[i].device));
		self->dst[i].expect = malloc(size);
		ASSERT_NE(NULL, self->dst[i].expect);
	}

	/*
	 * A small stream from a real save: a few scattered pages and a run
	 * longer than one PAGES record, context registers, a running engine.
	 */
	ASSERT_EQ(0, __vfio_pci_device_reset(self->src));
	pages = size / TERN_DEVMEM_PAGE_SIZE;
	ASSERT_LE(256, pages);
	for (i = 0; i < 4 + TERN_REC_MAX_PAGES + 8; i++) {
		p = i < 4 ? (97 + 1031 * i) % pages : 12 + i;
		for (size_t w = 0; w < TERN_DEVMEM_PAGE_SIZE; w += 8) {
			uint64_t v = rnd(&r);

			memcpy(devmem(self->src) + p * TERN_DEVMEM_PAGE_SIZE + w,
			       &v, 8);
		}
	}
	for (i = 0; i < TERN_VF_CTX_REGS; i++)
		tern_writeq(self->src, TERN_VF_REG_CTX_LO(i), rnd(&r));
	ASSERT_EQ(0, __tern_engine_start(self->src, 64));
	ASSERT_EQ(0, __vfio_pci_mig_state_set(self->src,
					      VFIO_DEVICE_STATE_STOP_COPY, &fd));
	vfio_mig_read_stop_copy(fd, &self->good);
	close(fd);
	ASSERT_EQ(0, tern_mig_state_set(self->src, VFIO_DEVICE_STATE_RUNNING));
	self->source = malloc(size);
	ASSERT_NE(NULL, self->source);
	memcpy(self->source, devmem(self->src), size);
}

FIXTURE_TEARDOWN(tern_resume_fuzz_test)
{
	int i;

	for (i = 0; i < 1 + MAX_DST; i++)
		fuzz_vf_cleanup(&self->vf[i]);
	for (i = 0; i < MAX_DST; i++)
		free(self->dst[i].expect);
	vfio_mig_stream_free(&self->good);
	free(self->source);
}

TEST_F_TIMEOUT(tern_resume_fuzz_test, resume_streams, 14400)
{
	const char *env = getenv("TERN_FUZZ_ITERATIONS");
	long iterations = env ? strtol(env, NULL, 0) : 1000;
	unsigned long accepted = 0, refused = 0, good_loads = 0;
	uint64_t seed;
	int i;

	env = getenv("TERN_FUZZ_SEED");
	seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
	printf("# seed %llu (TERN_FUZZ_SEED=%llu reproduces it), %ld streams on %d VFs\n",
	       (unsigned long long)seed, (unsigned long long)seed, iterations,
	       self->ndst);
	ASSERT_LT(0, iterations);
	/* a VF reset takes 100 ms (FLR): the destinations overlap them */
	for (i = 0; i < self->ndst; i++) {
		struct worker *w = &self->dst[i];

		w->good = &self->good;
		w->source = self->source;
		w->seed = seed;
		w->first = i;
		w->step = self->ndst;
		w->iterations = iterations;
		ASSERT_EQ(0, pthread_create(&w->thread, NULL, fuzz_worker, w));
	}
	for (i = 0; i < self->ndst; i++)
		pthread_join(self->dst[i].thread, NULL);
	for (i = 0; i < self->ndst; i++) {
		struct worker *w = &self->dst[i];

		EXPECT_STREQ("", w->failure);
		accepted += w->accepted;
		refused += w->refused;
		good_loads += w->good_loads;
	}
	printf("# %ld streams: %lu refused, %lu accepted and checked, %lu good loads\n",
	       iterations, refused, accepted, good_loads);
	ASSERT_EQ(iterations, (long)(accepted + refused));
}

TERN_TEST_HARNESS_MAIN

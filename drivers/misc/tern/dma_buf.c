// SPDX-License-Identifier: GPL-2.0
/*
 * tern PF core driver: command data buffers.
 *
 * Buffers are built from order-0 pages, so a 1 MiB chunk never needs a
 * high-order allocation, and mapped for the PF's DMA (the host's domain,
 * never a VF user's). The device reads an SGL describing the mapped
 * segments; a buffer that maps to one segment is passed directly.
 */
#include <linux/dma-mapping.h>
#include <linux/highmem.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "core.h"

/* Map @buf's pages for the PF's DMA and describe them in a device SGL. */
static int tern_buf_map(struct tern_dma_buf *buf)
{
	struct device *dev = &buf->core->pdev->dev;
	struct scatterlist *sg;
	unsigned int i;
	int ret;

	ret = sg_alloc_table_from_pages(&buf->sgt, buf->pages, buf->npages,
					0, buf->size, GFP_KERNEL_ACCOUNT);
	if (ret)
		return ret;
	ret = dma_map_sgtable(dev, &buf->sgt, DMA_BIDIRECTIONAL, 0);
	if (ret)
		goto err_sgt;
	buf->nsge = buf->sgt.nents;
	ret = -ENOMEM;
	if (buf->nsge > TERN_MAX_SGE)
		goto err_unmap;
	buf->sgl = dma_alloc_coherent(dev, buf->nsge * sizeof(*buf->sgl),
				      &buf->sgl_dma, GFP_KERNEL);
	if (!buf->sgl)
		goto err_unmap;
	for_each_sgtable_dma_sg(&buf->sgt, sg, i) {
		buf->sgl[i].addr = cpu_to_le64(sg_dma_address(sg));
		buf->sgl[i].len = cpu_to_le32(sg_dma_len(sg));
		buf->sgl[i].rsvd = 0;
	}
	atomic_long_add(buf->size, &buf->core->buf_bytes);
	return 0;

err_unmap:
	dma_unmap_sgtable(dev, &buf->sgt, DMA_BIDIRECTIONAL, 0);
err_sgt:
	sg_free_table(&buf->sgt);
	return ret;
}

/* A buffer of @size bytes over @npages pages still to be filled in. */
static struct tern_dma_buf *tern_buf_new(struct tern_core *core, size_t size,
					 unsigned int npages)
{
	struct tern_dma_buf *buf;

	if (!size || size > TERN_MAX_CHUNK)
		return ERR_PTR(-EINVAL);
	buf = kzalloc(sizeof(*buf), GFP_KERNEL_ACCOUNT);
	if (!buf)
		return ERR_PTR(-ENOMEM);
	buf->core = core;
	buf->size = size;
	buf->npages = npages;
	buf->pages = kcalloc(npages, sizeof(*buf->pages), GFP_KERNEL_ACCOUNT);
	if (!buf->pages) {
		kfree(buf);
		return ERR_PTR(-ENOMEM);
	}
	return buf;
}

static void tern_buf_delete(struct tern_dma_buf *buf)
{
	kfree(buf->pages);
	kfree(buf);
}

/**
 * tern_core_buf_alloc() - allocate a PF-owned command data buffer
 * @core: the PF
 * @size: bytes, 1 .. TERN_MAX_CHUNK
 *
 * Return: the buffer, or ERR_PTR(-EINVAL) for a bad size,
 * ERR_PTR(-ENOMEM) when memory or DMA mapping ran out.
 */
struct tern_dma_buf *tern_core_buf_alloc(struct tern_core *core, size_t size)
{
	struct tern_dma_buf *buf;
	unsigned int i;

	buf = tern_buf_new(core, size, DIV_ROUND_UP(size, PAGE_SIZE));
	if (IS_ERR(buf))
		return buf;
	for (i = 0; i < buf->npages; i++) {
		buf->pages[i] = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
		if (!buf->pages[i])
			goto err_pages;
	}
	if (tern_buf_map(buf))
		goto err_pages;
	return buf;

err_pages:
	while (i--)
		__free_page(buf->pages[i]);
	tern_buf_delete(buf);
	return ERR_PTR(-ENOMEM);
}
EXPORT_SYMBOL_GPL(tern_core_buf_alloc);

static void tern_buf_release(struct tern_dma_buf *buf)
{
	struct device *dev = &buf->core->pdev->dev;
	unsigned int i;

	atomic_long_sub(buf->size, &buf->core->buf_bytes);
	dma_free_coherent(dev, buf->nsge * sizeof(*buf->sgl), buf->sgl,
			  buf->sgl_dma);
	dma_unmap_sgtable(dev, &buf->sgt, DMA_BIDIRECTIONAL, 0);
	sg_free_table(&buf->sgt);
	for (i = 0; i < buf->npages; i++)
		__free_page(buf->pages[i]);
	tern_buf_delete(buf);
}

/**
 * tern_core_buf_size() - the usable bytes of a buffer
 * @buf: a buffer from tern_core_buf_alloc()
 *
 * Context: any.
 * Return: the size it was allocated with.
 */
size_t tern_core_buf_size(const struct tern_dma_buf *buf)
{
	return buf->size;
}
EXPORT_SYMBOL_GPL(tern_core_buf_size);

/**
 * tern_core_buf_free() - unmap and free a buffer from tern_core_buf_alloc()
 * @buf: the buffer, or NULL
 *
 * If a command using @buf timed out and the firmware may still write it,
 * the buffer is released only once the firmware answered or the queue
 * was stopped.
 */
void tern_core_buf_free(struct tern_dma_buf *buf)
{
	struct tern_core *core;
	unsigned long flags;
	bool later;

	if (IS_ERR_OR_NULL(buf))
		return;
	core = buf->core;
	spin_lock_irqsave(&core->lock, flags);
	later = buf->inflight;
	buf->free_pending = later;
	spin_unlock_irqrestore(&core->lock, flags);
	if (!later)
		tern_buf_release(buf);
}
EXPORT_SYMBOL_GPL(tern_core_buf_free);

/*
 * How long tern_core_buf_free_deferred() leaves a buffer: past the rest of
 * a migration's downtime (milliseconds on a host, tens of them under TCG),
 * where the release would compete for the CPU with what the VM waits for.
 */
#define TERN_BUF_FREE_DELAY_MS	1000

/**
 * tern_core_buf_free_deferred() - free a buffer off the caller's path
 * @buf: the buffer, or NULL
 *
 * As tern_core_buf_free(), but the unmapping and freeing run in the PF's
 * work item about a second later: for a caller on a migration's downtime,
 * which should neither wait for the release of a ring of chunk buffers
 * nor have it run meanwhile (several milliseconds for 4 MiB under TCG and
 * the rig's debug kernels). The buffer's bytes stay in buf_bytes until
 * then; tern_core_vf_put() releases every buffer freed so far at once.
 *
 * Context: any; takes the PF's queue spinlock.
 */
void tern_core_buf_free_deferred(struct tern_dma_buf *buf)
{
	struct tern_core *core;
	unsigned long flags;
	bool now;

	if (IS_ERR_OR_NULL(buf))
		return;
	core = buf->core;
	spin_lock_irqsave(&core->lock, flags);
	/* one the firmware still owns goes once answered, as with free */
	buf->free_pending = true;
	now = !buf->inflight;
	if (now)
		list_add_tail(&buf->free_node, &core->free_bufs);
	spin_unlock_irqrestore(&core->lock, flags);
	if (now)
		queue_delayed_work(system_wq, &core->free_work,
				   msecs_to_jiffies(TERN_BUF_FREE_DELAY_MS));
}
EXPORT_SYMBOL_GPL(tern_core_buf_free_deferred);

/*
 * Release buffers whose late firmware answer arrived, and those freed
 * deferred (process context).
 */
void tern_free_bufs_work(struct work_struct *work)
{
	struct tern_core *core = container_of(to_delayed_work(work),
					      struct tern_core, free_work);
	struct tern_dma_buf *buf, *next;
	unsigned long flags;
	LIST_HEAD(list);

	spin_lock_irqsave(&core->lock, flags);
	list_splice_init(&core->free_bufs, &list);
	spin_unlock_irqrestore(&core->lock, flags);
	list_for_each_entry_safe(buf, next, &list, free_node)
		tern_buf_release(buf);
}

/*
 * Walk [offset, offset + len) of @buf page by page; @fn copies one piece
 * and returns 0 or -errno.
 */
static int tern_buf_walk(struct tern_dma_buf *buf, size_t offset, size_t len,
			 int (*fn)(void *page_va, size_t done, size_t n,
				   void *arg),
			 void *arg)
{
	size_t done = 0;

	if (offset > buf->size || len > buf->size - offset)
		return -EINVAL;
	while (done < len) {
		size_t pos = offset + done;
		size_t in_page = offset_in_page(pos);
		size_t n = min_t(size_t, len - done, PAGE_SIZE - in_page);
		int ret;

		ret = fn(page_address(buf->pages[pos >> PAGE_SHIFT]) + in_page,
			 done, n, arg);
		if (ret)
			return ret;
		done += n;
	}
	return 0;
}

static int tern_piece_to_user(void *va, size_t done, size_t n, void *arg)
{
	return copy_to_user((u8 __user *)arg + done, va, n) ? -EFAULT : 0;
}

static int tern_piece_from_user(void *va, size_t done, size_t n, void *arg)
{
	return copy_from_user(va, (const u8 __user *)arg + done, n) ?
		-EFAULT : 0;
}

static int tern_piece_to_kernel(void *va, size_t done, size_t n, void *arg)
{
	memcpy((u8 *)arg + done, va, n);
	return 0;
}

static int tern_piece_from_kernel(void *va, size_t done, size_t n, void *arg)
{
	memcpy(va, (const u8 *)arg + done, n);
	return 0;
}

/**
 * tern_core_buf_to_user() - copy buffer bytes to user memory
 * @buf: the buffer
 * @offset: first byte of @buf
 * @dst: user destination
 * @len: bytes
 *
 * Return: 0, -EINVAL if the range is outside @buf, -EFAULT.
 */
int tern_core_buf_to_user(struct tern_dma_buf *buf, size_t offset,
			  void __user *dst, size_t len)
{
	return tern_buf_walk(buf, offset, len, tern_piece_to_user,
			     (void __force *)dst);
}
EXPORT_SYMBOL_GPL(tern_core_buf_to_user);

/**
 * tern_core_buf_from_user() - copy user memory into a buffer
 * @buf: the buffer
 * @offset: first byte of @buf
 * @src: user source
 * @len: bytes
 *
 * Return: 0, -EINVAL if the range is outside @buf, -EFAULT.
 */
int tern_core_buf_from_user(struct tern_dma_buf *buf, size_t offset,
			    const void __user *src, size_t len)
{
	return tern_buf_walk(buf, offset, len, tern_piece_from_user,
			     (void __force *)src);
}
EXPORT_SYMBOL_GPL(tern_core_buf_from_user);

/**
 * tern_core_buf_read() - copy buffer bytes into kernel memory
 * @buf: the buffer
 * @offset: first byte of @buf
 * @dst: destination
 * @len: bytes; the range must lie inside @buf
 */
void tern_core_buf_read(struct tern_dma_buf *buf, size_t offset, void *dst,
			size_t len)
{
	WARN_ON(tern_buf_walk(buf, offset, len, tern_piece_to_kernel, dst));
}
EXPORT_SYMBOL_GPL(tern_core_buf_read);

/**
 * tern_core_buf_write() - copy kernel memory into a buffer
 * @buf: the buffer
 * @offset: first byte of @buf
 * @src: source
 * @len: bytes; the range must lie inside @buf
 */
void tern_core_buf_write(struct tern_dma_buf *buf, size_t offset,
			 const void *src, size_t len)
{
	WARN_ON(tern_buf_walk(buf, offset, len, tern_piece_from_kernel,
			      (void *)src));
}
EXPORT_SYMBOL_GPL(tern_core_buf_write);

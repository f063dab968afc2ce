// SPDX-License-Identifier: GPL-2.0
/*
 * tern-vfio-pci: VFIO variant driver for tern SR-IOV virtual functions.
 *
 * Everything a VMM does with the VF's BARs, config space and interrupts is
 * vfio-pci-core's. This driver adds live migration (lm.c) and DMA dirty
 * logging (dirty.c), both carried out by the device firmware through the
 * PF core driver: the guest never reaches the migration controls, which
 * live on the PF.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/tern/tern_if.h>
#include <linux/tern/tern_version.h>
#include <linux/vfio.h>
#include <linux/vfio_pci_core.h>

#include "cmds.h"
#include "compat.h"
#include "tern_vfio.h"

/* <debugfs>/tern_vfio_pci/, on kernels without the vfio core's debugfs */
static struct dentry *tern_vf_debugfs_root;

static int tern_vf_init_dev(struct vfio_device *vdev)
{
	struct tern_vf *tvf = tern_vf_from_vdev(vdev);
	struct pci_dev *pdev = to_pci_dev(vdev->dev);
	int vf_id, ret;

	tvf->core = tern_core_from_vf(pdev);
	if (IS_ERR(tvf->core))
		return PTR_ERR(tvf->core);
	vf_id = pci_iov_vf_id(pdev);
	if (vf_id < 0)
		return vf_id;
	tvf->vf_index = vf_id;
	tern_vf_compat_init(tvf, pdev);
	tern_vf_mig_init(tvf);
	ret = vfio_pci_core_init_dev(vdev);
	if (ret)
		return ret;
	tern_vf_dirty_init(tvf);
	return 0;
}

static void tern_vf_release_dev(struct vfio_device *vdev)
{
	struct tern_vf *tvf = tern_vf_from_vdev(vdev);

	tern_vf_mig_release(tvf);
	vfio_pci_core_release_dev(vdev);
}

static int tern_vf_open_device(struct vfio_device *vdev)
{
	struct tern_vf *tvf = tern_vf_from_vdev(vdev);
	int ret;

	ret = tern_core_vf_get(tvf->core);
	if (ret)
		return ret;
	ret = vfio_pci_core_enable(&tvf->core_device);
	if (ret) {
		tern_core_vf_put(tvf->core);
		return ret;
	}
	tvf->mig_state = VFIO_DEVICE_STATE_RUNNING;
	tvf->fw_epoch = tern_core_epoch(tvf->core);
	tvf->fw_vf_epoch = tern_core_vf_epoch(tvf->core);
	vfio_pci_core_finish_enable(&tvf->core_device);
	/*
	 * BAR4 holds only the MSI-X table and PBA, which every VMM emulates:
	 * no mmap (finish_enable() has just offered it). A mapping would put
	 * a sub-page remainder of the BAR, next to the VMM's table, into its
	 * memory map, which QEMU's type1 dirty tracking queries and the
	 * container refuses. The device fd is not userspace's yet.
	 */
	tvf->core_device.bar_mmap_supported[TERN_VF_BAR_MSIX] = false;
	return 0;
}

static void tern_vf_close_device(struct vfio_device *vdev)
{
	struct tern_vf *tvf = tern_vf_from_vdev(vdev);

	tern_vf_mig_reset(tvf);
	/* before the VF, and so its PF, can go: no file keeps PF buffers */
	tern_vf_reap_orphans(tvf);
	tern_vf_dirty_close(tvf);
	vfio_pci_core_close_device(vdev);
	tern_core_vf_put(tvf->core);
}

static const struct vfio_device_ops tern_vf_ops = {
	.name = "tern-vfio-pci",
	.init = tern_vf_init_dev,
	.release = tern_vf_release_dev,
	.open_device = tern_vf_open_device,
	.close_device = tern_vf_close_device,
	.ioctl = vfio_pci_core_ioctl,
	TERN_VFIO_OP_REGION_INFO
	.device_feature = vfio_pci_core_ioctl_feature,
	.read = vfio_pci_core_read,
	.write = vfio_pci_core_write,
	.mmap = vfio_pci_core_mmap,
	.request = vfio_pci_core_request,
	.match = vfio_pci_core_match,
	TERN_VFIO_OP_MATCH_TOKEN
	.bind_iommufd = vfio_iommufd_physical_bind,
	.unbind_iommufd = vfio_iommufd_physical_unbind,
	.attach_ioas = vfio_iommufd_physical_attach_ioas,
	.detach_ioas = vfio_iommufd_physical_detach_ioas,
};

/*
 * The VF's counters live in the vfio core's per-device directory, next to
 * the core's migration state: <debugfs>/vfio/<VF>/migration/tern/. Without
 * CONFIG_VFIO_DEBUGFS they go to <debugfs>/tern_vfio_pci/<VF>/. The core
 * makes its directory at registration and removes it (with ours inside) at
 * unregistration, so ours is created after the one and removed before the
 * other.
 */
static void tern_vf_debugfs_init(struct tern_vf *tvf)
{
	struct dentry *root = tern_vfio_debug_root(&tvf->core_device.vdev);
	struct dentry *mig;

	if (tern_have_vfio_debugfs()) {
		mig = debugfs_lookup("migration", root);
		/* an error parent makes the debugfs calls below no-ops */
		tvf->debugfs = mig ? debugfs_create_dir("tern", mig) :
				     ERR_PTR(-ENOENT);
		dput(mig);
	} else {
		tvf->debugfs = debugfs_create_dir(pci_name(tvf->core_device.pdev),
						  tern_vf_debugfs_root);
	}
	tern_vf_mig_debugfs_init(tvf);
	tern_vf_dirty_debugfs_init(tvf);
}

/*
 * migration_compat: what a save from this VF produces and what a load on
 * it accepts, for a host or an orchestrator to compare before migrating
 * (tern-migrate --check; the format and the rule are in drivers.rst). A
 * stream from SRC loads on DST if device and devmem_size are equal and
 * DST's loads range holds SRC's stream.
 */
static ssize_t migration_compat_show(struct device *dev,
				     struct device_attribute *attr, char *buf)
{
	struct vfio_pci_core_device *vdev = dev_get_drvdata(dev);
	const struct tern_vf_compat *c;

	c = &tern_vf_from_vdev(&vdev->vdev)->compat;
	return sysfs_emit(buf, "device=%04x:%04x devmem_size=%llu stream=%u loads=%u-%u\n",
			  c->vendor_id, c->device_id, c->devmem_size,
			  c->stream_version, c->stream_version_min,
			  c->stream_version);
}
static DEVICE_ATTR_RO(migration_compat);

static struct attribute *tern_vf_attrs[] = {
	&dev_attr_migration_compat.attr,
	NULL,
};
ATTRIBUTE_GROUPS(tern_vf);

static int tern_vf_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct tern_vf *tvf;
	int ret;

	tvf = vfio_alloc_device(tern_vf, core_device.vdev, &pdev->dev,
				&tern_vf_ops);
	if (IS_ERR(tvf))
		return PTR_ERR(tvf);
	dev_set_drvdata(&pdev->dev, &tvf->core_device);
	ret = vfio_pci_core_register_device(&tvf->core_device);
	if (ret) {
		vfio_put_device(&tvf->core_device.vdev);
		return ret;
	}
	tern_vf_debugfs_init(tvf);
	return 0;
}

static void tern_vf_remove(struct pci_dev *pdev)
{
	struct vfio_pci_core_device *vdev = dev_get_drvdata(&pdev->dev);
	struct tern_vf *tvf = tern_vf_from_vdev(&vdev->vdev);

	debugfs_remove_recursive(tvf->debugfs);
	tvf->debugfs = NULL;
	vfio_pci_core_unregister_device(vdev);
	/* a data file may outlive the VF: it must not reach the PF */
	tern_vf_state_detach(tvf);
	vfio_put_device(&vdev->vdev);
}

static void tern_vf_pci_reset_prepare(struct pci_dev *pdev)
{
	struct vfio_pci_core_device *vdev = dev_get_drvdata(&pdev->dev);

	tern_vf_reset_prepare(tern_vf_from_vdev(&vdev->vdev));
}

/*
 * Called after any reset of the VF, including VFIO_DEVICE_RESET and FLRs
 * from outside: the migration state follows (state.c).
 */
static void tern_vf_pci_reset_done(struct pci_dev *pdev)
{
	struct vfio_pci_core_device *vdev = dev_get_drvdata(&pdev->dev);

	tern_vf_reset_done(tern_vf_from_vdev(&vdev->vdev));
}

static const struct pci_error_handlers tern_vf_err_handlers = {
	.reset_prepare = tern_vf_pci_reset_prepare,
	.reset_done = tern_vf_pci_reset_done,
	.error_detected = vfio_pci_core_aer_err_detected,
};

static const struct pci_device_id tern_vf_ids[] = {
	{ PCI_DRIVER_OVERRIDE_DEVICE_VFIO(TERN_PCI_VENDOR_ID,
					  TERN_PCI_VF_DEVICE_ID) },
	{ }
};
MODULE_DEVICE_TABLE(pci, tern_vf_ids);

static struct pci_driver tern_vf_driver = {
	.name = KBUILD_MODNAME,
	.id_table = tern_vf_ids,
	.probe = tern_vf_probe,
	.remove = tern_vf_remove,
	.err_handler = &tern_vf_err_handlers,
	.dev_groups = tern_vf_groups,
	.driver_managed_dma = true,
};

static int __init tern_vf_init(void)
{
	int ret;

	if (!tern_have_dma_logging())
		pr_info("no DMA dirty logging: IOMMUFD_DRIVER=n; QEMU needs enable-migration=on\n");
	if (!tern_have_vfio_debugfs())
		tern_vf_debugfs_root = debugfs_create_dir(KBUILD_MODNAME, NULL);
	ret = pci_register_driver(&tern_vf_driver);
	if (ret)
		debugfs_remove_recursive(tern_vf_debugfs_root);
	return ret;
}
module_init(tern_vf_init);

static void __exit tern_vf_exit(void)
{
	pci_unregister_driver(&tern_vf_driver);
	debugfs_remove_recursive(tern_vf_debugfs_root);
}
module_exit(tern_vf_exit);

MODULE_AUTHOR("tern developers <dev@tern.invalid>");
MODULE_DESCRIPTION("VFIO variant driver for tern SR-IOV VFs (live migration)");
MODULE_LICENSE("GPL");
MODULE_VERSION(TERN_VERSION);
TERN_IMPORT_NS_IOMMUFD();

// SPDX-License-Identifier: GPL-2.0
/*
 * tern PF core driver: PCI glue, SR-IOV, and the lookups the VF variant
 * driver uses.
 *
 * The PF owns the device firmware's admin queue. VFs are created through
 * sriov_numvfs; each is driven by tern-vfio-pci, which reaches the
 * firmware only through the API in <linux/tern/tern_core.h>.
 */
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/tern/tern_version.h>

#include "core.h"

unsigned int tern_cmd_timeout_ms = 10000;

/* 0 would fail every command that is not answered at once */
static int tern_cmd_timeout_set(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 1, 3600 * MSEC_PER_SEC);
}

static const struct kernel_param_ops tern_cmd_timeout_ops = {
	.set = tern_cmd_timeout_set,
	.get = param_get_uint,
};
module_param_cb(cmd_timeout_ms, &tern_cmd_timeout_ops, &tern_cmd_timeout_ms,
		0644);
MODULE_PARM_DESC(cmd_timeout_ms,
		 "How long to wait for a firmware command, in ms (1..3600000, default 10000)");

static struct pci_driver tern_core_driver;

/**
 * tern_core_from_vf() - find the tern PF of a VF
 * @vf_pdev: a VF of a tern PF
 *
 * The PF stays valid while the VF's driver is bound: the PF disables
 * SR-IOV, which unbinds every VF driver, before it goes away.
 *
 * Return: the PF, or ERR_PTR(-EINVAL) if @vf_pdev is not a VF of a PF
 * bound to this driver.
 */
struct tern_core *tern_core_from_vf(struct pci_dev *vf_pdev)
{
	struct tern_core *core;

	core = pci_iov_get_pf_drvdata(vf_pdev, &tern_core_driver);
	return IS_ERR(core) ? ERR_PTR(-EINVAL) : core;
}
EXPORT_SYMBOL_GPL(tern_core_from_vf);

/**
 * tern_core_identity() - the PF's IDENTIFY data, read at probe
 * @core: the PF
 *
 * Return: device-wide limits (devmem size, chunk size, dirty page sizes,
 * ...), in device byte order; never NULL.
 */
const struct tern_identify *tern_core_identity(struct tern_core *core)
{
	return &core->identity;
}
EXPORT_SYMBOL_GPL(tern_core_identity);

/**
 * tern_core_vf_get() - note that a VF is in use by a VF driver
 * @core: the PF
 *
 * While any VF is in use, sriov_numvfs cannot be set to 0 (-EBUSY).
 * Pair with tern_core_vf_put().
 *
 * Return: 0, or -ENODEV while SR-IOV is being disabled.
 */
int tern_core_vf_get(struct tern_core *core)
{
	int ret = 0;

	mutex_lock(&core->vf_lock);
	if (core->sriov_disabling)
		ret = -ENODEV;
	else
		core->vf_users++;
	mutex_unlock(&core->vf_lock);
	return ret;
}
EXPORT_SYMBOL_GPL(tern_core_vf_get);

/**
 * tern_core_vf_put() - a VF is no longer in use
 * @core: the PF
 *
 * Returns once the buffers freed with tern_core_buf_free_deferred() so far
 * are released (but those a command the firmware has not answered still
 * holds): the PF may go once its VFs are closed. Sleeps.
 */
void tern_core_vf_put(struct tern_core *core)
{
	flush_delayed_work(&core->free_work);
	mutex_lock(&core->vf_lock);
	if (!WARN_ON(!core->vf_users))
		core->vf_users--;
	mutex_unlock(&core->vf_lock);
}
EXPORT_SYMBOL_GPL(tern_core_vf_put);

/*
 * Disabling SR-IOV removes the VFs, which waits for their vfio users, so
 * vf_lock must not be held across it: a VF being opened takes vf_lock
 * under vfio's own locks.
 */
static int tern_sriov_configure(struct pci_dev *pdev, int num_vfs)
{
	struct tern_core *core = pci_get_drvdata(pdev);
	int ret;

	if (num_vfs) {
		ret = pci_enable_sriov(pdev, num_vfs);
		if (ret) {
			dev_err(&pdev->dev, "enabling %d VFs failed: %pe\n",
				num_vfs, ERR_PTR(ret));
			return ret;
		}
		return num_vfs;
	}

	mutex_lock(&core->vf_lock);
	if (core->vf_users) {
		mutex_unlock(&core->vf_lock);
		dev_warn(&pdev->dev, "%u VFs in use: not disabling SR-IOV\n",
			 core->vf_users);
		return -EBUSY;
	}
	core->sriov_disabling = true;
	mutex_unlock(&core->vf_lock);
	pci_disable_sriov(pdev);
	mutex_lock(&core->vf_lock);
	core->sriov_disabling = false;
	mutex_unlock(&core->vf_lock);
	return 0;
}

static int tern_identify_pf(struct tern_core *core)
{
	struct tern_admin_cmd cmd = {
		.opcode = TERN_OP_IDENTIFY,
		.vf = cpu_to_le16(TERN_VF_NONE),
	};
	struct tern_dma_buf *buf;
	int ret;

	buf = tern_core_buf_alloc(core, sizeof(core->identity));
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	ret = tern_core_exec(core, &cmd, buf, sizeof(core->identity), NULL);
	if (!ret)
		tern_core_buf_read(buf, 0, &core->identity,
				   sizeof(core->identity));
	tern_core_buf_free(buf);
	if (ret)
		return ret;
	if (le32_to_cpu(core->identity.magic) != TERN_MAGIC ||
	    le16_to_cpu(core->identity.abi_major) != TERN_ABI_MAJOR)
		return -ENODEV;
	return 0;
}

static int tern_core_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct device *dev = &pdev->dev;
	struct tern_core *core;
	u32 magic, version;
	int ret;

	core = devm_kzalloc(dev, sizeof(*core), GFP_KERNEL);
	if (!core)
		return -ENOMEM;
	core->pdev = pdev;
	mutex_init(&core->vf_lock);

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	ret = dma_set_mask_and_coherent(dev, DMA_BIT_MASK(64));
	if (ret)
		return ret;
	core->regs = pcim_iomap_region(pdev, TERN_PF_BAR_REGS, "tern_core");
	if (IS_ERR(core->regs))
		return PTR_ERR(core->regs);

	magic = readl(core->regs + TERN_PF_REG_MAGIC);
	version = readl(core->regs + TERN_PF_REG_VERSION);
	if (magic != TERN_MAGIC || version >> 16 != TERN_ABI_MAJOR) {
		dev_err(dev, "not a tern v%u device (magic 0x%08x version 0x%x)\n",
			TERN_ABI_MAJOR, magic, version);
		return -ENODEV;
	}
	pci_set_master(pdev);
	pci_set_drvdata(pdev, core);

	ret = tern_adminq_init(core);
	if (ret)
		goto err_clear;
	ret = tern_identify_pf(core);
	if (ret) {
		dev_err(dev, "IDENTIFY failed: %pe\n", ERR_PTR(ret));
		goto err_adminq;
	}
	tern_debugfs_init(core);
	/* for AER recovery, which resets the link without saving the state */
	pci_save_state(pdev);
	dev_info(dev, "tern PF: abi %u.%u fw 0x%08x, %u VFs of %llu MiB device memory\n",
		 le16_to_cpu(core->identity.abi_major),
		 le16_to_cpu(core->identity.abi_minor),
		 le32_to_cpu(core->identity.fw_version),
		 le16_to_cpu(core->identity.total_vfs),
		 le64_to_cpu(core->identity.devmem_size) >> 20);
	return 0;

err_adminq:
	tern_adminq_shutdown(core);
err_clear:
	pci_clear_master(pdev);
	return ret;
}

/*
 * Removal cannot be refused. Order matters: no debugfs writer may race the
 * teardown, outstanding and future commands must fail fast (a VF user may
 * still hold its device while SR-IOV is disabled below, and vfio waits for
 * it), and the rings go only once the VFs are gone.
 */
static void tern_core_remove(struct pci_dev *pdev)
{
	struct tern_core *core = pci_get_drvdata(pdev);

	tern_debugfs_exit(core);
	tern_adminq_shutdown(core);
	mutex_lock(&core->vf_lock);
	core->sriov_disabling = true;
	mutex_unlock(&core->vf_lock);
	pci_disable_sriov(pdev);
	pci_clear_master(pdev);
	/* every VF is closed and gone: a buffer left now is a leak */
	WARN_ON(atomic_long_read(&core->buf_bytes));
}

/*
 * PF resets (FLR through sysfs or VFIO, AER recovery): the firmware and
 * every VF function are reset under the VFs' users. Commands in flight
 * fail at once instead of waiting out their timeout, the queue comes back
 * on a reset firmware, and tern_core_epoch() tells the VF driver that its
 * sessions are gone (Documentation/tern/drivers.rst).
 */
static void tern_core_reset_prepare(struct pci_dev *pdev)
{
	struct tern_core *core = pci_get_drvdata(pdev);

	mutex_lock(&core->recover_lock);
	tern_adminq_quiesce(core);
	mutex_unlock(&core->recover_lock);
}

static int tern_core_restart(struct pci_dev *pdev, const char *why,
			     bool vfs_reset)
{
	struct tern_core *core = pci_get_drvdata(pdev);
	int ret;

	mutex_lock(&core->recover_lock);
	ret = tern_adminq_restart(core, why, vfs_reset);
	mutex_unlock(&core->recover_lock);
	return ret;
}

static void tern_core_reset_done(struct pci_dev *pdev)
{
	/* the FLR cleared VF Enable, which reset every VF */
	tern_core_restart(pdev, "a PF reset", true);
}

static pci_ers_result_t tern_core_error_detected(struct pci_dev *pdev,
						 pci_channel_state_t state)
{
	struct tern_core *core = pci_get_drvdata(pdev);

	dev_warn(&pdev->dev, "PCI error (channel state %d): stopping the admin queue\n",
		 state);
	tern_core_reset_prepare(pdev);
	mutex_lock(&core->recover_lock);
	/* a frozen channel is recovered by a link reset, VFs and all */
	core->link_reset = state == pci_channel_io_frozen;
	mutex_unlock(&core->recover_lock);
	if (state == pci_channel_io_perm_failure)
		return PCI_ERS_RESULT_DISCONNECT;
	return PCI_ERS_RESULT_NEED_RESET;
}

/* after the slot reset, or with none (a non-fatal error): a fresh firmware */
static pci_ers_result_t tern_core_slot_reset(struct pci_dev *pdev)
{
	struct tern_core *core = pci_get_drvdata(pdev);

	/*
	 * A link or bus reset cleared config space (BARs, MSI-X, SR-IOV):
	 * what probe saved comes back, VF Enable included; kept for the next.
	 */
	pci_restore_state(pdev);
	pci_save_state(pdev);
	if (tern_core_restart(pdev, "a PCI error", core->link_reset))
		return PCI_ERS_RESULT_DISCONNECT;
	return PCI_ERS_RESULT_RECOVERED;
}

static void tern_core_resume(struct pci_dev *pdev)
{
	dev_info(&pdev->dev, "recovered from a PCI error\n");
}

static const struct pci_error_handlers tern_core_err_handlers = {
	.error_detected = tern_core_error_detected,
	.slot_reset = tern_core_slot_reset,
	.resume = tern_core_resume,
	.reset_prepare = tern_core_reset_prepare,
	.reset_done = tern_core_reset_done,
};

static const struct pci_device_id tern_core_ids[] = {
	{ PCI_DEVICE(TERN_PCI_VENDOR_ID, TERN_PCI_PF_DEVICE_ID) },
	{ }
};
MODULE_DEVICE_TABLE(pci, tern_core_ids);

static struct pci_driver tern_core_driver = {
	.name = "tern_core",
	.id_table = tern_core_ids,
	.probe = tern_core_probe,
	.remove = tern_core_remove,
	.sriov_configure = tern_sriov_configure,
	.err_handler = &tern_core_err_handlers,
};

static int __init tern_core_init(void)
{
	int ret;

	tern_debugfs_register();
	ret = pci_register_driver(&tern_core_driver);
	if (ret)
		tern_debugfs_unregister();
	return ret;
}
module_init(tern_core_init);

static void __exit tern_core_exit(void)
{
	pci_unregister_driver(&tern_core_driver);
	tern_debugfs_unregister();
}
module_exit(tern_core_exit);

MODULE_AUTHOR("tern developers <dev@tern.invalid>");
MODULE_DESCRIPTION("tern PF core driver: firmware admin queue and SR-IOV");
MODULE_LICENSE("GPL");
MODULE_VERSION(TERN_VERSION);

# Devices compiled into the rig's QEMU (configure --without-default-devices
# --with-devices-x86_64=tern). Kconfig pulls in what these select.
CONFIG_Q35=y
CONFIG_VTD=y
CONFIG_PCIE_PORT=y
CONFIG_SERIAL_ISA=y
# smoke-test peer: a stock device to assign through vfio-pci
CONFIG_EDU=y
# QEMU as the VFIO consumer inside the test VM
CONFIG_VFIO_PCI=y
CONFIG_IOMMUFD=y
# the tern device model (tools/qemu/tern), when present

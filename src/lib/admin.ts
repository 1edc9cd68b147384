// blkio/admin: provisioning the devices the drivers open, kept apart from the
// block I/O API because it needs root and changes the machine: vDPA devices
// (the kernel's `vdpa` netlink tool) and PCI driver binding (sysfs).
export * as vdpa from './vdpa';
export { bindPciDriver, getPciDriver, pciDevicePath, vfioGroupPath } from './pci';

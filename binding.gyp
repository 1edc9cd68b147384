{
  # The driver core (addon/core, addon/drivers) is built once, as a static
  # library with no N-API in it, and linked into both products: the N-API
  # addon (blkio.node) and libblkio's C ABI (libblkio.so.1).
  "target_defaults": {
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
    "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-missing-field-initializers", "-Wno-unused-parameter"]
  },
  "targets": [
    {
      "target_name": "blkio_core",
      "type": "static_library",
      "sources": [
        "addon/core/errors.cc",
        "addon/core/memfd.cc",
        "addon/core/properties.cc",
        "addon/core/queue.cc",
        "addon/core/blkio.cc",
        "addon/core/zoned_properties.cc",
        "addon/drivers/registry.cc",
        "addon/drivers/io_uring/ring.cc",
        "addon/drivers/io_uring/target.cc",
        "addon/drivers/io_uring/io_uring_driver.cc",
        "addon/drivers/io_uring/ring_queue.cc",
        "addon/drivers/io_uring/io_uring_queue.cc",
        "addon/drivers/io_uring/zone_worker.cc",
        "addon/drivers/nvme_io_uring/nvme_io_uring_driver.cc",
        "addon/drivers/nvme_io_uring/nvme_queue.cc",
        "addon/drivers/virtio/shared_memory.cc",
        "addon/drivers/virtio/virtqueue.cc",
        "addon/drivers/virtio/vhost_user_channel.cc",
        "addon/drivers/virtio/vhost_user.cc",
        "addon/drivers/virtio/vhost_vdpa.cc",
        "addon/drivers/virtio/vfio_device.cc",
        "addon/drivers/virtio/vfio_iommu_info.cc",
        "addon/drivers/virtio/vfio_pci.cc",
        "addon/drivers/virtio/virtio_blk_queue.cc",
        "addon/drivers/virtio/virtio_blk.cc"
      ],
      # Hidden: calls inside the library go straight to their callee (no PLT
      # hop, and inlinable) on every request's path.
      "cflags": ["-fPIC", "-fvisibility=hidden"]
    },
    {
      "target_name": "blkio",
      "dependencies": ["blkio_core"],
      "sources": [
        "addon/napi/errors.cc",
        "addon/napi/completion_watcher.cc",
        "addon/napi/background_step.cc",
        "addon/napi/queue_object.cc",
        "addon/napi/blkio_object.cc",
        "addon/napi/job_loop_object.cc",
        "addon/napi/job_loop_spec.cc",
        "addon/napi/job_loop_programs.cc",
        "addon/napi/module.cc",
        "addon/bench/prng.cc",
        "addon/bench/offsets.cc",
        "addon/bench/distribution_offsets.cc",
        "addon/bench/crc32c.cc",
        "addon/bench/md5.cc",
        "addon/bench/verify.cc",
        "addon/bench/write_data.cc",
        "addon/bench/zbd.cc",
        "addon/bench/exec_sink.cc",
        "addon/bench/pmemblk_pool.cc",
        "addon/bench/pmemblk_sink.cc",
        "addon/bench/null_sink.cc",
        "addon/bench/syscall_sink.cc",
        "addon/bench/cpu_sink.cc",
        "addon/bench/file_op_sink.cc",
        "addon/bench/net_sink.cc",
        "addon/bench/net_sink_open.cc",
        "addon/bench/job_loop.cc"
      ],
      # Only napi_register_module_v1 (marked default by node_api.h) is the addon's interface.
      "cflags": ["-fvisibility=hidden"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      # SWALLOW_UNTHROWABLE: a worker being terminated cannot take a JS
      # exception; without it node-addon-api aborts the process instead.
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS",
                  "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"]
    }
  ],
  # The C library is built in a source checkout (it has test/) or when
  # BLKIO_BUILD_CAPI=1; a consumer's install builds only the addon.
  "variables": {
    "build_capi%": "<!(node -p \"require('fs').existsSync('test') || process.env.BLKIO_BUILD_CAPI === '1' ? 1 : 0\")"
  },
  "conditions": [
    ["build_capi==1", {
      "targets": [
        {
          # libblkio's C ABI: build/Release/libblkio.so.1 (soname libblkio.so.1)
          # exporting only blkio_* and blkioq_*; header and pkg-config file in
          # addon/capi.
          "target_name": "libblkio",
          "type": "shared_library",
          "product_prefix": "lib",
          "product_name": "blkio",
          "product_extension": "so.1",
          "dependencies": ["blkio_core"],
          "sources": ["addon/capi/capi.cc"],
          "ldflags": [
            "-Wl,-soname,libblkio.so.1",
            "-Wl,--version-script=<(module_root_dir)/addon/capi/libblkio.map",
            "-Wl,-z,defs"
          ]
        },
        {
          # The development symlink that -lblkio finds.
          "target_name": "libblkio_dev_link",
          "type": "none",
          "dependencies": ["libblkio"],
          "actions": [
            {
              "action_name": "link_libblkio_so",
              "inputs": ["<(PRODUCT_DIR)/libblkio.so.1"],
              "outputs": ["<(PRODUCT_DIR)/libblkio.so"],
              "action": ["ln", "-sf", "libblkio.so.1", "<(PRODUCT_DIR)/libblkio.so"]
            }
          ]
        }
      ]
    }]
  ]
}

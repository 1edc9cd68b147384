{
  "targets": [
    {
      "target_name": "blkio",
      "sources": [
        "addon/core/errors.cc",
        "addon/core/properties.cc",
        "addon/core/queue.cc",
        "addon/core/blkio.cc",
        "addon/drivers/registry.cc",
        "addon/drivers/io_uring/ring.cc",
        "addon/drivers/io_uring/target.cc",
        "addon/drivers/io_uring/io_uring_driver.cc",
        "addon/drivers/io_uring/io_uring_queue.cc",
        "addon/napi/errors.cc",
        "addon/napi/completion_watcher.cc",
        "addon/napi/queue_object.cc",
        "addon/napi/blkio_object.cc",
        "addon/napi/module.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-missing-field-initializers", "-Wno-unused-parameter"]
    }
  ]
}

{
  "targets": [
    {
      "target_name": "fune_idmap",
      "sources": ["idmap.c"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}

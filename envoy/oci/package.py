#!/usr/bin/env python3
"""Packages the filter as an OCI image Istio's agent can pull, with no docker daemon.

    python3 envoy/oci/package.py [--wasm PATH] [--out target/oci/distill-guard] [--tag 0.1.0]

Writes an OCI image layout (oci-layout, index.json, blobs/sha256/...) holding one image in the
*compat* variant of the Wasm image spec: one tar+gzip layer containing `plugin.wasm`, the manifest
annotated `module.wasm.image/variant: compat`. Everything is deterministic (fixed timestamps, owners,
gzip header), so the same module always gives the same image digest. Prints the image (manifest)
digest, which is what a WasmPlugin's `sha256` names for an `oci://` URL, and the module's own digest,
which is what it names for an `http(s)://` URL. Push it with, e.g.:

    skopeo copy oci:target/oci/distill-guard:0.1.0 docker://registry.example.com/llm-platform/distill-guard:0.1.0
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_WASM = os.path.join(ROOT, "target", "wasm32-wasip1", "release", "distill_guard.wasm")
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
VARIANT_ANNOTATION = "module.wasm.image/variant"


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_tar(wasm):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("plugin.wasm")
        info.size = len(wasm)
        info.mode = 0o644
        info.mtime = 0
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        tar.addfile(info, io.BytesIO(wasm))
    return buf.getvalue()


def gzip_bytes(data):
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(data)
    return buf.getvalue()


def build(wasm, out, tag="0.1.0"):
    """Writes the layout; returns (image digest, module digest)."""
    tar = layer_tar(wasm)
    layer = gzip_bytes(tar)
    config = json.dumps({
        "created": "1970-01-01T00:00:00Z",
        "architecture": "wasm",
        "os": "wasip1",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [sha256(tar)]},
    }, sort_keys=True, separators=(",", ":")).encode()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": CONFIG_TYPE, "digest": sha256(config), "size": len(config)},
        "layers": [{"mediaType": LAYER_TYPE, "digest": sha256(layer), "size": len(layer)}],
        "annotations": {VARIANT_ANNOTATION: "compat", "org.opencontainers.image.title": "distill-guard"},
    }, sort_keys=True, separators=(",", ":")).encode()
    if os.path.exists(out):
        shutil.rmtree(out)
    blobs = os.path.join(out, "blobs", "sha256")
    os.makedirs(blobs)
    for blob in (layer, config, manifest):
        with open(os.path.join(blobs, sha256(blob).split(":", 1)[1]), "wb") as f:
            f.write(blob)
    with open(os.path.join(out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                   "manifests": [{"mediaType": MANIFEST_TYPE, "digest": sha256(manifest), "size": len(manifest),
                                  "annotations": {"org.opencontainers.image.ref.name": tag}}]}, f, indent=2)
    return sha256(manifest), sha256(wasm)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wasm", default=DEFAULT_WASM)
    ap.add_argument("--out", default=os.path.join(ROOT, "target", "oci", "distill-guard"))
    ap.add_argument("--tag", default="0.1.0")
    a = ap.parse_args()
    with open(a.wasm, "rb") as f:
        wasm = f.read()
    image, module = build(wasm, a.out, a.tag)
    print(f"OCI layout:     {a.out} (tag {a.tag})")
    print(f"image digest:   {image}   (WasmPlugin sha256 for an oci:// url)")
    print(f"module digest:  {module}   (WasmPlugin sha256 for an http(s):// url)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

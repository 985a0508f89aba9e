#!/usr/bin/python3
"""The layering test: every #include in the tree must follow the dependency table of docs/layers.md.

Quoted includes name a project folder ("engine/op.h"); each folder may include only the folders the table allows, and
some folders may include only the outside libraries the table allows (the engine: oneDNN and OpenMP, nothing of gRPC,
protobuf or ONNX). A violation is printed as file:line with the include and the rule, and the test fails.

usage: check_layers.py [SOURCE_DIR]   (default: the repository this script is in)
"""
import os
import re
import subprocess
import sys

# Folder -> the project folders its sources may include (besides its own). The generated protocol code lives in
# proto/ and is included as "inference/...", "fovea/v1/..." and "grpc/..."; those prefixes count as "proto".
ALLOWED = {
    "common": set(),
    "engine": {"common"},
    "modelio": {"engine", "common"},
    "imageio": {"common"},
    "proto": set(),
    "trainer": {"engine", "modelio", "imageio", "common"},
    "server": {"engine", "modelio", "imageio", "common", "proto"},
    "client": {"imageio", "common", "proto"},
    "slide": {"client", "imageio", "common", "proto"},
}
PROTO_PREFIXES = {"inference", "fovea", "grpc"}

# Folder -> the outside headers (<prefix/...> or <name.h>) it may include; folders not listed may include any. The
# C++ standard library and POSIX headers are always allowed; only these third-party prefixes are checked.
THIRD_PARTY = {"oneapi", "omp.h", "grpcpp", "grpc", "google", "onnx", "spdlog", "fmt", "civetweb.h", "httplib.h", "openssl", "prometheus",
               "nlohmann", "spng.h", "jpeglib.h", "jerror.h", "zlib.h", "gtest", "gmock", "vips", "openslide"}
ALLOWED_THIRD_PARTY = {
    "common": set(),
    "engine": {"oneapi", "omp.h"},
    "modelio": {"google", "onnx"},
    "imageio": {"spng.h", "jpeglib.h", "jerror.h"},
    "client": {"grpcpp", "grpc"},
    "slide": {"grpcpp", "grpc", "vips", "nlohmann"},
}

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^">]+)[">]')


def folder_rules(path):
    """The (project folders, third-party prefixes or None for any) a source file may include."""
    parts = path.split("/")
    top = parts[0]
    if top == "tests":
        # Unit tests of a layer obey that layer's table (plus test helpers and GoogleTest); the integration, fuzz and
        # end-to-end tests drive the whole product and may include anything, as may bench/.
        layer = parts[1] if len(parts) > 2 else ""
        if layer in ALLOWED:
            return ALLOWED[layer] | {layer, "tests"}, None
        return None, None
    if top in ALLOWED:
        third = ALLOWED_THIRD_PARTY.get(top)
        return ALLOWED[top] | {top}, third
    return None, None


def include_layer(target):
    first = target.split("/")[0]
    return "proto" if first in PROTO_PREFIXES else first


def violations(root):
    files = subprocess.run(["git", "-C", root, "ls-files", "*.cc", "*.h"], capture_output=True, text=True,
                           check=True).stdout.split()
    found = []
    for path in files:
        allowed, third_party = folder_rules(path)
        if allowed is None and third_party is None:
            continue
        with open(os.path.join(root, path), encoding="utf-8", errors="replace") as source:
            for number, line in enumerate(source, 1):
                match = INCLUDE.match(line)
                if not match:
                    continue
                quote, target = match.groups()
                if quote == '"' and "/" in target:
                    layer = include_layer(target)
                    if allowed is not None and layer not in allowed:
                        found.append(f"{path}:{number}: includes \"{target}\": {path.split('/')[0]} may include only "
                                     f"{', '.join(sorted(allowed))}")
                elif quote == "<" and third_party is not None:
                    prefix = target.split("/")[0]
                    if prefix in THIRD_PARTY and prefix not in third_party:
                        found.append(f"{path}:{number}: includes <{target}>: {path.split('/')[0]} may use only "
                                     f"{', '.join(sorted(third_party)) or 'the standard library'}")
    return found, len(files)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    found, checked = violations(root)
    for v in found:
        print(v)
    print(f"{checked} files checked, {len(found)} includes across a forbidden edge (docs/layers.md)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
